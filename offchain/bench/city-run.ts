// One city-scale run of the agent wiring (issue 14): `runOksuzAgents` (offchain/sim/oksuz-agents.ts:
// MeterAgents, ControlCenterService, ServiceProviderAgent and UserAgents over one MemoryNetwork and
// VirtualClock) against the in-process Hardhat chain, N meters, one interval, timed per phase.
//
//   node offchain/bench/city-run.ts --meters N [--intervals 1] [--seed S] [--no-retire] [--json]
//
// Prints the phase times and the process's peak resident memory (`process.resourceUsage().maxRSS`,
// the kernel's high-water mark, so nothing between samples is missed); `--json` prints one JSON
// object (`CityRunResult`) on stdout instead, which is how the `city` bench suite reads a run made
// in a child process (a fresh process per size: peak RSS is per process). Progress goes to stderr.
// Profile with `node --cpu-prof --cpu-prof-dir=DIR offchain/bench/city-run.ts --meters N` or
// `--heap-prof`; `--trace-memory` prints the process's memory every 5 s (stderr), and
// `--heap-snapshot PHASE` writes a V8 heap snapshot to the temporary directory when the phase ends
// ("registration", "admission+seal 1", "billing 1") or half-way through a counted step ("reports
// admitted", "bills posted", "bills checked"); `--heap-snapshot-above MB` when the V8 heap in use
// first exceeds MB. The fleet is retired after the seal (`OksuzAgentsScenario.retire`, as `runOksuz`
// does); `--no-retire` keeps every agent to the end (the figures before issue 14's session 8).
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";
import { pathToFileURL } from "node:url";

import { bytesToHex } from "../crypto/bytes.ts";
import type { LogFields, LogLevel, Logger } from "../runtime/log.ts";
import type { ProgressStep } from "../runtime/progress.ts";
import { MAX_SIMULATED_METERS, runOksuzAgents } from "../sim/oksuz-agents.ts";
import { limitChainAllocator, limitHeapGrowth, releaseAfterFleet } from "../runtime/heap-growth.ts";
import { benchEthers } from "./chain.ts";
import { cli, parseOptions } from "../cli/common.ts";

/** Wall-clock phase boundaries of one run, in seconds from the call. */
export interface CityRunResult {
  readonly meters: number;
  readonly intervals: number;
  /** Whole run: keys, deployment, agents, registration, every interval final, every bill checked. */
  readonly wallS: number;
  /** Seconds spent in each phase, in order (`registration` includes key derivation and set-up). */
  readonly phasesS: Readonly<Record<string, number>>;
  /**
   * CPU seconds of the process over the run (user + system, every thread): on a shared machine
   * the wall time measures the load too, this does not.
   */
  readonly cpuS: number;
  /** Load average (1 min) at the start and at the end of the run. */
  readonly loadavg: readonly [number, number];
  /** Peak resident set size of the process (MB = 2^20 bytes). */
  readonly peakRssMb: number;
  /**
   * The peak resident set size at the end of each phase (same keys as `phasesS`): the high-water
   * mark is monotonic, so the phase whose figure rises is the one that set it.
   */
  readonly peakRssMbByPhase: Readonly<Record<string, number>>;
  readonly virtualMs: number;
  readonly messages: number;
  readonly billsVerified: number;
  readonly billsDisputed: number;
  /**
   * Each interval's outcome on the ledger (OCD digest, bill digest as hex, price per Wh): equal
   * for equal seeds whatever the code's speed or memory, so a change is checked against them.
   */
  readonly ledger: readonly {
    readonly interval: number;
    readonly ocdDigest: string;
    readonly billDigest: string;
    readonly price: string;
  }[];
}

/**
 * Marks phase boundaries from the agents' own info lines: CC's "meters registered" and "interval
 * sealed", SP's "interval billed". Cheap: every other record is dropped at once.
 */
