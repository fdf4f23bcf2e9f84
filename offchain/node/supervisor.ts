// A process supervisor for role processes (issue 11 "The devnet": separate OS processes, "no
// process left behind, on success, failure or Ctrl-C"; `--kill role@j` restarts from the data
// directory). docs/RUNTIME.md "Supervisor".
//
// Each child is spawned in its own process group (`detached`), so a kill reaches anything it
// forked; its stdout/stderr go to `<dataDir>/console.log`; it gets GRIDLEDGER_SUPERVISED=1 (the
// runner stops itself when its parent changes, so even a SIGKILLed supervisor leaves nothing
// behind) and GRIDLEDGER_RESTART_COUNT. Readiness = the runner's `<dataDir>/process.json` names the
// child's pid and its /health answers. Teardown (`stopAll`): SIGTERM every group, SIGKILL what is
// left after `stopTimeoutMs`. `installExitHandlers` ties teardown to SIGINT/SIGTERM, uncaught
// errors and process exit. Every wait is bounded.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { makeDirectory } from "../runtime/fs.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import {
  PROCESS_FILE,
  RESTART_COUNT_ENV,
  SUPERVISED_ENV,
  pidAlive,
  type HealthDocument,
} from "./runner.ts";

export class SupervisorError extends Error {
  override name = "SupervisorError";
}

/** A child exited or did not become healthy in time while starting. */
export class SupervisorStartError extends SupervisorError {
  override name = "SupervisorStartError";
}

/** How to run one role process. */
export interface ProcessSpec {
  /** Unique name in this supervisor ("cc", "meters-0", "node-3"). */
  readonly name: string;
  readonly role: string;
  /** Executable (e.g. process.execPath) and its arguments. */
  readonly command: string;
  readonly args: readonly string[];
  /** The process's data directory (created if missing); console.log goes there. */
  readonly dataDir: string;
  /** Extra environment (added to the supervisor's own). */
  readonly env?: Readonly<Record<string, string>>;
}

/** What the supervisor knows about one child (JSON-serialisable; the devnet's --json lists it). */
export interface ProcessInfo {
  readonly name: string;
  readonly role: string;
  /** pid of the current (or last) incarnation. */
  readonly pid: number;
  /** Every pid this name has had, oldest first. */
  readonly pids: readonly number[];
  readonly restarts: number;
  readonly healthUrl?: string;
  /** null while running. */
  readonly exitCode: number | null;
  readonly signal: string | null;
}

interface Child {
  readonly spec: ProcessSpec;
  proc: ChildProcess;
  readonly pids: number[];
  restarts: number;
  healthUrl?: string;
  exited: Promise<void>;
  exitCode: number | null;
  signal: string | null;
  /** Set while the supervisor itself is killing/stopping it (not an unexpected exit). */
  expectingExit: boolean;
}

export interface SupervisorInit {
  readonly logger?: Logger;
  /** How long a child may take to become healthy (default 30 000 ms). */
  readonly startTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace in `stop`/`stopAll` (default 10 000 ms). */
  readonly stopTimeoutMs?: number;
  /** Called when a child exits without the supervisor having asked it to. */
  readonly onUnexpectedExit?: (info: ProcessInfo) => void;
}

const POLL_MS = 100;

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Signals a process group; falls back to the pid; ignores processes already gone. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}

/** GET a runner's /health (≤ `timeoutMs`); undefined when it does not answer. */
export async function fetchHealth(
  url: string,
  timeoutMs = 2_000,
): Promise<HealthDocument | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    return (await res.json()) as HealthDocument;
  } catch {
    return undefined;
  }
}

export class Supervisor {
  readonly #children = new Map<string, Child>();
  readonly #logger: Logger;
  readonly #startTimeoutMs: number;
  readonly #stopTimeoutMs: number;
  readonly #onUnexpectedExit?: (info: ProcessInfo) => void;
  #handlersInstalled = false;
  #closing = false;

  constructor(init: SupervisorInit = {}) {
    this.#logger = init.logger ?? silentLogger;
    this.#startTimeoutMs = init.startTimeoutMs ?? 30_000;
    this.#stopTimeoutMs = init.stopTimeoutMs ?? 10_000;
    this.#onUnexpectedExit = init.onUnexpectedExit;
  }

