// Reconciliation: the reader rebuilds the OCD, DAP and BC ledgers of each interval from events
// alone, equal to what the test posted, with no mismatches; both delivery modes, several batches,
// a restarted billing, and block-range paging of the log queries.
import { expect } from "chai";
import { network } from "hardhat";

import {
  closeBilling,
  openInterval,
  postBills,
  postDap,
  postOcdBatch,
  sealInterval,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { readInterval } from "../../offchain/chain/ledgerReader.ts";
import { ENTRY_KIND } from "../../offchain/protocol/entry.ts";
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

describe("ledger reader reconciliation", () => {
  it("relayed mode: rebuilt ledgers equal the posted ones; paging does not matter", async () => {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await openInterval(cc, 5, WINDOW_START, WINDOW_END);
    await openInterval(cc, 6, WINDOW_START, WINDOW_END); // a neighbour interval must not leak in
    const ocd = makeOcdEntries(d.domain, 5, 23);
    for (let k = 0; k < ocd.length; k += 10) await postOcdBatch(cc, 5, ocd.slice(k, k + 10));
    await postOcdBatch(cc, 6, makeOcdEntries(d.domain, 6, 3));
    await fillAndSeal(cc, 5);
    const p = expectedPrice(ocd);
    const dap = makeDap(d.domain, 5, p);
    await postDap(cc, 5, [dap]);
    const bills = billsFor(ocd, p);
    // A first, wrong attempt, restarted: the reader must keep only the bills in force.
    const [wrong] = signBatches(d.domain, bills.slice(1, 3), 2);
    await postBills(cc, wrong);
    await (await cc.restartBilling(5)).wait();
    for (const b of signBatches(d.domain, bills, 7)) await postBills(cc, b);
    await closeBilling(cc, 5);

    for (const blockRange of [undefined, 3]) {
      const report = await readInterval(d.ledger, 5, { blockRange });
      expect(report.mismatches).to.deep.equal([]);
      expect(report.state).to.equal(5);
      expect(report.ocd).to.deep.equal(ocd);
      expect(report.dap).to.have.length(1);
      expect(report.dap[0].kind).to.equal(ENTRY_KIND.DAP);
      expect(report.dap[0].value).to.equal(p);
      expect(report.dap[0].signature).to.deep.equal(dap.signature);
      expect(report.bills).to.deep.equal(bills);
      expect(report.billBatches.every((b) => b.signatureValid)).to.equal(true);
      expect(report.price).to.equal(p);
      expect(report.expectedPrice).to.equal(p);
      expect(report.sumWh).to.equal(ocd.reduce((s, e) => s + e.value, 0n));
      expect(report.billedTotal).to.equal(p * report.sumWh);
    }
  });

  it("direct mode: per-user DAP entries are rebuilt; an open interval reports no mismatch", async () => {
    const d = await deployBillingLedger(ethers, { direct: true });
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    const sp = d.ledger.connect(d.sp) as BillingLedger;
    await openInterval(cc, 1, WINDOW_START, WINDOW_END);
    const ocd = makeOcdEntries(d.domain, 1, 8);
    await postOcdBatch(cc, 1, ocd);
    const open = await readInterval(d.ledger, 1);
    expect(open.mismatches).to.deep.equal([]);
    expect(open.state).to.equal(1);
    await fillAndSeal(cc, 1);
    const p = expectedPrice(ocd);
    const daps = [0, 1, 2]
      .map((u) => makeDap(d.domain, 1, p, `user-${u}`))
      .sort((a, b) => Buffer.compare(a.id, b.id));
    await postDap(sp, 1, daps.slice(0, 1));
    await postDap(sp, 1, daps.slice(1));
    for (const b of signBatches(d.domain, billsFor(ocd, p), 8)) await postBills(sp, b);
    await closeBilling(sp, 1);
    const report = await readInterval(d.ledger, 1);
    expect(report.mismatches).to.deep.equal([]);
    expect(report.dap).to.deep.equal(daps);
    expect(report.mode).to.equal(1);
  });
});
