// The devnet engine (issue 11 "The devnet"): writes every process's config, address book and sealed
// key files, starts the processes under a `Supervisor` on 127.0.0.1, follows their progress per
// interval/round from their health endpoints, injects `--kill name@j` (SIGKILL during step j, then a
// restart from the same data directory) and reports each process's role, pid and restart count.
// What the processes are and how progress is read is the schemes' business (`DevnetScheme`,
// offchain/node/devnet-schemes.ts); the command line is offchain/cli/devnet.ts.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { makeDirectory } from "../runtime/fs.ts";
import { reservePorts } from "./hardhat-node.ts";
import { OPERATOR_KEY_ENV, writeSecrets, type HealthDocument } from "./runner.ts";
import type { ChainEnv } from "./service.ts";
import type { ProcessInfo, ProcessSpec, Supervisor } from "./supervisor.ts";

export class DevnetError extends Error {
  override name = "DevnetError";
}

/** A process exited while the devnet did not ask it to. */
export class DevnetProcessExitedError extends DevnetError {
  override name = "DevnetProcessExitedError";
}

/** The run did not finish within its time limit. */
export class DevnetTimeoutError extends DevnetError {
  override name = "DevnetTimeoutError";
}

/** One OS process of the devnet, as a scheme's set-up describes it. */
export interface DevnetProcess {
  /** Unique process name ("cc", "meters-0", "node-3"); also its data directory's name. */
  readonly name: string;
  readonly role: string;
  /** Which scheme's progress this process belongs to ("oksuz", "bbnp", "ping"). */
  readonly scheme: string;
  /** The role's config fields (JSON-serialisable; the runner's fields are added by the devnet). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Named secrets, written sealed with the operator key (`env.secret(name)`). */
  readonly secrets: Readonly<Record<string, Uint8Array>>;
  /** Transport addresses this process listens on (each gets a loopback port in the book). */
  readonly addresses: readonly string[];
  /**
   * Start group (default 0): groups start in increasing order, each once the previous one is
   * healthy; processes of one group start together (e.g. the BBNP users and nodes before the
   * gateway that opens round 1).
   */
  readonly group?: number;
}

/** Health of every process by name (undefined: not answering). */
export type HealthMap = ReadonlyMap<string, HealthDocument | undefined>;

/** How to follow one scheme's run from the health endpoints. */
export interface DevnetScheme {
  readonly name: string;
  /** "interval" or "round". */
  readonly stepName: string;
  /** Number of steps the run has (intervals, rounds). */
  readonly steps: number;
  /** The step in progress (1-based; 0 before the first), from the processes' status. */
  step(health: HealthMap): number;
  /** Whether the scheme's work is complete (e.g. every interval billed and verified). */
  finished(health: HealthMap): boolean;
  /** A short progress summary ("cc admission 96/120 · sp billed 1"). */
  progress(health: HealthMap): string;
}

/** `--kill name@j`: SIGKILL process `name` during step j of its scheme, then restart it. */
export interface KillSpec {
  readonly process: string;
  readonly step: number;
}

/** Parses "cc@2", "node3@2" or "node-3@2" (→ process "node-3"); undefined when malformed. */
export function parseKillSpec(text: string): KillSpec | undefined {
  const m = /^([a-z][a-z-]*?)(?:-?(\d+))?@(\d+)$/.exec(text);
  if (m === null) return undefined;
  const step = Number(m[3]);
  if (!Number.isSafeInteger(step) || step < 1) return undefined;
  return { process: m[2] === undefined ? m[1] : `${m[1]}-${m[2]}`, step };
}

export interface DevnetRunInit {
  /** Root directory: `<dir>/<name>/` is each process's data dir, `<dir>/<name>.json` its config. */
  readonly dir: string;
  readonly processes: readonly DevnetProcess[];
  readonly schemes: readonly DevnetScheme[];
  readonly chain: ChainEnv;
  /** The run's seed; each process gets `seed` (its rng is seeded with seed/name). */
  readonly seed: string;
  /** Seals the key files and is passed to the processes as GRIDLEDGER_OPERATOR_KEY. */
  readonly operatorKey: string;
  /** Message loss probability for every process's transports (runner field `loss`; default 0). */
  readonly loss?: number;
  readonly kills: readonly KillSpec[];
  /** How to start a process (default: this Node on offchain/cli/main.ts `<role>`). */
  readonly command: (
    p: DevnetProcess,
    config: string,
    dataDir: string,
  ) => Pick<ProcessSpec, "command" | "args">;
  readonly supervisor: Supervisor;
  /** Overall limit for the run after every process is up (ms). */
  readonly timeoutMs: number;
  /** Health poll period (default 200 ms). */
  readonly pollMs?: number;
  /** Progress lines (default: none). */
  readonly print?: (line: string) => void;
}

/** What happened to one `--kill`. */
export interface KillRecord {
  readonly process: string;
  /** The step asked for, and the step its scheme was in when the SIGKILL was sent. */
  readonly step: number;
  readonly killedInStep: number;
  readonly killedPid: number;
  readonly restartedPid: number;
}

