// bbnpSetup, the trusted authority as an offline tool for the BBNP services: deterministic in the
// seed (and the simulator's keys for the same seed), every process gets only its own secrets, the
// configs survive JSON and parse back, and a bad config field is a ServiceConfigError naming it.
import { expect } from "chai";

import { blsPublicKey } from "../../offchain/crypto/bls.ts";
import {
  bbnpSetup,
  parseBbnpConfig,
  scalarFromBytes,
} from "../../offchain/node/roles/bbnp-setup.ts";
import { ServiceConfigError } from "../../offchain/node/service.ts";
import { BBNP_ORDER, publicKey } from "../../offchain/protocol/bbnp/params.ts";

describe("bbnpSetup (the TA offline)", () => {
  const opts = { seed: "setup", users: 6, nodes: 4, rounds: 2, fleets: 2 };

  it("is deterministic in the seed and changes with it", () => {
    const a = bbnpSetup(opts);
    const b = bbnpSetup(opts);
    const c = bbnpSetup({ ...opts, seed: "other" });
    expect(a.deployment.gatewayPublicKey).to.deep.equal(b.deployment.gatewayPublicKey);
    expect(a.processes.map((p) => p.secrets)).to.deep.equal(b.processes.map((p) => p.secrets));
    expect(a.deployment.gatewayPublicKey).to.not.deep.equal(c.deployment.gatewayPublicKey);
  });

  it("one gateway, M nodes, the fleets; each process holds only its own secrets", () => {
    const s = bbnpSetup(opts);
    expect(s.processes.map((p) => p.name)).to.deep.equal([
      "gateway",
      "node-0",
      "node-1",
      "node-2",
      "node-3",
      "bbnp-users-0",
      "bbnp-users-1",
    ]);
    const gw = s.processes[0];
    expect(Object.keys(gw.secrets)).to.deep.equal(["gateway-key", "ta-blinding"]);
    expect(gw.secrets["ta-blinding"].length).to.equal(2 * 32);
    const sg = scalarFromBytes(gw.secrets["gateway-key"], "gateway-key");
    expect(blsPublicKey(sg)).to.deep.equal(s.deployment.gatewayPublicKey);
    for (let j = 0; j < 4; j++) {
      const p = s.processes[1 + j];
      expect(Object.keys(p.secrets)).to.deep.equal(["bls-key"]);
      const sk = scalarFromBytes(p.secrets["bls-key"], "bls-key");
      expect(blsPublicKey(sk)).to.deep.equal(s.deployment.nodes[j].publicKey);
    }
    const fleets = s.processes.slice(5);
    expect(fleets.map((f) => Object.keys(f.secrets))).to.deep.equal([
      ["user-0", "user-2", "user-4"],
      ["user-1", "user-3", "user-5"],
    ]);
    // Each user's secret matches its published key, and S_g = −Σ S_i (s_g = −Σ s_i).
    const cfg = parseBbnpConfig(JSON.parse(JSON.stringify(fleets[0].config)), "bbnp-users");
    expect(cfg.users).to.deep.equal([0, 2, 4]);
    let sum = sg;
    for (const f of fleets) {
      for (const [name, bytes] of Object.entries(f.secrets)) {
        const i = Number(name.slice(5));
        const si = scalarFromBytes(bytes, name);
        expect(publicKey(si)).to.deep.equal(cfg.params.userPublicKeys[i]);
        sum += si;
      }
    }
    expect(sum % BBNP_ORDER).to.equal(0n);
  });

  it("refuses bad options and bad config fields by name", () => {
    expect(() => bbnpSetup({ ...opts, nodes: 3 })).to.throw(RangeError, /nodes/);
    expect(() => bbnpSetup({ ...opts, users: 1 })).to.throw(RangeError, /users/);
    const good = JSON.parse(JSON.stringify(bbnpSetup(opts).processes[1].config));
    expect(parseBbnpConfig(good, "node").index).to.equal(0);
    const bad = (patch: Record<string, unknown>) => ({ bbnp: { ...good.bbnp, ...patch } });
    expect(() => parseBbnpConfig({}, "node")).to.throw(ServiceConfigError, /bbnp/);
    expect(() => parseBbnpConfig(bad({ mode: "x" }), "node")).to.throw(ServiceConfigError, /mode/);
    expect(() => parseBbnpConfig(bad({ rounds: 0 }), "node")).to.throw(
      ServiceConfigError,
      /rounds/,
    );
    expect(() => parseBbnpConfig(bad({ nodeKeys: ["00"] }), "node")).to.throw(
      ServiceConfigError,
      /reputations|nodeKeys/,
    );
    expect(() => parseBbnpConfig(bad({ users: [99] }), "bbnp-users")).to.throw(
      ServiceConfigError,
      /users/,
    );
    expect(() => scalarFromBytes(new Uint8Array(32), "k")).to.throw(ServiceConfigError, /scalar/);
  });
});
