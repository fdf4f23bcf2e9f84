// devnet.interval_s_200 (issue 11 "Tests and benchmarks"): one Oksuz interval with 200 meters, every
// role its own OS process on 127.0.0.1 over `hardhat node` (`gridledger devnet --meters 200
// --intervals 1`), wall time from the interval's start (seen on the CC's /health) to the end of the
// run (every bill in and verified); reported beside the in-process e2e.interval_s_1000. Also
// devnet.startup_s_smoke: the process plumbing alone (4 ping processes up and healthy).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { oksuzDevnetScheme as oksuzScheme } from "../../node/devnet-oksuz.ts";
import type { BenchContext } from "../harness.ts";

const MAIN = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));

interface DevnetJson {
  wallMs: number;
  stepStartedMs: Record<string, number[]>;
}

function devnet(args: readonly string[]): Promise<DevnetJson> {
  const dir = mkdtempSync(join(tmpdir(), "gl-bench-devnet-"));
  const json = join(dir, "run.json");
  return new Promise<DevnetJson>((resolve, reject) => {
    execFile(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", MAIN, "devnet", ...args, "--json", json],
      { timeout: 900_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err)
          reject(new Error(`gridledger devnet ${args.join(" ")} failed: ${stderr || stdout}`));
        else resolve(JSON.parse(readFileSync(json, "utf8")) as DevnetJson);
      },
    );
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

export async function run(ctx: BenchContext): Promise<void> {
  const smoke = await devnet([
    "--smoke",
    "--nodes",
    "4",
    "--intervals",
    "1",
    "--smoke-interval-ms",
    "100",
  ]);
  ctx.record("devnet.smoke_run_s", smoke.wallMs / 1000, "s");
  const why = oksuzScheme.unavailable();
  if (why !== undefined) {
    ctx.log(`  devnet.interval_s_200: NOT MEASURED — the Oksuz devnet cannot run yet (${why})`);
    return;
  }
  const n = ctx.quick ? 20 : 200;
  // 8 meter processes: one process of 100 meters runs out of file descriptors (EMFILE, 2026-11-29).
  const r = await devnet([
    "--scheme",
    "oksuz",
    "--meters",
    String(n),
    "--intervals",
    "1",
    "--meter-processes",
    "8",
    "--window-ms",
    "30000",
    "--seed",
    "bench",
  ]);
  const start = r.stepStartedMs.oksuz?.[0];
  if (start === undefined) throw new Error("bench: the devnet never reported interval 1");
  ctx.record(`devnet.interval_s_${n}`, (r.wallMs - start) / 1000, "s");
  ctx.record(`devnet.run_s_${n}`, r.wallMs / 1000, "s");
}
