// Threat: the packed bill calldata of `postBills` (56 bytes per bill, issue 14 session 12) is
// altered after SP signed it — by SP itself, by CC relaying it in relayed mode, or by anything on
// the way to the node: a byte changed, bills shifted against the 56-byte grid, or junk in the
// ABI padding that a lax decoder would read into the last bill.
// Defence: the ledger re-derives every bill's §4.4 digest from the bytes it received, so any
// change to an id, time or B breaks SP's batch signature or `B == p_j × c`, and a change to c
// breaks `B == p_j × c` (or, at a price of 0, the running (id, c) digest at `closeBilling`); a
// length that is not whole bills is refused by name; the padding is never read into a field, and
// the event logs exactly the checked bytes.
import { expect } from "chai";
import { network } from "hardhat";

import {
  ENTRY_PROBLEM,
  encodeBillsPacked,
  toDapEntryStruct,
  toOcdEntryStruct,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { postBillsCalldata, sendCalldata } from "../../offchain/chain/calldata.ts";
import { decodeBillRecords } from "../../offchain/chain/ledgerReader.ts";
import { concatBytes, hexToBytes, toHex0x } from "../../offchain/crypto/bytes.ts";
import {
  WINDOW_END,
  WINDOW_START,
  billsFor,
  deployBillingLedger,
  fillAndSeal,
  makeDap,
  loggedBillItems,
  makeOcdEntries,
  sealedInterval,
  signBatches,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

async function signedBatch() {
  const d = await deployBillingLedger(ethers);
  const { cc, ocd, price } = await sealedInterval(d, 1, 3, { priced: true });
  expect(price > 0n, "the fixture's price is positive").to.equal(true);
  const [batch] = signBatches(d.domain, billsFor(ocd, price), 3);
  const sig = [toHex0x(batch.signature.rAddr), batch.signature.y] as const;
  return { d, cc, batch, sig, packed: encodeBillsPacked(batch.bills) };
}

describe("attack: packed bill calldata altered after SP signed it", () => {
  it("every single changed byte is refused: id and time break SP's signature, c and B break B = p × c", async () => {
    const { cc, sig, packed } = await signedBatch();
    const seen = { signature: 0, mismatch: 0 };
    for (let at = 0; at < packed.length; at++) {
      const bad = packed.slice();
      bad[at] ^= 1 << (at % 8);
      const field = at % 56;
      const call = cc.postBills.staticCall(1, bad, ...sig);
      if (field >= 32 && field < 40) {
        // c: B no longer equals p × c for this bill.
        await expect(call)
          .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
          .withArgs(1, Math.floor(at / 56), ENTRY_PROBLEM.BillMismatch);
        seen.mismatch++;
      } else if (field >= 48) {
        await expect(call)
          .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
          .withArgs(1, Math.floor(at / 56), ENTRY_PROBLEM.BillMismatch);
        seen.mismatch++;
      } else {
        // id or T: the bill's §4.4 digest changes, so the batch message SP signed does too.
        await expect(call)
          .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidBatchSignature")
          .withArgs(1, 0);
        seen.signature++;
      }
    }
    expect(seen).to.deep.equal({ signature: 3 * 40, mismatch: 3 * 16 });
    // The untouched bytes are accepted: the refusals above were the changes'.
    await expect(cc.postBills(1, packed, ...sig)).to.emit(cc, "BillBatchPosted");
  });

  it("at a price of 0 (every B is 0) a changed c passes B = p × c but not the close: the running (id, c) digest refuses it", async () => {
    const d = await deployBillingLedger(ethers);
    // A free tariff: published before the interval opens, so it is the interval's.
    await (await d.ledger.setTariff([0n], [0n], 1n)).wait();
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    const ocd = makeOcdEntries(d.domain, 1, 3);
    await (await cc.postOcdBatch(1, ocd.map(toOcdEntryStruct))).wait();
    await fillAndSeal(cc, 1);
    await (await cc.postDap(1, [toDapEntryStruct(makeDap(d.domain, 1, 0n))])).wait();
    expect((await cc.intervalRecord(1)).price).to.equal(0n);
    const [batch] = signBatches(d.domain, billsFor(ocd, 0n), 3);
    const sig = [toHex0x(batch.signature.rAddr), batch.signature.y] as const;
    const altered = encodeBillsPacked(batch.bills);
    altered[56 + 39] ^= 1; // bill 1's c, last byte: SP's signature covers (id, T, B), not c
    await (await cc.postBills(1, altered, ...sig)).wait();
    await expect(cc.closeBilling(1)).to.be.revertedWithCustomError(
      cc,
      "BillingLedgerBillDigestMismatch",
    );
    // The publisher's way back: restart and post the bills as signed.
    await (await cc.restartBilling(1)).wait();
    await (await cc.postBills(1, encodeBillsPacked(batch.bills), ...sig)).wait();
    await expect(cc.closeBilling(1)).to.emit(cc, "IntervalFinalized");
  });

  it("bills shifted against the 56-byte grid are refused, whole or not", async () => {
    const { cc, sig, packed } = await signedBatch();
    // One byte dropped in front and one added at the end: whole length, every field misread.
    // Each c becomes 256·c + (T's first byte) and each B 256·B + (the next byte): with the
    // fixture's small pseudonyms and times every misread bill still has B = p × c, so SP's
    // signature is what refuses it; a non-zero last byte breaks B = p × c of the last bill.
    const price = (await cc.intervalRecord(1)).price;
    const consistent = (bytes: Uint8Array) =>
      decodeBillRecords(1, bytes).map((b) => b.bill === price * b.consumptionWh);
    const shifted = concatBytes(packed.subarray(1), Uint8Array.of(0));
    expect(consistent(shifted)).to.deep.equal([true, true, true]);
    await expect(cc.postBills.staticCall(1, shifted, ...sig))
      .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidBatchSignature")
      .withArgs(1, 0);
    const shiftedOne = concatBytes(packed.subarray(1), Uint8Array.of(1));
    expect(consistent(shiftedOne)).to.deep.equal([true, true, false]);
    await expect(cc.postBills.staticCall(1, shiftedOne, ...sig))
      .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
      .withArgs(1, 2, ENTRY_PROBLEM.BillMismatch);
    // A bill's bytes cut or padded by one: the named length error, before any bill is read.
    for (const bad of [packed.subarray(1), concatBytes(packed, Uint8Array.of(0))]) {
      await expect(cc.postBills.staticCall(1, bad, ...sig))
        .to.be.revertedWithCustomError(cc, "BillingLedgerPackedLength")
        .withArgs(1, bad.length);
    }
  });

  it("junk in the ABI padding after the last bill is never read into it; the event logs the checked bytes only", async () => {
    const { cc, batch, packed } = await signedBatch();
    const data = hexToBytes(
      postBillsCalldata(cc, 1, batch.bills, batch.signature.rAddr, batch.signature.y).slice(2),
    );
    // selector ‖ 4 head words ‖ length word ‖ 168 bytes of bills ‖ 24 bytes of padding.
    const billsAt = 4 + 5 * 32;
    expect(data.length).to.equal(billsAt + 192);
    data.fill(0xff, billsAt + packed.length);
    const logged = loggedBillItems(cc, await (await sendCalldata(cc, toHex0x(data))).wait());
    expect(toHex0x(logged)).to.equal(toHex0x(packed));
    expect(decodeBillRecords(1, logged)).to.deep.equal(batch.bills);
    // The running commitments took the bills as signed: the interval closes.
    await expect(cc.closeBilling(1)).to.emit(cc, "IntervalFinalized");
  });
});
