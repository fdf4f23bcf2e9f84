// Threat: per-meter timestamps. If T were only required to lie in the interval's window, a meter
// whose clock is skewed (or a firmware that stamps its own time) signs all its chunks with one
// distinctive T, and an observer of the public ledger groups the interval's entries by T: measured,
// with half the meters a few seconds off, 49–53 % of entries grouped into one meter's complete
// chunk set (its exact consumption) and half the meters linked across intervals. Defence (DESIGN
// §4.4): T is fixed by protocol to the interval's last second `end − 1`, required by CC admission
// (`wrong-timestamp`) and by the contract (`EntryProblem.TimestampNotIntervalEnd`), even for a
// correctly signed entry.
import { expect } from "chai";
import { network } from "hardhat";

import {
  ENTRY_PROBLEM,
  toOcdEntryStruct,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { meterKeysFromSecret } from "../../offchain/crypto/keys.ts";
import { keccak256 } from "../../offchain/crypto/hash.ts";
import { verifyEntry } from "../../offchain/protocol/entry.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { ControlCenter } from "../../offchain/cc/control-center.ts";
import { Meter } from "../../offchain/meter/meter.ts";
import { ccKeys, seedScalar } from "../roles/fixtures.ts";
import {
  CATEGORY_VALUES,
  WINDOW_END,
  WINDOW_START,
  deployBillingLedger,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

describe("attack: skewed OCD timestamps (T fixed by protocol)", () => {
  it("a meter-signed T other than end − 1 is refused by CC and by the contract", async () => {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    const ccKeyPair = ccKeys();
    const center = new ControlCenter({ keys: ccKeyPair, domain: d.domain });
    const meters = [0, 1, 2].map(
      (i) =>
        new Meter({
          index: i,
          keys: meterKeysFromSecret(
            seedScalar(`skew-${i}`),
            keccak256(new TextEncoder().encode(`skew-K-${i}`)),
          ),
          ccPublicKey: ccKeyPair.publicKey,
          domain: d.domain,
          categories: CATEGORY_VALUES,
        }),
    );
    for (const m of meters) {
      const r = m.registration(seedScalar(`skew-eph-${m.index}`));
      center.registerMeter(r.index, r.publicKey, r.encryptedGgmKey, r.basePublicKey);
    }
    center.openInterval(1, { start: WINDOW_START, end: WINDOW_END }, CATEGORY_VALUES);
    // Inside the window, but not its last second: the start, a few seconds early, one early.
    const skews = [WINDOW_START, WINDOW_END - 7n, WINDOW_END - 2n];
    const skewed = meters.map((m, i) => m.reportInterval(1, 100n, skews[i]).entries[0]);
    for (const e of skewed) {
      expect(verifyEntry(d.domain, e)).to.equal(true); // properly signed by its meter
      const a = center.admit(encodeMeterReport(e));
      expect(a.accepted).to.equal(false);
      if (!a.accepted) expect(a.reason).to.equal("wrong-timestamp");
    }
    const sorted = [...skewed].sort((x, y) => Buffer.compare(x.id, y.id));
    for (const e of sorted) {
      await expect(cc.postOcdBatch(1, [toOcdEntryStruct(e)]))
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
        .withArgs(1, 0, ENTRY_PROBLEM.TimestampNotIntervalEnd);
    }
    // Past the window's end is refused the same way.
    const late = meters[0].reportInterval(2, 100n, WINDOW_END).entries[0];
    expect(center.admit(encodeMeterReport(late)).accepted).to.equal(false);
  });

  it("the protocol's T = end − 1 is admitted and accepted", async () => {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    const ccKeyPair = ccKeys();
    const center = new ControlCenter({ keys: ccKeyPair, domain: d.domain });
    const meter = new Meter({
      index: 0,
      keys: meterKeysFromSecret(seedScalar("skew-ok"), keccak256(new TextEncoder().encode("ok"))),
      ccPublicKey: ccKeyPair.publicKey,
      domain: d.domain,
      categories: CATEGORY_VALUES,
    });
    const r = meter.registration(seedScalar("skew-ok-eph"));
    center.registerMeter(0, r.publicKey, r.encryptedGgmKey, r.basePublicKey);
    center.openInterval(1, { start: WINDOW_START, end: WINDOW_END }, CATEGORY_VALUES);
    const [e] = meter.reportInterval(1, 100n, WINDOW_END - 1n).entries;
    expect(center.admit(encodeMeterReport(e)).accepted).to.equal(true);
    await expect(cc.postOcdBatch(1, [toOcdEntryStruct(e)])).to.emit(cc, "OcdBatchPosted");
  });
});
