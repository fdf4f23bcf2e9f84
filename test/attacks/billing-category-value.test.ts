// Threat: a meter (or CC) reports a consumption that is not one of the interval's category values,
// breaking the k-anonymity of usage splitting (DESIGN §7), even with a valid signature.
// Defence: the contract checks `c ∈ {c1..c5}` of the values snapshotted when the interval opened.
import { expect } from "chai";
import { network } from "hardhat";

import {
  ENTRY_PROBLEM,
  toOcdEntryStruct,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import {
  CATEGORY_VALUES,
  WINDOW_END,
  WINDOW_START,
  deployBillingLedger,
  makeOcdEntries,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

describe("attack: wrong category value", () => {
  it("a validly signed non-category value is refused; values set after opening do not apply", async () => {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    for (const value of [0n, CATEGORY_VALUES[0] - 1n, CATEGORY_VALUES[2] + 1n, 7n]) {
      const [e] = makeOcdEntries(d.domain, 1, 1, { consumption: () => value });
      await expect(cc.postOcdBatch(1, [toOcdEntryStruct(e)]))
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
        .withArgs(1, 0, ENTRY_PROBLEM.NotACategoryValue);
    }
    await (await d.ledger.setCategoryValues([1n, 2n, 3n, 7n, 9n])).wait();
    const [seven] = makeOcdEntries(d.domain, 1, 1, { consumption: () => 7n });
    await expect(cc.postOcdBatch(1, [toOcdEntryStruct(seven)]))
      .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
      .withArgs(1, 0, ENTRY_PROBLEM.NotACategoryValue);
  });
});
