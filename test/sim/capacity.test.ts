// The capacity model (offchain/sim/capacity.ts, docs/SCALE.md): a hand-computed case, the
// boundary of the largest city, monotonicity, refusals, and the CLI over the committed bench run.
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { expect } from "chai";
import fc from "fast-check";

import { costsFromBench, gasOverlay, shareText } from "../../offchain/cli/capacity.ts";
import { renderSvg } from "../../offchain/report/chart.ts";
import { CAPACITY_CHART_METERS, capacityChart } from "../../offchain/report/capacity.ts";
import {
  CapacityInputError,
  estimateCapacity,
  type CapacityCosts,
  type CapacityScenario,
} from "../../offchain/sim/capacity.ts";

const COSTS: CapacityCosts = {
  ocdEntryGas: 10_000,
  ocdDummyEntryGas: 2_000,
  ocdBatchFixedGas: 100_000,
  bcEntryGas: 3_000,
  dapGas: 60_000,
  intervalFixedGas: 140_000,
  ccAdmitPerSecondPerCore: 1_000,
};
const CITY: CapacityScenario = {
  meters: 1_000,
  intervalMinutes: 15,
  slotsPerMeter: 8,
  realChunksPerMeter: 2,
  blockGas: 30_000_000,
  blockSeconds: 2,
};

