// Known-answer vectors of DESIGN §4.1–4.5 (test/vectors/crypto.json, `npm run vectors`): every
// vector is recomputed by the TypeScript code with every secp256k1 backend, the Schnorr and entry
// digest vectors also on-chain through CryptoHarness, and every value is cross-checked against an
// independent computation (plain node:crypto, noble points, ethers' keccak/address helpers) so the
// file is not merely self-consistent.
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

import { schnorr as nobleSchnorr, secp256k1 as noble } from "@noble/curves/secp256k1.js";
import { expect } from "chai";
import { network } from "hardhat";

import { bytesToBigInt, bytesToHex, hexToBytes, toHex0x } from "../../offchain/crypto/bytes.ts";
import {
  deriveMessageKey,
  ggmEvaluate,
  GgmPrf,
  MessageKeyDeriver,
  messagePublicKey,
} from "../../offchain/crypto/ggm.ts";
import { h1, h3, taggedHash } from "../../offchain/crypto/hash.ts";
import { keyPairFromSecret } from "../../offchain/crypto/keys.ts";
import {
  schnorrSign,
  schnorrVerify,
  schnorrVerifyWithSecret,
} from "../../offchain/crypto/schnorr.ts";
import { backends, CURVE_ORDER } from "../../offchain/crypto/secp256k1.ts";
import { entryDigest, ledgerDomain, type EntryKind } from "../../offchain/protocol/entry.ts";
import { meterPseudonym, meterPseudonymKey } from "../../offchain/protocol/pseudonym.ts";
import {
  renderCryptoVectors,
  VECTORS_PATH,
  type CryptoVectors,
} from "../../scripts/gen-vectors.ts";
import { batchArgs, harnessArgs } from "./support.ts";

const { ethers } = await network.create();

const text = readFileSync(VECTORS_PATH, "utf8");
const vectors = JSON.parse(text) as CryptoVectors;
const b = hexToBytes;
const hexScalar = (k: bigint) => k.toString(16).padStart(64, "0");

// ---- Independent reference implementations (no project code) ----------------------------------
const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const refTagged = (tag: string, msg: Uint8Array) => {
  const t = sha(Buffer.from(tag, "ascii"));
  return sha(t, t, msg);
};
const refH3 = (x: Uint8Array) =>
  (BigInt("0x" + bytesToHex(refTagged("GridLedger/H3", x)) || "0") % (CURVE_ORDER - 1n)) + 1n;
const refGgm = (key: Uint8Array, index: bigint) => {
  let s = key;
  for (let i = 47; i >= 0; i--) {
    s = refTagged(
      "GridLedger/GGM",
      Buffer.concat([Buffer.of(Number((index >> BigInt(i)) & 1n)), s]),
    );
  }
  return s;
};
const refMulBase = (k: bigint) => noble.Point.BASE.multiply(k).toBytes(true);

