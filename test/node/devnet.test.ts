// Pure parts of the devnet engine (offchain/node/devnet.ts): --kill parsing, plan checks, and the
// address book's port reservation (offchain/node/hardhat-node.ts reservePorts).
import { createServer } from "node:net";

import { expect } from "chai";

import {
  DevnetError,
  checkPlan,
  parseKillSpec,
  type DevnetProcess,
  type DevnetScheme,
} from "../../offchain/node/devnet.ts";
import { reservePorts } from "../../offchain/node/hardhat-node.ts";

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
    // A port in use is never returned: make the first draw hit it.
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(ports[0], "127.0.0.1", () => r()));
    try {
      const draws = [(ports[0] - 10_000) / 22_768, (ports[1] - 10_000) / 22_768];
      let i = 0;
      const got = await reservePorts(1, () => draws[Math.min(i++, 1)] + 1e-9);
      expect(got).to.deep.equal([ports[1]]);
    } finally {
      busy.close();
    }
  });
});
