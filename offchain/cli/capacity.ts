// `gridledger capacity`: the capacity model of offchain/sim/capacity.ts over the figures of a
// benchmark run (default reports/bench.json, the committed full run; docs/SCALE.md).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { InvalidArgumentError, type Command } from "commander";

import { estimateCapacity, type CapacityCosts } from "../sim/capacity.ts";

const DEFAULT_BENCH = fileURLToPath(new URL("../../reports/bench.json", import.meta.url));

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

function number(min: number, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (
      value.trim() === "" ||
      !Number.isFinite(n) ||
      n < min ||
      (integer && !Number.isInteger(n))
    ) {
      throw new InvalidArgumentError(`must be ${integer ? "an integer" : "a number"} ≥ ${min}`);
    }
    return n;
  };
}

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Registers `gridledger capacity`. */
export function registerCapacity(program: Command): void {
  program
    .command("capacity")
    .description("What a city of N meters needs from one chain and control center (docs/SCALE.md)")
    .requiredOption("--meters <n>", "registered meters", number(1, true))
    .option("--interval-minutes <m>", "reporting interval", number(1), 15)
    .option("--block-gas <gas>", "block gas limit", number(1_000_000, true), 30_000_000)
    .option("--block-seconds <s>", "QBFT block period", number(1), 2)
    .option("--slots <k>", "report slots per meter per interval (DESIGN §7)", number(1, true), 8)
    .option(
      "--real-chunks <r>",
      "real chunks per meter per interval (the rest are dummies)",
      number(0),
      DEMO_REAL_CHUNKS_PER_METER,
    )
    .option("--bench <file>", "bench run with the measured costs", DEFAULT_BENCH)
    .option("--json", "print the estimate as JSON")
    .action(
      (o: {
        meters: number;
        intervalMinutes: number;
        blockGas: number;
        blockSeconds: number;
        slots: number;
        realChunks: number;
        bench: string;
        json?: boolean;
      }) => {
        const fail = (message: string): never => {
          console.error(`gridledger capacity: ${message}`);
          process.exit(2);
        };
        let metrics: Metrics;
        try {
          metrics = (JSON.parse(readFileSync(o.bench, "utf8")) as { metrics: Metrics }).metrics;
        } catch {
          return fail(`cannot read bench run ${o.bench} (npm run bench -- --json FILE)`);
        }
        let estimate: ReturnType<typeof estimateCapacity>;
        let notes: string[];
        try {
          const { costs, notes: n } = costsFromBench(metrics);
          notes = n;
          estimate = estimateCapacity(
            {
              meters: o.meters,
              intervalMinutes: o.intervalMinutes,
              slotsPerMeter: o.slots,
              realChunksPerMeter: Math.min(o.realChunks, o.slots),
              blockGas: o.blockGas,
              blockSeconds: o.blockSeconds,
            },
            costs,
          );
        } catch (err) {
          return fail((err as Error).message);
        }
        if (o.json) {
          console.log(JSON.stringify({ input: o, estimate, notes }, null, 2));
          return;
        }
        const e = estimate;
        const rows: [string, string][] = [
          [
            "meters × slots per interval",
            `${fmt(o.meters)} × ${o.slots} = ${fmt(e.entriesPerInterval)} OCD entries`,
          ],
          ["entries per second", fmt(e.entriesPerSecond, 1)],
          ["OCD entries per block-sized batch", fmt(e.entriesPerBatch)],
          [
            "gas per interval (OCD + BC + fixed)",
            `${fmt(e.gasPerInterval.ocd)} + ${fmt(e.gasPerInterval.bc)} + ${fmt(e.gasPerInterval.fixed)} = ${fmt(e.gasPerInterval.total)}`,
          ],
          ["gas per second", fmt(e.gasPerSecond)],
          ["network block space per second", fmt(e.chainGasPerSecond)],
          ["share of the network's block space", `${fmt(e.blockSpaceShare * 100, 1)} %`],
          ["control-center cores (admission)", String(e.ccCores)],
          ["gas per meter per interval", fmt(e.gasPerMeter)],
          ["largest city on this network", `${fmt(e.maxMeters)} meters`],
        ];
        const w = Math.max(...rows.map(([k]) => k.length));
        for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
        for (const n of notes) console.log(`note: ${n}`);
        if (e.blockSpaceShare > 1) {
          console.log(
            `does not fit: split the city into ${Math.ceil(e.blockSpaceShare)} regions, each with its own CC and ledger (docs/SCALE.md)`,
          );
        }
      },
    );
}