describe("crypto vectors (test/vectors/crypto.json)", () => {
  it("has every array with at least 16 cases", () => {
    for (const name of [
      "taggedHash",
      "h1",
      "h3",
      "ggm",
      "messageKey",
      "pseudonym",
      "schnorr",
      "entryDigest",
    ] as const) {
      expect(vectors[name], name).to.be.an("array").with.length.greaterThanOrEqual(16);
    }
  });

  it("is exactly what scripts/gen-vectors.ts produces (deterministic seeds)", () => {
    expect(renderCryptoVectors()).to.equal(text);
  });

  it("covers the required edge cases", () => {
    const ggmIdx = vectors.ggm.map((v) => v.index);
    expect(ggmIdx)
      .to.include("0")
      .and.to.include(((1n << 48n) - 1n).toString());
    for (const arr of [vectors.messageKey, vectors.pseudonym]) {
      const cs = arr.map((v) => v.counter);
      const is = arr.map((v) => v.interval);
      expect(cs).to.include("1").and.to.include("65535");
      expect(is).to.include("0").and.to.include("4294967295");
    }
    const ed = vectors.entryDigest;
    expect(ed.map((v) => v.value))
      .to.include("0")
      .and.to.include(((1n << 64n) - 1n).toString());
    expect(ed.map((v) => v.interval))
      .to.include("0")
      .and.to.include("4294967295");
    expect(new Set(ed.map((v) => v.kind))).to.deep.equal(new Set(["0", "1", "2"]));
  });

  it("taggedHash: recomputed, equal to plain node:crypto and to noble's BIP-340 taggedHash", () => {
    for (const v of vectors.taggedHash) {
      const msg = b(v.msg);
      expect(bytesToHex(taggedHash(v.tag, msg))).to.equal(v.out);
      expect(bytesToHex(refTagged(v.tag, msg))).to.equal(v.out);
      expect(bytesToHex(nobleSchnorr.utils.taggedHash(v.tag, msg))).to.equal(v.out);
    }
  });

  it("h1: recomputed and independently; every point valid and identical in both backends", () => {
    for (const v of vectors.h1) {
      const point = b(v.point);
      expect(bytesToHex(h1(point))).to.equal(v.out);
      expect(bytesToHex(refTagged("GridLedger/H1", point))).to.equal(v.out);
      for (const backend of backends) {
        expect(bytesToHex(backend.convert(point, true)), backend.name).to.equal(v.point);
      }
    }
  });

  it("h3: recomputed and via plain BigInt from SHA-256; always in [1, n−1]", () => {
    for (const v of vectors.h3) {
      const input = b(v.input);
      const out = h3(input);
      expect(hexScalar(out)).to.equal(v.out);
      expect(hexScalar(refH3(input))).to.equal(v.out);
      expect(out > 0n && out < CURVE_ORDER).to.equal(true);
    }
  });

  it("ggm: uncached, cached in file order, and step by step with node:crypto", () => {
    const cached = new Map<string, GgmPrf>();
    for (const v of vectors.ggm) {
      const key = b(v.key);
      const index = BigInt(v.index);
      expect(bytesToHex(ggmEvaluate(key, index))).to.equal(v.out);
      let prf = cached.get(v.key);
      if (!prf) cached.set(v.key, (prf = new GgmPrf(key)));
      expect(bytesToHex(prf.evaluate(index))).to.equal(v.out);
      expect(bytesToHex(refGgm(key, index))).to.equal(v.out);
    }
  });

  it("messageKey: both backends, the cached deriver, CC's B + t·G, and an independent H3∘GGM + noble computation", () => {
    for (const v of vectors.messageKey) {
      const K = b(v.K);
      const base = BigInt("0x" + v.b);
      const j = Number(v.interval);
      const k = Number(v.counter);
      for (const backend of backends) {
        const mk = deriveMessageKey(K, base, j, k, backend);
        expect(hexScalar(mk.tweak), backend.name).to.equal(v.t);
        expect(hexScalar(mk.sigSk), backend.name).to.equal(v.sigSk);
        expect(bytesToHex(mk.sigPk), backend.name).to.equal(v.sigPk);
        const deriver = new MessageKeyDeriver(K, backend);
        expect(bytesToHex(deriver.messageKey(base, j, k).sigPk)).to.equal(v.sigPk);
        // CC's side: from B = b·G and t alone, never b.
        const B = backend.mulBase(base, true);
        expect(bytesToHex(deriver.publicKey(B, j, k)), backend.name).to.equal(v.sigPk);
        expect(bytesToHex(messagePublicKey(B, BigInt("0x" + v.t), backend))).to.equal(v.sigPk);
      }
      const refT = refH3(refGgm(K, (BigInt(j) << 16n) + BigInt(k)));
      expect(hexScalar(refT)).to.equal(v.t);
      const refSk = (base + refT) % CURVE_ORDER;
      expect(hexScalar(refSk)).to.equal(v.sigSk);
      expect(bytesToHex(refMulBase(refSk))).to.equal(v.sigPk);
      const refPk = noble.Point.BASE.multiply(base).add(noble.Point.BASE.multiply(refT));
      expect(bytesToHex(refPk.toBytes(true))).to.equal(v.sigPk);
    }
  });

  it("pseudonym: both backends and an independent noble ECDH + createHmac computation", () => {
    for (const v of vectors.pseudonym) {
      const sk = BigInt("0x" + v.skMeter);
      const pkCC = b(v.pkCC);
      const j = Number(v.interval);
      const k = Number(v.counter);
      for (const backend of backends) {
        const meter = keyPairFromSecret(sk, backend);
        expect(bytesToHex(meter.id), backend.name).to.equal(v.id);
        const a = meterPseudonymKey(sk, pkCC, backend);
        expect(bytesToHex(meterPseudonym(a, meter.id, j, k)), backend.name).to.equal(v.out);
      }
      const shared = noble.Point.fromBytes(pkCC).multiply(sk).toBytes(true);
      const a = refTagged("GridLedger/H1", shared);
      const id = refTagged("GridLedger/H1", refMulBase(sk));
      expect(bytesToHex(id)).to.equal(v.id);
      const msg = Buffer.alloc(12 + 32 + 4 + 2);
      msg.write("GridLedger/P", 0, "ascii");
      msg.set(id, 12);
      msg.writeUInt32BE(j, 44);
      msg.writeUInt16BE(k, 48);
      expect(createHmac("sha256", a).update(msg).digest("hex")).to.equal(v.out);
    }
  });

  it("schnorr: keys and signatures recomputed; verified by both backends and independently", () => {
    for (const v of vectors.schnorr) {
      const sk = BigInt("0x" + v.sk);
      const msg = b(v.msg);
      const sig = { rAddr: b(v.rAddr), y: BigInt("0x" + v.y) };
      for (const backend of backends) {
        const pk = backend.mulBase(sk, true);
        expect(bytesToHex(pk), backend.name).to.equal(v.pk);
        const again = schnorrSign(sk, msg, { backend });
        expect(bytesToHex(again.rAddr), backend.name).to.equal(v.rAddr);
        expect(hexScalar(again.y), backend.name).to.equal(v.y);
        expect(schnorrVerify(pk, msg, sig, backend), backend.name).to.equal(true);
        expect(schnorrVerifyWithSecret(sk, pk, msg, sig, backend)).to.equal(true);
      }
      // Independent: addr(y·G − c·Z) with noble points and ethers' keccak256 / computeAddress.
      const c =
        BigInt(ethers.keccak256(ethers.concat(["0x" + v.rAddr, "0x" + v.pk, "0x" + v.msg]))) %
        CURVE_ORDER;
      const Z = noble.Point.fromBytes(b(v.pk));
      const R = noble.Point.BASE.multiply(sig.y).subtract(Z.multiply(c));
      expect(ethers.computeAddress(toHex0x(R.toBytes(false))).toLowerCase()).to.equal(
        "0x" + v.rAddr,
      );
    }
  });

  it("schnorr: every vector verifies on-chain (CryptoHarness.tryVerifyBatch and tryVerify)", async () => {
    const harness = await ethers.deployContract("CryptoHarness");
    const rows = vectors.schnorr.map((v) =>
      harnessArgs(b(v.pk), b(v.msg), { rAddr: b(v.rAddr), y: BigInt("0x" + v.y) }),
    );
    const results: boolean[] = await harness.tryVerifyBatch(...batchArgs(rows));
    expect(results).to.deep.equal(rows.map(() => true));
    expect(await harness.tryVerify(...rows[0])).to.equal(true);
    await harness.verify(...rows[1]); // reverting form does not revert
  });

  it("entryDigest: recomputed, via ethers.solidityPackedKeccak256, and on-chain", async () => {
    const harness = await ethers.deployContract("CryptoHarness");
    for (const v of vectors.entryDigest) {
      const chainId = BigInt(v.chainId);
      const fields = {
        kind: Number(v.kind) as EntryKind,
        interval: Number(v.interval),
        id: b(v.id),
        timestamp: BigInt(v.timestamp),
        value: BigInt(v.value),
      };
      const domain = ledgerDomain(chainId, b(v.ledger));
      expect(bytesToHex(entryDigest(domain, fields))).to.equal(v.out);
      const refDomain = ethers.solidityPackedKeccak256(
        ["uint256", "address"],
        [chainId, "0x" + v.ledger],
      );
      expect(refDomain).to.equal(toHex0x(domain));
      const refDigest = ethers.solidityPackedKeccak256(
        ["bytes32", "uint8", "uint32", "bytes32", "uint64", "uint64"],
        [refDomain, fields.kind, fields.interval, "0x" + v.id, fields.timestamp, fields.value],
      );
      expect(refDigest).to.equal("0x" + v.out);
      const onChainDomain: string = await harness.domainSeparator(chainId, "0x" + v.ledger);
      expect(onChainDomain).to.equal(refDomain);
      const onChain: string = await harness.entryDigest(
        onChainDomain,
        fields.kind,
        fields.interval,
        "0x" + v.id,
        fields.timestamp,
        fields.value,
      );
      expect(onChain).to.equal("0x" + v.out);
    }
  });

  it("reads integers as decimal strings and scalars as 32-byte hex", () => {
    for (const v of vectors.schnorr) {
      expect(v.sk).to.match(/^[0-9a-f]{64}$/);
      expect(v.y).to.match(/^[0-9a-f]{64}$/);
      expect(v.rAddr).to.match(/^[0-9a-f]{40}$/);
      expect(bytesToBigInt(b(v.y)) < CURVE_ORDER).to.equal(true);
    }
    for (const v of vectors.entryDigest) expect(v.chainId).to.match(/^[0-9]+$/);
  });
});
