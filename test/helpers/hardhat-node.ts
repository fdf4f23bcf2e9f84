// `hardhat node` as a child process on a free 127.0.0.1 port, killed by pid (the pattern of
// test/e2e/rpc.test.ts, shared here for tests that need an HTTP JSON-RPC endpoint).
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { connectJsonRpc } from "../../offchain/chain/provider.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HARDHAT = join(ROOT, "node_modules", ".bin", "hardhat");

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

/** Starts `hardhat node` on 127.0.0.1:port and waits (≤ 60 s) until it answers. */
export async function startHardhatNode(port: number): Promise<ChildProcess> {
  const child = spawn(HARDHAT, ["node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`hardhat node exited: ${output}`);
    try {
      const { provider } = await connectJsonRpc(`http://127.0.0.1:${port}`, 1_000);
      provider.destroy();
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  child.kill("SIGKILL");
  throw new Error(`hardhat node did not answer within 60 s: ${output}`);
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
export async function stopHardhatNode(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once("exit", r));
  process.kill(child.pid, "SIGTERM");
  const timer = setTimeout(
    () => child.exitCode === null && process.kill(child.pid!, "SIGKILL"),
    5_000,
  );
  await exited;
  clearTimeout(timer);
}