  /**
   * Spawns `spec` and waits until it is healthy. Throws `SupervisorError` for a duplicate name,
   * `SupervisorStartError` (with the last line of its console log) when the child exits or is not
   * healthy within `startTimeoutMs` — it is killed first.
   */
  async start(spec: ProcessSpec): Promise<ProcessInfo> {
    if (this.#closing) throw new SupervisorError("start: supervisor is shutting down");
    if (this.#children.has(spec.name))
      throw new SupervisorError(`start: "${spec.name}" already exists`);
    const child = this.#spawn(spec, 0, []);
    this.#children.set(spec.name, child);
    await this.#awaitReady(child);
    return this.#info(child);
  }

  /**
   * SIGKILLs `name`'s process group (a crash: no clean stop) and waits for it to exit. The child
   * stays listed; `restart` brings it back.
   */
  async kill(name: string): Promise<void> {
    const child = this.#get(name);
    if (child.exitCode !== null || child.signal !== null) return;
    child.expectingExit = true;
    this.#logger.info("SIGKILL", { name, pid: child.proc.pid });
    signalGroup(child.proc.pid!, "SIGKILL");
    await child.exited;
  }

  /**
   * Restarts `name` with the same command and data directory (killing it first with SIGKILL if it
   * still runs) and waits until it is healthy again; its restart count goes up by one.
   */
  async restart(name: string): Promise<ProcessInfo> {
    const old = this.#get(name);
    await this.kill(name);
    const child = this.#spawn(old.spec, old.restarts + 1, old.pids);
    this.#children.set(name, child);
    await this.#awaitReady(child);
    return this.#info(child);
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when it has exited. */
  async stop(name: string): Promise<void> {
    const child = this.#get(name);
    if (child.exitCode !== null || child.signal !== null) return;
    child.expectingExit = true;
    signalGroup(child.proc.pid!, "SIGTERM");
    const timer = setTimeout(() => signalGroup(child.proc.pid!, "SIGKILL"), this.#stopTimeoutMs);
    await child.exited;
    clearTimeout(timer);
  }

  /** Stops every child (in parallel, SIGTERM then SIGKILL) and waits for all of them. */
  async stopAll(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#children.keys()].map((n) => this.stop(n)));
  }

  /** Synchronous last resort: SIGKILL every child's group still running (for process "exit"). */
  killAllNow(): void {
    for (const c of this.#children.values()) {
      if (c.exitCode === null && c.signal === null && c.proc.pid !== undefined) {
        signalGroup(c.proc.pid, "SIGKILL");
      }
    }
  }

  /** The child's /health, or undefined if it does not answer (or has not started). */
  async health(name: string, timeoutMs = 2_000): Promise<HealthDocument | undefined> {
    const child = this.#get(name);
    if (child.healthUrl === undefined || child.exitCode !== null || child.signal !== null)
      return undefined;
    return fetchHealth(child.healthUrl, timeoutMs);
  }

  info(name: string): ProcessInfo {
    return this.#info(this.#get(name));
  }

  list(): ProcessInfo[] {
    return [...this.#children.values()].map((c) => this.#info(c));
  }

  /** Every pid any child has had (for "no process left behind" checks). */
  allPids(): number[] {
    return [...this.#children.values()].flatMap((c) => c.pids);
  }

  /**
   * Tears the children down when this process is interrupted (SIGINT/SIGTERM: stopAll, then exit
   * 130/143; a second signal SIGKILLs everything and exits at once), on an uncaught error (stopAll,
   * exit 1) and, synchronously, on any exit. `onInterrupted(signal)` runs after the children
   * are stopped and before the exit (the caller's closing summary). Returns a function that
   * removes the handlers.
   */
  installExitHandlers(onInterrupted?: (signal: NodeJS.Signals) => void): () => void {
    if (this.#handlersInstalled) return () => undefined;
    this.#handlersInstalled = true;
    let interrupted = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      const code = signal === "SIGINT" ? 130 : 143;
      if (interrupted) {
        this.killAllNow();
        process.exit(code);
      }
      interrupted = true;
      this.#logger.warn(`${signal}: stopping every process`);
      void this.stopAll()
        .then(() => onInterrupted?.(signal))
        .finally(() => process.exit(code));
    };
    const onError = (e: unknown): void => {
      this.#logger.error("uncaught error: stopping every process", {
        error: e instanceof Error ? e : String(e),
      });
      void this.stopAll().finally(() => process.exit(1));
    };
    const onExit = (): void => this.killAllNow();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("uncaughtException", onError);
    process.on("unhandledRejection", onError);
    process.on("exit", onExit);
    return () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onError);
      process.off("exit", onExit);
      this.#handlersInstalled = false;
    };
  }

  #get(name: string): Child {
    const c = this.#children.get(name);
    if (c === undefined) throw new SupervisorError(`no process named "${name}"`);
    return c;
  }

  #info(c: Child): ProcessInfo {
    return {
      name: c.spec.name,
      role: c.spec.role,
      pid: c.proc.pid ?? -1,
      pids: [...c.pids],
      restarts: c.restarts,
      ...(c.healthUrl !== undefined ? { healthUrl: c.healthUrl } : {}),
      exitCode: c.exitCode,
      signal: c.signal,
    };
  }

