// Threat: the control center alters what a meter reported before posting it — a chunk's value
// (under a key of its own: it cannot sign with the meter's b_i + t), a dummy turned into a real
// value, or a real report replaced by an absence marker — so that the user's bill changes while
// every pseudonym the user holds is still on the ledger. Before the fix users checked only their
// pseudonyms (measured: 0 disputes for a bill of 6,000 where the meter reported 1,000 Wh).
// Defence (DESIGN §2, §4.2, §7): the user holds all K meter-signed slots with their tweaks and
// compares every (pseudonym, value) with the ledger; a mismatch is a SlotDispute that anyone checks
// with checkSlotDispute (the meter's entry verifies under B_i + t·G; the ledger's differs and its
// key is not B_i + t·G), revealing t for that slot only.
import { expect } from "chai";
import { network } from "hardhat";

import { bytesToHex } from "../../offchain/crypto/bytes.ts";
import { checkSlotDispute } from "../../offchain/protocol/dispute.ts";
import { signEntry } from "../../offchain/protocol/entry.ts";
import { CATEGORY_VALUES, testKey } from "../ledger/fixtures.ts";
import { slotSetting } from "./slots-fixture.ts";

const { ethers } = await network.create();

describe("attack: CC alters a value; the user detects it and proves it", () => {
  it("a chunk re-signed by CC with another value: value-altered, with checkable evidence", async () => {
    const s = await slotSetting(ethers);
    // Meter 0 reported one 100 Wh chunk; CC posts 2000 Wh under a key of its own.
    const honest = s.reports[0].entries[0];
    expect(honest.value).to.equal(100n);
    const altered = signEntry(
      s.domain,
      { ...honest, value: CATEGORY_VALUES[4] },
      testKey("cc-alter"),
    );
    const real = s.real.map((e) => (Buffer.compare(e.id, honest.id) === 0 ? altered : e));
    await s.post(real, s.zero);
    const report = await s.read();
    expect(report.mismatches).to.deep.equal([]); // the chain accepted it: a valid signature
    const check = s.users[0].verifyInterval(report);
    expect(check.verified).to.equal(false);
    expect(check.consumptionWh).to.equal(2000n); // what the ledger bills…
    const [dispute] = check.slotDisputes;
    expect(dispute.reason).to.equal("value-altered");
    expect(dispute.meterEntry.value).to.equal(100n); // …against what the meter signed
    expect(checkSlotDispute(s.domain, dispute)).to.equal(true);
    // The evidence opens this slot only, and only with the right tweak.
    expect(checkSlotDispute(s.domain, { ...dispute, tweak: dispute.tweak + 1n })).to.equal(false);
    expect(checkSlotDispute(s.domain, { ...dispute, reason: "slot-missing" })).to.equal(false);
    // Other users are unaffected.
    expect(s.users[1].verifyInterval(report).slotDisputes).to.deep.equal([]);
  });

  it("a dummy turned into a real value, and a real report replaced by an absence marker", async () => {
    const s = await slotSetting(ethers);
    // Meter 2 reported nothing (K dummies): CC posts 500 Wh under its first dummy's pseudonym.
    const dummy = s.reports[2].entries[0];
    expect(dummy.value).to.equal(0n);
    const inflated = signEntry(s.domain, { ...dummy, value: CATEGORY_VALUES[2] }, testKey("cc-x"));
    // Meter 1's first chunk suppressed: posted as a zero slot instead.
    const suppressed = s.reports[1].entries[0];
    expect(suppressed.value > 0n).to.equal(true);
    const real = [...s.real.filter((e) => Buffer.compare(e.id, suppressed.id) !== 0), inflated];
    const zero = [...s.zero.filter((id) => Buffer.compare(id, dummy.id) !== 0), suppressed.id];
    await s.post(real, zero);
    const report = await s.read();
    const c2 = s.users[2].verifyInterval(report);
    expect(c2.slotDisputes.map((d) => d.reason)).to.deep.equal(["value-altered"]);
    expect(checkSlotDispute(s.domain, c2.slotDisputes[0])).to.equal(true);
    const c1 = s.users[1].verifyInterval(report);
    expect(c1.slotDisputes.map((d) => d.reason)).to.deep.equal(["report-suppressed"]);
    expect(checkSlotDispute(s.domain, c1.slotDisputes[0])).to.equal(true);
    // The evidence reveals this slot's t only (another slot's tweak does not verify it).
    expect(bytesToHex(c1.slotDisputes[0].meterEntry.id)).to.equal(bytesToHex(suppressed.id));
    const otherTweak = s.reports[1].userBatch[1].tweak;
    expect(checkSlotDispute(s.domain, { ...c1.slotDisputes[0], tweak: otherTweak })).to.equal(
      false,
    );
  });
});
