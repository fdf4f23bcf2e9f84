// Threat: SP skips a bill (a user never billed, or billed off-ledger), duplicates one (double
// billing), or reorders bills, so that the BC ledger does not cover the sealed OCD ledger exactly.
// Defence: closeBilling requires bill count == OCD count and the running (id, c) digest of the
// bills == the OCD digest; bills beyond the OCD count are refused at posting.
import { expect } from "chai";
import { network } from "hardhat";

import {
  encodeBillsPacked,
  type BillFields,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { toHex0x } from "../../offchain/crypto/bytes.ts";
import { billsFor, deployBillingLedger, sealedInterval, signBatches } from "../ledger/fixtures.ts";

const { ethers } = await network.create();

async function pricedInterval() {
  const d = await deployBillingLedger(ethers);
  const { cc, ocd, price } = await sealedInterval(d, 1, 6, { priced: true });
  return { d, cc, honest: billsFor(ocd, price) };
}

async function post(cc: BillingLedger, domain: Uint8Array, bills: BillFields[]) {
  for (const b of signBatches(domain, bills, 6)) {
    await (
      await cc.postBills(1, encodeBillsPacked(b.bills), toHex0x(b.signature.rAddr), b.signature.y)
    ).wait();
  }
}

describe("attack: SP skipping or duplicating a bill", () => {
  it("skipping one bill leaves the interval unclosable (BillsIncomplete)", async () => {
    const { d, cc, honest } = await pricedInterval();
    await post(
      cc,
      d.domain,
      honest.filter((_, i) => i !== 2),
    );
    await expect(cc.closeBilling(1))
      .to.be.revertedWithCustomError(cc, "BillingLedgerBillsIncomplete")
      .withArgs(1, 5, 6);
  });

  it("skip one and duplicate another (same count) fails the digest check", async () => {
    const { d, cc, honest } = await pricedInterval();
    await post(cc, d.domain, [honest[0], honest[1], honest[1], honest[3], honest[4], honest[5]]);
    await expect(cc.closeBilling(1)).to.be.revertedWithCustomError(
      cc,
      "BillingLedgerBillDigestMismatch",
    );
  });

  it("reordering fails the digest check; an extra bill is refused at posting", async () => {
    const { d, cc, honest } = await pricedInterval();
    await post(cc, d.domain, [honest[1], honest[0], ...honest.slice(2)]);
    await expect(cc.closeBilling(1)).to.be.revertedWithCustomError(
      cc,
      "BillingLedgerBillDigestMismatch",
    );
    await (await cc.restartBilling(1)).wait();
    await post(cc, d.domain, honest);
    const [extra] = signBatches(d.domain, [honest[0]], 1, 6);
    await expect(
      cc.postBills(
        1,
        encodeBillsPacked(extra.bills),
        toHex0x(extra.signature.rAddr),
        extra.signature.y,
      ),
    )
      .to.be.revertedWithCustomError(cc, "BillingLedgerTooManyBills")
      .withArgs(1, 7, 6);
    await expect(cc.closeBilling(1)).to.emit(cc, "IntervalFinalized");
  });
});
