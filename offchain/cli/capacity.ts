// `gridledger capacity`: the capacity model of offchain/sim/capacity.ts over the figures of a
// benchmark run (default reports/bench.json, the committed full run, with the gas figures of the
// committed gas snapshot gas-snapshot.json on top; docs/SCALE.md). `--chart FILE.svg` writes the
// chart of cost against city size (offchain/report/capacity.ts).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { InvalidArgumentError, type Command } from "commander";

import { renderSvg } from "../report/chart.ts";
import { CAPACITY_CHART_METERS, capacityChart } from "../report/capacity.ts";
import { estimateCapacity, type CapacityCosts } from "../sim/capacity.ts";
import { decimalNumber } from "./common.ts";

const DEFAULT_BENCH = fileURLToPath(new URL("../../reports/bench.json", import.meta.url));
/** `npm run bench -- --only billing --json gas-snapshot.json`: the current ledger's gas. */
const DEFAULT_GAS = fileURLToPath(new URL("../../gas-snapshot.json", import.meta.url));

/**
 * `base` with every `gas.*` metric of `gas` put over it: the off-chain figures of a full run with
 * the gas of a later ledger (gas is deterministic, so a billing-only run measures it exactly).
 */
export function gasOverlay(base: Metrics, gas: Metrics): Metrics {
  return {
    ...base,
    ...Object.fromEntries(Object.entries(gas).filter(([k]) => k.startsWith("gas."))),
  };
}

/** Average real chunks per meter and interval in `npm run demo` (342 entries / 200 meter-intervals). */
export const DEMO_REAL_CHUNKS_PER_METER = 1.71;

type Metrics = Record<string, { value: number; unit: string }>;

/**
 * The model's costs from a bench run's metrics; a cost the run lacks is an error, except the
 * dummy entry's gas, which falls back to a real entry's (said in `notes`).
 */
export function costsFromBench(metrics: Metrics): { costs: CapacityCosts; notes: string[] } {
  const notes: string[] = [];
  const need = (name: string): number => {
    const m = metrics[name];
    if (!m || !Number.isFinite(m.value)) throw new Error(`the bench run has no metric ${name}`);
    return m.value;
  };
  const ocdEntryGas = need("gas.ocd_entry");
  let ocdDummyEntryGas = metrics["gas.ocd_dummy_entry"]?.value;
  if (ocdDummyEntryGas === undefined) {
    ocdDummyEntryGas = ocdEntryGas;
    notes.push(
      "this bench run has no gas.ocd_dummy_entry (it predates dummy slots): dummies are priced as real entries, an upper bound; `npm run bench -- --json FILE` then --bench FILE for the measured price",
    );
  }
  return {
    costs: {
      ocdEntryGas,
      ocdDummyEntryGas,
      ocdBatchFixedGas: need("gas.ocd_fit_fixed"),
      bcEntryGas: need("gas.bc_entry"),
      dapGas: need("gas.dap_entry"),
      intervalFixedGas: need("gas.open_interval") + need("gas.seal") + need("gas.close_billing"),
      ccAdmitPerSecondPerCore: need("cc.admit_per_s"),
    },
    notes,
  };
}

/**
 * An option's parser: a plain decimal in [min, max] (an integer with `integer`). The bounds keep
 * the model's products exact (below 2^53: 10^9 meters × 65,535 slots < 2^46) and the city real.
 */
function number(min: number, integer: boolean, max: number) {
  return (value: string): number => {
    const n = decimalNumber(value, integer);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isSafeInteger(n))) {
      throw new InvalidArgumentError(
        `must be ${integer ? "an integer" : "a number"} in [${fmt(min)}, ${fmt(max)}]`,
      );
    }
    return n;
  };
}

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * A block-space share (1 = every block full) as a percentage to the nearest 0.1, except that a
 * city that does not fit never shows 100.0 % (524,585 meters is 100.0002 %: "100.1 %"). A city
 * that fits is ≤ 100 % and rounds to at most "100.0 %".
 */
export function shareText(share: number): string {
  let tenths = Math.round(share * 1000);
  if (share > 1 && tenths <= 1000) tenths = 1001;
  return `${fmt(tenths / 10, 1)} %`;
}

