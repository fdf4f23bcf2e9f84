// Relays on a lossy link (docs/SECURITY.md "On a lossy network", docs/ONION.md "Associated data
// and epochs"): a meter's relay moves to interval j's onion epoch when its meter hears CC's
// announcement of j (meter/agent.ts); when that announcement is lost, the other meters' epoch-j
// onions still reach it. Before the relay took packets of the next epoch it dropped them as "hmac"
// until CC's repeated announcement arrived, and the resends that cost made per-meter packet counts
// vary. The agents over a MemoryNetwork that loses 20 % of messages, against the in-process chain.
import { expect } from "chai";

import { runOksuzAgents } from "../../offchain/sim/oksuz-agents.ts";
import { useSimChain } from "../helpers/sim-chain.ts";

describe("relays on a lossy link: onions of the next epoch", function () {
  this.timeout(300_000);
  const chain = useSimChain();

  it("relays whose meters missed an announcement still forward: no onion dropped as hmac", async function () {
    const meters = 12;
    const run = await runOksuzAgents(
      { meters, intervals: 2, seed: "relay-epoch-loss", network: { loss: 0.2 } },
      chain,
    );
    expect(run.network.dropped.lost, "the network did lose messages").to.be.greaterThan(0);
    let hmac = 0;
    let early = 0;
    for (const relay of run.relays) {
      hmac += relay.counters().dropped.hmac;
      early += relay.counters().nextEpochAccepted;
    }
    // The case did occur: relays took onions of an epoch their meter had not been told of yet
    // (before: as many dropped as hmac).
    expect(early, "onions taken ahead of the relay's own epoch").to.be.greaterThan(0);
    expect(hmac, "onions dropped as hmac").to.equal(0);
    // And every slot of every meter reached CC.
    for (const j of [1, 2]) {
      const receipts = run.cc.agent.receipts(j);
      for (let i = 0; i < meters; i++)
        expect(receipts.get(i)?.size, `meter ${i}, interval ${j}`).to.equal(8);
    }
  });
});
