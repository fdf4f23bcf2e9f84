// Threat: SP overcharges (or undercharges) a user by one price unit, or bills a consumption other
// than the one on the OCD ledger while keeping B = p × c consistent.
// Defence: `B == p_j × c` per bill on-chain; the running (id, c) digest must equal the OCD digest.
import { expect } from "chai";
import { network } from "hardhat";

import { ENTRY_PROBLEM, encodeBillsPacked } from "../../offchain/chain/billing.ts";
import { toHex0x } from "../../offchain/crypto/bytes.ts";
import {
  CATEGORY_VALUES,
  billsFor,
  deployBillingLedger,
  sealedInterval,
  signBatches,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

describe("attack: SP bill off by one unit", () => {
  it("B ± 1 is refused even when SP signs it; a consistent bill for another c fails at close", async () => {
    const d = await deployBillingLedger(ethers);
    const { cc, ocd, price: p } = await sealedInterval(d, 1, 5, { priced: true });
    const honest = billsFor(ocd, p);
    for (const delta of [1n, -1n]) {
      const bills = honest.map((b, i) => (i === 3 ? { ...b, bill: b.bill + delta } : b));
      const [batch] = signBatches(d.domain, bills, 5);
      await expect(
        cc.postBills(
          1,
          encodeBillsPacked(batch.bills),
          toHex0x(batch.signature.rAddr),
          batch.signature.y,
        ),
      )
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
        .withArgs(1, 3, ENTRY_PROBLEM.BillMismatch);
    }
    // Bill 0 for c4 instead of its c: p × c holds for the claimed c, the digest does not.
    const swapped = honest.map((b, i) =>
      i === 0 ? { ...b, consumptionWh: CATEGORY_VALUES[3], bill: p * CATEGORY_VALUES[3] } : b,
    );
    const [batch] = signBatches(d.domain, swapped, 5);
    await (
      await cc.postBills(
        1,
        encodeBillsPacked(batch.bills),
        toHex0x(batch.signature.rAddr),
        batch.signature.y,
      )
    ).wait();
    await expect(cc.closeBilling(1)).to.be.revertedWithCustomError(
      cc,
      "BillingLedgerBillDigestMismatch",
    );
  });
});