describe("capacity model", () => {
  it("a hand-computed city: entries, batches, gas, share, CC cores, largest city", () => {
    const e = estimateCapacity(CITY, COSTS);
    // 1,000 meters × 8 slots; a batch holds ⌊(30M − 100k) / 10k⌋ = 2,990 entries → 3 batches.
    expect(e.entriesPerInterval).to.equal(8_000);
    expect(e.entriesPerBatch).to.equal(2_990);
    // OCD: 1,000 × (2 × 10,000 + 6 × 2,000) + 3 × 100,000 = 32,300,000.
    expect(e.gasPerInterval.ocd).to.equal(32_300_000);
    // One bill per real entry (the ledger bills its OCD entries; zero slots are not billed):
    // 1,000 meters × 2 real chunks × 3,000 (the model billed all 8 slots before: 24,000,000).
    expect(e.gasPerInterval.bc).to.equal(6_000_000);
    expect(e.gasPerInterval.fixed).to.equal(200_000);
    expect(e.gasPerInterval.total).to.equal(38_500_000);
    // Plain number comparisons: the ethers chai matchers override closeTo for integers only.
    expect(Math.abs(e.gasPerSecond - 38_500_000 / 900)).to.be.lessThan(1e-6);
    expect(e.chainGasPerSecond).to.equal(15_000_000);
    expect(Math.abs(e.blockSpaceShare - 38_500_000 / 900 / 15_000_000)).to.be.lessThan(1e-12);
    expect(e.ccCores).to.equal(1); // 8.9 entries/s against 1,000/s per core
    // Per meter: 32,000 + 6,000 + 8 × 100,000 / 2,990.
    expect(Math.abs(e.gasPerMeter - (38_000 + 800_000 / 2_990))).to.be.lessThan(1e-9);
    // ⌊(13.5e9 − 200,000) / 38,267.56⌋ = 352,774 meters by the marginal cost, but with every
    // batch's fixed gas paid in full that is 13,500,012,000 gas (944 batches): one meter less,
    // 352,773 × 38,000 + 944 × 100,000 + 200,000 = 13,499,974,000 ≤ 13.5e9 gas.
    expect(Math.floor((15_000_000 * 900 - 200_000) / e.gasPerMeter)).to.equal(352_774);
    expect(e.maxMeters).to.equal(352_773);
  });

  it("the largest city fits and one meter more than it does not", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 12 }),
        (k, minutes, seconds) => {
          const base = {
            ...CITY,
            slotsPerMeter: k,
            realChunksPerMeter: k / 2,
            intervalMinutes: minutes,
            blockSeconds: seconds,
          };
          const { maxMeters } = estimateCapacity(base, COSTS);
          if (maxMeters === 0) return;
          expect(
            estimateCapacity({ ...base, meters: maxMeters }, COSTS).blockSpaceShare,
          ).to.be.at.most(1);
          const over = estimateCapacity(
            { ...base, meters: Math.ceil(maxMeters * 1.01) + 1 },
            COSTS,
          );
          expect(over.blockSpaceShare).to.be.greaterThan(1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("more meters never cost less gas or fewer cores", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000_000 }),
        fc.integer({ min: 1, max: 1_000 }),
        (n, d) => {
          const a = estimateCapacity({ ...CITY, meters: n }, COSTS);
          const b = estimateCapacity({ ...CITY, meters: n + d }, COSTS);
          expect(b.gasPerInterval.total).to.be.greaterThan(a.gasPerInterval.total);
          expect(b.ccCores).to.be.at.least(a.ccCores);
        },
      ),
    );
  });

  it("refuses non-positive sizes and more real chunks than slots", () => {
    expect(() => estimateCapacity({ ...CITY, meters: 0 }, COSTS)).to.throw(
      CapacityInputError,
      /meters/,
    );
    expect(() => estimateCapacity({ ...CITY, blockSeconds: -1 }, COSTS)).to.throw(
      CapacityInputError,
    );
    expect(() => estimateCapacity({ ...CITY, realChunksPerMeter: 9 }, COSTS)).to.throw(
      CapacityInputError,
      /realChunksPerMeter/,
    );
    expect(() => estimateCapacity(CITY, { ...COSTS, bcEntryGas: 0 })).to.throw(
      CapacityInputError,
      /bcEntryGas/,
    );
  });

  it("takes its costs from a bench run; a missing metric is named", () => {
    const metrics = {
      "gas.ocd_entry": { value: 9_742, unit: "gas/entry" },
      "gas.ocd_fit_fixed": { value: 71_056, unit: "gas" },
      "gas.bc_entry": { value: 3_405, unit: "gas/entry" },
      "gas.dap_entry": { value: 65_904, unit: "gas" },
      "gas.open_interval": { value: 82_713, unit: "gas" },
      "gas.seal": { value: 35_398, unit: "gas" },
      "gas.close_billing": { value: 39_953, unit: "gas" },
      "cc.admit_per_s": { value: 13_034, unit: "1/s" },
    };
    const { costs, notes } = costsFromBench(metrics);
    expect(costs.ocdDummyEntryGas).to.equal(9_742);
    expect(notes.join()).to.match(/gas\.ocd_dummy_entry/);
    expect(costs.intervalFixedGas).to.equal(82_713 + 35_398 + 39_953);
    expect(
      costsFromBench({ ...metrics, "gas.ocd_dummy_entry": { value: 1_900, unit: "gas/entry" } })
        .costs.ocdDummyEntryGas,
    ).to.equal(1_900);
    const { ["cc.admit_per_s"]: _dropped, ...partial } = metrics;
    expect(() => costsFromBench(partial)).to.throw(/cc\.admit_per_s/);
  });

  it("`gridledger capacity --json` prints the model over the committed bench run", async () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        `${root}offchain/cli/main.ts`,
        "capacity",
        "--meters",
        "1000000",
        "--interval-minutes",
        "15",
        "--json",
      ],
      { cwd: root },
    );
    const out = JSON.parse(stdout) as {
      estimate: { entriesPerInterval: number; maxMeters: number };
    };
    expect(out.estimate.entriesPerInterval).to.equal(8_000_000);
    expect(out.estimate.maxMeters).to.be.greaterThan(0);
  });

  it("the share is rounded to the nearest 0.1 %, and a city that does not fit never shows 100.0 %", () => {
    expect(shareText(0.1906)).to.equal("19.1 %"); // SCALE.md's 100,000 meters (floored to 19.0 once)
    expect(shareText(1.9064)).to.equal("190.6 %");
    expect(shareText(1)).to.equal("100.0 %");
    expect(shareText(0.99999)).to.equal("100.0 %");
    expect(shareText(1.000002)).to.equal("100.1 %");
    expect(shareText(19.06)).to.equal("1,906.0 %");
    const percent = (text: string) => Number(text.replace(/[ ,%]/g, ""));
    fc.assert(
      fc.property(fc.double({ min: 0, max: 50, noNaN: true }), (share) => {
        const shown = percent(shareText(share));
        if (share > 1) expect(shown, String(share)).to.be.greaterThan(100);
        else expect(shown, String(share)).to.be.at.most(100);
        expect(Math.abs(shown - share * 100), String(share)).to.be.at.most(0.1 + 1e-6);
      }),
    );
  });

  it("`gridledger capacity` at the largest city and one meter more: the share line agrees with the verdict", () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const run = (meters: number, json = false) =>
      spawnSync(
        process.execPath,
        [
          `${root}offchain/cli/main.ts`,
          "capacity",
          "--meters",
          String(meters),
          ...(json ? ["--json"] : []),
        ],
        { cwd: root, encoding: "utf8" },
      );
    const largest = (JSON.parse(run(1_000, true).stdout) as { estimate: { maxMeters: number } })
      .estimate.maxMeters;
    const shareLine = (out: string) => out.split("\n").find((l) => l.startsWith("share of"))!;
    const fits = run(largest);
    expect(fits.status).to.equal(0);
    expect(shareLine(fits.stdout)).to.match(/ (100\.0|99\.\d) %$/);
    expect(fits.stdout).to.not.include("does not fit");
    const over = run(largest + 1);
    expect(over.status).to.equal(0);
    expect(shareLine(over.stdout)).to.match(/ 100\.1 %$/);
    expect(over.stdout).to.include("does not fit: split the city into 2 regions");
  });

  it("`gridledger capacity` refuses numbers not in plain decimals, more real chunks than slots and a bench file without metrics: one line, exit 2", () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), "capacity-"));
    try {
      const empty = join(dir, "empty.json");
      writeFileSync(empty, "{}\n");
      const cases: [string[], string][] = [
        // Plain decimals only: Number() took these (session 11's newcomer trial).
        [
          ["--meters", "1e6"],
          "gridledger capacity: option '--meters <n>' argument '1e6' is invalid. must be an integer in [1, 1,000,000,000]",
        ],
        [
          ["--block-gas", "3e7"],
          "gridledger capacity: option '--block-gas <gas>' argument '3e7' is invalid. must be an integer in [1,000,000, 1,000,000,000,000]",
        ],
        [
          ["--interval-minutes", "0x10"],
          "gridledger capacity: option '--interval-minutes <m>' argument '0x10' is invalid. must be a number in [1, 525,600]",
        ],
        [
          ["--chart", "x.png"],
          'gridledger capacity: --chart writes SVG: give a FILE.svg, got "x.png"',
        ],
        // Too large is named as such (session 13: 2^53 meters said "must be an integer ≥ 1").
        [
          ["--meters", "9007199254740992"],
          "gridledger capacity: option '--meters <n>' argument '9007199254740992' is invalid. must be an integer in [1, 1,000,000,000]",
        ],
        [
          ["--slots", "65536"],
          "gridledger capacity: option '--slots <k>' argument '65536' is invalid. must be an integer in [1, 65,535]",
        ],
        [
          ["--real-chunks", "9"],
          "gridledger capacity: --real-chunks 9 exceeds --slots 8 (a meter has K slots)",
        ],
        // Each file named by its option (the newcomer trial of session 12: a missing --gas file
        // was called a "bench run").
        [
          ["--gas", empty],
          `gridledger capacity: ${empty} is not a --gas snapshot: no "metrics" object (npm run bench -- --only billing --json FILE, or --gas none)`,
        ],
        [
          ["--gas", join(dir, "missing.json")],
          `gridledger capacity: cannot read the --gas snapshot ${join(dir, "missing.json")} (npm run bench -- --only billing --json FILE, or --gas none)`,
        ],
        [
          ["--bench", empty, "--gas", "none"],
          `gridledger capacity: ${empty} is not a --bench run: no "metrics" object (npm run bench -- --json FILE)`,
        ],
      ];
      for (const [args, line] of cases) {
        const r = spawnSync(
          process.execPath,
          [
            "--disable-warning=ExperimentalWarning",
            `${root}offchain/cli/main.ts`,
            "capacity",
            "--meters",
            "1000",
            ...args,
          ],
          { cwd: root, encoding: "utf8" },
        );
        expect(r.status, args.join(" ")).to.equal(2);
        expect(r.stderr.trim().split("\n"), args.join(" ")).to.deep.equal([line]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the gas snapshot's gas.* figures override the full run's, nothing else", () => {
    const merged = gasOverlay(
      {
        "gas.ocd_entry": { value: 9_742, unit: "gas/entry" },
        "cc.admit_per_s": { value: 1, unit: "1/s" },
      },
      {
        "gas.ocd_entry": { value: 7_923, unit: "gas/entry" },
        "cc.admit_per_s": { value: 9, unit: "1/s" },
      },
    );
    expect(merged["gas.ocd_entry"].value).to.equal(7_923);
    expect(merged["cc.admit_per_s"].value).to.equal(1);
  });

  it("the chart: one point per city size 10^3..10^7, rendered to SVG", async () => {
    expect(CAPACITY_CHART_METERS[0]).to.equal(1_000);
    expect(CAPACITY_CHART_METERS[CAPACITY_CHART_METERS.length - 1]).to.equal(10_000_000);
    const points = CAPACITY_CHART_METERS.map((meters) => ({
      meters,
      estimate: estimateCapacity({ ...CITY, meters }, COSTS),
    }));
    const chart = capacityChart(points, "test costs");
    expect(chart.table.rows).to.have.length(CAPACITY_CHART_METERS.length);
    // Monotone in the city size, as the model is.
    const gas = chart.table.rows.map((r) => Number(r[1].replaceAll(",", "")));
    expect(gas).to.deep.equal([...gas].sort((a, b) => a - b));
    expect(await renderSvg(chart.spec)).to.match(/^<svg [^>]*class="marks"/);
    expect(() => capacityChart([], "x")).to.throw(RangeError);
  });
});
