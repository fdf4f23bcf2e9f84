// sharedUserChainClient (offchain/user/chain-client.ts): a meter fleet's users share one reader.
// Regression (issue 11 devnet at 200 meters): every user rebuilt the interval from events on every
// poll, and a fleet process died with `connect EMFILE`.
import { expect } from "chai";

import type { BillingLedger } from "../../offchain/chain/billing.ts";
import { userChainClient } from "../../offchain/chain/oksuz-clients.ts";
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

  it("userChainClient: clients over one ledger object share one reader (issue 14)", function () {
    // runOksuzAgents builds every user's client over one ledger connection: at 500 meters the
    // separate readers were 133 s of a 181 s run and 2.1 GB of peak memory.
    const ledger = {} as unknown as BillingLedger;
    const other = {} as unknown as BillingLedger;
    expect(userChainClient(ledger)).to.equal(userChainClient(ledger));
    expect(userChainClient(ledger)).to.not.equal(userChainClient(other));
    // Explicit read options (a scan range, a minimum block): a reader of its own.
    expect(userChainClient(ledger, { minBlock: 5 })).to.not.equal(userChainClient(ledger));
  });
});
