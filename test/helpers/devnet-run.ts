// `gridledger devnet` as a user runs it (a separate process), for test/e2e/devnet.test.ts: one run,
// its --json report, and the pair every kill test makes (the same seed with and without the kills,
// one after the other), with the checks every such pair shares.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { expect } from "chai";

import { pidAlive } from "../../offchain/node/runner.ts";
import { ROOT } from "./hardhat-node.ts";

export const MAIN = join(ROOT, "offchain", "cli", "main.ts");

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The parts of `--json` the tests read. */
export interface DevnetJson {
  schemes: Record<string, { digest: string; ok: boolean }>;
  processes: {
    name: string;
    role: string;
    pid: number;
    pids: number[];
    restarts: number;
    exitCode: number | null;
  }[];
  kills: {
    process: string;
    step: number;
    killedInStep: number;
    killedPid: number;
    restartedPid: number;
  }[];
  leftRunning: number[];
}

/** Runs `gridledger devnet ARGS` to its end (at most `timeoutMs`, default 120 s). */
export function devnet(args: readonly string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", MAIN, "devnet", ...args],
      { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * The same devnet with `kills` (each `--kill NAME@J`) and without, one after the other; both must
 * exit 0. Returns both runs and their --json reports (written to `dir/<tag>-killed.json` and
 * `dir/<tag>-plain.json`).
 */
export async function devnetPair(
  dir: string,
  tag: string,
  common: readonly string[],
  kills: readonly string[],
): Promise<{ killed: Run; plain: Run; k: DevnetJson; p: DevnetJson }> {
  const file = (which: string) => join(dir, `${tag}-${which}.json`);
  const killed = await devnet([
    ...common,
    ...kills.flatMap((x) => ["--kill", x]),
    "--json",
    file("killed"),
  ]);
  const plain = await devnet([...common, "--json", file("plain")]);
  expect(killed.code, killed.stderr + killed.stdout).to.equal(0);
  expect(plain.code, plain.stderr + plain.stdout).to.equal(0);
  const read = (which: string) => JSON.parse(readFileSync(file(which), "utf8")) as DevnetJson;
  return { killed, plain, k: read("killed"), p: read("plain") };
}

/** No process left behind: `leftRunning` empty and every pid any process ever had is gone. */
export function expectNothingLeft(runs: readonly DevnetJson[]): void {
  for (const run of runs) {
    expect(run.leftRunning).to.deep.equal([]);
    for (const q of run.processes) {
      for (const pid of q.pids) expect(pidAlive(pid), `${q.name} pid ${pid}`).to.equal(false);
    }
  }
}
