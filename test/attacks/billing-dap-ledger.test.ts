// Threat: a direct-mode SP (Oksuz §6) that posts prices after bills, or two prices for one user.
// Before the fix the first bill batch moved the interval to Billing, but restartBilling moved it
// back to Priced and postDap accepted again, so DAP entries could appear after bills were
// published; and nothing stopped two DAP entries under one user pseudonym. Defence (DESIGN §2,
// docs/PROTOCOL.md): the first bill batch closes the DAP ledger for good
// (`BillingLedgerDapClosed`, also after restartBilling), and DAP ids strictly increase across the
// interval's batches (`EntryProblem.PseudonymNotIncreasing`), i.e. one entry per user pseudonym.
import { expect } from "chai";
import { network } from "hardhat";

import {
  ENTRY_PROBLEM,
  encodeBillsPacked,
  toDapEntryStruct,
  toOcdEntryStruct,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { toHex0x } from "../../offchain/crypto/bytes.ts";
import {
  fillAndSeal,
  billsFor,
  deployBillingLedger,
  expectedPrice,
  makeDap,
  makeOcdEntries,
  signBatches,
  WINDOW_END,
  WINDOW_START,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

async function directSealed(users: number) {
  const d = await deployBillingLedger(ethers, { direct: true });
  const cc = d.ledger.connect(d.cc) as BillingLedger;
  const sp = d.ledger.connect(d.sp) as BillingLedger;
  await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
  const ocd = makeOcdEntries(d.domain, 1, 4);
  await (await cc.postOcdBatch(1, ocd.map(toOcdEntryStruct))).wait();
  await fillAndSeal(cc, 1);
  const p = expectedPrice(ocd);
  const dap = Array.from({ length: users }, (_, u) => makeDap(d.domain, 1, p, `user-${u}`)).sort(
    (a, b) => Buffer.compare(a.id, b.id),
  );
  return { d, sp, ocd, p, dap };
}

describe("attack: direct-mode DAP ledger (prices after bills, two prices for one user)", () => {
  it("no DAP entry after the first bill batch, not even after restartBilling", async () => {
    const { d, sp, ocd, p, dap } = await directSealed(3);
    await (await sp.postDap(1, dap.slice(0, 2).map(toDapEntryStruct))).wait();
    const [batch] = signBatches(d.domain, billsFor(ocd, p), 2);
    await (
      await sp.postBills(
        1,
        encodeBillsPacked(batch.bills),
        toHex0x(batch.signature.rAddr),
        batch.signature.y,
      )
    ).wait();
    await expect(sp.postDap(1, [toDapEntryStruct(dap[2])])).to.be.revertedWithCustomError(
      sp,
      "BillingLedgerIntervalState",
    );
    await (await sp.restartBilling(1)).wait();
    await expect(sp.postDap(1, [toDapEntryStruct(dap[2])]))
      .to.be.revertedWithCustomError(sp, "BillingLedgerDapClosed")
      .withArgs(1);
    expect((await sp.intervalRecord(1)).dapClosed).to.equal(true);
  });

  it("one DAP entry per user pseudonym: a repeated or decreasing id is refused", async () => {
    const { sp, dap } = await directSealed(3);
    const [a, b, c] = dap.map(toDapEntryStruct);
    // Within one batch: a duplicate, then a decreasing id.
    await expect(sp.postDap(1, [a, a]))
      .to.be.revertedWithCustomError(sp, "BillingLedgerInvalidEntry")
      .withArgs(1, 1, ENTRY_PROBLEM.PseudonymNotIncreasing);
    await expect(sp.postDap(1, [b, a]))
      .to.be.revertedWithCustomError(sp, "BillingLedgerInvalidEntry")
      .withArgs(1, 1, ENTRY_PROBLEM.PseudonymNotIncreasing);
    // Across batches.
    await (await sp.postDap(1, [a, b])).wait();
    await expect(sp.postDap(1, [b]))
      .to.be.revertedWithCustomError(sp, "BillingLedgerInvalidEntry")
      .withArgs(1, 0, ENTRY_PROBLEM.PseudonymNotIncreasing);
    await expect(sp.postDap(1, [c])).to.emit(sp, "DapPosted");
    expect((await sp.intervalRecord(1)).dapCount).to.equal(3n);
  });
});
