// sharedUserChainClient (offchain/user/chain-client.ts): a meter fleet's users share one reader.
// Regression (issue 11 devnet at 200 meters): every user rebuilt the interval from events on every
// poll, and a fleet process died with `connect EMFILE`.
import { expect } from "chai";

import { sharedUserChainClient, type UserChainClient } from "../../offchain/user/chain-client.ts";
import { INTERVAL_STATE } from "../../offchain/protocol/billing.ts";
import type { IntervalReport } from "../../offchain/protocol/ledger-audit.ts";

function fakeChain(states: number[]): { client: UserChainClient; reads: () => number } {
  let reads = 0;
  return {
    client: {
      async readInterval(interval) {
        const state = states[Math.min(reads, states.length - 1)];
        reads++;
        await new Promise((r) => setTimeout(r, 5));
        if (state < 0) throw new Error("node down");
        return { interval, state } as unknown as IntervalReport;
      },
    },
    reads: () => reads,
  };
}

describe("sharedUserChainClient", function () {
  it("concurrent reads of an interval share one rebuild; a final interval is read once", async function () {
    const chain = fakeChain([INTERVAL_STATE.Open, INTERVAL_STATE.Final]);
    const shared = sharedUserChainClient(chain.client);
    const first = await Promise.all(Array.from({ length: 100 }, () => shared.readInterval(1)));
    expect(chain.reads()).to.equal(1);
    expect(new Set(first).size).to.equal(1); // the same report object for every user
    expect(first[0].state).to.equal(INTERVAL_STATE.Open);
    // Not final yet: the next poll reads again, and that final report is kept.
    const second = await Promise.all(Array.from({ length: 100 }, () => shared.readInterval(1)));
    expect(second[0].state).to.equal(INTERVAL_STATE.Final);
    expect(chain.reads()).to.equal(2);
    await shared.readInterval(1);
    expect(chain.reads()).to.equal(2);
  });

  it("a failed read reaches every waiting user and is not cached", async function () {
    const chain = fakeChain([-1, INTERVAL_STATE.Final]);
    const shared = sharedUserChainClient(chain.client);
    const results = await Promise.allSettled([shared.readInterval(2), shared.readInterval(2)]);
    expect(results.map((r) => r.status)).to.deep.equal(["rejected", "rejected"]);
    expect((await shared.readInterval(2)).state).to.equal(INTERVAL_STATE.Final);
    expect(chain.reads()).to.equal(2);
  });
});
