// Consensus round driver (DESIGN §5.1–5.2): safety and liveness with up to f faulty nodes of
// M = 3f + 1 (M = 4, 7, 100), a stalled primary replaced by the next in the selection order, and
// observed behaviour feeding the next round's reputation vector.
import { expect } from "chai";
import fc from "fast-check";

import { equalBytes } from "../../offchain/crypto/bytes.ts";
import {
  blockDigest,
  faultTolerance,
  packReputations,
  quantizeReputation,
  quorumSize,
  sameContent,
  unpackReputations,
} from "../../offchain/consensus/block.ts";
import { behaviours } from "../../offchain/consensus/driver.ts";
import type { NodeBehaviour } from "../../offchain/consensus/faults.ts";
import { aggregationDomain } from "../../offchain/protocol/aggregation.ts";
import { GATEWAY_SK, makeNetwork, testGateway } from "./setup.ts";

const DOMAIN = aggregationDomain(31337n, "0x" + "ab".repeat(20));

/** Runs rounds 1..n; checks safety after each. */
async function runAndCheck(m: number, faulty: Map<number, NodeBehaviour>, rounds: number) {
  const net = makeNetwork({ m, behaviours: behaviours(m, faulty), domain: DOMAIN });
  const outcomes = [];
  for (let t = 1n; t <= BigInt(rounds); t++) {
    const outcome = await net.runRound(t, 1_000n * t, 10);
    outcomes.push(outcome);
    // Safety: every certified block of the round has the same content, and the chain holds one.
    for (const c of outcome.certified) {
      expect(sameContent(c.block, outcome.certified[0].block)).to.equal(true);
    }
    const honest = net.nodes.filter((n) => n.behaviour === "honest");
    for (const n of honest) {
      const adopted = n.adopted.get(t);
      expect(adopted, `node ${n.index} adopted round ${t}`).to.not.equal(undefined);
      expect(equalBytes(blockDigest(DOMAIN, adopted!), net.memory.blocks.at(-1)!.digest)).to.equal(
        true,
      );
    }
  }
  return { net, outcomes };
}

