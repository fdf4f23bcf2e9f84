// Key material, ECDH and pseudonyms (DESIGN §4.5): meter side and control-center side agree, the
// CC's precomputation and index match per-message computation, SP-to-user pseudonyms agree on
// both sides, and inputs are checked at the boundary.
import { createHmac } from "node:crypto";

import { expect } from "chai";
import fc from "fast-check";

import { concatBytes, u32 } from "../../offchain/crypto/bytes.ts";
import { h1, hmacSha256, hmacSha256Keyed } from "../../offchain/crypto/hash.ts";
import {
  ecdh,
  generateKeyPair,
  generateMeterKeys,
  identityOf,
  keyPairFromSecret,
  randomSecretKey,
} from "../../offchain/crypto/keys.ts";
import { backends, CURVE_ORDER, secp } from "../../offchain/crypto/secp256k1.ts";
import {
  ControlCenterPseudonyms,
  controlCenterPseudonymKey,
  meterPseudonym,
  meterPseudonymKey,
  MeterPseudonyms,
  spUserPseudonym,
} from "../../offchain/protocol/pseudonym.ts";
import { seededBytes } from "./support.ts";

const scalarArb = fc.bigInt({ min: 1n, max: CURVE_ORDER - 1n });
const intervalArb = fc.oneof(fc.constant(0), fc.constant(0xffffffff), fc.nat());
const counterArb = fc.oneof(fc.constant(1), fc.constant(65535), fc.integer({ min: 1, max: 65535 }));

describe("keys and ECDH (DESIGN §4.5)", () => {
  it("ECDH is symmetric and identical across backends", () => {
    fc.assert(
      fc.property(scalarArb, scalarArb, (a, b) => {
        const results = backends.flatMap((backend) => [
          ecdh(a, backend.mulBase(b, true), backend),
          ecdh(b, backend.mulBase(a, true), backend),
        ]);
        for (const r of results) expect(r).to.deep.equal(results[0]);
        expect(results[0].length).to.equal(33);
      }),
      { numRuns: 30 },
    );
  });

  it("ecdh rejects invalid points and scalars with prefixed errors", () => {
    const pk = secp.mulBase(5n, true);
    const notOnCurve = Uint8Array.from([2, ...new Uint8Array(31), 5]); // x = 5: x³+7 = 132, not a QR
    for (const backend of backends) {
      expect(() => ecdh(1n, notOnCurve, backend)).to.throw(/^ecdh: publicKey/);
      expect(() => ecdh(1n, backend.convert(pk, false), backend)).to.throw(/^ecdh: publicKey/);
      expect(() => ecdh(0n, pk, backend)).to.throw(/^ecdh: secret key/);
      expect(() => ecdh(CURVE_ORDER, pk, backend)).to.throw(/^ecdh: secret key/);
    }
  });

  it("generates reproducible key material from an injected random source", () => {
    const a = generateMeterKeys(seededBytes("meter-1"));
    const b = generateMeterKeys(seededBytes("meter-1"));
    expect(a.secretKey).to.equal(b.secretKey);
    expect(a.ggmKey).to.deep.equal(b.ggmKey);
    expect(a.id).to.deep.equal(h1(a.publicKey));
    expect(identityOf(a.publicKey)).to.deep.equal(a.id);
    expect(generateKeyPair(seededBytes("cc")).secretKey).to.not.equal(a.secretKey);
  });

  it("randomSecretKey rejects 0 and values ≥ n, and fails on a broken source", () => {
    const draws = [
      new Uint8Array(32),
      new Uint8Array(32).fill(0xff),
      Uint8Array.of(...new Uint8Array(31), 9),
    ];
    expect(randomSecretKey(() => draws.shift()!)).to.equal(9n);
    expect(() => randomSecretKey(() => new Uint8Array(32))).to.throw(/^randomSecretKey: /);
    expect(() => randomSecretKey(() => new Uint8Array(31))).to.throw(/^randomSecretKey: random/);
    expect(() => keyPairFromSecret(0n)).to.throw(/^keyPairFromSecret: /);
  });
});