export interface DevnetRunResult {
  readonly processes: readonly ProcessInfo[];
  readonly kills: readonly KillRecord[];
  /** Address → "127.0.0.1:port". */
  readonly addressBook: Readonly<Record<string, string>>;
  /** Wall time from the first spawn to the end of the last step (ms). */
  readonly wallMs: number;
  /** Per scheme, wall time (ms since the first spawn) at which each step was first seen. */
  readonly stepStartedMs: Readonly<Record<string, readonly number[]>>;
  /** The last health of every process. */
  readonly health: Readonly<Record<string, HealthDocument | undefined>>;
}

/**
 * Checks the plan: unique process names, every process's scheme known, every transport address
 * owned by one process, every kill naming a process and a step within its scheme. Throws
 * `DevnetError` naming the problem.
 */
export function checkPlan(
  processes: readonly DevnetProcess[],
  schemes: readonly DevnetScheme[],
  kills: readonly KillSpec[],
): void {
  const names = new Set<string>();
  const owners = new Map<string, string>();
  for (const p of processes) {
    if (names.has(p.name)) throw new DevnetError(`two processes named "${p.name}"`);
    names.add(p.name);
    if (!schemes.some((s) => s.name === p.scheme)) {
      throw new DevnetError(`${p.name}: unknown scheme "${p.scheme}"`);
    }
    for (const a of p.addresses) {
      const other = owners.get(a);
      if (other !== undefined)
        throw new DevnetError(`address "${a}" claimed by ${other} and ${p.name}`);
      owners.set(a, p.name);
    }
  }
  for (const k of kills) {
    const p = processes.find((q) => q.name === k.process);
    if (p === undefined) {
      throw new DevnetError(
        `--kill ${k.process}@${k.step}: no process named "${k.process}" (${[...names].join(", ")})`,
      );
    }
    const s = schemes.find((q) => q.name === p.scheme)!;
    if (k.step > s.steps) {
      throw new DevnetError(`--kill ${k.process}@${k.step}: the run has ${s.steps} ${s.stepName}s`);
    }
  }
}

/** The files a plan was written to: one config per process, and its process spec. */
export interface WrittenPlan {
  readonly specs: readonly ProcessSpec[];
  readonly configs: Readonly<Record<string, string>>;
  /** Health URL per process when the ports were fixed ("port chosen at start" otherwise). */
  readonly healthUrls: Readonly<Record<string, string>>;
  /** Address → "127.0.0.1:port". */
  readonly addressBook: Readonly<Record<string, string>>;
}

/**
 * Writes the plan to `init.dir` after `checkPlan`: one address book (a distinct free loopback port
 * per transport address, below the ephemeral range: `reservePorts`), `<dir>/<name>.json` (the role's fields + name, seed, addressBook, chain,
 * healthPort, loss) and `<dir>/<name>/keys.sqlite` (the secrets, sealed with the operator key).
 * `healthPort` is 0 (any; the runner's process.json names it) unless `fixedHealthPorts`, which
 * picks a free one per process for people starting them by hand. Starts nothing
 * (`gridledger devnet --prepare-only` stops here).
 */
export async function writePlan(
  init: Omit<DevnetRunInit, "supervisor" | "timeoutMs">,
  fixedHealthPorts = false,
): Promise<WrittenPlan> {
  checkPlan(init.processes, init.schemes, init.kills);
  makeDirectory(init.dir);
  const addressBook: Record<string, string> = {};
  const addresses = init.processes.flatMap((p) => p.addresses);
  const ports = await reservePorts(
    addresses.length + (fixedHealthPorts ? init.processes.length : 0),
  );
  addresses.forEach((a, i) => (addressBook[a] = `127.0.0.1:${ports[i]}`));
  const configs: Record<string, string> = {};
  const healthPorts = new Map<string, number>();
  if (fixedHealthPorts) {
    init.processes.forEach((p, i) => healthPorts.set(p.name, ports[addresses.length + i]));
  }
  const specs: ProcessSpec[] = init.processes.map((p) => {
    const dataDir = join(init.dir, p.name);
    const configPath = join(init.dir, `${p.name}.json`);
    const config = {
      ...p.config,
      name: p.name,
      seed: init.seed,
      addressBook,
      chain: init.chain,
      healthPort: healthPorts.get(p.name) ?? 0,
      ...((init.loss ?? 0) > 0 ? { loss: init.loss } : {}),
    };
    writeFileSync(configPath, JSON.stringify(config, null, 2) + "\n");
    configs[p.name] = configPath;
    if (Object.keys(p.secrets).length > 0) writeSecrets(dataDir, p.secrets, init.operatorKey);
    else makeDirectory(dataDir);
    return {
      name: p.name,
      role: p.role,
      dataDir,
      env: { [OPERATOR_KEY_ENV]: init.operatorKey },
      ...init.command(p, configPath, dataDir),
    };
  });
  const healthUrls = Object.fromEntries(
    init.processes.map((p) => {
      const port = healthPorts.get(p.name);
      return [
        p.name,
        port === undefined
          ? "port chosen at start (process.json)"
          : `http://127.0.0.1:${port}/health`,
      ];
    }),
  );
  return { specs, configs, healthUrls, addressBook };
}

