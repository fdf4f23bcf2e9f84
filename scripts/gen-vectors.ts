// `npm run vectors`: writes test/vectors/crypto.json, the known-answer vectors of DESIGN §4.1–4.5,
// from fixed seeds (re-running gives the identical file; test/crypto/vectors.test.ts checks that
// too). Every value comes from the reference (noble) backend; the tests recompute each vector with
// every backend, on-chain where the contracts implement the primitive, and cross-check samples
// against independent step-by-step computations. Format: docs/CRYPTO.md "Vectors".
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { bytesToHex, concatBytes, u32 } from "../offchain/crypto/bytes.ts";
import { ggmEvaluate, deriveMessageKey, GGM_MAX_INDEX } from "../offchain/crypto/ggm.ts";
import { h1, h3, taggedHash } from "../offchain/crypto/hash.ts";
import { keyPairFromSecret } from "../offchain/crypto/keys.ts";
import { schnorrSign } from "../offchain/crypto/schnorr.ts";
import { CURVE_ORDER, nobleBackend } from "../offchain/crypto/secp256k1.ts";
import { entryDigest, ledgerDomain, type EntryKind } from "../offchain/protocol/entry.ts";
import { meterPseudonym, meterPseudonymKey } from "../offchain/protocol/pseudonym.ts";

export const VECTORS_FORMAT =
  "GridLedger crypto vectors (DESIGN §4.1–4.5). Byte strings, points, keys and scalars " +
  "(sk, b, t, sigSk, y, h3 out, K) are lowercase hex without 0x, scalars as 32-byte big-endian; " +
  "points are 33-byte compressed SEC1; plain integers (index, interval, counter, chainId, kind, " +
  "timestamp, value) are decimal strings; tags are ASCII strings. Schnorr signatures use the " +
  "deterministic nonce of offchain/crypto/schnorr.ts (schnorrNonce, no aux); any nonce verifies. " +
  "Regenerate with `npm run vectors`.";

const backend = nobleBackend;
const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

/** A deterministic byte stream per label: `TH("GridLedger/vectors", label ‖ u32 block)`. */
function seeded(label: string): (length: number) => Uint8Array {
  const labelBytes = new TextEncoder().encode(label);
  let block = 0;
  let buffer: Uint8Array = new Uint8Array(0);
  return (length) => {
    while (buffer.length < length) {
      buffer = concatBytes(
        buffer,
        taggedHash("GridLedger/vectors", concatBytes(labelBytes, u32(block++))),
      );
    }
    const out = buffer.slice(0, length);
    buffer = buffer.slice(length);
    return out;
  };
}

function uniform(random: (n: number) => Uint8Array, bound: bigint): bigint {
  // Modulo bias is irrelevant for test vectors; determinism is what matters.
  let v = 0n;
  for (const b of random(40)) v = (v << 8n) | BigInt(b);
  return v % bound;
}

function scalar(random: (n: number) => Uint8Array): bigint {
  return uniform(random, CURVE_ORDER - 1n) + 1n;
}

const hex = bytesToHex;
const hexScalar = (k: bigint): string => k.toString(16).padStart(64, "0");

export interface CryptoVectors {
  format: string;
  taggedHash: { tag: string; msg: string; out: string }[];
  h1: { point: string; out: string }[];
  h3: { input: string; out: string }[];
  ggm: { key: string; index: string; out: string }[];
  messageKey: {
    K: string;
    b: string;
    interval: string;
    counter: string;
    t: string;
    sigSk: string;
    sigPk: string;
  }[];
  pseudonym: {
    skMeter: string;
    pkCC: string;
    interval: string;
    counter: string;
    id: string;
    out: string;
  }[];
  schnorr: { sk: string; pk: string; msg: string; rAddr: string; y: string }[];
  entryDigest: {
    chainId: string;
    ledger: string;
    kind: string;
    interval: string;
    id: string;
    timestamp: string;
    value: string;
    out: string;
  }[];
}

