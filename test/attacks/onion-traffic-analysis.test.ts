// Threat: a global passive observer of every link's (from, to, time, size) counts the packets each
// meter originates. Before K report slots a meter's own packets left in one burst, one per chunk,
// so the observer recovered every meter's chunk count in every interval (≈ 1.9 bits of its
// consumption; cover loops did not help: loops return to their sender). Defence (DESIGN §4.6, §7):
// every registered meter originates exactly K onions per interval (chunks, then dummies) at random
// rounds, so the observer's view is the same for every meter: its guesses are those of the
// ledger-only baseline and it learns 0 bits.
import { expect } from "chai";
import { network } from "hardhat";

import { runOksuz } from "../../offchain/sim/oksuz.ts";

describe("attack: global passive observer counts a meter's packets", () => {
  it("is at chance on chunk counts and reported Wh (0 bits), with and without loss", async () => {
    const connection = await network.create();
    const [admin, controlCenter, serviceProvider] = await connection.ethers.getSigners();
    const chain = { admin, controlCenter, serviceProvider };
    // (Cover loops still in flight when an interval ends make the observations noisy but not
    // count-dependent; the finite-sample estimator then reads noise as bits: docs/SECURITY.md.)
    for (const extra of [{}, { network: { loss: 0.05 } }]) {
      const r = await runOksuz({ meters: 12, intervals: 2, seed: "traffic", ...extra }, chain);
      const l = r.linkage;
      expect(l.samples).to.equal(24);
      // The chunk counts vary (there is something to leak) …
      expect(l.countEntropyBits).to.be.greaterThan(0.5);
      // … but the observer does no better than guessing the most common count.
      // (With loss, resends vary the observations by noise unrelated to the count; a
      // leave-one-out guess on 24 samples then lands within a few points of the baseline.)
      const what = JSON.stringify({ extra, l });
      expect(l.countRecoveredPct, what).to.be.at.most(l.countBaselinePct + 15);
      expect(l.whRecoveredPct, what).to.be.at.most(l.whBaselinePct + 15);
      if (!("network" in extra)) expect(l.bitsLeakedPerMeter, what).to.be.at.most(0.1);
      if (!("network" in extra)) {
        // Without loss (no resends) every meter originates exactly K = 8 packets.
        expect(l.distinctObservations).to.equal(1);
        expect(l.bitsLeakedPerMeter).to.equal(0);
        expect(l.countRecoveredPct).to.equal(l.countBaselinePct);
      }
      expect(r.userChecks.every((c) => c.verified)).to.equal(true);
    }
  });
});
