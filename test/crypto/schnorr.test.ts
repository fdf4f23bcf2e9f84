// Schnorr signatures of DESIGN §4.3: properties in TypeScript (every backend) and on-chain
// (SchnorrVerifier through CryptoHarness), malformed-input rejection, and a 500 + 500 differential
// test of TypeScript signatures against the Solidity library.
import { secp256k1 as noble } from "@noble/curves/secp256k1.js";
import { expect } from "chai";
import fc from "fast-check";
import { network } from "hardhat";

import type { CryptoHarness } from "../../types/ethers-contracts/index.ts";

import { bytesToBigInt, u256 } from "../../offchain/crypto/bytes.ts";
import {
  schnorrSign,
  schnorrVerify,
  schnorrVerifyTweaked,
  schnorrVerifyWithSecret,
  type SchnorrSignature,
} from "../../offchain/crypto/schnorr.ts";
import { backends, CURVE_ORDER, FIELD_PRIME, secp } from "../../offchain/crypto/secp256k1.ts";
import { batchArgs, flipBit, harnessArgs, seededBytes, seededScalar } from "./support.ts";

const { ethers } = await network.create();

const scalarArb = fc.bigInt({ min: 1n, max: CURVE_ORDER - 1n });
const messageArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

type Field = "message" | "rAddr" | "y" | "key";
/** Flips one bit of one part of a signed statement. */
function tamper(
  field: Field,
  bit: number,
  pk: Uint8Array,
  msg: Uint8Array,
  sig: SchnorrSignature,
): { pk: Uint8Array; msg: Uint8Array; sig: SchnorrSignature } {
  switch (field) {
    case "message":
      return { pk, msg: flipBit(msg, bit % 256), sig };
    case "rAddr":
      return { pk, msg, sig: { ...sig, rAddr: flipBit(sig.rAddr, bit % 160) } };
    case "y":
      return { pk, msg, sig: { ...sig, y: bytesToBigInt(flipBit(u256(sig.y), bit % 256)) } };
    case "key":
      return { pk: flipBit(pk, bit % 264), msg, sig };
  }
}
const fieldArb = fc.constantFrom<Field>("message", "rAddr", "y", "key");

/** Valid compressed key encodings broken in every way DESIGN §4.3 lists. */
function malformedKeys(valid: Uint8Array): { what: string; pk: Uint8Array }[] {
  const withX = (prefix: number, x: bigint) => Uint8Array.from([prefix, ...u256(x)]);
  const x = bytesToBigInt(valid.subarray(1));
  const out = [0, 1, 4, 5, 6, 7, 0xff].map((p) => ({ what: `prefix ${p}`, pk: withX(p, x) }));
  // x with no curve point (x³ + 7 not a square mod p).
  let bad = 1n;
  while (isOnCurve(bad)) bad++;
  out.push(
    { what: "x not on curve", pk: withX(2, bad) },
    { what: "x not on curve (3)", pk: withX(3, bad) },
  );
  // x ≥ n: the smallest on-curve x in [n, p) (a real point the EVM form cannot take), n, p, 2^256−1.
  let big = CURVE_ORDER;
  while (!isOnCurve(big)) big++;
  out.push(
    { what: "x ≥ n on curve", pk: withX(2, big) },
    { what: "x = n", pk: withX(2, CURVE_ORDER) },
    { what: "x = p", pk: withX(3, FIELD_PRIME) },
    { what: "x = 2^256−1", pk: withX(2, (1n << 256n) - 1n) },
    { what: "x = 0", pk: withX(2, 0n) },
  );
  return out;
}
function isOnCurve(x: bigint): boolean {
  if (x >= FIELD_PRIME) return false;
  try {
    noble.Point.fromBytes(Uint8Array.from([2, ...u256(x)])).assertValidity();
    return true;
  } catch {
    return false;
  }
}