describe("pseudonyms (DESIGN §4.5)", () => {
  it("meter side (sk_i, pk_CC) and CC side (sk_CC, pk_i) give the same A_i and P_{i,j,k}", () => {
    for (const backend of backends) {
      fc.assert(
        fc.property(scalarArb, scalarArb, intervalArb, counterArb, (skM, skCC, j, k) => {
          const meter = keyPairFromSecret(skM, backend);
          const cc = keyPairFromSecret(skCC, backend);
          const aMeter = meterPseudonymKey(skM, cc.publicKey, backend);
          const aCC = controlCenterPseudonymKey(skCC, meter.publicKey, backend);
          expect(aMeter).to.deep.equal(aCC);
          const viaMeter = new MeterPseudonyms(skM, meter.publicKey, cc.publicKey, backend);
          const ccSide = new ControlCenterPseudonyms<number>(skCC, backend);
          ccSide.registerMeter(7, meter.publicKey);
          const p = viaMeter.pseudonym(j, k);
          expect(ccSide.pseudonym(7, j, k)).to.deep.equal(p);
          expect(meterPseudonym(aCC, meter.id, j, k)).to.deep.equal(p);
        }),
        { numRuns: 30 },
      );
    }
  });

  it('matches HMAC-SHA256(A_i, "GridLedger/P" ‖ ID_i ‖ u32 j ‖ u16 k) computed with createHmac', () => {
    const a = new Uint8Array(32).fill(0xa1);
    const id = new Uint8Array(32).fill(0x1d);
    const msg = Buffer.concat([
      Buffer.from("GridLedger/P"),
      id,
      Buffer.from([0, 0, 1, 2, 0xff, 0xfe]),
    ]);
    expect(Buffer.from(meterPseudonym(a, id, 258, 65534)).toString("hex")).to.equal(
      createHmac("sha256", a).update(msg).digest("hex"),
    );
  });

  it("the CC precomputes an interval, looks pseudonyms up in O(1), and forgets sealed intervals", () => {
    const random = seededBytes("cc-index");
    const cc = generateKeyPair(random);
    const meters = [0, 1, 2].map(() => generateKeyPair(random));
    const ccSide = new ControlCenterPseudonyms<string>(cc.secretKey);
    meters.forEach((m, i) => ccSide.registerMeter(`meter-${i}`, m.publicKey));
    ccSide.indexInterval(9, 20);
    ccSide.indexInterval(10, 20);
    for (const [i, m] of meters.entries()) {
      const meterSide = new MeterPseudonyms(m.secretKey, m.publicKey, cc.publicKey);
      expect(ccSide.meterId(`meter-${i}`)).to.deep.equal(meterSide.meterId);
      const batch = ccSide.intervalPseudonyms(`meter-${i}`, 9, 1, 20);
      expect(batch.length).to.equal(20);
      for (let k = 1; k <= 20; k++) {
        const p = meterSide.pseudonym(9, k);
        expect(batch[k - 1]).to.deep.equal(p);
        expect(ccSide.lookup(p)).to.deep.equal({ meter: `meter-${i}`, interval: 9, counter: k });
      }
      expect(ccSide.lookup(meterSide.pseudonym(9, 21))).to.equal(undefined);
    }
    const p10 = new MeterPseudonyms(meters[0].secretKey, meters[0].publicKey, cc.publicKey);
    ccSide.forgetInterval(9);
    expect(ccSide.lookup(p10.pseudonym(9, 1))).to.equal(undefined);
    expect(ccSide.lookup(p10.pseudonym(10, 1))?.counter).to.equal(1);
    expect(() => ccSide.pseudonym("nobody", 1, 1)).to.throw(/not registered/);
    expect(() => new ControlCenterPseudonyms(0n)).to.throw(/^ControlCenterPseudonyms: secret key/);
    expect(() => ccSide.intervalPseudonyms("meter-0", 1, 5, 4)).to.throw(
      /lastCounter < firstCounter/,
    );
  });

  it("rejects out-of-range intervals, counters and wrong-size keys", () => {
    const a = new Uint8Array(32);
    expect(() => meterPseudonym(a, a, 0, 0)).to.throw(/^meterPseudonym: counter 0/);
    expect(() => meterPseudonym(a, a, 0, 65536)).to.throw(/^meterPseudonym: counter/);
    expect(() => meterPseudonym(a, a, 2 ** 32, 1)).to.throw(/^meterPseudonym: interval/);
    expect(() => meterPseudonym(a, a, -1, 1)).to.throw(/^meterPseudonym: interval/);
    expect(() => meterPseudonym(new Uint8Array(31), a, 0, 1)).to.throw(
      /^meterPseudonym: pseudonymKey/,
    );
  });

  it("SP-to-user pseudonyms agree on both sides and match the §4.5 formula", () => {
    fc.assert(
      fc.property(scalarArb, scalarArb, intervalArb, (skSP, skU, j) => {
        const sp = keyPairFromSecret(skSP);
        const user = keyPairFromSecret(skU);
        const bySP = spUserPseudonym(skSP, user.publicKey, sp.id, j);
        const byUser = spUserPseudonym(skU, sp.publicKey, sp.id, j);
        expect(bySP).to.deep.equal(byUser);
        const key = h1(ecdh(skSP, user.publicKey));
        const label = new TextEncoder().encode("GridLedger/SPU");
        expect(bySP).to.deep.equal(hmacSha256(key, concatBytes(label, sp.id, u32(j))));
      }),
      { numRuns: 30 },
    );
  });
});

describe("hash helpers (DESIGN §4.1)", () => {
  it("hmacSha256Keyed equals hmacSha256 for any key length and message", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 150 }),
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }),
        (key, msgs) => {
          const mac = hmacSha256Keyed(key);
          for (const m of msgs) expect(mac(m)).to.deep.equal(hmacSha256(key, m));
        },
      ),
    );
  });

  it("h1 takes only 33-byte compressed points", () => {
    expect(() => h1(new Uint8Array(33))).to.throw(/^h1: point must be compressed/);
    expect(() => h1(secp.convert(secp.mulBase(1n, true), false))).to.throw(/^h1: point/);
  });
});
