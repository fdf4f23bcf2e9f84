// Off-chain BLS (offchain/crypto/bls.ts, DESIGN §4.8): known answers, properties, malformed input.
import { readFileSync } from "node:fs";

import { bls12_381 } from "@noble/curves/bls12-381.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { expect } from "chai";
import fc from "fast-check";

import {
  BLS_DST_POP,
  BLS_R,
  blsAggregatePublicKeys,
  blsAggregateSignatures,
  blsHashToG2,
  blsProvePossession,
  blsPublicKey,
  blsRandomSecretKey,
  blsSign,
  blsVerify,
  blsVerifyAggregateSameMessage,
  blsVerifyPossession,
  eip2537ToG1,
  eip2537ToG2,
  g1ToEip2537,
  g2ToEip2537,
} from "../../offchain/crypto/bls.ts";
import {
  aggregationDomain,
  bbnpRoundMessage,
  bbnpSignRound,
  bbnpVerifyRound,
} from "../../offchain/protocol/aggregation.ts";

const vectors = JSON.parse(readFileSync(new URL("../vectors/bls.json", import.meta.url), "utf8"));
const b = (h: string): Uint8Array => hexToBytes(h.replace(/^0x/, ""));
const h = (x: Uint8Array): string => "0x" + bytesToHex(x);

const arbSk = fc.bigInt({ min: 1n, max: BLS_R - 1n });
const arbMsg = fc.uint8Array({ maxLength: 200 });