class PhaseLogger implements Logger {
  readonly component: string;
  readonly #marks: { name: string; atMs: number; maxRssMb: number }[];
  readonly #onMark: (name: string) => void;
  constructor(
    component: string,
    marks: { name: string; atMs: number; maxRssMb: number }[],
    onMark: (n: string) => void,
  ) {
    this.component = component;
    this.#marks = marks;
    this.#onMark = onMark;
  }
  log(level: LogLevel, message: string, fields: LogFields = {}): void {
    if (level === "debug") return;
    let name: string | undefined;
    if (message === "meters registered") name = "registration";
    else if (message === "interval sealed") name = `admission+seal ${String(fields.interval)}`;
    else if (message === "interval billed") name = `billing ${String(fields.interval)}`;
    if (name === undefined) return;
    this.#marks.push({ name, atMs: performance.now(), maxRssMb: maxRssMb() });
    this.#onMark(name);
  }
  debug(): void {}
  info(message: string, fields?: LogFields): void {
    this.log("info", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log("warn", message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log("error", message, fields);
  }
  child(component: string): Logger {
    return new PhaseLogger(`${this.component}:${component}`, this.#marks, this.#onMark);
  }
}

/** The process's peak resident set size so far (MB). */
function maxRssMb(): number {
  return (process.resourceUsage().maxRSS * 1024) / 2 ** 20;
}

/** Runs `meters` meters for `intervals` intervals in this process; see the header. */
export async function cityRun(
  meters: number,
  options: {
    readonly intervals?: number;
    readonly seed?: string;
    readonly onProgress?: (line: string) => void;
    readonly step?: (step: ProgressStep) => void;
    /** `OksuzAgentsScenario.retire`, default true. */
    readonly retire?: boolean;
  } = {},
): Promise<CityRunResult> {
  const intervals = options.intervals ?? 1;
  const say = options.onProgress ?? (() => {});
  const ethers = await benchEthers();
  const [admin, controlCenter, serviceProvider] = await ethers.getSigners();
  const marks: { name: string; atMs: number; maxRssMb: number }[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const load0 = loadavg()[0];
  const logger = new PhaseLogger("", marks, (name) =>
    say(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${name} done`),
  );
  const run = await runOksuzAgents(
    { meters, intervals, seed: options.seed ?? "city", retire: options.retire ?? true },
    { admin, controlCenter, serviceProvider },
    // As the demo: V8's pooled pages go back once the fleet has retired (issue 14).
    { logger, fleetRetired: releaseAfterFleet, ...(options.step ? { step: options.step } : {}) },
  );
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const phasesS: Record<string, number> = {};
  const peakRssMbByPhase: Record<string, number> = {};
  let last = t0;
  for (const m of marks) {
    phasesS[m.name] = (m.atMs - last) / 1000;
    peakRssMbByPhase[m.name] = m.maxRssMb;
    last = m.atMs;
  }
  phasesS["users"] = (end - last) / 1000;
  peakRssMbByPhase["users"] = maxRssMb();
  const ledger: CityRunResult["ledger"][number][] = [];
  for (let j = 1; j <= intervals; j++) {
    const report = await run.readInterval(j);
    ledger.push({
      interval: j,
      ocdDigest: bytesToHex(report.ocdDigest),
      billDigest: bytesToHex(report.billDigest),
      price: String(report.price ?? 0n),
    });
  }
  let verified = 0;
  let disputed = 0;
  for (const u of run.users) {
    const s = u.status();
    verified += s.billsVerified;
    disputed += s.billsDisputed;
  }
  return {
    meters,
    intervals,
    wallS: (end - t0) / 1000,
    cpuS: (cpu.user + cpu.system) / 1e6,
    loadavg: [load0, loadavg()[0]],
    phasesS,
    peakRssMb: maxRssMb(),
    peakRssMbByPhase,
    virtualMs: run.virtualMs,
    messages: run.network.sent,
    billsVerified: verified,
    billsDisputed: disputed,
    ledger,
  };
}

const USAGE = `usage: node offchain/bench/city-run.ts [options]

One city-scale run of the agent wiring (issue 14) on the in-process chain, timed per phase.

  --meters N                meters (default 1000)
  --intervals N             intervals (default 1, at most 1000000)
  --seed S                  the run's seed (default "city")
  --json                    one JSON object (CityRunResult) on stdout; progress on stderr
  --no-retire               keep every agent to the end (no retirement of the fleet)
  --trace-memory            the process's memory every 5 s (stderr)
  --heap-snapshot PHASE     a V8 heap snapshot when PHASE ends ("registration", "admission+seal 1",
                            "billing 1") or half-way through a counted step ("reports admitted",
                            "bills posted", "bills checked"), in the temporary directory
  --heap-snapshot-above MB  a V8 heap snapshot when the V8 heap in use first exceeds MB
  -h, --help                this text`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const c = cli("city-run", USAGE);
  const values = parseOptions(c, USAGE, {
    meters: { type: "string" },
    intervals: { type: "string" },
    seed: { type: "string", default: "city" },
    json: { type: "boolean", default: false },
    "no-retire": { type: "boolean", default: false },
    "trace-memory": { type: "boolean", default: false },
    "heap-snapshot": { type: "string" },
    "heap-snapshot-above": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  const meters = c.intOption(values.meters, "meters", 1000, 1, MAX_SIMULATED_METERS);
  const intervals = c.intOption(values.intervals, "intervals", 1, 1, 1_000_000);
  // The same garbage headroom as `npm run demo` (issue 14), so the figures compare.
  limitHeapGrowth();
  limitChainAllocator();
  const tracer = values["trace-memory"]
    ? setInterval(() => {
        const m = process.memoryUsage();
        const mb = (x: number) => (x / 2 ** 20).toFixed(0);
        console.error(
          `  memory: rss ${mb(m.rss)} MB, heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} MB, external ${mb(m.external)} MB, array buffers ${mb(m.arrayBuffers)} MB, rest ${mb(m.rss - m.heapTotal - m.external)} MB`,
        );
      }, 5_000)
    : undefined;
  let lastStep = 0;
  let snapped = false;
  // `--heap-snapshot-above MB`: one snapshot the first time the V8 heap in use exceeds MB (a
  // sample every 250 ms; the snapshot collects garbage first, so it shows what is retained).
  const above =
    values["heap-snapshot-above"] === undefined
      ? undefined
      : c.intOption(values["heap-snapshot-above"], "heap-snapshot-above", 0, 1);
  const watcher =
    above === undefined
      ? undefined
      : setInterval(() => {
          if (snapped || process.memoryUsage().heapUsed < above * 2 ** 20) return;
          snapped = true;
          const file = join(tmpdir(), `city-${meters}-${process.pid}.heapsnapshot`);
          console.error(`  heap snapshot (heap above ${above} MB): ${writeHeapSnapshot(file)}`);
        }, 250);
  const finished = new Set<string>();
  const result = await cityRun(meters, {
    intervals,
    seed: values.seed,
    retire: !values["no-retire"],
    onProgress: (line) => {
      console.error(line);
      // `--heap-snapshot PHASE`: a V8 heap snapshot when PHASE ends (bytes per meter by type).
      const want = values["heap-snapshot"];
      if (want !== undefined && line.includes(`] ${want}`)) {
        snapped = true;
        const file = join(tmpdir(), `city-${meters}-${process.pid}.heapsnapshot`);
        console.error(`  heap snapshot: ${writeHeapSnapshot(file)}`);
      }
    },
    step: (s) => {
      // `--heap-snapshot TASK`: also a counted step, half-way through (e.g. "bills posted").
      if (values["heap-snapshot"] === s.task && !snapped && s.done * 2 >= s.total) {
        snapped = true;
        const file = join(tmpdir(), `city-${meters}-${process.pid}.heapsnapshot`);
        console.error(`  heap snapshot: ${writeHeapSnapshot(file)}`);
      }
      const now = performance.now();
      const complete = s.done === s.total;
      if (complete ? !finished.has(s.task) : now - lastStep > 2_000) {
        if (complete) finished.add(s.task);
        lastStep = now;
        console.error(`  ${s.task}: ${s.done}/${s.total}`);
      }
    },
  });
  if (tracer) clearInterval(tracer);
  if (watcher) clearInterval(watcher);
  // A phase or step name the run never reached (a typo) wrote nothing: say so, not exit 0 quietly.
  const wanted = values["heap-snapshot"];
  if (wanted !== undefined && !snapped) {
    console.error(
      `city-run: no phase or counted step "${wanted}" in this run: no heap snapshot written`,
    );
    process.exitCode = 2;
  }
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(
      `${meters} meters, ${intervals} interval(s): ${result.wallS.toFixed(1)} s wall, ${result.cpuS.toFixed(1)} s CPU, load ${result.loadavg.map((l) => l.toFixed(1)).join("→")}, peak RSS ${result.peakRssMb.toFixed(0)} MB, ` +
        `${result.messages} messages, ${result.billsVerified} bills verified, ${result.billsDisputed} disputed`,
    );
    for (const l of result.ledger) {
      console.log(
        `  interval ${l.interval}: OCD digest ${l.ocdDigest}, bill digest ${l.billDigest}, price ${l.price}`,
      );
    }
    for (const [name, s] of Object.entries(result.phasesS))
      console.log(
        `  ${name}: ${s.toFixed(2)} s, peak RSS by its end ${result.peakRssMbByPhase[name].toFixed(0)} MB`,
      );
  }
  process.exit(process.exitCode ?? 0);
}
