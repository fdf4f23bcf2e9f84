// Differential test of contracts/libraries/BLS12381.sol (EIP-2537) against offchain/crypto/bls.ts
// (noble): hash-to-G2, single and aggregate verification, proofs of possession, malformed points.
import { readFileSync } from "node:fs";

import { bytesToHex, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { bls12_381 } from "@noble/curves/bls12-381.js";
import { expect } from "chai";
import { network } from "hardhat";

import {
  BLS_DST_POP,
  BLS_DST_SIG,
  BLS_R,
  blsAggregateSignatures,
  blsHashToG2,
  blsProvePossession,
  blsPublicKey,
  blsSign,
  g1ToEip2537,
  g2ToEip2537,
} from "../../offchain/crypto/bls.ts";

const { ethers } = await network.create();
const vectors = JSON.parse(readFileSync(new URL("../vectors/bls.json", import.meta.url), "utf8"));
const h = (x: Uint8Array): string => "0x" + bytesToHex(x);
const dst = (s: string): string => h(utf8ToBytes(s));

// Deterministic pseudo-random keys and messages (xorshift), so a failure reproduces.
let state = 0x2545f4914f6cdd1dn;
function next(): bigint {
  state ^= (state << 13n) & 0xffffffffffffffffn;
  state ^= state >> 7n;
  state ^= (state << 17n) & 0xffffffffffffffffn;
  return state;
}
const randomSk = (): bigint =>
  (((next() << 192n) | (next() << 128n) | (next() << 64n) | next()) % (BLS_R - 1n)) + 1n;
const randomMsg = (): Uint8Array =>
  Uint8Array.from({ length: Number(next() % 120n) }, () => Number(next() & 0xffn));

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

describe("BLS12381 library (on-chain, EIP-2537)", () => {
  async function deploy() {
    return ethers.deployContract("BLSHarness");
  }

  describe("hash to G2", () => {
    it("equals RFC 9380 J.10.1 for the empty message under the QUUX DST (external vector)", async () => {
      const harness = await deploy();
      const v = vectors.rfc9380;
      const pad = (x: string): string => x.replace(/^0x/, "").padStart(128, "0");
      const expected = "0x" + pad(v.x.c0) + pad(v.x.c1) + pad(v.y.c0) + pad(v.y.c1);
      expect(await harness.hashToG2("0x", dst(v.dst))).to.equal(expected);
    });

    it("equals noble's hashToCurve for the vector messages and random ones, under both DSTs", async () => {
      const harness = await deploy();
      for (const v of vectors.hashToG2)
        expect(await harness.hashToG2(v.msg, dst(BLS_DST_SIG))).to.equal(v.point);
      for (let i = 0; i < 6; i++) {
        const m = randomMsg();
        expect(await harness.hashToG2(h(m), dst(BLS_DST_SIG))).to.equal(
          h(g2ToEip2537(blsHashToG2(m))),
        );
        expect(await harness.hashToG2(h(m), dst(BLS_DST_POP))).to.equal(
          h(g2ToEip2537(blsHashToG2(m, BLS_DST_POP))),
        );
      }
    });

    it("rejects a DST longer than 255 bytes", async () => {
      const harness = await deploy();
      await expect(harness.hashToG2("0x", h(new Uint8Array(256).fill(0x41))))
        .to.be.revertedWithCustomError(harness, "BLS12381DstTooLong")
        .withArgs(256);
    });
  });

  describe("verify", () => {
    it("accepts every signature vector", async () => {
      const harness = await deploy();
      for (const v of vectors.signatures) {
        expect(await harness.verify(v.pkEip2537, v.msg, v.sigEip2537)).to.equal(true);
        expect(await harness.tryVerify(v.pkEip2537, v.msg, v.sigEip2537)).to.equal(true);
      }
    });

    it("accepts random noble signatures and rejects tampered message, key and signature", async () => {
      const harness = await deploy();
      for (let i = 0; i < 5; i++) {
        const sk = randomSk();
        const msg = randomMsg();
        const pk = h(g1ToEip2537(blsPublicKey(sk)));
        const sig = h(g2ToEip2537(blsSign(sk, msg)));
        expect(await harness.verify(pk, h(msg), sig)).to.equal(true);
        const tamperedMsg =
          msg.length > 0
            ? flipBit(msg, Number(next() % BigInt(msg.length * 8)))
            : new Uint8Array([0]);
        expect(await harness.verify(pk, h(tamperedMsg), sig)).to.equal(false);
        const otherPk = h(g1ToEip2537(blsPublicKey(randomSk())));
        expect(await harness.verify(otherPk, h(msg), sig)).to.equal(false);
        const otherSig = h(g2ToEip2537(blsSign(sk, utf8ToBytes("another message"))));
        expect(await harness.verify(pk, h(msg), otherSig)).to.equal(false);
        expect(await harness.tryVerify(otherPk, h(msg), sig)).to.equal(false);
      }
    });

    describe("malformed points", () => {
      const sk = 0xabcdefn;
      const msg = utf8ToBytes("GridLedger");
      const pk = g1ToEip2537(blsPublicKey(sk));
      const sig = g2ToEip2537(blsSign(sk, msg));
      const cases: [string, Uint8Array, Uint8Array][] = [
        ["key of wrong length", pk.slice(0, 127), sig],
        ["signature of wrong length", pk, sig.slice(0, 255)],
        ["key off the curve", flipBit(pk, 127 * 8), sig],
        ["signature off the curve", pk, flipBit(sig, 255 * 8)],
        ["key with non-zero padding", flipBit(pk, 0), sig],
        ["identity key with identity signature", new Uint8Array(128), new Uint8Array(256)],
      ];
      for (const [name, badPk, badSig] of cases) {
        it(`${name}: tryVerify returns false and verify reverts`, async () => {
          const harness = await deploy();
          expect(await harness.tryVerify(h(badPk), h(msg), h(badSig))).to.equal(false);
          await expect(harness.verify(h(badPk), h(msg), h(badSig))).to.be.revertedWithCustomError(
            harness,
            "BLS12381InvalidPoint",
          );
        });
      }

      // A point of E(Fp) outside the prime-order subgroup: the smallest x with x³ + 4 a square whose
      // point is not torsion-free (the cofactor of G1 is not 1, so such x exist).
      it("a key on the curve but outside the G1 subgroup is rejected", async () => {
        const harness = await deploy();
        const { bls12_381 } = await import("@noble/curves/bls12-381.js");
        const Fp = bls12_381.fields.Fp;
        let x = 1n;
        let point: Uint8Array | undefined;
        for (; point === undefined; x++) {
          const rhs = Fp.add(Fp.pow(x, 3n), 4n);
          let y: bigint;
          try {
            y = Fp.sqrt(rhs);
          } catch {
            continue;
          }
          const candidate = bls12_381.G1.Point.fromAffine({ x, y });
          if (candidate.isTorsionFree()) continue;
          point = new Uint8Array(128);
          point.set(hexToBytes(x.toString(16).padStart(96, "0")), 16);
          point.set(hexToBytes(y.toString(16).padStart(96, "0")), 80);
        }
        expect(await harness.tryVerify(h(point), h(msg), h(sig))).to.equal(false);
        await expect(harness.verify(h(point), h(msg), h(sig))).to.be.revertedWithCustomError(
          harness,
          "BLS12381InvalidPoint",
        );
      });
    });
  });

  describe("aggregate verification (same message)", () => {
    it("accepts the vector and random aggregates; rejects a missing or extra signer", async () => {
      const harness = await deploy();
      const a = vectors.aggregate;
      const pksEip = a.pks.map((pk: string) => h(g1ToEip2537(hexToBytes(pk.slice(2)))));
      const aggEip = h(g2ToEip2537(hexToBytes(a.aggSig.slice(2))));
      expect(await harness.verifyAggregateSameMessage(pksEip, a.msg, aggEip)).to.equal(true);

      const sks = [randomSk(), randomSk(), randomSk(), randomSk()];
      const msg = randomMsg();
      const pks = sks.map((sk) => h(g1ToEip2537(blsPublicKey(sk))));
      const agg = h(g2ToEip2537(blsAggregateSignatures(sks.map((sk) => blsSign(sk, msg)))));
      expect(await harness.verifyAggregateSameMessage(pks, h(msg), agg)).to.equal(true);
      expect(await harness.tryVerifyAggregateSameMessage(pks, h(msg), agg)).to.equal(true);
      expect(await harness.verifyAggregateSameMessage(pks.slice(1), h(msg), agg)).to.equal(false);
      const extra = [...pks, h(g1ToEip2537(blsPublicKey(randomSk())))];
      expect(await harness.verifyAggregateSameMessage(extra, h(msg), agg)).to.equal(false);
    });

    it("rejects an empty list, an identity key and keys summing to the identity", async () => {
      const harness = await deploy();
      const sk = 77n;
      const msg = utf8ToBytes("m");
      const pk = h(g1ToEip2537(blsPublicKey(sk)));
      const negPk = h(g1ToEip2537(blsPublicKey(BLS_R - sk)));
      const sig = h(g2ToEip2537(blsSign(sk, msg)));
      await expect(
        harness.verifyAggregateSameMessage([], h(msg), sig),
      ).to.be.revertedWithCustomError(harness, "BLS12381NoPublicKeys");
      expect(await harness.tryVerifyAggregateSameMessage([], h(msg), sig)).to.equal(false);
      expect(
        await harness.tryVerifyAggregateSameMessage([pk, h(new Uint8Array(128))], h(msg), sig),
      ).to.equal(false);
      // Σ = identity would accept the identity signature on any message without this check.
      expect(
        await harness.tryVerifyAggregateSameMessage([pk, negPk], h(msg), h(new Uint8Array(256))),
      ).to.equal(false);
      await expect(
        harness.verifyAggregateSameMessage([pk, negPk], h(msg), h(new Uint8Array(256))),
      ).to.be.revertedWithCustomError(harness, "BLS12381InvalidPoint");
    });
  });

  describe("proof of possession", () => {
    it("compresses keys exactly like noble", async () => {
      const harness = await deploy();
      for (const v of vectors.possession)
        expect(await harness.compressG1(v.pkEip2537)).to.equal(v.pk);
    });

    it("compresses G2 points (signatures) exactly like noble: both y signs, y.c1 = 0, identity", async () => {
      const harness = await deploy();
      // Random signatures cover both sign flags; −σ flips the flag of the same x.
      for (let i = 0; i < 8; i++) {
        const sig = blsSign(randomSk(), randomMsg());
        expect(await harness.compressG2(h(g2ToEip2537(sig)))).to.equal(h(sig));
        const neg = bls12_381.G2.Point.fromBytes(sig).negate().toBytes(true);
        expect(await harness.compressG2(h(g2ToEip2537(neg)))).to.equal(h(neg));
      }
      // y.c1 = 0: the sign comes from y.c0 (a point with y in Fp; here crafted bytes, not on the
      // curve: the encoder does not validate, the precompiles do).
      const yc1Zero = new Uint8Array(256);
      yc1Zero[191] = 1; // y.c0 = 1 ≤ (p − 1)/2: no sign flag
      yc1Zero[63] = 7; // x.c0 = 7
      const expected = new Uint8Array(96);
      expected[0] = 0x80;
      expected[95] = 7;
      expect(await harness.compressG2(h(yc1Zero))).to.equal(h(expected));
      // y.c0 = p − 1 > (p − 1)/2: sign flag set.
      const pMinus1 = hexToBytes(
        "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaaa",
      );
      yc1Zero.set(pMinus1, 128 + 16);
      expected[0] = 0xa0;
      expect(await harness.compressG2(h(yc1Zero))).to.equal(h(expected));
      const identity = new Uint8Array(96);
      identity[0] = 0xc0;
      expect(await harness.compressG2(h(new Uint8Array(256)))).to.equal(h(identity));
      await expect(harness.compressG2(h(new Uint8Array(255)))).to.be.revertedWithCustomError(
        harness,
        "BLS12381InvalidPoint",
      );
    });

    it("accepts every PoP vector and rejects a signature under the wrong DST or another key's PoP", async () => {
      const harness = await deploy();
      for (const v of vectors.possession) {
        expect(await harness.verifyPossession(v.pkEip2537, v.popEip2537)).to.equal(true);
        expect(await harness.tryVerifyPossession(v.pkEip2537, v.popEip2537)).to.equal(true);
      }
      const sk = randomSk();
      const pk = blsPublicKey(sk);
      const sigDst = h(g2ToEip2537(blsSign(sk, pk)));
      expect(await harness.verifyPossession(h(g1ToEip2537(pk)), sigDst)).to.equal(false);
      const otherPop = h(g2ToEip2537(blsProvePossession(randomSk())));
      expect(await harness.verifyPossession(h(g1ToEip2537(pk)), otherPop)).to.equal(false);
      expect(
        await harness.tryVerifyPossession(h(new Uint8Array(128)), h(new Uint8Array(256))),
      ).to.equal(false);
    });
  });
});
