// `hardhat node` as a child process on a free 127.0.0.1 port (issue 11 "The devnet"; the tests'
// pattern of test/e2e/rpc.test.ts, shared by the devnet and the tests through
// test/helpers/hardhat-node.ts). Started in its own process group and stopped by pid, so the node
// and anything it forks go together.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { connectJsonRpc } from "../chain/provider.ts";

/** The repository root (where hardhat.config.ts and node_modules live). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HARDHAT = join(ROOT, "node_modules", ".bin", "hardhat");

/** A `hardhat node` that did not start (exited, or did not answer in time); carries its output. */
export class HardhatNodeError extends Error {
  override name = "HardhatNodeError";
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close). Another
 * process may take it before the caller binds it; callers that can, bind port 0 themselves.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Where port reservations are held: one `<port>.lock` file per port, holding the owner's pid. */
export function portLockDir(): string {
  return join(tmpdir(), "gridledger-ports");
}

/** Ports this process holds a reservation lock for (released at exit or by `releasePorts`). */
const held = new Set<number>();
let exitHookInstalled = false;

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the reservation lock of `port` (exclusive create of `<port>.lock` with our pid); a lock
 * whose holder is dead (SIGKILL) is taken over. False if a live process holds it.
 */
function lockPort(port: number): boolean {
  const dir = portLockDir();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${port}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      held.add(port);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on("exit", () => releasePorts([...held]));
      }
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(file, "utf8").trim());
    } catch {
      // removed meanwhile: try again
    }
    if (owner === process.pid || alive(owner)) return false;
    try {
      unlinkSync(file); // stale: its holder is gone
    } catch {
      // another process took it over first
    }
  }
  return false;
}

/** Releases this process's reservation locks of `ports` (others' locks are left alone). */
export function releasePorts(ports: readonly number[]): void {
  for (const port of ports) {
    if (!held.delete(port)) continue;
    const file = join(portLockDir(), `${port}.lock`);
    try {
      if (Number(readFileSync(file, "utf8").trim()) === process.pid) unlinkSync(file);
    } catch {
      // already gone
    }
  }
}

/**
 * `count` distinct loopback ports for services that must be told their port in advance (an address
 * book), drawn at random from [10000, 32768) — below Linux's default ephemeral range (32768–60999),
 * so a socket bound to port 0 (health endpoints, outbound connections, `freePort`) never takes one
 * between this call and the service's bind. Each was bindable when drawn AND is reserved for this
 * process by a lock file (`portLockDir()/<port>.lock`, exclusive create, holding our pid) until
 * `releasePorts` or this process's exit: two devnets (or tests) drawing at the same moment never
 * get the same port, and a port stays ours while a service restarts on it. A lock left by a dead
 * process is taken over. `random` defaults to Math.random (port choice is not protocol logic).
 * Throws after 50 × count failed draws.
 */
export async function reservePorts(
  count: number,
  random: () => number = Math.random,
): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < count; tries++) {
    if (tries > 50 * count + 50) {
      releasePorts([...ports]);
      throw new Error(`reservePorts: no ${count} free ports in [10000, 32768)`);
    }
    const port = 10_000 + Math.floor(random() * 22_768);
    if (ports.has(port) || !lockPort(port)) continue;
    if (await canBind(port)) ports.add(port);
    else releasePorts([port]);
  }
  return [...ports];
}

export interface HardhatNodeOptions {
  /** How long to wait for the node to answer JSON-RPC (default 60 000 ms). */
  readonly timeoutMs?: number;
}

/**
 * Starts `hardhat node` on 127.0.0.1:`port` and waits until it answers `eth_chainId` (≤ 60 s by
 * default). Throws `HardhatNodeError` (with the node's last output) when it exits or does not answer
 * in time; the process is killed first.
 */
export async function startHardhatNode(
  port: number,
  options: HardhatNodeOptions = {},
): Promise<ChildProcess> {
  const child = spawn(HARDHAT, ["node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group: stopHardhatNode signals the whole group
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new HardhatNodeError(`hardhat node exited: ${output}`);
    }
    try {
      const { provider } = await connectJsonRpc(`http://127.0.0.1:${port}`, 1_000);
      provider.destroy();
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  killGroup(child, "SIGKILL");
  throw new HardhatNodeError(
    `hardhat node did not answer within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s: ${output}`,
  );
}

/** Signals the child's process group (the child alone if it has none); ignores ESRCH. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM to the node's process group, then SIGKILL after 5 s; resolves once it has exited. */
export async function stopHardhatNode(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    return;
  }
  const exited = new Promise((r) => child.once("exit", r));
  killGroup(child, "SIGTERM");
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) killGroup(child, "SIGKILL");
  }, 5_000);
  await exited;
  clearTimeout(timer);
}
