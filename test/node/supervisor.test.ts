// The supervisor (offchain/node/supervisor.ts) with the test role as real processes: health,
// SIGKILL + restart from the same data directory, start failures, and no process left behind —
// after stopAll, after the supervising parent is interrupted (SIGINT) and after it is SIGKILLed.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { expect } from "chai";

import { pidAlive } from "../../offchain/node/runner.ts";
import { Supervisor, SupervisorStartError } from "../../offchain/node/supervisor.ts";
import { freePort, ROOT } from "../helpers/hardhat-node.ts";
import { pingSpec, writePingConfig } from "../helpers/ping-fixture.ts";

async function waitUntil(
  what: string,
  f: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("node/supervisor", function () {
  this.timeout(90_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "gl-super-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("runs two processes that talk, SIGKILLs and restarts one from its data dir, then stops all", async () => {
    const book = { a: `127.0.0.1:${await freePort()}`, b: `127.0.0.1:${await freePort()}` };
    const unexpected: string[] = [];
    const sup = new Supervisor({ onUnexpectedExit: (i) => unexpected.push(i.name) });
    try {
      for (const n of ["a", "b"]) {
        const cfg = writePingConfig(dir, n, {
          address: n,
          peers: [n === "a" ? "b" : "a"],
          intervals: 40,
          intervalMs: 100,
          addressBook: book,
        });
        await sup.start(pingSpec(n, cfg, join(dir, `data-${n}`)));
      }
      await waitUntil(
        "a at interval ≥ 5",
        async () => ((await sup.health("a"))?.status.interval as number) >= 5,
      );
      const before = (await sup.health("a"))!.status.interval as number;
      const oldPid = sup.info("a").pid;
      await sup.kill("a");
      expect(pidAlive(oldPid)).to.equal(false);
      expect(await sup.health("a")).to.equal(undefined);
      const info = await sup.restart("a");
      expect(info.restarts).to.equal(1);
      expect(info.pid).to.not.equal(oldPid);
      expect(info.pids).to.deep.equal([oldPid, info.pid]);
      const h = (await sup.health("a"))!;
      expect(h.restarts).to.equal(1);
      // Resumed from the store, not from zero.
      expect(h.status.interval as number).to.be.at.least(before);
      // b keeps talking to the restarted a (the transport re-dials).
      const pongsBefore = (await sup.health("b"))!.status.pongs as number;
      await waitUntil(
        "b pongs from the new a",
        async () => ((await sup.health("b"))?.status.pongs as number) > pongsBefore + 2,
      );
      await waitUntil("a finishes", async () => (await sup.health("a"))?.state === "done");
      expect((await sup.health("a"))!.status.interval).to.equal(40);
      expect(unexpected).to.deep.equal([]);
    } finally {
      await sup.stopAll();
    }
    for (const pid of sup.allPids()) expect(pidAlive(pid), `pid ${pid}`).to.equal(false);
    for (const i of sup.list()) expect(i.exitCode, i.name).to.equal(0);
  });

  it("a child that fails to start is a SupervisorStartError with its last line; nothing left", async () => {
    const book = { a: `127.0.0.1:${await freePort()}` };
    const cfg = writePingConfig(dir, "a", { address: "a", addressBook: book, failStart: true });
    const sup = new Supervisor();
    let err: unknown;
    try {
      await sup.start(pingSpec("a", cfg, join(dir, "data-a")));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SupervisorStartError);
    expect((err as Error).message).to.match(/a exited while starting \(code 1.*failing on purpose/);
    for (const pid of sup.allPids()) expect(pidAlive(pid)).to.equal(false);
  });

  for (const how of ["SIGINT", "SIGTERM", "SIGKILL"] as const) {
    it(`no child outlives a supervising parent that gets ${how}`, async () => {
      const parent = spawn(
        process.execPath,
        [
          "--disable-warning=ExperimentalWarning",
          join(ROOT, "test/helpers/supervise-main.ts"),
          dir,
          "3",
        ],
        { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
      );
      const exit = new Promise<number | null>((r) => parent.once("exit", (code) => r(code)));
      const lines = createInterface({ input: parent.stdout! });
      const pids = await new Promise<number[]>((resolve, reject) => {
        lines.once("line", (l) => resolve((JSON.parse(l) as { pids: number[] }).pids));
        parent.once("exit", () => reject(new Error("parent exited before its children were up")));
      });
      try {
        expect(pids).to.have.length(3);
        for (const pid of pids) expect(pidAlive(pid)).to.equal(true);
        process.kill(parent.pid!, how);
        const code = await exit;
        if (how === "SIGINT") expect(code).to.equal(130);
        if (how === "SIGTERM") expect(code).to.equal(143);
        // SIGKILL: the children notice they were re-parented and stop themselves (≤ ~1 s).
        await waitUntil("children gone", () => pids.every((p) => !pidAlive(p)), 15_000);
      } finally {
        for (const pid of pids) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // gone, as expected
          }
        }
      }
    });
  }
});