describe("bls (off-chain)", () => {
  describe("known answers (test/vectors/bls.json)", () => {
    it("reproduces every public key, signature and EIP-2537 encoding", () => {
      for (const v of vectors.signatures) {
        const sk = BigInt(v.sk);
        expect(h(blsPublicKey(sk))).to.equal(v.pk);
        expect(h(g1ToEip2537(blsPublicKey(sk)))).to.equal(v.pkEip2537);
        expect(h(blsSign(sk, b(v.msg)))).to.equal(v.sig);
        expect(h(g2ToEip2537(b(v.sig)))).to.equal(v.sigEip2537);
        expect(blsVerify(b(v.pk), b(v.msg), b(v.sig))).to.equal(true);
      }
    });

    it("reproduces hash-to-G2 and proofs of possession", () => {
      for (const v of vectors.hashToG2)
        expect(h(g2ToEip2537(blsHashToG2(b(v.msg))))).to.equal(v.point);
      for (const v of vectors.possession) {
        expect(h(blsProvePossession(BigInt(v.sk)))).to.equal(v.pop);
        expect(blsVerifyPossession(b(v.pk), b(v.pop))).to.equal(true);
      }
    });

    it("matches RFC 9380 J.10.1 hash_to_curve of the empty message (external vector)", () => {
      const p = bls12_381.G2.hashToCurve(new Uint8Array(0), {
        DST: vectors.rfc9380.dst,
      }).toAffine();
      expect(p.x.c0).to.equal(BigInt(vectors.rfc9380.x.c0));
      expect(p.x.c1).to.equal(BigInt(vectors.rfc9380.x.c1));
      expect(p.y.c0).to.equal(BigInt(vectors.rfc9380.y.c0));
      expect(p.y.c1).to.equal(BigInt(vectors.rfc9380.y.c1));
    });

    it("reproduces the aggregate vector", () => {
      const a = vectors.aggregate;
      expect(h(blsAggregatePublicKeys(a.pks.map(b)))).to.equal(a.aggPk);
      expect(blsVerifyAggregateSameMessage(a.pks.map(b), b(a.msg), b(a.aggSig))).to.equal(true);
      expect(blsVerify(b(a.aggPk), b(a.msg), b(a.aggSig))).to.equal(true);
    });

    it("reproduces the aggregation domain", () => {
      const d = vectors.aggregationDomain;
      expect(h(aggregationDomain(BigInt(d.chainId), d.ledger))).to.equal(d.domain);
    });
  });

  describe("properties", () => {
    it("sign then verify accepts; another message, key or DST rejects", () => {
      fc.assert(
        fc.property(arbSk, arbSk, arbMsg, arbMsg, (sk, sk2, m, m2) => {
          fc.pre(sk !== sk2 && bytesToHex(m) !== bytesToHex(m2));
          const sig = blsSign(sk, m);
          return (
            blsVerify(blsPublicKey(sk), m, sig) &&
            !blsVerify(blsPublicKey(sk), m2, sig) &&
            !blsVerify(blsPublicKey(sk2), m, sig)
          );
        }),
        { numRuns: 8 },
      );
    });

    it("a flipped bit anywhere in the signature or key is rejected without throwing", () => {
      fc.assert(
        fc.property(
          arbSk,
          arbMsg,
          fc.nat(96 * 8 - 1),
          fc.nat(48 * 8 - 1),
          (sk, m, sigBit, pkBit) => {
            const sig = blsSign(sk, m);
            const pk = blsPublicKey(sk);
            const badSig = sig.slice();
            badSig[sigBit >> 3] ^= 1 << (sigBit & 7);
            const badPk = pk.slice();
            badPk[pkBit >> 3] ^= 1 << (pkBit & 7);
            return !blsVerify(pk, m, badSig) && !blsVerify(badPk, m, sig);
          },
        ),
        { numRuns: 8 },
      );
    });

    it("aggregate of n signatures verifies against the n keys and not against n−1", () => {
      fc.assert(
        fc.property(fc.uniqueArray(arbSk, { minLength: 2, maxLength: 4 }), arbMsg, (sks, m) => {
          // Keys summing to 0 mod r sign to the identity, which aggregation refuses (next test);
          // fast-check found {1, r − 1}.
          fc.pre(sks.reduce((a, b) => a + b, 0n) % BLS_R !== 0n);
          const pks = sks.map(blsPublicKey);
          const agg = blsAggregateSignatures(sks.map((sk) => blsSign(sk, m)));
          return (
            blsVerifyAggregateSameMessage(pks, m, agg) &&
            !blsVerifyAggregateSameMessage(pks.slice(1), m, agg)
          );
        }),
        { numRuns: 4 },
      );
    });

    it("keys summing to 0 mod r: their signatures and keys aggregate to the identity and are refused by name", () => {
      const sks = [1n, BLS_R - 1n];
      const m = new TextEncoder().encode("identity");
      expect(() => blsAggregateSignatures(sks.map((sk) => blsSign(sk, m)))).to.throw(
        RangeError,
        "signatures sum to the identity",
      );
      expect(() => blsAggregatePublicKeys(sks.map(blsPublicKey))).to.throw(
        RangeError,
        "keys sum to the identity",
      );
      expect(blsVerifyAggregateSameMessage(sks.map(blsPublicKey), m, blsSign(1n, m))).to.equal(
        false,
      );
    });

    it("EIP-2537 encodings round-trip", () => {
      fc.assert(
        fc.property(arbSk, arbMsg, (sk, m) => {
          const pk = blsPublicKey(sk);
          const sig = blsSign(sk, m);
          return (
            bytesToHex(eip2537ToG1(g1ToEip2537(pk))) === bytesToHex(pk) &&
            bytesToHex(eip2537ToG2(g2ToEip2537(sig))) === bytesToHex(sig)
          );
        }),
        { numRuns: 8 },
      );
    });
  });

  describe("proof of possession", () => {
    it("is a signature under the PoP DST, not under the signature DST", () => {
      const sk = 0x1234n;
      const pk = blsPublicKey(sk);
      const pop = blsProvePossession(sk);
      expect(h(pop)).to.equal(
        h(bls12_381.G2.hashToCurve(pk, { DST: BLS_DST_POP }).multiply(sk).toBytes(true)),
      );
      expect(blsVerify(pk, pk, pop)).to.equal(false);
      expect(blsVerifyPossession(pk, blsSign(sk, pk))).to.equal(false);
      expect(blsVerifyPossession(blsPublicKey(sk + 1n), pop)).to.equal(false);
    });
  });

  describe("malformed input", () => {
    const sk = 42n;
    const pk = blsPublicKey(sk);
    const msg = new Uint8Array([1, 2, 3]);
    const sig = blsSign(sk, msg);

    it("rejects secret keys outside [1, r−1] with the function's name", () => {
      for (const bad of [0n, BLS_R, -1n]) {
        expect(() => blsPublicKey(bad)).to.throw(RangeError, /^blsPublicKey:/);
        expect(() => blsSign(bad, msg)).to.throw(RangeError, /^blsSign:/);
        expect(() => blsProvePossession(bad)).to.throw(RangeError, /^blsProvePossession:/);
      }
    });

    it("verify returns false (never throws) on wrong lengths, identity and garbage", () => {
      const identityPk = new Uint8Array(48);
      identityPk[0] = 0xc0;
      const identitySig = new Uint8Array(96);
      identitySig[0] = 0xc0;
      expect(blsVerify(pk.slice(0, 47), msg, sig)).to.equal(false);
      expect(blsVerify(pk, msg, sig.slice(0, 95))).to.equal(false);
      expect(blsVerify(identityPk, msg, identitySig)).to.equal(false);
      expect(blsVerify(pk, msg, identitySig)).to.equal(false);
      expect(blsVerify(new Uint8Array(48).fill(0xff), msg, sig)).to.equal(false);
      expect(blsVerify(pk, msg, new Uint8Array(96).fill(0xff))).to.equal(false);
      expect(blsVerifyAggregateSameMessage([], msg, sig)).to.equal(false);
      expect(blsVerifyPossession(identityPk, identitySig)).to.equal(false);
    });

    it("refuses keys that sum to the identity (BBNP: S_g = −Σ S_i)", () => {
      const negPk = blsPublicKey(BLS_R - sk);
      expect(() => blsAggregatePublicKeys([pk, negPk])).to.throw(
        RangeError,
        /^blsAggregatePublicKeys:/,
      );
      expect(blsVerifyAggregateSameMessage([pk, negPk], msg, sig)).to.equal(false);
    });

    it("EIP-2537 decoders refuse padding, coordinates ≥ p, off-curve points and the identity", () => {
      const enc = g1ToEip2537(pk);
      const padded = enc.slice();
      padded[0] = 1;
      expect(() => eip2537ToG1(padded)).to.throw(RangeError, /^eip2537ToG1:/);
      const offCurve = enc.slice();
      offCurve[127] ^= 1;
      expect(() => eip2537ToG1(offCurve)).to.throw(RangeError, /^eip2537ToG1:/);
      expect(() => eip2537ToG1(new Uint8Array(128))).to.throw(RangeError, /^eip2537ToG1:/);
      expect(() => eip2537ToG2(new Uint8Array(256))).to.throw(RangeError, /^eip2537ToG2:/);
      const big = enc.slice();
      big.fill(0xff, 16, 64);
      expect(() => eip2537ToG1(big)).to.throw(RangeError, /^eip2537ToG1:/);
      const enc2 = g2ToEip2537(sig);
      enc2[255] ^= 1;
      expect(() => eip2537ToG2(enc2)).to.throw(RangeError, /^eip2537ToG2:/);
      expect(() => g1ToEip2537(new Uint8Array(47))).to.throw(RangeError, /^g1ToEip2537:/);
    });

    it("blsRandomSecretKey uses the injected randomness and retries on zero", () => {
      let calls = 0;
      const sk = blsRandomSecretKey((n) => {
        calls++;
        const out = new Uint8Array(n);
        if (calls > 1) out[n - 1] = 7;
        return out;
      });
      expect(sk).to.equal(7n);
      expect(calls).to.equal(2);
    });
  });

  describe("aggregation protocol encodings", () => {
    const domain = aggregationDomain(1n, "0x" + "11".repeat(20));

    it("the round message is domain ‖ u64 round ‖ u256 sum ‖ u32 reporters", () => {
      const m = bbnpRoundMessage(domain, 0x0102n, 0x0304n, 0x0506);
      expect(m.length).to.equal(76);
      expect(h(m)).to.equal(h(domain) + "0000000000000102" + "0304".padStart(64, "0") + "00000506");
    });

    it("validates its inputs with the function name", () => {
      expect(() => bbnpRoundMessage(domain.slice(1), 1n, 1n, 10)).to.throw(/^bbnpRoundMessage:/);
      expect(() => bbnpRoundMessage(domain, 1n << 64n, 1n, 10)).to.throw(/^bbnpRoundMessage:/);
      expect(() => bbnpRoundMessage(domain, 1n, BLS_R, 10)).to.throw(/^bbnpRoundMessage:/);
      expect(() => bbnpRoundMessage(domain, 1n, 1n, -1)).to.throw(/^bbnpRoundMessage:/);
      expect(() => bbnpRoundMessage(domain, 1n, 1n, 2 ** 32)).to.throw(/^bbnpRoundMessage:/);
      expect(() => bbnpRoundMessage(domain, 1n, 1n, 1.5)).to.throw(/^bbnpRoundMessage:/);
      expect(() => aggregationDomain(1n, "0x12")).to.throw(/^aggregationDomain:/);
      expect(() => aggregationDomain(-1n, "0x" + "11".repeat(20))).to.throw(/^aggregationDomain:/);
    });

    it("a round signature verifies for its round, sum, count of reporters and domain only", () => {
      const sk = 99n;
      const pk = blsPublicKey(sk);
      const sig = bbnpSignRound(sk, domain, 5n, 1000n, 12);
      expect(bbnpVerifyRound(pk, domain, 5n, 1000n, 12, sig)).to.equal(true);
      expect(bbnpVerifyRound(pk, domain, 6n, 1000n, 12, sig)).to.equal(false);
      expect(bbnpVerifyRound(pk, domain, 5n, 1001n, 12, sig)).to.equal(false);
      expect(bbnpVerifyRound(pk, domain, 5n, 1000n, 13, sig)).to.equal(false);
      expect(
        bbnpVerifyRound(pk, aggregationDomain(2n, "0x" + "11".repeat(20)), 5n, 1000n, 12, sig),
      ).to.equal(false);
      expect(bbnpVerifyRound(pk, domain, 5n, BLS_R, 12, sig)).to.equal(false);
      expect(bbnpVerifyRound(pk, domain, 5n, 1000n, -1, sig)).to.equal(false);
    });
  });
});
