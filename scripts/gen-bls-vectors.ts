// Regenerates test/vectors/bls.json: `node scripts/gen-bls-vectors.ts` (docs/BLS.md).
// Everything is derived deterministically (keys from SHA-256 of a label), so a rerun is
// byte-identical unless the scheme changes; the tests recompute every entry and compare.
// One external anchor is included verbatim: RFC 9380 Appendix J.10.1 (hash_to_curve into G2 of the
// empty message under the QUUX test DST), which both noble and the contract must reproduce.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { bls12_381 } from "@noble/curves/bls12-381.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

import {
  BLS_DST_POP,
  BLS_DST_SIG,
  BLS_R,
  blsAggregatePublicKeys,
  blsAggregateSignatures,
  blsHashToG2,
  blsProvePossession,
  blsPublicKey,
  blsSign,
  g1ToEip2537,
  g2ToEip2537,
} from "../offchain/crypto/bls.ts";
import { aggregationDomain, bbnpRoundMessage } from "../offchain/protocol/aggregation.ts";

const hex = (b: Uint8Array): string => "0x" + bytesToHex(b);
const hexInt = (x: bigint): string => "0x" + x.toString(16);

function vectorKey(i: number): bigint {
  const label = utf8ToBytes(`GridLedger/BLS/vector-key/${i}`);
  let x = 0n;
  for (const b of sha256(label)) x = (x << 8n) | BigInt(b);
  return (x % (BLS_R - 1n)) + 1n;
}

const domain = aggregationDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const messages: Uint8Array[] = [
  new Uint8Array(0),
  utf8ToBytes("abc"),
  bbnpRoundMessage(domain, 1n, 123456789n, 10),
  bbnpRoundMessage(domain, (1n << 64n) - 1n, BLS_R - 1n, 0xffffffff),
  Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff),
];
const keys = [1n, BLS_R - 1n, vectorKey(0), vectorKey(1), vectorKey(2)];

const signatures = keys.flatMap((sk, k) =>
  messages.map((msg, m) => {
    const pk = blsPublicKey(sk);
    const sig = blsSign(sk, msg);
    return {
      key: k,
      message: m,
      sk: hexInt(sk),
      pk: hex(pk),
      pkEip2537: hex(g1ToEip2537(pk)),
      msg: hex(msg),
      sig: hex(sig),
      sigEip2537: hex(g2ToEip2537(sig)),
    };
  }),
);

const hashToG2 = messages.map((msg) => ({
  dst: BLS_DST_SIG,
  msg: hex(msg),
  point: hex(g2ToEip2537(blsHashToG2(msg))),
}));

const possession = keys.map((sk) => {
  const pk = blsPublicKey(sk);
  const pop = blsProvePossession(sk);
  return {
    sk: hexInt(sk),
    pk: hex(pk),
    pkEip2537: hex(g1ToEip2537(pk)),
    pop: hex(pop),
    popEip2537: hex(g2ToEip2537(pop)),
  };
});

const aggKeys = keys.slice(2);
const aggMsg = messages[2];
const aggregate = {
  msg: hex(aggMsg),
  pks: aggKeys.map((sk) => hex(blsPublicKey(sk))),
  aggPk: hex(blsAggregatePublicKeys(aggKeys.map(blsPublicKey))),
  aggSig: hex(blsAggregateSignatures(aggKeys.map((sk) => blsSign(sk, aggMsg)))),
};

// RFC 9380 Appendix J.10.1, msg = "" (external known answer; not generated here).
const rfc9380 = {
  dst: "QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_",
  msg: "0x",
  x: {
    c0: "0x0141ebfbdca40eb85b87142e130ab689c673cf60f1a3e98d69335266f30d9b8d4ac44c1038e9dcdd5393faf5c41fb78a",
    c1: "0x05cb8437535e20ecffaef7752baddf98034139c38452458baeefab379ba13dff5bf5dd71b72418717047f5b0f37da03d",
  },
  y: {
    c0: "0x0503921d7f6a12805e72940b963c0cf3471c7b2a524950ca195d11062ee75ec076daf2d4bc358c4b190c0c98064fdd92",
    c1: "0x12424ac32561493f3fe3c260708a12b7c620e7be00099a974e259ddc7d1f6395c3c811cdd19f1e8dbf3e9ecfdcbab8d6",
  },
};
// Refuse to write vectors if noble disagrees with the RFC anchor.
const rfcPoint = bls12_381.G2.hashToCurve(new Uint8Array(0), { DST: rfc9380.dst }).toAffine();
if (
  hexInt(rfcPoint.x.c0) !== rfc9380.x.c0.replace(/^0x0*/, "0x") ||
  hexInt(rfcPoint.y.c1) !== rfc9380.y.c1.replace(/^0x0*/, "0x")
) {
  throw new Error("gen-bls-vectors: noble's hash_to_curve disagrees with RFC 9380 J.10.1");
}

const out = {
  description:
    "GridLedger BLS12-381 min-pk vectors (DESIGN §4.8); regenerate with `node scripts/gen-bls-vectors.ts`. " +
    "Compressed encodings are ZCash/IETF; *Eip2537 fields are the EIP-2537 precompile encodings.",
  dstSig: BLS_DST_SIG,
  dstPop: BLS_DST_POP,
  aggregationDomain: {
    chainId: "31337",
    ledger: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    domain: hex(domain),
  },
  signatures,
  hashToG2,
  possession,
  aggregate,
  rfc9380,
};

const target = join(dirname(fileURLToPath(import.meta.url)), "..", "test", "vectors", "bls.json");
writeFileSync(target, JSON.stringify(out, null, 2) + "\n");
console.log(
  `gen-bls-vectors: wrote ${signatures.length} signatures, ${hashToG2.length} hashes to ${target}`,
);