describe("consensus driver", () => {
  it("quorum sizes: 2f+1 for M = 3f+1, and any two quorums share f+1 nodes", () => {
    for (let m = 1; m <= 300; m++) {
      const f = faultTolerance(m);
      const q = quorumSize(m);
      if (m % 3 === 1) expect(q).to.equal(2 * f + 1);
      expect(2 * q - m).to.be.at.least(f + 1);
      expect(q).to.be.at.most(m - f); // f crashed nodes cannot block progress
    }
  });

  it("packed reputations: unpack(pack(x)) = quantize(x), 4 bytes per node; bad input refused", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 10n ** 18n }), { maxLength: 40 }), (xs) => {
        const packed = packReputations(xs);
        expect(packed.length).to.equal(4 * xs.length);
        expect(unpackReputations(packed)).to.deep.equal(xs.map(quantizeReputation));
      }),
      { numRuns: 200 },
    );
    expect(() => packReputations([10n ** 18n + 1n])).to.throw(RangeError, /\[0, 1e18\]/);
    expect(() => unpackReputations(new Uint8Array(5))).to.throw(RangeError, /multiple of 4/);
    expect(() => unpackReputations(Uint8Array.of(0x3b, 0x9a, 0xca, 0x01))).to.throw(
      RangeError,
      /above 1.0/,
    );
  });

  it("the driver relays the gateway's statement unchanged: a σ_GW not made with s_g commits nothing", async () => {
    // Regression (issue 11): the driver used to re-sign (t, Σ, |R|) with a copy of s_g, so any
    // statement committed. It now holds no key; a statement signed with another key is refused
    // by every honest node and the chain.
    const net = makeNetwork({ m: 4, behaviours: behaviours(4, new Map()), domain: DOMAIN });
    const forged = testGateway(GATEWAY_SK + 1n, DOMAIN).statement(1n, 1_000n, 10);
    const o = await net.driver.runRound(forged);
    expect(o.committed).to.equal(undefined);
    expect(net.memory.blocks.length).to.equal(0);
    const good = await net.driver.runRound(net.gateway.statement(1n, 1_000n, 10));
    expect(good.committed?.block.sum).to.equal(1_000n);
    expect(equalBytes(good.committed!.block.gatewaySignature, forged.gatewaySignature)).to.equal(
      false,
    );
  });

  it("M = 4, all honest: rounds commit in view 0 with all signers", async () => {
    const { outcomes } = await runAndCheck(4, new Map(), 3);
    for (const o of outcomes) {
      expect(o.committed).to.not.equal(undefined);
      expect(o.viewOfCommit).to.equal(0);
      expect(o.committed!.certificate.signers).to.equal(0b1111n);
    }
  });

  for (const bad of [
    "crashed",
    "slow",
    "wrongSignature",
    "wrongBlock",
    "equivocate",
    "stall",
  ] as const) {
    it(`M = 4 with one ${bad} node (f = 1): every round commits, one block per round`, async () => {
      // Make the faulty node the selected primary of round 1 where possible: try every index.
      for (const idx of [0, 1, 2, 3]) {
        const { outcomes, net } = await runAndCheck(4, new Map([[idx, bad]]), 2);
        for (const o of outcomes) {
          expect(o.committed, `${bad} at ${idx}`).to.not.equal(undefined);
          // A faulty primary's block is accepted only if it was the honest one: an equivocating
          // primary can win with the honest variant (the wrong one gets no honest vote).
          if (o.committed!.block.primary === idx) {
            expect(["slow", "wrongSignature", "equivocate"]).to.include(bad);
          }
        }
        expect(net.memory.blocks.length).to.equal(2);
      }
    });
  }

  it("M = 7 with f = 2 Byzantine nodes (stall + equivocate): liveness and safety", async () => {
    // Find which nodes lead the order and make them the faulty ones, so primaries get replaced.
    const probe = makeNetwork({ m: 7, behaviours: behaviours(7, new Map()), domain: DOMAIN });
    const sel = probe.driver.selection(
      1n,
      new Uint8Array(32),
      probe.nodes[0].expectedReputations(),
    );
    const [first, second] = sel.order;
    const { outcomes } = await runAndCheck(
      7,
      new Map<number, NodeBehaviour>([
        [first, "stall"],
        [second, "equivocate"],
      ]),
      2,
    );
    expect(outcomes[0].viewOfCommit).to.be.at.least(2);
    expect(outcomes[0].committed!.block.primary).to.equal(sel.order[outcomes[0].viewOfCommit!]);
  });

  it("behaviour feeds the next round's reputation vector (stalled primary loses reputation)", async () => {
    const probe = makeNetwork({ m: 4, behaviours: behaviours(4, new Map()), domain: DOMAIN });
    const sel = probe.driver.selection(
      1n,
      new Uint8Array(32),
      probe.nodes[0].expectedReputations(),
    );
    const staller = sel.order[0];
    const { net } = await runAndCheck(4, new Map([[staller, "stall"]]), 2);
    const [b1, b2] = net.memory.blocks.map((b) => b.block);
    // Block 1 carries Γ^(0); block 2 carries Γ^(1) after round 1's evidence.
    expect(b2.reputations[staller] < b1.reputations[staller]).to.equal(true);
    const others = [0, 1, 2, 3].filter((j) => j !== staller);
    for (const j of others) expect(b2.reputations[j] > b2.reputations[staller]).to.equal(true);
  });

  it("M = 100 with f = 33 faulty nodes (crashed, slow, wrong signatures, stalled primary): one round commits", async function () {
    this.timeout(600_000);
    const m = 100;
    const probe = makeNetwork({ m, behaviours: behaviours(m, new Map()), domain: DOMAIN });
    const sel = probe.driver.selection(
      1n,
      new Uint8Array(32),
      probe.nodes[0].expectedReputations(),
    );
    const faulty = new Map<number, NodeBehaviour>([[sel.order[0], "stall"]]);
    const kinds: NodeBehaviour[] = ["crashed", "slow", "wrongSignature"];
    for (let j = 0, k = 0; faulty.size < faultTolerance(m); j++) {
      if (j === sel.order[1] || faulty.has(j)) continue;
      faulty.set(j, kinds[k++ % kinds.length]);
    }
    const { outcomes, net } = await runAndCheck(m, faulty, 1);
    const o = outcomes[0];
    expect(o.viewOfCommit).to.equal(1);
    const signers = o.committed!.certificate.signers;
    let count = 0;
    for (let j = 0; j < m; j++) if ((signers >> BigInt(j)) & 1n) count++;
    expect(count).to.be.at.least(quorumSize(m));
    for (const [j] of faulty)
      expect((signers >> BigInt(j)) & 1n, `faulty ${j}`).to.equal(
        net.nodes[j].behaviour === "stall" ? 1n : 0n,
      );
  });
});