/**
 * Runs the plan to completion (every scheme `finished`) and returns what happened; the caller
 * stops the processes (`supervisor.stopAll()`) after its audit. Throws `DevnetError` (bad plan),
 * `SupervisorStartError` (a process did not come up), `DevnetProcessExitedError` (a process exited
 * on its own), `DevnetTimeoutError` (with the last progress line).
 */
export async function runDevnet(init: DevnetRunInit): Promise<DevnetRunResult> {
  const print = init.print ?? (() => undefined);
  const pollMs = init.pollMs ?? 200;
  const { specs, addressBook } = await writePlan(init);

  const t0 = Date.now();
  let exited: ProcessInfo | undefined;
  const sup = init.supervisor;
  const schemeOf = new Map(
    init.processes.map((p) => [p.name, init.schemes.find((s) => s.name === p.scheme)!]),
  );
  const pending = [...init.kills];
  const kills: KillRecord[] = [];
  const stepStartedMs: Record<string, number[]> = Object.fromEntries(
    init.schemes.map((s) => [s.name, []]),
  );
  const lastStep = new Map(init.schemes.map((s) => [s.name, 0]));
  const restarting = new Set<string>();
  let health = new Map<string, HealthDocument | undefined>();
  let lastLine = "";
  let finishedAt: number | undefined;

  /** Polls every started process's /health; notes and prints the steps reached. */
  const observe = async (): Promise<void> => {
    const started = sup.list().map((i) => i.name);
    const docs = await Promise.all(
      started.map(async (name) => [name, await sup.health(name, 2_000)] as const),
    );
    health = new Map(docs);
    for (const name of started) {
      const i = sup.info(name);
      if (!restarting.has(name) && (i.exitCode !== null || i.signal !== null)) exited = i;
    }
    for (const s of init.schemes) {
      const step = s.step(health);
      if (step > lastStep.get(s.name)!) {
        // Steps passed between two polls are named too.
        for (let j = lastStep.get(s.name)! + 1; j < step; j++) {
          stepStartedMs[s.name][j - 1] = Date.now() - t0;
          print(`[${s.name}] ${s.stepName} ${j}/${s.steps} (passed between two polls)`);
        }
        stepStartedMs[s.name][step - 1] = Date.now() - t0;
        lastStep.set(s.name, step);
        print(`[${s.name}] ${s.stepName} ${step}/${s.steps} · ${s.progress(health)}`);
      }
    }
  };

  print(`starting ${specs.length} processes: ${specs.map((s) => s.name).join(", ")}`);
  // Steps are followed from the first process on (a scheme may start while others still load).
  let starting = true;
  const observer = (async () => {
    while (starting) {
      await observe();
      await new Promise((r) => setTimeout(r, pollMs));
    }
  })();
  try {
    const groups = [...new Set(init.processes.map((p) => p.group ?? 0))].sort((a, b) => a - b);
    for (const g of groups) {
      const names = new Set(init.processes.filter((p) => (p.group ?? 0) === g).map((p) => p.name));
      await Promise.all(specs.filter((s) => names.has(s.name)).map((s) => sup.start(s)));
    }
  } finally {
    starting = false;
    await observer;
  }
  print(`all ${specs.length} processes healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const deadline = Date.now() + init.timeoutMs;

  while (true) {
    await observe();
    if (exited !== undefined) {
      throw new DevnetProcessExitedError(
        `${exited.name} (pid ${exited.pid}) exited on its own (code ${exited.exitCode}, signal ${exited.signal}); see ${join(init.dir, exited.name)}/console.log`,
      );
    }
    // Kills due: the process's scheme is in (or past) the step asked for.
    for (const k of [...pending]) {
      const s = schemeOf.get(k.process)!;
      const step = s.step(health);
      if (step < k.step) continue;
      pending.splice(pending.indexOf(k), 1);
      const killedPid = sup.info(k.process).pid;
      restarting.add(k.process);
      print(`[${s.name}] SIGKILL ${k.process} (pid ${killedPid}) during ${s.stepName} ${step}`);
      await sup.kill(k.process);
      const info = await sup.restart(k.process);
      restarting.delete(k.process);
      print(
        `[${s.name}] ${k.process} restarted from its data directory (pid ${info.pid}, restart ${info.restarts})`,
      );
      kills.push({
        process: k.process,
        step: k.step,
        killedInStep: step,
        killedPid,
        restartedPid: info.pid,
      });
    }
    const line = init.schemes.map((s) => `[${s.name}] ${s.progress(health)}`).join("  ");
    if (line !== lastLine) lastLine = line;
    if (pending.length === 0 && init.schemes.every((s) => s.finished(health))) {
      finishedAt = Date.now();
      break;
    }
    if (Date.now() > deadline) {
      throw new DevnetTimeoutError(
        `not finished within ${Math.round(init.timeoutMs / 1000)} s: ${lastLine}`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return {
    processes: sup.list(),
    kills,
    addressBook,
    wallMs: finishedAt - t0,
    stepStartedMs,
    health: Object.fromEntries(health),
  };
}
