// Pure parts of the devnet engine (offchain/node/devnet.ts): --kill parsing, plan checks, and the
// address book's port reservation (offchain/node/hardhat-node.ts reservePorts).
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

import { expect } from "chai";

import {
  DevnetError,
  checkPlan,
  parseKillSpec,
  type DevnetProcess,
  type DevnetScheme,
} from "../../offchain/node/devnet.ts";
import { portLockDir, releasePorts, reservePorts } from "../../offchain/node/hardhat-node.ts";
import { ROOT } from "../helpers/hardhat-node.ts";

const scheme = (name: string, steps: number): DevnetScheme => ({
  name,
  stepName: "interval",
  steps,
  step: () => 0,
  finished: () => false,
  progress: () => "",
});
const proc = (name: string, addresses: string[], s = "a"): DevnetProcess => ({
  name,
  role: "ping",
  scheme: s,
  config: {},
  secrets: {},
  addresses,
});

describe("node/devnet", () => {
  it("parseKillSpec: cc@2, node3@2 and node-3@2, meters-0@1; malformed → undefined", () => {
    expect(parseKillSpec("cc@2")).to.deep.equal({ process: "cc", step: 2 });
    expect(parseKillSpec("node3@2")).to.deep.equal({ process: "node-3", step: 2 });
    expect(parseKillSpec("node-3@2")).to.deep.equal({ process: "node-3", step: 2 });
    expect(parseKillSpec("meters-0@1")).to.deep.equal({ process: "meters-0", step: 1 });
    expect(parseKillSpec("bbnp-users-0@1")).to.deep.equal({ process: "bbnp-users-0", step: 1 });
    for (const bad of ["cc", "cc@0", "cc@", "@2", "CC@2", "cc@-1", "cc@1.5", "cc@2@3"]) {
      expect(parseKillSpec(bad), bad).to.equal(undefined);
    }
  });

  it("checkPlan names duplicate processes, shared addresses, unknown schemes and bad kills", () => {
    const schemes = [scheme("a", 2)];
    expect(() => checkPlan([proc("x", ["x"]), proc("x", ["y"])], schemes, [])).to.throw(
      DevnetError,
      /two processes named "x"/,
    );
    expect(() => checkPlan([proc("x", ["m"]), proc("y", ["m"])], schemes, [])).to.throw(
      DevnetError,
      /address "m" claimed by x and y/,
    );
    expect(() => checkPlan([proc("x", ["x"], "b")], schemes, [])).to.throw(
      DevnetError,
      /unknown scheme "b"/,
    );
    expect(() => checkPlan([proc("x", ["x"])], schemes, [{ process: "z", step: 1 }])).to.throw(
      DevnetError,
      /no process named "z"/,
    );
    expect(() => checkPlan([proc("x", ["x"])], schemes, [{ process: "x", step: 3 }])).to.throw(
      DevnetError,
      /has 2 intervals/,
    );
    expect(() =>
      checkPlan([proc("x", ["x"])], schemes, [{ process: "x", step: 2 }]),
    ).to.not.throw();
  });

  it("reservePorts: distinct, bindable, below the ephemeral range; skips a port in use", async () => {
    const ports = await reservePorts(200);
    expect(new Set(ports).size).to.equal(200);
    for (const p of ports) expect(p).to.be.within(10_000, 32_767);
    releasePorts(ports);
    // A port in use is never returned: make the first draw hit it.
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(ports[0], "127.0.0.1", () => r()));
    try {
      const draws = [(ports[0] - 10_000) / 22_768, (ports[1] - 10_000) / 22_768];
      let i = 0;
      const got = await reservePorts(1, () => draws[Math.min(i++, 1)] + 1e-9);
      expect(got).to.deep.equal([ports[1]]);
      releasePorts(got);
    } finally {
      busy.close();
    }
  });

  it("reservePorts: a port reserved by another live process is skipped, a dead holder's is taken over", async () => {
    const [p, q] = await reservePorts(2);
    releasePorts([p, q]);
    const lock = join(portLockDir(), `${p}.lock`);
    const at = (...ports: number[]) => {
      let i = 0;
      return () => (ports[Math.min(i++, ports.length - 1)] - 10_000) / 22_768 + 1e-9;
    };
    // Another live process (our parent) holds p: q is drawn next.
    writeFileSync(lock, `${process.ppid}\n`);
    const got = await reservePorts(1, at(p, q));
    expect(got).to.deep.equal([q]);
    releasePorts(got);
    expect(readFileSync(lock, "utf8").trim(), "another's lock left alone").to.equal(
      String(process.ppid),
    );
    // Its holder died (SIGKILL leaves the file): taken over.
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    writeFileSync(lock, `${dead}\n`);
    expect(await reservePorts(1, at(p))).to.deep.equal([p]);
    expect(readFileSync(lock, "utf8").trim()).to.equal(String(process.pid));
    releasePorts([p]);
    expect(existsSync(lock)).to.equal(false);
  });

  it("reservePorts: two processes drawing the same candidates at the same moment get disjoint ports", async () => {
    // Regression: each checked only that a port was free when drawn; two devnets started at once
    // could both draw it (EADDRINUSE at start).
    const run = () =>
      new Promise<number[]>((resolve, reject) => {
        execFile(
          process.execPath,
          [join(ROOT, "test", "helpers", "reserve-ports-main.ts"), "12345", "40", "1500"],
          { cwd: ROOT, timeout: 30_000 },
          (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as number[])),
        );
      });
    const [a, b] = await Promise.all([run(), run()]);
    expect(a).to.have.length(40);
    expect(b).to.have.length(40);
    expect(a.filter((x) => b.includes(x))).to.deep.equal([]);
    // Released at exit.
    for (const x of [...a, ...b]) {
      expect(existsSync(join(portLockDir(), `${x}.lock`)), `lock ${x}`).to.equal(false);
    }
  });
});