  #spawn(spec: ProcessSpec, restarts: number, pids: number[]): Child {
    makeDirectory(spec.dataDir);
    const out = openSync(join(spec.dataDir, "console.log"), "a");
    let proc: ChildProcess;
    try {
      proc = spawn(spec.command, [...spec.args], {
        detached: true,
        stdio: ["ignore", out, out],
        env: {
          ...process.env,
          ...spec.env,
          [SUPERVISED_ENV]: "1",
          [RESTART_COUNT_ENV]: String(restarts),
        },
      });
    } finally {
      closeSync(out);
    }
    if (proc.pid === undefined)
      throw new SupervisorStartError(`${spec.name}: spawn failed (${spec.command})`);
    pids.push(proc.pid);
    const child: Child = {
      spec,
      proc,
      pids,
      restarts,
      exited: Promise.resolve(),
      exitCode: null,
      signal: null,
      expectingExit: false,
    };
    child.exited = new Promise<void>((resolve) => {
      proc.once("exit", (code, signal) => {
        child.exitCode = code;
        child.signal = signal;
        this.#logger.info("exited", { name: spec.name, pid: proc.pid, code, signal });
        if (!child.expectingExit && !this.#closing) this.#onUnexpectedExit?.(this.#info(child));
        resolve();
      });
    });
    proc.once("error", (e) => this.#logger.error("spawn error", { name: spec.name, error: e }));
    this.#logger.info("spawned", { name: spec.name, role: spec.role, pid: proc.pid, restarts });
    return child;
  }

  async #awaitReady(child: Child): Promise<void> {
    const deadline = Date.now() + this.#startTimeoutMs;
    const file = join(child.spec.dataDir, PROCESS_FILE);
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signal !== null) {
        throw new SupervisorStartError(
          `${child.spec.name} exited while starting (code ${child.exitCode}, signal ${child.signal}): ${lastLine(child.spec.dataDir)}`,
        );
      }
      try {
        const p = JSON.parse(readFileSync(file, "utf8")) as { pid?: number; healthUrl?: string };
        if (p.pid === child.proc.pid && typeof p.healthUrl === "string") {
          if ((await fetchHealth(p.healthUrl, 1_000)) !== undefined) {
            child.healthUrl = p.healthUrl;
            return;
          }
        }
      } catch {
        // not written yet (or being written)
      }
      await delay(POLL_MS);
    }
    child.expectingExit = true;
    signalGroup(child.proc.pid!, "SIGKILL");
    await child.exited;
    throw new SupervisorStartError(
      `${child.spec.name} not healthy within ${this.#startTimeoutMs} ms: ${lastLine(child.spec.dataDir)}`,
    );
  }
}

/** The last non-empty line of a child's console log (for one-line start errors). */
function lastLine(dataDir: string): string {
  try {
    const lines = readFileSync(join(dataDir, "console.log"), "utf8").trim().split("\n");
    return lines[lines.length - 1] ?? "";
  } catch {
    return "";
  }
}

export { pidAlive };
