// Threat: the control center (or an admin that makes itself CC) adds OCD entries no meter made, to
// raise the interval's aggregate and so its price (measured before the fix: 70 entries posted with
// no meter registered, price 10 → 20). The on-chain signature check binds an entry to *a* key, not
// to a meter, so it cannot stop this alone. Defence (DESIGN §2, §7): every registered meter owns
// exactly K slots per interval and the ledger seals only with exactly K × (registered meters)
// entries (`BillingLedgerSlotCount`), so a fabricated entry must displace a meter's slot, which
// that meter's user sees and proves (`checkSlotDispute`); and only CC hands CC_ROLE on, so an admin
// cannot make itself CC.
import { expect } from "chai";
import { network } from "hardhat";

import { toOcdEntryStruct, type BillingLedger } from "../../offchain/chain/billing.ts";
import { checkSlotDispute } from "../../offchain/protocol/dispute.ts";
import { ENTRY_KIND, signEntry, type LedgerEntry } from "../../offchain/protocol/entry.ts";
import {
  CATEGORY_VALUES,
  TARIFF,
  WINDOW_END,
  WINDOW_START,
  deployBillingLedger,
  makeOcdEntries,
  testKey,
} from "../ledger/fixtures.ts";
import { tariffPrice } from "../../offchain/protocol/tariff.ts";
import { INTERVAL, K, slotSetting } from "./slots-fixture.ts";

const { ethers } = await network.create();

function fabricated(domain: Uint8Array, n: number, label: string): LedgerEntry[] {
  return Array.from({ length: n }, (_, i) =>
    signEntry(
      domain,
      {
        kind: ENTRY_KIND.OCD,
        interval: INTERVAL,
        id: Uint8Array.from(
          Buffer.from(testKey(`${label}/${i}`).toString(16).padStart(64, "0"), "hex"),
        ),
        timestamp: WINDOW_END - 1n,
        value: CATEGORY_VALUES[4],
      },
      testKey(`${label}/key/${i}`),
    ),
  ).sort((a, b) => Buffer.compare(a.id, b.id));
}

describe("attack: CC adds entries no meter made", () => {
  it("with no meter registered, 70 fabricated entries are refused and the price stays tariff(0)", async () => {
    const d = await deployBillingLedger(ethers, { configure: false });
    await (
      await d.ledger.setTariff([...TARIFF.breakpointsWh], [...TARIFF.values], TARIFF.cap)
    ).wait();
    await (await d.ledger.setCategoryValues([...CATEGORY_VALUES])).wait();
    await (await d.ledger.setSlotsPerMeter(K)).wait();
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.openInterval(INTERVAL, WINDOW_START, WINDOW_END)).wait();
    const forged = makeOcdEntries(d.domain, INTERVAL, 70).map(toOcdEntryStruct);
    await expect(cc.postOcdBatch(INTERVAL, forged))
      .to.be.revertedWithCustomError(cc, "BillingLedgerSlotCount")
      .withArgs(INTERVAL, 70, 0);
    await (await cc.sealInterval(INTERVAL)).wait();
    const rec = await cc.intervalRecord(INTERVAL);
    expect(rec.ocdCount).to.equal(0n);
    expect(rec.sumWh).to.equal(0n);
    expect(await cc.priceForVersion(rec.tariffVersion, rec.sumWh)).to.equal(
      tariffPrice(TARIFF, 0n),
    );
  });

  it("extra entries beyond K × meters are refused; an interval short of its slots does not seal", async () => {
    const s = await slotSetting(ethers);
    const extra = fabricated(s.domain, 1, "extra");
    await expect(s.post([...s.real, ...extra], s.zero))
      .to.be.revertedWithCustomError(s.cc, "BillingLedgerSlotCount")
      .withArgs(INTERVAL, 3 * K + 1, 3 * K);
    // Dropping a slot instead (e.g. to hide a meter) leaves the interval unsealable.
    await expect(s.post(s.real, s.zero.slice(1)))
      .to.be.revertedWithCustomError(s.cc, "BillingLedgerSlotCount")
      .withArgs(INTERVAL, 3 * K - 1, 3 * K);
  });

  it("a fabricated entry that displaces a dummy slot seals, but the slot's user proves it", async () => {
    const s = await slotSetting(ethers);
    const forged = fabricated(s.domain, 1, "displacing");
    // CC drops meter 2's first dummy (meter 2 reported nothing: all K slots are dummies).
    const victim = s.reports[2].entries[0];
    const zero = s.zero.filter((id) => Buffer.compare(id, victim.id) !== 0);
    await s.post([...s.real, ...forged], zero);
    const report = await s.read();
    expect(report.mismatches).to.deep.equal([]);
    const check = s.users[2].verifyInterval(report);
    expect(check.verified).to.equal(false);
    expect(check.slotDisputes.map((d) => d.reason)).to.deep.equal(["slot-missing"]);
    expect(checkSlotDispute(s.domain, check.slotDisputes[0])).to.equal(true);
    // The other users' slots are intact.
    for (const u of s.users.slice(0, 2))
      expect(u.verifyInterval(report).slotDisputes).to.deep.equal([]);
  });

  it("an admin cannot grant itself CC_ROLE to post entries (only CC hands the role on)", async () => {
    const d = await deployBillingLedger(ethers);
    const ccRole = await d.ledger.CC_ROLE();
    await expect(d.ledger.grantRole(ccRole, d.admin.address))
      .to.be.revertedWithCustomError(d.ledger, "AccessControlUnauthorizedAccount")
      .withArgs(d.admin.address, ccRole);
    expect(await d.ledger.hasRole(ccRole, d.admin.address)).to.equal(false);
    await expect(d.ledger.openInterval(9, WINDOW_START, WINDOW_END))
      .to.be.revertedWithCustomError(d.ledger, "AccessControlUnauthorizedAccount")
      .withArgs(d.admin.address, ccRole);
    // CC itself can rotate its key to a new account.
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.grantRole(ccRole, d.outsider.address)).wait();
    expect(await d.ledger.hasRole(ccRole, d.outsider.address)).to.equal(true);
  });
});
