import { bls12_381 } from "@noble/curves/bls12-381.js";
import { expect } from "chai";
import fc from "fast-check";

import { BbnpInputError } from "../../offchain/protocol/bbnp/errors.ts";
import { roundGraph } from "../../offchain/protocol/bbnp/graph.ts";
import {
  auiMask,
  blindingKey,
  blindingTerm,
  maskReading,
  pairKey,
  sessionKeyBytes,
  sessionScalar,
  unmaskSum,
} from "../../offchain/protocol/bbnp/masking.ts";
import {
  BBNP_ORDER,
  decodeG1,
  dhPoint,
  dhPointFromScalars,
  encodeG1,
  mod,
  publicKey,
} from "../../offchain/protocol/bbnp/params.ts";
import { deterministicRandom } from "./fixtures.ts";

const G1 = bls12_381.G1.Point;

describe("bbnp masking math (DESIGN §4.7)", () => {
  it("enc(P) equals noble's 48-byte compressed encoding and round-trips", () => {
    const rnd = deterministicRandom("enc");
    for (let i = 0; i < 5; i++) {
      const p = G1.BASE.multiply(rnd.randomScalar());
      expect(encodeG1(p)).to.deep.equal(p.toBytes(true));
      expect(decodeG1(encodeG1(p)).equals(p)).to.equal(true);
    }
  });

  it("DH is symmetric and the TA shortcut equals the parties' own DH", () => {
    const rnd = deterministicRandom("dh");
    const a = rnd.randomScalar();
    const b = rnd.randomScalar();
    const ab = dhPoint(a, publicKey(b));
    expect(dhPoint(b, publicKey(a))).to.deep.equal(ab);
    expect(dhPointFromScalars(a, b)).to.deep.equal(ab);
    expect(pairKey(ab, 3, 9)).to.deep.equal(pairKey(ab, 9, 3));
  });

  it("property: all masks cancel and the unmasked sum is Σ m_i (random N, h, rounds, readings)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 60 }),
        fc.integer({ min: 1, max: 6 }).map((x) => 2 * x),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(fc.bigInt({ min: 0n, max: 1n << 32n }), { minLength: 60, maxLength: 60 }),
        (n, h, round, seed, readings) => {
          // Pair keys stand in for DH outputs: cancellation must hold for any symmetric keys.
          const key = (a: number, b: number): Uint8Array =>
            pairKey(encodeG1(G1.BASE), Math.min(a, b), Math.max(a, b));
          const graph = roundGraph(n, h, seed);
          const blindings = Array.from({ length: n }, (_, i) =>
            blindingTerm(blindingKey(BigInt(i + 1) * 0x1234567n + 1n), round),
          );
          const gatewayBlinding = mod(-blindings.reduce((x, y) => x + y, 0n));
          let sumC = 0n;
          let sumK = 0n;
          let maskTotal = 0n;
          for (let i = 0; i < n; i++) {
            const masks = graph.neighboursOf(i).map((b) => auiMask(key(i, b), i, b, round));
            maskTotal += masks.reduce((x, y) => x + y, 0n);
            const k = sessionScalar(sessionKeyBytes(encodeG1(G1.BASE), i, 0xffffffff, round));
            sumK += k;
            sumC += maskReading({
              reading: readings[i],
              sessionScalar: k,
              masks,
              blinding: blindings[i],
            });
          }
          expect(mod(maskTotal)).to.equal(0n);
          const sum = unmaskSum({
            sumMasked: sumC,
            sumSessionScalars: sumK,
            gatewayBlinding,
            revealedMasks: 0n,
            dropoutCorrection: 0n,
          });
          expect(sum).to.equal(readings.slice(0, n).reduce((x, y) => x + y, 0n));
        },
      ),
      { numRuns: 40 },
    );
  });

  it("β_i(t) is a round-t PRF output: it differs across rounds and users, and b_i ≠ s_i", () => {
    const b1 = blindingKey(12345n);
    const b2 = blindingKey(12346n);
    expect(blindingTerm(b1, 5n)).to.not.equal(blindingTerm(b1, 6n));
    expect(blindingTerm(b1, 5n)).to.not.equal(blindingTerm(b2, 5n));
    expect(blindingTerm(b1, 5n)).to.be.below(BBNP_ORDER);
    expect(() => blindingKey(0n)).to.throw(BbnpInputError, /blindingKey/);
    expect(() => blindingTerm(new Uint8Array(31), 1n)).to.throw(BbnpInputError, /32 bytes/);
  });

  it("AUI_{a,b}(t) = −AUI_{b,a}(t) and differs across rounds", () => {
    const k = pairKey(encodeG1(G1.BASE), 1, 2);
    expect(mod(auiMask(k, 1, 2, 5n) + auiMask(k, 2, 1, 5n))).to.equal(0n);
    expect(auiMask(k, 1, 2, 5n)).to.not.equal(auiMask(k, 1, 2, 6n));
    expect(auiMask(k, 1, 2, 5n)).to.be.below(BBNP_ORDER);
  });
});