export function buildCryptoVectors(): CryptoVectors {
  const enc = new TextEncoder();

  // --- taggedHash: lengths around the SHA-256 block boundaries (55/56/64 bytes after the prefix).
  const rTh = seeded("taggedHash");
  const tags = [
    "GridLedger/H1",
    "GridLedger/H3",
    "GridLedger/GGM",
    "GridLedger/Schnorr/nonce",
    "BIP0340/challenge",
    "BIP0340/aux",
    "a",
    "GridLedger/vectors",
  ];
  const thLengths = [0, 1, 31, 32, 33, 55, 56, 63, 64, 65, 100, 119, 120, 128, 200, 1000];
  const taggedHashVectors = thLengths.map((len, i) => {
    const tag = tags[i % tags.length];
    const msg = rTh(len);
    return { tag, msg: hex(msg), out: hex(taggedHash(tag, msg)) };
  });
  taggedHashVectors.push({
    tag: "GridLedger/P",
    msg: hex(enc.encode("abc")),
    out: hex(taggedHash("GridLedger/P", enc.encode("abc"))),
  });

  // --- H1 over points: G, −G (same x, other parity), 2G, and seeded points.
  const rH1 = seeded("h1");
  const h1Scalars = [1n, CURVE_ORDER - 1n, 2n, 3n, CURVE_ORDER - 2n];
  while (h1Scalars.length < 18) h1Scalars.push(scalar(rH1));
  const h1Vectors = h1Scalars.map((k) => {
    const point = backend.mulBase(k, true);
    return { point: hex(point), out: hex(h1(point)) };
  });

  // --- H3: empty, all-zero, all-ones and seeded inputs of several lengths.
  const rH3 = seeded("h3");
  const h3Inputs: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array(32),
    new Uint8Array(32).fill(0xff),
  ];
  h3Inputs.push(Uint8Array.of(0), enc.encode("GridLedger"));
  for (const len of [1, 16, 31, 32, 32, 32, 33, 48, 64, 65, 100]) h3Inputs.push(rH3(len));
  const h3Vectors = h3Inputs.map((input) => ({ input: hex(input), out: hexScalar(h3(input)) }));

  // --- GGM f_K(x): index 0, 1, 2^48−1, the top bit alone, adjacent indices, seeded ones.
  const rGgm = seeded("ggm");
  const ggmCases: [Uint8Array, bigint][] = [
    [new Uint8Array(32), 0n],
    [new Uint8Array(32), GGM_MAX_INDEX],
    [new Uint8Array(32).fill(0xff), 0n],
    [new Uint8Array(32).fill(0xff), GGM_MAX_INDEX],
  ];
  const k1 = rGgm(32);
  for (const x of [0n, 1n, 2n, 1n << 47n, (1n << 47n) - 1n, (1n << 16n) + 1n, GGM_MAX_INDEX]) {
    ggmCases.push([k1, x]);
  }
  while (ggmCases.length < 18) ggmCases.push([rGgm(32), uniform(rGgm, GGM_MAX_INDEX + 1n)]);
  const ggmVectors = ggmCases.map(([key, index]) => ({
    key: hex(key),
    index: index.toString(),
    out: hex(ggmEvaluate(key, index)),
  }));

  // --- Message keys: interval 0 and 2^32−1, counter 1 and 65535, consecutive counters.
  const rMk = seeded("messageKey");
  const kA = rMk(32);
  const mkCases: [Uint8Array, number, number][] = [
    [kA, 0, 1],
    [kA, 0, 2],
    [kA, 0, 65535],
    [kA, 1, 1],
    [kA, U32_MAX, 1],
    [kA, U32_MAX, 65535],
    [new Uint8Array(32), 0, 1],
    [new Uint8Array(32).fill(0xff), U32_MAX, 65535],
  ];
  while (mkCases.length < 18) {
    mkCases.push([rMk(32), Number(uniform(rMk, 1n << 32n)), Number(uniform(rMk, 65535n)) + 1]);
  }
  // Base keys b (DESIGN §4.2: sigSk = b + t mod n) from their own stream, so the K, j, k above
  // stay what they were: b = 1 and b = n − 1 (b + t wraps mod n), then seeded scalars.
  const rB = seeded("messageKey/b");
  const baseKeys = mkCases.map((_, i) => (i === 0 ? 1n : i === 1 ? CURVE_ORDER - 1n : scalar(rB)));
  const messageKeyVectors = mkCases.map(([K, interval, counter], i) => {
    const mk = deriveMessageKey(K, baseKeys[i], interval, counter, backend);
    return {
      K: hex(K),
      b: hexScalar(baseKeys[i]),
      interval: interval.toString(),
      counter: counter.toString(),
      t: hexScalar(mk.tweak),
      sigSk: hexScalar(mk.sigSk),
      sigPk: hex(mk.sigPk),
    };
  });

  // --- Meter pseudonyms (meter side: sk_i, pk_CC).
  const rPs = seeded("pseudonym");
  const skM = scalar(rPs);
  const skCC = scalar(rPs);
  const psCases: [bigint, bigint, number, number][] = [
    [skM, skCC, 0, 1],
    [skM, skCC, 0, 65535],
    [skM, skCC, U32_MAX, 1],
    [skM, skCC, U32_MAX, 65535],
    [skM, skCC, 1, 1],
    [skM, skCC, 0, 2],
    [1n, skCC, 7, 3],
    [skM, 1n, 7, 3],
    [CURVE_ORDER - 1n, skCC, 7, 3],
  ];
  while (psCases.length < 18) {
    psCases.push([
      scalar(rPs),
      skCC,
      Number(uniform(rPs, 1n << 32n)),
      Number(uniform(rPs, 65535n)) + 1,
    ]);
  }
  const pseudonymVectors = psCases.map(([skMeter, skC, interval, counter]) => {
    const meter = keyPairFromSecret(skMeter, backend);
    const pkCC = backend.mulBase(skC, true);
    const a = meterPseudonymKey(skMeter, pkCC, backend);
    return {
      skMeter: hexScalar(skMeter),
      pkCC: hex(pkCC),
      interval: interval.toString(),
      counter: counter.toString(),
      id: hex(meter.id),
      out: hex(meterPseudonym(a, meter.id, interval, counter)),
    };
  });

  // --- Schnorr: sk 1 and n−1, all-zero and all-ones messages, seeded keys and messages.
  const rSc = seeded("schnorr");
  const scCases: [bigint, Uint8Array][] = [
    [1n, new Uint8Array(32)],
    [CURVE_ORDER - 1n, new Uint8Array(32).fill(0xff)],
    [2n, rSc(32)],
    [CURVE_ORDER - 2n, rSc(32)],
  ];
  while (scCases.length < 18) scCases.push([scalar(rSc), rSc(32)]);
  const schnorrVectors = scCases.map(([sk, msg]) => {
    const pk = backend.mulBase(sk, true);
    const sig = schnorrSign(sk, msg, { publicKey: pk, backend });
    return {
      sk: hexScalar(sk),
      pk: hex(pk),
      msg: hex(msg),
      rAddr: hex(sig.rAddr),
      y: hexScalar(sig.y),
    };
  });

  // --- Entry digests: kinds 0/1/2, interval 0 and 2^32−1, value and timestamp 0 and 2^64−1.
  const rEd = seeded("entryDigest");
  const edCases: [bigint, Uint8Array, EntryKind, number, Uint8Array, bigint, bigint][] = [
    [31337n, rEd(20), 0, 0, rEd(32), 0n, 0n],
    [31337n, rEd(20), 1, U32_MAX, rEd(32), U64_MAX, U64_MAX],
    [31337n, rEd(20), 2, 1, rEd(32), 1_700_000_000n, 12_345n],
    [1n, new Uint8Array(20), 0, 0, new Uint8Array(32), 0n, 0n],
    [
      (1n << 256n) - 1n,
      new Uint8Array(20).fill(0xff),
      2,
      U32_MAX,
      new Uint8Array(32).fill(0xff),
      U64_MAX,
      U64_MAX,
    ],
    [0n, rEd(20), 1, 42, rEd(32), 1_700_000_000n, 250n],
    [1337n, rEd(20), 0, 100, rEd(32), 1_700_003_600n, U64_MAX],
  ];
  for (let i = 0; edCases.length < 18; i++) {
    edCases.push([
      uniform(rEd, 1n << 64n),
      rEd(20),
      (i % 3) as EntryKind,
      Number(uniform(rEd, 1n << 32n)),
      rEd(32),
      uniform(rEd, 1n << 64n),
      uniform(rEd, 1n << 64n),
    ]);
  }
  const entryDigestVectors = edCases.map(
    ([chainId, ledger, kind, interval, id, timestamp, value]) => ({
      chainId: chainId.toString(),
      ledger: hex(ledger),
      kind: kind.toString(),
      interval: interval.toString(),
      id: hex(id),
      timestamp: timestamp.toString(),
      value: value.toString(),
      out: hex(
        entryDigest(ledgerDomain(chainId, ledger), { kind, interval, id, timestamp, value }),
      ),
    }),
  );

  return {
    format: VECTORS_FORMAT,
    taggedHash: taggedHashVectors,
    h1: h1Vectors,
    h3: h3Vectors,
    ggm: ggmVectors,
    messageKey: messageKeyVectors,
    pseudonym: pseudonymVectors,
    schnorr: schnorrVectors,
    entryDigest: entryDigestVectors,
  };
}

/** The file's exact text (2-space JSON, trailing newline). */
export function renderCryptoVectors(): string {
  return JSON.stringify(buildCryptoVectors(), null, 2) + "\n";
}

export const VECTORS_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "test",
  "vectors",
  "crypto.json",
);

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(VECTORS_PATH, renderCryptoVectors());
  console.log(`gen-vectors: wrote ${VECTORS_PATH}`);
}
