// Issue 16 (1): the simulation must drive onion epochs, or no replay cache is ever emptied (the
// relays stayed in epoch 0 for ever). Epoch = interval number: every relay and CC's exit rotate
// when an interval opens, and the relays' caches hold at most the last two epochs' tags.
import { expect } from "chai";

import { runOksuz } from "../../offchain/sim/oksuz.ts";
import { useSimChain } from "../helpers/sim-chain.ts";

describe("Oksuz simulation drives onion epochs", function () {
  this.timeout(300_000);
  const chain = useSimChain();

  it("rotates every relay once per interval; caches keep only the live epochs", async () => {
    const intervals = 4;
    const report = await runOksuz({ meters: 6, intervals, seed: "epochs" }, chain);
    // Epoch = interval number, intervals numbered 1…n (issue 11).
    expect(report.relays.epoch).to.equal(intervals); // before the fix: 0 for ever
    // Every meter sends K onions per interval (its chunks and dummies, DESIGN §7), each across 3
    // relays: the caches hold at most the last two intervals' tags, never the whole run's.
    const meters = 6;
    const k = 8; // DEFAULT_REPORT_SLOTS
    const perInterval = 3 * meters * k;
    expect(report.relays.replayTags).to.be.at.most(2 * perInterval);
    expect(report.relays.replayTags).to.be.greaterThan(0);
    expect(report.relays.replayTags).to.be.lessThan(intervals * perInterval);
    expect(report.perInterval.every((s) => s.billsDisputed === 0)).to.equal(true);
  });
});
