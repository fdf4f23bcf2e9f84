// Model-based property test (fast-check): random interleavings of valid and invalid OCD batches,
// then pricing and random bill batches with random corruptions, against the contract. Invariants:
// invalid calls revert and change nothing; a final interval has Σ bills = p_j × Σc; every accepted
// entry's signature verifies (reader report); no pseudonym appears twice in an interval.
import { expect } from "chai";
import fc from "fast-check";
import { network } from "hardhat";

import {
  INTERVAL_STATE,
  closeBilling,
  openInterval,
  postBills,
  postDap,
  postOcdBatch,
  sealInterval,
  encodeBillsPacked,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { readInterval } from "../../offchain/chain/ledgerReader.ts";
import { bytesToHex, toHex0x } from "../../offchain/crypto/bytes.ts";
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
} from "./fixtures.ts";

const { ethers } = await network.create();

type Corruption = "none" | "value" | "signature" | "replay";

describe("billing ledger invariants (model-based)", () => {
  it("random valid/invalid calls keep the ledger consistent and final intervals exact", async () => {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    let interval = 100;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            size: fc.integer({ min: 1, max: 4 }),
            corruption: fc.constantFrom<Corruption>("none", "none", "value", "signature", "replay"),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (ocdOps, billSizes, corruptBill) => {
          const j = interval++;
          await openInterval(cc, j, WINDOW_START, WINDOW_END);
          const accepted: ReturnType<typeof makeOcdEntries> = [];
          let rank = 0;
          for (const op of ocdOps) {
            const batch = makeOcdEntries(d.domain, j, op.size, { firstRank: rank });
            const before = await cc.intervalRecord(j);
            let bad = batch;
            if (op.corruption === "value")
              bad = [{ ...batch[0], value: batch[0].value + 1n }, ...batch.slice(1)];
            if (op.corruption === "signature")
              bad = [
                ...batch.slice(0, -1),
                { ...batch[batch.length - 1], timestamp: batch[batch.length - 1].timestamp + 1n },
              ];
            if (op.corruption === "replay" && accepted.length > 0)
              bad = [accepted[accepted.length - 1], ...batch];
            if (bad !== batch) {
              await expect(postOcdBatch(cc, j, bad)).to.be.revertedWithCustomError(
                cc,
                "BillingLedgerInvalidEntry",
              );
              expect(await cc.intervalRecord(j)).to.deep.equal(before);
            } else {
              await postOcdBatch(cc, j, batch);
              accepted.push(...batch);
              rank += op.size;
            }
          }
          await fillAndSeal(cc, j);
          const p = expectedPrice(accepted);
          await postDap(cc, j, [makeDap(d.domain, j, p)]);
          const bills = billsFor(accepted, p);
          let posted = 0;
          for (const size of billSizes) {
            if (posted >= bills.length) break;
            const chunk = bills.slice(posted, posted + size);
            const [batch] = signBatches(d.domain, chunk, chunk.length, posted);
            if (corruptBill) {
              const [first, ...rest] = batch.bills;
              const items = encodeBillsPacked([{ ...first, bill: first.bill + 1n }, ...rest]);
              await expect(
                cc.postBills(j, items, toHex0x(batch.signature.rAddr), batch.signature.y),
              ).to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry");
            }
            await postBills(cc, batch);
            posted += chunk.length;
          }
          for (const batch of signBatches(d.domain, bills.slice(posted), 5, posted))
            await postBills(cc, batch);
          await closeBilling(cc, j);

          const rec = await cc.intervalRecord(j);
          expect(rec.state).to.equal(BigInt(INTERVAL_STATE.Final));
          expect(rec.billedTotal).to.equal(p * rec.sumWh);
          const report = await readInterval(d.ledger, j);
          expect(report.mismatches).to.deep.equal([]);
          const ids = report.ocd.map((e) => bytesToHex(e.id));
          expect(new Set(ids).size).to.equal(ids.length);
          expect(report.ocd.length).to.equal(accepted.length);
        },
      ),
      { numRuns: 12 },
    );
  });
});
