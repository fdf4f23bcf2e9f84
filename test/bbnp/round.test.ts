import { expect } from "chai";
import fc from "fast-check";

import { BbnpUser } from "../../offchain/bbnp-user/user.ts";
import {
  ReportRejectedError,
  RecoveryIncompleteError,
  SumOutOfRangeError,
} from "../../offchain/gateway/errors.ts";
import { BbnpGateway } from "../../offchain/gateway/gateway.ts";
import { BBNP_ORDER } from "../../offchain/protocol/bbnp/params.ts";
import {
  decodeReport,
  decodeReveal,
  encodeReport,
  encodeReveal,
  REPORT_BYTES,
  REVEAL_BYTES,
} from "../../offchain/protocol/bbnp/report.ts";
import { buildSystem, readingsFor, runRound } from "./fixtures.ts";

describe("bbnp round end to end (DESIGN §4.7)", () => {
  it("sum = Σ readings with no dropouts, over several rounds", () => {
    const sys = buildSystem(24, 4);
    for (const round of [1n, 2n, 7n]) {
      const readings = readingsFor(24, round);
      const { sum, expected } = runRound(sys, round, readings);
      expect(sum).to.equal(expected);
    }
    expect(sys.signed.map((s) => s.round)).to.deep.equal([1n, 2n, 7n]);
  });

  it("property: random N, h, rounds and readings give the exact sum", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 14 }),
        fc.integer({ min: 1, max: 4 }).map((x) => 2 * x),
        fc.array(fc.bigInt({ min: 1n, max: 1n << 40n }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.bigInt({ min: 0n, max: 1_000_000n }), { minLength: 14, maxLength: 14 }),
        (n, h, roundSteps, readings) => {
          const sys = buildSystem(n, h, `prop-${n}-${h}`);
          let round = 0n;
          for (const step of roundSteps) {
            round += step;
            const { sum, expected } = runRound(sys, round, readings);
            expect(sum).to.equal(expected);
          }
        },
      ),
      { numRuns: 12 },
    );
  });

  it("works with the parties' own variable-base DH (no TA shortcut)", () => {
    const sys = buildSystem(4, 2, "own-dh");
    const { params } = sys.keys;
    const users = sys.keys.userSecrets.map(
      (secret, i) => new BbnpUser({ params, userId: i, secret }),
    );
    const gw = new BbnpGateway(
      { params, secret: sys.keys.gatewaySecret },
      {
        signRound: () => new Uint8Array(96),
        roundBlinding: (t) => sys.ta.gatewayBlinding(params.epoch, t),
      },
    );
    gw.openRound(3n);
    for (const u of users) gw.submit(u.report(3n, BigInt(10 * u.userId)));
    expect(gw.finalize().sum).to.equal(60n);
  });

  for (const [label, count] of [
    ["1 user", 1],
    ["10% of users", 4],
    ["30% of users", 12],
  ] as const) {
    it(`recovers the sum of reporting users when ${label} drop out`, () => {
      const n = 40;
      const sys = buildSystem(n, 4, `drop-${count}`);
      const absent = new Set(Array.from({ length: count }, (_, j) => (j * 7 + 3) % n));
      const { sum, expected, reporters } = runRound(sys, 11n, readingsFor(n, 11n), absent);
      expect(sum).to.equal(expected);
      expect(reporters).to.equal(n - count);
      // Recovery material is round-specific: the same keys carry on, no refresh in between.
      const again = runRound(sys, 12n, readingsFor(n, 12n), new Set([5]));
      expect(again.sum).to.equal(again.expected);
      const full = runRound(sys, 13n, readingsFor(n, 13n));
      expect(full.sum).to.equal(full.expected);
      expect(sys.keys.params.epoch).to.equal(0);
    });
  }

  it("a wrong TA correction is caught by the range check, not signed", () => {
    const sys = buildSystem(12, 2, "wrong-corr");
    sys.gateway.openRound(1n);
    sys.gateway.submitBatch(sys.users.slice(1).map((u) => u.report(1n, 5n)));
    const plan = sys.gateway.beginRecovery();
    for (const [i, peers] of plan.requests)
      for (const r of sys.users[i].revealMasks(1n, peers)) sys.gateway.acceptReveal(r);
    expect(sys.gateway.closeRecoveryPass()).to.equal(undefined);
    expect(() => sys.gateway.finalize(12345n)).to.throw(SumOutOfRangeError, /out of range/);
    expect(sys.signed).to.have.length(0);
  });

  it("finalize during an open pass names the masks still outstanding and asks to close the pass", () => {
    const sys = buildSystem(12, 4, "incomplete");
    sys.gateway.openRound(1n);
    sys.gateway.submitBatch(sys.users.slice(1).map((u) => u.report(1n, 5n)));
    const plan = sys.gateway.beginRecovery();
    const [first] = plan.requests.keys();
    try {
      sys.gateway.finalize(1n);
      expect.fail("finalize should throw");
    } catch (err) {
      expect(err).to.be.instanceOf(RecoveryIncompleteError);
      expect((err as RecoveryIncompleteError).outstanding).to.deep.include([first, 0]);
      expect((err as Error).message).to.match(/closeRecoveryPass/);
    }
    expect(sys.gateway.phase).to.equal("recovery");
  });

  it("rejects a bad tag and names the user and the reason", () => {
    const sys = buildSystem(6, 2, "bad-tag");
    sys.gateway.openRound(1n);
    const report = sys.users[4].report(1n, 9n);
    const tag = report.tag.slice();
    tag[31] ^= 1;
    try {
      sys.gateway.submit({ ...report, tag });
      expect.fail("submit should throw");
    } catch (err) {
      expect(err).to.be.instanceOf(ReportRejectedError);
      expect((err as ReportRejectedError).userId).to.equal(4);
      expect((err as ReportRejectedError).reason).to.equal("bad-tag");
    }
    expect(sys.gateway.rejections).to.deep.equal([{ userId: 4, round: 1n, reason: "bad-tag" }]);
    // The genuine report is still accepted afterwards.
    sys.gateway.submit(report);
    expect(sys.gateway.missing).to.not.include(4);
  });

  it("rejects non-canonical masked values (C ≥ r) as malformed", () => {
    const sys = buildSystem(4, 2, "malformed");
    sys.gateway.openRound(1n);
    const report = sys.users[0].report(1n, 1n);
    expect(
      sys.gateway.submitBatch([{ ...report, masked: new Uint8Array(32).fill(0xff) }]),
    ).to.deep.equal([{ userId: 0, round: 1n, reason: "malformed" }]);
    expect(sys.gateway.submitBatch([{ ...report, userId: 99 }])[0].reason).to.equal("unknown-user");
  });

  it("a user refuses a second report for the same or an earlier round, and bad readings", () => {
    const sys = buildSystem(4, 2, "user-sm");
    const u = sys.users[1];
    u.report(5n, 1n);
    expect(() => u.report(5n, 2n)).to.throw(/BbnpUser.report: round 5 is not after/);
    expect(() => u.report(4n, 2n)).to.throw(/not after/);
    expect(() => u.report(6n, -1n)).to.throw(/reading must be/);
    expect(() => u.report(6n, 1_000_001n)).to.throw(/reading must be/);
    expect(() => u.revealMasks(4n, [0])).to.throw(/last reported round/);
  });

  it("report encoding round-trips at 76 bytes", () => {
    const sys = buildSystem(3, 2, "enc");
    const r = sys.users[2].report(1n << 40n, 77n);
    const bytes = encodeReport(r);
    expect(bytes.length).to.equal(REPORT_BYTES).and.equal(76);
    expect(decodeReport(bytes)).to.deep.equal(r);
  });

  it("mask-reveal encoding round-trips at 80 bytes and refuses a mask ≥ r or a wrong length", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffffffff }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.nat({ max: 0xffffffff }),
        fc.bigInt({ min: 0n, max: BBNP_ORDER - 1n }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (userId, round, peer, mask, tag) => {
          const reveal = { userId, round, peer, mask, tag };
          const bytes = encodeReveal(reveal);
          expect(bytes.length).to.equal(REVEAL_BYTES).and.equal(80);
          expect(decodeReveal(bytes)).to.deep.equal(reveal);
        },
      ),
      { numRuns: 100 },
    );
    const tag = new Uint8Array(32);
    expect(() => encodeReveal({ userId: 1, round: 1n, peer: 2, mask: BBNP_ORDER, tag })).to.throw(
      /mask must be < r/,
    );
    expect(() => decodeReveal(new Uint8Array(79))).to.throw(/expected 80 bytes/);
  });
});
