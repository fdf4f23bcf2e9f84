// The user's own check (Oksuz §5 Remark 5): it must flag every way its bill can be wrong, from
// the ledgers alone. The chain refuses most of these already; users must not rely on that.
import { PseudonymIndex } from "../../offchain/protocol/pseudonym-index.ts";
import { expect } from "chai";

import { keyPairFromSecret } from "../../offchain/crypto/keys.ts";
import type { IntervalReport } from "../../offchain/chain/ledgerReader.ts";
import { signBillBatch } from "../../offchain/chain/billing.ts";
import { INTERVAL_STATE } from "../../offchain/protocol/billing.ts";
import { ServiceProvider } from "../../offchain/sp/service-provider.ts";
import { User } from "../../offchain/user/user.ts";
import {
  CATEGORIES,
  DOMAIN,
  WINDOW,
  ccKeys,
  makeMeter,
  seedScalar,
  reportFromSp,
  makeServiceProvider,
} from "./fixtures.ts";

const T = WINDOW.end - 1n;
const TARIFF = { breakpointsWh: [0n, 1_000n], values: [2n, 3n], cap: 5n };

function setting() {
  const cc = ccKeys();
  const meters = [0, 1, 2].map((i) => makeMeter(i, cc));
  const reports = meters.map((m, i) => m.reportInterval(3, 600n + BigInt(i) * 400n, T));
  // K slots per meter (DESIGN §7): real entries go to the OCD ledger, dummies to the zero slots.
  const all = reports
    .flatMap((r) => r.entries)
    .sort((a, b) => Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)));
  const ocd = all.filter((e) => e.value !== 0n);
  const zeroSlots = PseudonymIndex.of(all.filter((e) => e.value === 0n).map((e) => e.id));
  const sp = makeServiceProvider(cc, 4);
  const price = sp.price(TARIFF, sp.aggregate(ocd));
  const report = (batches = sp.billBatches(3, ocd, price, T), over: Partial<IntervalReport> = {}) =>
    reportFromSp(
      {
        interval: 3,
        state: INTERVAL_STATE.Final,
        sp,
        ocd,
        zeroSlots,
        expectedSlots: all.length,
        price,
        timestamp: T,
        batches,
      },
      over,
    );
  const user = new User({
    meterIndex: 1,
    domain: DOMAIN,
    meterBasePublicKey: meters[1].basePublicKey,
    spSigPk: sp.sigPk,
  });
  user.receiveBatch(3, reports[1].userBatch);
  return { sp, ocd, zeroSlots, price, report, user, mine: reports[1] };
}

describe("user bill verification", () => {
  it("verifies an honest interval and recomputes its bill", () => {
    const { report, user, price, mine } = setting();
    const check = user.verifyInterval(report());
    expect(check.disputes).to.deep.equal([]);
    const consumption = mine.entries.reduce((s, e) => s + e.value, 0n);
    expect(check.consumptionWh).to.equal(consumption);
    expect(check.expectedBill).to.equal(price * consumption);
    expect(check.postedBill).to.equal(check.expectedBill);
    expect(check.entries).to.equal(mine.chunks);
    expect(mine.entries.length).to.equal(8); // K slots: chunks, then dummies
    expect(check.slotDisputes).to.deep.equal([]);
    expect(CATEGORIES).to.include(mine.entries[0].value);
  });

  it("flags its bill off by one unit, even when SP signed it", () => {
    const { sp, ocd, price, report, user, mine } = setting();
    const index = ocd.findIndex(
      (e) => Buffer.compare(Buffer.from(e.id), Buffer.from(mine.pseudonyms[0])) === 0,
    );
    sp.faults = { billOffset: { index, delta: 1n } };
    const check = user.verifyInterval(report(sp.billBatches(3, ocd, price, T)));
    expect(check.verified).to.equal(false);
    expect(check.disputes.join()).to.match(/expected/);
  });

  it("flags a missing entry and a bill posted twice", () => {
    const { sp, ocd, price, report, user, mine } = setting();
    const index = ocd.findIndex(
      (e) => Buffer.compare(Buffer.from(e.id), Buffer.from(mine.pseudonyms[0])) === 0,
    );
    const withoutMine = ocd.filter((_, i) => i !== index);
    const missing = user.verifyInterval(report(undefined, { ocd: withoutMine }));
    expect(missing.disputes.join()).to.match(/slot-missing/);
    sp.faults = { duplicateBill: index };
    const twice = user.verifyInterval(report(sp.billBatches(3, ocd, price, T)));
    expect(twice.disputes.join()).to.match(/billed 2 times/);
  });

  it("flags a price that is not the tariff of the ledger's aggregate, and a DAP entry SP did not sign", () => {
    const { report, user, price } = setting();
    const wrongPrice = user.verifyInterval(report(undefined, { expectedPrice: price + 1n }));
    expect(wrongPrice.disputes.join()).to.match(/differs from tariff/);
    const impostor = new ServiceProvider({
      keys: keyPairFromSecret(seedScalar("impostor")),
      signingKey: seedScalar("impostor/sig"),
      ccPublicKey: ccKeys().publicKey,
      domain: DOMAIN,
    });
    const forgedDap = user.verifyInterval(
      report(undefined, { dap: impostor.dapEntries(3, price, T) }),
    );
    expect(forgedDap.disputes.join()).to.match(/not signed by the registered SP key/);
  });

  it("flags bills in a batch whose SP signature does not verify", () => {
    const { ocd, price, report, user } = setting();
    const forged = [
      signBillBatch(
        DOMAIN,
        3,
        0,
        ocd.map((e) => ({
          interval: 3,
          id: e.id,
          timestamp: T,
          bill: price * e.value,
          consumptionWh: e.value,
        })),
        seedScalar("not-sp"),
      ),
    ];
    const check = user.verifyInterval(report(forged));
    expect(check.disputes.join()).to.match(/SP did not sign/);
  });
});
