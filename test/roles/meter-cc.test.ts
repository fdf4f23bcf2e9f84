import { expect } from "chai";
import fc from "fast-check";

import { bytesToHex } from "../../offchain/crypto/bytes.ts";
import { signEntry, verifyEntry } from "../../offchain/protocol/entry.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import {
  CATEGORIES,
  DOMAIN,
  WINDOW,
  ccKeys,
  makeControlCenter,
  makeMeter,
  messageSecret,
} from "./fixtures.ts";

const T = WINDOW.end - 1n;

describe("meter", () => {
  it("reports category chunks that sum to measured + carry, with valid signatures", () => {
    const cc = ccKeys();
    const meter = makeMeter(0, cc);
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 9_000n }), { minLength: 1, maxLength: 4 }),
        (series) => {
          const m = makeMeter(1, cc);
          let reported = 0n;
          series.forEach((wh, j) => {
            const r = m.reportInterval(j, wh, T);
            // Exactly K slots (DESIGN §7): the chunks, then zero-value dummies.
            expect(r.entries.length).to.equal(m.slots);
            expect(r.pseudonyms.length).to.equal(m.slots);
            r.entries.forEach((e, k) => {
              if (k < r.chunks) expect(CATEGORIES).to.include(e.value);
              else expect(e.value).to.equal(0n);
              expect(verifyEntry(DOMAIN, e)).to.equal(true);
              reported += e.value;
            });
            if (r.chunks < m.slots) expect(r.carryOutWh < CATEGORIES[0]).to.equal(true);
          });
          expect(reported + m.carryWh).to.equal(series.reduce((a, b) => a + b, 0n));
        },
      ),
      { numRuns: 10 },
    );
    expect(() => meter.reportInterval(-1, 1n, T)).to.throw(/does not follow/);
  });

  it("uses a fresh pseudonym and key for every message", () => {
    const meter = makeMeter(0, ccKeys());
    const a = meter.reportInterval(0, 5_000n, T);
    const b = meter.reportInterval(1, 5_000n, T);
    const ids = [...a.entries, ...b.entries].map((e) => bytesToHex(e.id));
    const keys = [...a.entries, ...b.entries].map((e) => bytesToHex(e.sigPk));
    expect(new Set(ids).size).to.equal(ids.length);
    expect(new Set(keys).size).to.equal(keys.length);
  });
});

