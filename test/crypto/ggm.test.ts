// GGM PRF and per-message keys (DESIGN §4.2): the path cache against the uncached reference for
// random index sequences, index encoding and range checks, and key wiping.
import { expect } from "chai";
import fc from "fast-check";

import {
  deriveMessageKey,
  ggmEvaluate,
  GgmPrf,
  ggmPrg,
  ggmIntervalSeed,
  GGM_MAX_INDEX,
  intervalMessageTweak,
  MessageKeyDeriver,
  messageIndex,
  messageTweak,
} from "../../offchain/crypto/ggm.ts";
import { h3, taggedHash } from "../../offchain/crypto/hash.ts";
import { backends, CURVE_ORDER } from "../../offchain/crypto/secp256k1.ts";

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const indexArb = fc.bigInt({ min: 0n, max: GGM_MAX_INDEX });
/** Index sequences shaped like real use: random jumps, neighbours and repeats. */
const indexSequenceArb = fc.array(
  fc.oneof(
    indexArb,
    fc.bigInt({ min: 0n, max: 70n }),
    fc.bigInt({ min: GGM_MAX_INDEX - 70n, max: GGM_MAX_INDEX }),
  ),
  { minLength: 1, maxLength: 12 },
);

describe("GGM PRF (DESIGN §4.2)", () => {
  it('G_b(s) = TH("GridLedger/GGM", byte(b) ‖ s)', () => {
    const s = new Uint8Array(32).fill(9);
    expect(ggmPrg(0, s)).to.deep.equal(taggedHash("GridLedger/GGM", Uint8Array.of(0, ...s)));
    expect(ggmPrg(1, s)).to.deep.equal(taggedHash("GridLedger/GGM", Uint8Array.of(1, ...s)));
    expect(ggmPrg(0, s)).to.not.deep.equal(ggmPrg(1, s));
  });

  it("walks bit 47 first: f_K(2^47) starts with G_1, f_K(1) ends with G_1", () => {
    const K = new Uint8Array(32).fill(3);
    let s = ggmPrg(1, K);
    for (let i = 0; i < 47; i++) s = ggmPrg(0, s);
    expect(ggmEvaluate(K, 1n << 47n)).to.deep.equal(s);
    let t: Uint8Array = K;
    for (let i = 0; i < 47; i++) t = ggmPrg(0, t);
    expect(ggmEvaluate(K, 1n)).to.deep.equal(ggmPrg(1, t));
  });

  it("cached GgmPrf equals the uncached evaluation for random index sequences", () => {
    fc.assert(
      fc.property(keyArb, indexSequenceArb, (key, indices) => {
        const prf = new GgmPrf(key);
        for (const x of indices) expect(prf.evaluate(x)).to.deep.equal(ggmEvaluate(key, x));
      }),
      { numRuns: 100 },
    );
  });

  it("cached MessageKeyDeriver equals deriveMessageKey for random (interval, counter) sequences", () => {
    const pairArb = fc.tuple(
      fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(0xffffffff), fc.nat()),
      fc.oneof(
        fc.integer({ min: 1, max: 5 }),
        fc.constant(65535),
        fc.integer({ min: 1, max: 65535 }),
      ),
    );
    for (const backend of backends) {
      fc.assert(
        fc.property(keyArb, fc.array(pairArb, { minLength: 1, maxLength: 8 }), (K, pairs) => {
          const deriver = new MessageKeyDeriver(K, backend);
          const b = BigInt(K[0]) + 1n;
          for (const [j, k] of pairs) {
            const cached = deriver.messageKey(b, j, k);
            const fresh = deriveMessageKey(K, b, j, k, backend);
            expect(cached.sigSk).to.equal(fresh.sigSk);
            expect(cached.sigPk).to.deep.equal(fresh.sigPk);
            expect(deriver.tweak(j, k)).to.equal(fresh.tweak);
          }
        }),
        { numRuns: 40 },
      );
    }
  });

  it("t = H3(f_K(j·2^16 + k)), sigSk = b + t mod n, sigPk = sigSk·G = B + t·G", () => {
    const K = new Uint8Array(32).fill(0x42);
    for (const b of [1n, 12345n, CURVE_ORDER - 1n]) {
      const mk = deriveMessageKey(K, b, 5, 7);
      expect(mk.tweak).to.equal(h3(ggmEvaluate(K, 5n * 65536n + 7n)));
      expect(mk.sigSk).to.equal((b + mk.tweak) % CURVE_ORDER);
      for (const backend of backends) {
        expect(backend.mulBase(mk.sigSk, true)).to.deep.equal(mk.sigPk);
        const B = backend.mulBase(b, true);
        expect(new MessageKeyDeriver(K, backend).publicKey(B, 5, 7)).to.deep.equal(mk.sigPk);
      }
    }
  });

  it("refuses a base key outside [1, n−1]", () => {
    const K = new Uint8Array(32);
    for (const b of [0n, CURVE_ORDER, -1n]) {
      expect(() => deriveMessageKey(K, b, 0, 1)).to.throw(/^deriveMessageKey: base key/);
      expect(() => new MessageKeyDeriver(K).messageKey(b, 0, 1)).to.throw(
        /^MessageKeyDeriver.messageKey: base key/,
      );
    }
  });

  it("messageIndex = j·2^16 + k and rejects out-of-range intervals and counters", () => {
    expect(messageIndex(0, 1)).to.equal(1n);
    expect(messageIndex(0xffffffff, 65535)).to.equal(GGM_MAX_INDEX);
    expect(messageIndex(3, 2)).to.equal(3n * 65536n + 2n);
    expect(() => messageIndex(0, 0)).to.throw(/^messageIndex: counter 0 outside \[1, 65535\]/);
    expect(() => messageIndex(0, 65536)).to.throw(/^messageIndex: counter/);
    expect(() => messageIndex(0, 1.5)).to.throw(/^messageIndex: counter/);
    expect(() => messageIndex(-1, 1)).to.throw(/^messageIndex: interval -1 is not a u32/);
    expect(() => messageIndex(2 ** 32, 1)).to.throw(/^messageIndex: interval/);
    expect(() => new MessageKeyDeriver(new Uint8Array(32)).messageKey(1n, 0, 0)).to.throw(
      /^messageIndex: counter/,
    );
  });

  it("rejects indices outside [0, 2^48 − 1] and keys that are not 32 bytes", () => {
    const K = new Uint8Array(32);
    expect(() => ggmEvaluate(K, -1n)).to.throw(/^ggmEvaluate: index -1 outside/);
    expect(() => ggmEvaluate(K, GGM_MAX_INDEX + 1n)).to.throw(/^ggmEvaluate: index/);
    expect(() => new GgmPrf(K).evaluate(2 ** 48)).to.throw(/^GgmPrf.evaluate: index/);
    expect(() => ggmEvaluate(new Uint8Array(31), 0n)).to.throw(/^ggmEvaluate: key/);
    expect(() => new GgmPrf(new Uint8Array(33))).to.throw(/^GgmPrf: key/);
    expect(() => ggmPrg(2 as 0, K)).to.throw(/^ggmPrg: bit/);
  });

  it("wipe() clears the cached path and refuses further use; results are copies", () => {
    const K = new Uint8Array(32).fill(1);
    const prf = new GgmPrf(K);
    const out = prf.evaluate(10n);
    out.fill(0);
    expect(prf.evaluate(10n)).to.deep.equal(ggmEvaluate(K, 10n));
    expect(K).to.deep.equal(new Uint8Array(32).fill(1)); // the caller's key is copied, not wiped
    prf.wipe();
    expect(() => prf.evaluate(10n)).to.throw(/^GgmPrf.evaluate: key material was wiped/);
  });

  it("interval seed K_{i,j}: 16 steps from it give messageTweak(K, j, k) for random (j, k)", () => {
    const intervalArb = fc.oneof(fc.constant(0), fc.constant(0xffffffff), fc.nat());
    const counterArb = fc.oneof(
      fc.constant(1),
      fc.constant(65535),
      fc.integer({ min: 1, max: 65535 }),
    );
    fc.assert(
      fc.property(keyArb, intervalArb, counterArb, (key, j, k) => {
        const seed = ggmIntervalSeed(key, j);
        expect(intervalMessageTweak(seed, k)).to.equal(messageTweak(key, j, k));
      }),
      { numRuns: 60 },
    );
    // The seed is the node after the 32 interval bits: one level per bit, bit 47 first.
    const K = new Uint8Array(32).fill(7);
    let s: Uint8Array = K;
    for (let i = 31; i >= 0; i--) s = ggmPrg(((5 >>> i) & 1) as 0 | 1, s);
    expect(ggmIntervalSeed(K, 5)).to.deep.equal(s);
    expect(() => ggmIntervalSeed(K, -1)).to.throw(/^ggmIntervalSeed: interval -1/);
    expect(() => ggmIntervalSeed(K, 2 ** 32)).to.throw(/^ggmIntervalSeed: interval/);
    expect(() => intervalMessageTweak(s, 0)).to.throw(/^intervalMessageTweak: counter 0/);
    expect(() => intervalMessageTweak(new Uint8Array(31), 1)).to.throw(/^intervalMessageTweak/);
  });
});
