// City scale on the agent path (issue 14): one interval of 10,000 and of 100,000 meters through
// `runOksuzAgents` (MeterAgents, CC service, SP, UserAgents over MemoryNetwork + VirtualClock) on
// the in-process chain, each in a child process of its own (`offchain/bench/city-run.ts --json`) so
// that its peak resident memory is its own. Opt-in (`npm run bench -- --only city`): the two runs
// take many minutes, and the default bench stays bounded.
//
// Metrics, per size N: `e2e.interval_s_N` (wall time of the whole run: keys, deployment, agents,
// registration, admission, posting, billing, every user's check), `sim.peak_rss_mb_N` (the child's
// `maxRSS`), `e2e.interval_cpu_s_N` (the child's CPU time: the machine is shared), `sim.loadavg_N`
// (at the end), `e2e.phase_*_s_N` (the phases of city-run.ts), `sim.peak_rss_mb_*_N` (the peak
// RSS by the end of each phase: the phase that set the peak), `sim.bills_verified_N`,
// `sim.cpu_ms_per_meter_N` (CPU ms per meter) and, for two sizes or more,
// `sim.cpu_per_meter_ratio_<largest>_<smallest>`: CPU per meter at the largest size over the
// smallest, 1.0 when the cost is linear in N (issue 14 measured 38 / 24 ≈ 1.6 for 100,000 / 10,000).
// A ratio of CPU times, not a wall time: the load changes it much less.
// `GRIDLEDGER_CITY_SIZES=500,1000` picks other sizes (a comma-separated list); `--quick` runs 500.
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import type { BenchContext } from "../harness.ts";
import type { CityRunResult } from "../city-run.ts";
import { SIMULATOR_GLIBC_TUNABLES } from "../../runtime/heap-growth.ts";

/** Not part of the default run: only with `--only city`. */
export const optIn = true;

const RUNNER = join(dirname(fileURLToPath(import.meta.url)), "..", "city-run.ts");

/** Runs one size in a child process; its progress lines go to our stderr. */
function runChild(meters: number, log: (m: string) => void): Promise<CityRunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", RUNNER, "--meters", String(meters), "--json"],
      // The demo's malloc settings (package.json), so the figures compare with `npm run demo`.
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, GLIBC_TUNABLES: SIMULATOR_GLIBC_TUNABLES },
      },
    );
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      for (const line of d.split("\n")) if (line.trim() !== "") log(`    [${meters}] ${line}`);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`city-run --meters ${meters} exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "") as CityRunResult);
      } catch (err) {
        reject(new Error(`city-run --meters ${meters}: no JSON result (${String(err)})`));
      }
    });
  });
}

function sizes(quick: boolean): number[] {
  const env = process.env.GRIDLEDGER_CITY_SIZES;
  if (env !== undefined && env.trim() !== "") {
    const list = env.split(",").map((s) => Number(s.trim()));
    if (list.some((n) => !Number.isSafeInteger(n) || n < 1)) {
      throw new Error(`GRIDLEDGER_CITY_SIZES: not a list of positive integers: ${env}`);
    }
    return list;
  }
  return quick ? [500] : [10_000, 100_000];
}

/**
 * CPU per meter at the largest size over the smallest (`perMeterMs`: size → CPU ms per meter), or
 * undefined for fewer than two distinct sizes: 1.0 when the run's CPU is linear in N.
 */
export function cpuPerMeterRatio(
  perMeterMs: ReadonlyMap<number, number>,
): { readonly small: number; readonly large: number; readonly ratio: number } | undefined {
  const ns = [...perMeterMs.keys()].sort((a, b) => a - b);
  if (ns.length < 2) return undefined;
  const small = ns[0];
  const large = ns.at(-1)!;
  return { small, large, ratio: perMeterMs.get(large)! / perMeterMs.get(small)! };
}

export async function run(ctx: BenchContext): Promise<void> {
  const perMeterMs = new Map<number, number>();
  for (const n of sizes(ctx.quick)) {
    ctx.log(`  city: ${n} meters, 1 interval (load average ${loadavg()[0].toFixed(1)})`);
    const r = await runChild(n, (m) => ctx.log(m));
    ctx.record(`e2e.interval_s_${n}`, r.wallS, "s");
    ctx.record(`sim.peak_rss_mb_${n}`, r.peakRssMb, "MB");
    ctx.record(`e2e.interval_cpu_s_${n}`, r.cpuS, "s");
    perMeterMs.set(n, (1000 * r.cpuS) / n);
    ctx.record(`sim.cpu_ms_per_meter_${n}`, (1000 * r.cpuS) / n, "ms");
    ctx.record(`sim.loadavg_${n}`, r.loadavg[1], "load");
    for (const [phase, s] of Object.entries(r.phasesS)) {
      const name = phase.replace(/ \d+$/, "").replace(/[^a-z]+/g, "_");
      ctx.record(`e2e.phase_${name}_s_${n}`, s, "s");
      const rss = r.peakRssMbByPhase?.[phase];
      if (rss !== undefined) ctx.record(`sim.peak_rss_mb_${name}_${n}`, rss, "MB");
    }
    ctx.record(`sim.bills_verified_${n}`, r.billsVerified, "bills");
    if (r.billsDisputed > 0 || r.billsVerified !== n) {
      throw new Error(`city ${n}: ${r.billsVerified} bills verified, ${r.billsDisputed} disputed`);
    }
  }
  const growth = cpuPerMeterRatio(perMeterMs);
  if (growth !== undefined) {
    ctx.record(`sim.cpu_per_meter_ratio_${growth.large}_${growth.small}`, growth.ratio, "ratio");
  }
}