/** Registers `gridledger capacity`. */
export function registerCapacity(program: Command): void {
  program
    .command("capacity")
    .description("What a city of N meters needs from one chain and control center (docs/SCALE.md)")
    .requiredOption("--meters <n>", "registered meters (1 to 10^9)", number(1, true, 1e9))
    .option(
      "--interval-minutes <m>",
      "reporting interval (1 to 525,600: a year)",
      number(1, false, 525_600),
      15,
    )
    .option(
      "--block-gas <gas>",
      "block gas limit (10^6 to 10^12)",
      number(1_000_000, true, 1e12),
      30_000_000,
    )
    .option("--block-seconds <s>", "QBFT block period (1 to 3,600)", number(1, false, 3_600), 2)
    .option(
      "--slots <k>",
      "report slots per meter per interval (1 to 65,535: k is a u16; DESIGN §7)",
      number(1, true, 65_535),
      8,
    )
    .option(
      "--real-chunks <r>",
      "real chunks per meter per interval (the rest are dummies)",
      number(0, false, 65_535),
      DEMO_REAL_CHUNKS_PER_METER,
    )
    .option("--bench <file>", "bench run with the measured costs", DEFAULT_BENCH)
    .option(
      "--gas <file>",
      "gas snapshot whose gas.* figures override --bench's ('none': --bench alone)",
      DEFAULT_GAS,
    )
    .option("--chart <file.svg>", "also write the chart of cost against city size (SVG)")
    .option("--json", "print the estimate as JSON")
    .action(
      async (o: {
        meters: number;
        intervalMinutes: number;
        blockGas: number;
        blockSeconds: number;
        slots: number;
        realChunks: number;
        bench: string;
        gas: string;
        chart?: string;
        json?: boolean;
      }) => {
        const fail = (message: string): never => {
          console.error(`gridledger capacity: ${message}`);
          process.exit(2);
        };
        /** `what`: the option's file, named in errors ("--bench run", "--gas snapshot"). */
        const readMetrics = (file: string, what: string, how: string): Metrics => {
          let metrics: unknown;
          try {
            metrics = (JSON.parse(readFileSync(file, "utf8")) as { metrics?: unknown }).metrics;
          } catch {
            return fail(`cannot read the ${what} ${file} (${how})`);
          }
          if (typeof metrics !== "object" || metrics === null || Array.isArray(metrics)) {
            return fail(`${file} is not a ${what}: no "metrics" object (${how})`);
          }
          return metrics as Metrics;
        };
        if (o.realChunks > o.slots) {
          fail(`--real-chunks ${o.realChunks} exceeds --slots ${o.slots} (a meter has K slots)`);
        }
        if (o.chart !== undefined && !/\.svg$/i.test(o.chart)) {
          fail(`--chart writes SVG: give a FILE.svg, got "${o.chart}"`);
        }
        const metrics = gasOverlay(
          readMetrics(o.bench, "--bench run", "npm run bench -- --json FILE"),
          o.gas === "none"
            ? {}
            : readMetrics(
                o.gas,
                "--gas snapshot",
                "npm run bench -- --only billing --json FILE, or --gas none",
              ),
        );
        let estimate: ReturnType<typeof estimateCapacity>;
        let notes: string[];
        let costs: CapacityCosts;
        const scenario = (meters: number) => ({
          meters,
          intervalMinutes: o.intervalMinutes,
          slotsPerMeter: o.slots,
          realChunksPerMeter: o.realChunks,
          blockGas: o.blockGas,
          blockSeconds: o.blockSeconds,
        });
        try {
          ({ costs, notes } = costsFromBench(metrics));
          estimate = estimateCapacity(scenario(o.meters), costs);
        } catch (err) {
          return fail((err as Error).message);
        }
        if (o.chart !== undefined) {
          const chart = capacityChart(
            CAPACITY_CHART_METERS.map((meters) => ({
              meters,
              estimate: estimateCapacity(scenario(meters), costs),
            })),
            `${fmt(costs.ocdEntryGas)} gas per OCD entry, ${o.intervalMinutes}-minute intervals, K = ${o.slots}, ${fmt(o.blockGas / 1e6)}M gas every ${o.blockSeconds} s`,
          );
          try {
            writeFileSync(o.chart, (await renderSvg(chart.spec)) + "\n");
          } catch (err) {
            return fail(`cannot write ${o.chart}: ${(err as Error).message}`);
          }
          // On stderr: `--json`'s stdout stays one JSON document.
          console.error(`chart written to ${o.chart}`);
        }
        if (o.json) {
          console.log(JSON.stringify({ input: o, estimate, notes }, null, 2));
          return;
        }
        const e = estimate;
        const rows: [string, string][] = [
          [
            "meters × slots per interval",
            `${fmt(o.meters)} × ${fmt(o.slots)} = ${fmt(e.entriesPerInterval)} OCD entries`,
          ],
          ["entries per second", fmt(e.entriesPerSecond, 1)],
          ["OCD entries per block-sized batch", fmt(e.entriesPerBatch)],
          [
            "gas per interval (OCD + BC + fixed)",
            `${fmt(e.gasPerInterval.ocd)} + ${fmt(e.gasPerInterval.bc)} + ${fmt(e.gasPerInterval.fixed)} = ${fmt(e.gasPerInterval.total)}`,
          ],
          ["gas per second", fmt(e.gasPerSecond)],
          ["network block space per second", fmt(e.chainGasPerSecond)],
          ["share of the network's block space", shareText(e.blockSpaceShare)],
          ["control-center cores (admission)", fmt(e.ccCores)],
          ["marginal gas per meter per interval", fmt(e.gasPerMeter)],
          ["largest city on this network", `${fmt(e.maxMeters)} meters`],
        ];
        const w = Math.max(...rows.map(([k]) => k.length));
        for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
        for (const n of notes) console.log(`note: ${n}`);
        if (e.blockSpaceShare > 1) {
          console.log(
            `does not fit: split the city into ${fmt(Math.ceil(e.blockSpaceShare))} regions on as many networks, each with its own CC, ledger and chain (docs/SCALE.md "Scaling out")`,
          );
        }
      },
    );
}