describe("Schnorr (DESIGN §4.3), TypeScript", () => {
  for (const backend of backends) {
    describe(`backend ${backend.name}`, () => {
      it("signs and verifies (round trip), with and without aux randomness", () => {
        fc.assert(
          fc.property(scalarArb, messageArb, fc.option(messageArb), (sk, msg, aux) => {
            const pk = backend.mulBase(sk, true);
            const sig = schnorrSign(sk, msg, { backend, aux: aux ?? undefined });
            expect(schnorrVerify(pk, msg, sig, backend)).to.equal(true);
            expect(schnorrVerifyWithSecret(sk, pk, msg, sig, backend)).to.equal(true);
          }),
          { numRuns: 100 },
        );
      });

      it("rejects any single-bit change of message, rAddr, y or key", () => {
        fc.assert(
          fc.property(scalarArb, messageArb, fieldArb, fc.nat(263), (sk, msg, field, bit) => {
            const pk = backend.mulBase(sk, true);
            const sig = schnorrSign(sk, msg, { backend });
            const t = tamper(field, bit, pk, msg, sig);
            expect(schnorrVerify(t.pk, t.msg, t.sig, backend), field).to.equal(false);
          }),
          { numRuns: 200 },
        );
      });

      it("schnorrVerifyWithSecret agrees with schnorrVerify on valid and tampered inputs", () => {
        fc.assert(
          fc.property(
            scalarArb,
            messageArb,
            fc.option(fc.tuple(fc.constantFrom<Field>("message", "rAddr", "y"), fc.nat(263))),
            (sk, msg, change) => {
              const pk = backend.mulBase(sk, true);
              let sig = schnorrSign(sk, msg, { backend });
              let m: Uint8Array = msg;
              if (change) ({ msg: m, sig } = tamper(change[0], change[1], pk, msg, sig));
              expect(schnorrVerifyWithSecret(sk, pk, m, sig, backend)).to.equal(
                schnorrVerify(pk, m, sig, backend),
              );
            },
          ),
          { numRuns: 100 },
        );
      });

      it("a key that is not the secret's (P ≠ z·G): both verifiers refuse, whoever signed", () => {
        fc.assert(
          fc.property(scalarArb, scalarArb, messageArb, fc.boolean(), (z, other, msg, bySigner) => {
            fc.pre(z !== other);
            const pk = backend.mulBase(z, true);
            const wrong = backend.mulBase(other, true);
            // Signed with z but presented under another key, or signed under that other key.
            const sig = schnorrSign(bySigner ? z : other, msg, { backend });
            expect(schnorrVerifyWithSecret(z, wrong, msg, sig, backend)).to.equal(false);
            expect(schnorrVerify(wrong, msg, sig, backend)).to.equal(!bySigner);
            expect(schnorrVerifyWithSecret(z, pk, msg, sig, backend)).to.equal(bySigner);
          }),
          { numRuns: 100 },
        );
      });

      it("schnorrVerifyTweaked (CC: B and t, never b) agrees with schnorrVerify under B + t·G", () => {
        fc.assert(
          fc.property(
            scalarArb,
            scalarArb,
            messageArb,
            fc.option(fc.tuple(fc.constantFrom<Field>("message", "rAddr", "y"), fc.nat(263))),
            (b, t, msg, change) => {
              const z = (b + t) % CURVE_ORDER;
              fc.pre(z !== 0n);
              const B = backend.mulBase(b, true);
              const pk = backend.addMulBase(B, t, true);
              expect(pk).to.deep.equal(backend.mulBase(z, true));
              let sig = schnorrSign(z, msg, { backend });
              let m: Uint8Array = msg;
              if (change) ({ msg: m, sig } = tamper(change[0], change[1], pk, msg, sig));
              expect(schnorrVerifyTweaked(B, t, pk, m, sig, backend)).to.equal(
                schnorrVerify(pk, m, sig, backend),
              );
            },
          ),
          { numRuns: 100 },
        );
      });

      it("schnorrVerifyTweaked refuses a key that is not B + t·G and a signer without b", () => {
        fc.assert(
          fc.property(scalarArb, scalarArb, scalarArb, messageArb, (b, t, other, msg) => {
            const z = (b + t) % CURVE_ORDER;
            fc.pre(z !== 0n && other !== z);
            const B = backend.mulBase(b, true);
            const wrong = backend.mulBase(other, true);
            // A signer who knows t but not b (the control center) signs under its own key.
            const sig = schnorrSign(other, msg, { backend });
            expect(schnorrVerify(wrong, msg, sig, backend)).to.equal(true);
            expect(schnorrVerifyTweaked(B, t, wrong, msg, sig, backend)).to.equal(false);
            // The right key presented, but signed by someone else.
            const pk = backend.mulBase(z, true);
            expect(schnorrVerifyTweaked(B, t, pk, msg, sig, backend)).to.equal(false);
          }),
          { numRuns: 60 },
        );
      });

      it("returns false (never throws) for malformed keys, y = 0, y ≥ n and a zero rAddr", () => {
        const sk = 0x1234567890abcdefn;
        const msg = new Uint8Array(32).fill(7);
        const pk = backend.mulBase(sk, true);
        const sig = schnorrSign(sk, msg, { backend });
        for (const { what, pk: bad } of malformedKeys(pk)) {
          expect(schnorrVerify(bad, msg, sig, backend), what).to.equal(false);
          expect(schnorrVerifyWithSecret(sk, bad, msg, sig, backend), what).to.equal(false);
        }
        for (const y of [0n, CURVE_ORDER, CURVE_ORDER + 1n, (1n << 256n) - 1n]) {
          expect(schnorrVerify(pk, msg, { ...sig, y }, backend), `y=${y}`).to.equal(false);
        }
        expect(schnorrVerify(pk, msg, { ...sig, rAddr: new Uint8Array(20) }, backend)).to.equal(
          false,
        );
        expect(schnorrVerify(pk.subarray(0, 32), msg, sig, backend)).to.equal(false);
        expect(schnorrVerify(pk, msg.subarray(1), sig, backend)).to.equal(false);
        expect(schnorrVerify(pk, msg, sig, backend)).to.equal(true); // the unbroken control
      });
    });
  }

  it("schnorrSign refuses malformed inputs with a prefixed error", () => {
    const msg = new Uint8Array(32);
    expect(() => schnorrSign(0n, msg)).to.throw(/^schnorrSign: /);
    expect(() => schnorrSign(CURVE_ORDER, msg)).to.throw(/^schnorrSign: /);
    expect(() => schnorrSign(1n, new Uint8Array(31))).to.throw(/schnorrSign: message/);
  });

  it("backends agree on a·G − b·P (native: one ECDSA recovery) and P + k·G, both parities", () => {
    fc.assert(
      fc.property(scalarArb, scalarArb, scalarArb, fc.boolean(), (p, a, b, compressed) => {
        fc.pre((p + a) % CURVE_ORDER !== 0n && (a - p * b) % CURVE_ORDER !== 0n);
        const P = backends[0].mulBase(p, true);
        const ref = backends[0].mulBaseSubMul(a, P, b, compressed);
        const diff = (((a - p * b) % CURVE_ORDER) + CURVE_ORDER) % CURVE_ORDER;
        expect(ref).to.deep.equal(noble.Point.BASE.multiply(diff).toBytes(compressed));
        const refAdd = backends[0].addMulBase(P, a, compressed);
        expect(refAdd).to.deep.equal(backends[0].mulBase((p + a) % CURVE_ORDER, compressed));
        for (const backend of backends) {
          expect(backend.mulBaseSubMul(a, P, b, compressed), backend.name).to.deep.equal(ref);
          expect(backend.addMulBase(P, a, compressed), backend.name).to.deep.equal(refAdd);
        }
      }),
      { numRuns: 100 },
    );
    for (const backend of backends) {
      // a·G − b·P at infinity throws; so does a point off the curve.
      const P = backend.mulBase(5n, true);
      expect(() => backend.mulBaseSubMul(10n, P, 2n, true)).to.throw(/infinity|mulBaseSubMul/);
      const off = Uint8Array.from(P);
      off[32] ^= 1;
      if (!backend.isValidPoint(off)) {
        expect(() => backend.mulBaseSubMul(1n, off, 1n, true)).to.throw(/mulBaseSubMul/);
      }
    }
  });

  it("backends produce identical signatures for the same key and message", () => {
    fc.assert(
      fc.property(scalarArb, messageArb, (sk, msg) => {
        const sigs = backends.map((backend) => schnorrSign(sk, msg, { backend }));
        for (const s of sigs) {
          expect(s.y).to.equal(sigs[0].y);
          expect(s.rAddr).to.deep.equal(sigs[0].rAddr);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe("Schnorr (DESIGN §4.3), on-chain SchnorrVerifier", () => {
  let harness: CryptoHarness;
  before(async () => {
    harness = await ethers.deployContract("CryptoHarness");
  });

  it("accepts TS signatures and rejects any single-bit change (50 runs)", async () => {
    await fc.assert(
      fc.asyncProperty(
        scalarArb,
        messageArb,
        fieldArb,
        fc.nat(263),
        async (sk, msg, field, bit) => {
          const pk = secp.mulBase(sk, true);
          const sig = schnorrSign(sk, msg);
          expect(await harness.tryVerify(...harnessArgs(pk, msg, sig))).to.equal(true);
          const t = tamper(field, bit, pk, msg, sig);
          expect(await harness.tryVerify(...harnessArgs(t.pk, t.msg, t.sig)), field).to.equal(
            false,
          );
        },
      ),
      { numRuns: 50 },
    );
  });

  it("returns false, never reverts, for malformed keys, y = 0, y ≥ n and a zero rAddr", async () => {
    const sk = 0x1234567890abcdefn;
    const msg = new Uint8Array(32).fill(7);
    const pk = secp.mulBase(sk, true);
    const sig = schnorrSign(sk, msg);
    const rows = malformedKeys(pk).map(({ pk: bad }) => harnessArgs(bad, msg, sig));
    for (const y of [0n, CURVE_ORDER, (1n << 256n) - 1n])
      rows.push(harnessArgs(pk, msg, { ...sig, y }));
    rows.push(harnessArgs(pk, msg, { ...sig, rAddr: new Uint8Array(20) }));
    for (const row of rows) expect(await harness.tryVerify(...row)).to.equal(false);
    expect(await harness.tryVerifyBatch(...batchArgs(rows))).to.deep.equal(rows.map(() => false));
    // The reverting form reverts with the library's custom error.
    await expect(harness.verify(...rows[0])).to.be.revertedWithCustomError(
      harness,
      "SchnorrVerifierInvalidSignature",
    );
    expect(await harness.tryVerify(...harnessArgs(pk, msg, sig))).to.equal(true);
  });

  it("differential: 500 seeded TS signatures verify on-chain, 500 tampered ones do not", async () => {
    const random = seededBytes("GridLedger/test/schnorr-differential");
    const fields: Field[] = ["message", "rAddr", "y", "key"];
    const valid: ReturnType<typeof harnessArgs>[] = [];
    const tampered: ReturnType<typeof harnessArgs>[] = [];
    for (let i = 0; i < 500; i++) {
      const sk = seededScalar(random);
      const msg = random(32);
      const pk = secp.mulBase(sk, true);
      const sig = schnorrSign(sk, msg, { publicKey: pk });
      valid.push(harnessArgs(pk, msg, sig));
      const bit = random(2);
      const t = tamper(fields[i % 4], (bit[0] << 8) | bit[1], pk, msg, sig);
      expect(schnorrVerify(t.pk, t.msg, t.sig)).to.equal(false);
      tampered.push(harnessArgs(t.pk, t.msg, t.sig));
    }
    for (let start = 0; start < 500; start += 250) {
      const ok: boolean[] = await harness.tryVerifyBatch(
        ...batchArgs(valid.slice(start, start + 250)),
      );
      expect(ok.filter((v) => v).length, "valid accepted").to.equal(250);
      const bad: boolean[] = await harness.tryVerifyBatch(
        ...batchArgs(tampered.slice(start, start + 250)),
      );
      expect(bad.filter((v) => v).length, "tampered accepted").to.equal(0);
    }
  });

  it("tryVerifyBatch rejects arrays of different lengths", async () => {
    await expect(
      harness.tryVerifyBatch([2], [1n], [], [ethers.ZeroAddress], [1n]),
    ).to.be.revertedWithCustomError(harness, "CryptoHarnessLengthMismatch");
  });

  it("costs at most 5,000 gas per verification (verifyGas)", async () => {
    const sk = 0xabcdefn;
    const msg = new Uint8Array(32).fill(1);
    const pk = secp.mulBase(sk, true);
    const [valid, gasUsed] = await harness.verifyGas(...harnessArgs(pk, msg, schnorrSign(sk, msg)));
    expect(valid).to.equal(true);
    expect(Number(gasUsed)).to.be.greaterThan(3000).and.at.most(5000); // ecrecover alone is 3,000
  });
});
