// Threat: a participant skips or reorders life-cycle steps: OCD after seal (late reports changing
// Σc after the price is known), pricing before sealing, billing before pricing, finalizing early,
// reopening a used interval to reset its commitments.
// Defence: each step requires its exact predecessor state and reverts with
// BillingLedgerIntervalState(interval, state).
import { expect } from "chai";
import { network } from "hardhat";

import {
  INTERVAL_STATE,
  encodeBillsPacked,
  toDapEntryStruct,
  toOcdEntryStruct,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { toHex0x } from "../../offchain/crypto/bytes.ts";
import {
  fillAndSeal,
  WINDOW_END,
  WINDOW_START,
  billsFor,
  deployBillingLedger,
  expectedPrice,
  makeDap,
  makeOcdEntries,
  signBatches,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

describe("attack: out-of-order life cycle", () => {
  it("each step outside its state reverts naming the interval and state", async () => {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    const ocd = makeOcdEntries(d.domain, 1, 4);
    const p = expectedPrice(ocd);
    const dap = [toDapEntryStruct(makeDap(d.domain, 1, p))];
    const [batch] = signBatches(d.domain, billsFor(ocd, p), 4);
    const bills = () =>
      cc.postBills(
        1,
        encodeBillsPacked(batch.bills),
        toHex0x(batch.signature.rAddr),
        batch.signature.y,
      );
    const state = (s: number) => [1, s] as const;
    const err = "BillingLedgerIntervalState";

    // None
    await expect(cc.postOcdBatch(1, ocd.map(toOcdEntryStruct)))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.None));
    await expect(cc.sealInterval(1))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.None));
    await expect(cc.postDap(1, dap))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.None));
    await expect(cc.closeBilling(1))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.None));
    // Open
    await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    await (await cc.postOcdBatch(1, ocd.map(toOcdEntryStruct))).wait();
    await expect(cc.postDap(1, dap))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.Open));
    await expect(bills())
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.Open));
    await expect(cc.closeBilling(1))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.Open));
    // OcdSealed
    await fillAndSeal(cc, 1);
    await expect(cc.openInterval(1, WINDOW_START, WINDOW_END))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.OcdSealed));
    await expect(bills())
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.OcdSealed));
    await expect(cc.restartBilling(1))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.OcdSealed));
    // Priced
    await (await cc.postDap(1, dap)).wait();
    await expect(cc.sealInterval(1))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.Priced));
    // Billing
    await (await bills()).wait();
    await expect(cc.postDap(1, dap))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.Billing));
    await expect(cc.postOcdBatch(1, ocd.map(toOcdEntryStruct)))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.Billing));
    // Final
    await (await cc.closeBilling(1)).wait();
    await expect(bills())
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.Final));
    await expect(cc.restartBilling(1))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.Final));
    await expect(cc.openInterval(1, WINDOW_START, WINDOW_END))
      .to.be.revertedWithCustomError(cc, err)
      .withArgs(...state(INTERVAL_STATE.Final));
  });
});