describe("control center admission", () => {
  const cc = ccKeys();
  let meters = [0, 1, 2].map((i) => makeMeter(i, cc));
  beforeEach(() => {
    meters = [0, 1, 2].map((i) => makeMeter(i, cc));
  });

  function freshCenter(maxFailures = 3) {
    const center = makeControlCenter(meters, cc, maxFailures);
    center.openInterval(7, WINDOW, CATEGORIES);
    return center;
  }

  it("admits every honest report once and releases them sorted by pseudonym", () => {
    const center = freshCenter();
    const reports = meters.map((m) => m.reportInterval(7, 3_333n, T));
    for (const r of reports) {
      for (const e of r.entries) expect(center.admit(encodeMeterReport(e)).accepted).to.equal(true);
    }
    const zero = center.zeroSlots(7);
    const admitted = center.closeInterval(7);
    const total = reports.reduce((n, r) => n + r.chunks, 0);
    expect(admitted.length).to.equal(total);
    // The dummies are zero slots; nothing is missing, so no absence marker.
    expect(zero.dummies).to.equal(3 * 8 - total);
    expect(zero.markers).to.equal(0);
    expect(zero.ids.count + admitted.length).to.equal(3 * 8);
    const hex = admitted.map((e) => bytesToHex(e.id));
    expect(hex).to.deep.equal([...hex].sort());
    // CC links a pseudonym to its meter (and only CC can).
    expect(center.originOf(7, reports[1].entries[0].id)).to.deep.equal({ meter: 1, counter: 1 });
  });

  it("keeps an admitted dummy as a flag, not as a report: the zero slots and stats are the same (issue 14)", () => {
    const center = freshCenter();
    const reports = meters.map((m) => m.reportInterval(7, 1_000n, T));
    const bytesAtOpen = center.stateBytes;
    const dummyIds: string[] = [];
    for (const r of reports) {
      for (const e of r.entries) {
        expect(center.admit(encodeMeterReport(e)).accepted).to.equal(true);
        if (e.value === 0n) dummyIds.push(bytesToHex(e.id));
      }
    }
    const real = reports.reduce((n, r) => n + r.chunks, 0);
    expect(dummyIds.length)
      .to.equal(3 * 8 - real)
      .and.to.be.greaterThan(real);
    // Admitted: every report, dummies included (and a dummy's replay is refused as one).
    expect(center.stats(7).admitted).to.equal(3 * 8);
    const dummy = reports[0].entries[reports[0].chunks];
    expect(center.admit(encodeMeterReport(dummy))).to.include({
      accepted: false,
      reason: "replay",
    });
    // Kept: the real reports only (one arena chunk of 1,024 × 138 bytes holds them).
    expect(center.admittedEntries(7).map((e) => e.value > 0n)).to.deep.equal(
      new Array(real).fill(true),
    );
    expect(center.stateBytes - bytesAtOpen).to.equal(1024 * 138);
    const zero = center.zeroSlots(7);
    expect([...zero.ids].map((id) => bytesToHex(id))).to.deep.equal([...dummyIds].sort());
    expect([zero.dummies, zero.markers, zero.missingMeters]).to.deep.equal([dummyIds.length, 0, 0]);
    // The same once the interval is released (its flags carry the dummies).
    center.closeInterval(7);
    center.releaseInterval(7);
    const released = center.zeroSlots(7);
    expect([...released.ids].map((id) => bytesToHex(id))).to.deep.equal([...dummyIds].sort());
    expect(released.dummies).to.equal(dummyIds.length);
    expect(center.stats(7).admitted).to.equal(3 * 8);
  });

  it("fills every slot no report filled with an absence marker and counts missing meters", () => {
    const center = freshCenter();
    const r0 = meters[0].reportInterval(7, 1_000n, T);
    const r1 = meters[1].reportInterval(7, 1_000n, T);
    // Meter 0 reports every slot; meter 1 loses two onions; meter 2 is offline.
    for (const e of r0.entries) expect(center.admit(encodeMeterReport(e)).accepted).to.equal(true);
    for (const e of r1.entries.slice(2)) center.admit(encodeMeterReport(e));
    const zero = center.zeroSlots(7);
    expect(zero.markers).to.equal(2 + 8);
    expect(zero.missingMeters).to.equal(1);
    expect(zero.dummies).to.equal(r0.entries.length - r0.chunks + 6 - Math.max(0, r1.chunks - 2));
    const real = center.closeInterval(7);
    expect(real.length + zero.ids.count).to.equal(3 * 8); // K × registered meters, exactly
    const hex = [...zero.ids].map((id) => bytesToHex(id));
    expect(hex).to.deep.equal([...hex].sort());
    // Meter 1's lost slots are markers under their own pseudonyms, visible to its user.
    for (const e of r1.entries.slice(0, 2)) expect(hex).to.include(bytesToHex(e.id));
  });

  it("ends admission at endAdmission (the closing grace): later reports refused, the entries and zero slots as before", () => {
    const center = freshCenter();
    const r0 = meters[0].reportInterval(7, 1_000n, T);
    for (const e of r0.entries.slice(0, 5)) center.admit(encodeMeterReport(e));
    center.endAdmission(7);
    center.endAdmission(7); // idempotent
    const late = center.admit(encodeMeterReport(r0.entries[5]));
    expect(late.accepted ? undefined : late.reason).to.equal("interval-not-open");
    expect(center.stats(7).admitted).to.equal(5);
    // Posting still closes it as before: the five admitted reports, the rest as markers.
    const real = center.closeInterval(7);
    expect(real.length + center.zeroSlots(7).ids.count).to.equal(3 * 8);
    expect(() => center.endAdmission(8)).to.throw(/not open/);
  });

  it("rejects each kind of bad report with its reason", () => {
    const center = freshCenter(100);
    const meter = meters[0];
    const entry = meter.reportInterval(7, 1_000n, T).entries[0];
    const good = encodeMeterReport(entry);
    expect(center.admit(good).accepted).to.equal(true);
    const expectReason = (bytes: Uint8Array, reason: string) => {
      const a = center.admit(bytes);
      expect(a.accepted).to.equal(false);
      if (!a.accepted) expect(a.reason).to.equal(reason);
    };
    expectReason(good, "replay");
    expectReason(good.subarray(1), "malformed");
    // Another interval field: the pseudonym does not belong to it (and it is not open).
    const otherInterval = good.slice();
    otherInterval[4] ^= 1;
    expectReason(otherInterval, "interval-not-open");
    // A fake meter: a pseudonym CC never derived.
    const fake = signEntry(DOMAIN, { ...entry, id: new Uint8Array(32).fill(9) }, 12345n);
    expectReason(encodeMeterReport(fake), "unknown-pseudonym");
    // Next counters of meter 1 with altered fields, signed by the meter's own message key (its
    // fault) or not (anyone's: refused, never counted).
    const m1 = meters[1].reportInterval(7, 2_000n + 500n + 250n + 100n, T).entries;
    expect(m1.length).to.equal(8); // K slots: 4 chunks, 4 dummies
    const own = (e: (typeof m1)[number], k: number) => signEntry(DOMAIN, e, messageSecret(1, 7, k));
    const sk = 424242n;
    // Signed by the meter: a clock one second off (inside the window, but T is fixed to its last
    // second), and a value that is no category.
    expectReason(encodeMeterReport(own({ ...m1[0], timestamp: T - 1n }, 1)), "wrong-timestamp");
    expectReason(encodeMeterReport(own({ ...m1[1], value: 123n }, 2)), "not-a-category");
    expectReason(encodeMeterReport(signEntry(DOMAIN, m1[2], sk)), "key-mismatch");
    expectReason(
      encodeMeterReport({ ...m1[3], signature: { ...m1[3].signature, y: m1[3].signature.y ^ 1n } }),
      "bad-signature",
    );
    // An unsigned wrong value is a signature failure first (the check order puts it before).
    expectReason(encodeMeterReport({ ...m1[3], value: 7n }), "bad-signature");
    const stats = center.stats(7);
    expect(stats.admitted).to.equal(1);
    expect(stats.rejected).to.include({
      replay: 1,
      "unknown-pseudonym": 1,
      "wrong-timestamp": 1,
      "not-a-category": 1,
      "key-mismatch": 1,
      "bad-signature": 2,
    });
    expect(center.unattributedRejections()).to.deep.equal({ malformed: 1, "interval-not-open": 1 });
  });

  it("asks for a resend, then excludes a meter after repeated faults it signed", () => {
    const center = freshCenter(2);
    const [e1, e2] = meters[2].reportInterval(7, 1_000n + 500n, T).entries;
    const badValue = (e: typeof e1, k: number) =>
      encodeMeterReport(signEntry(DOMAIN, { ...e, value: 7n }, messageSecret(2, 7, k)));
    const first = center.admit(badValue(e1, 1));
    expect(first.accepted).to.equal(false);
    if (!first.accepted) expect(first.resend).to.deep.equal({ meter: 2, interval: 7, counter: 1 });
    // The same faulty message again (a replay, or the meter resending it) counts once.
    expect(center.admit(badValue(e1, 1))).to.not.have.property("excluded");
    expect(center.isExcluded(2)).to.equal(false);
    const second = center.admit(badValue(e2, 2));
    if (!second.accepted) expect(second.excluded).to.equal(true);
    const after = center.admit(encodeMeterReport(e1));
    expect(after.accepted).to.equal(false);
    if (!after.accepted) expect(after.reason).to.equal("meter-excluded");
    expect(center.isExcluded(2)).to.equal(true);
    expect(center.excludedMeters()).to.deep.equal([2]);
  });

  it("refuses a registration box opened with another meter's key as context", () => {
    const center = makeControlCenter([], cc);
    const reg = meters[0].registration(77n);
    expect(() =>
      center.registerMeter(0, meters[1].publicKey, reg.encryptedGgmKey, reg.basePublicKey),
    ).to.throw(/authentication failed/);
  });

  it("refuses a registration whose base key B_i was swapped (the box binds pk_i ‖ B_i)", () => {
    const center = makeControlCenter([], cc);
    const reg = meters[0].registration(77n);
    expect(() =>
      center.registerMeter(0, reg.publicKey, reg.encryptedGgmKey, meters[1].basePublicKey),
    ).to.throw(/authentication failed/);
  });
});
