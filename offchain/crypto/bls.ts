// BLS signatures over BLS12-381 (DESIGN §4.8), "min-pk" variant as in Ethereum consensus: public
// keys in G1 (48-byte compressed), signatures in G2 (96-byte compressed). Hash-to-curve is RFC 9380
// `BLS12381G2_XMD:SHA-256_SSWU_RO_` under GridLedger's DSTs, so every signature made here verifies
// on-chain with the EIP-2537 precompiles (contracts/libraries/BLS12381.sol, docs/BLS.md).
//
// Secret keys are scalars `1 ≤ sk < r` as bigint: BBNP's gateway key `s_g = −Σ s_i mod r`
// (DESIGN §4.7) is an arbitrary scalar, not the output of a key-generation KDF. JavaScript bigints
// cannot be wiped from memory; callers that hold long-term keys keep them encrypted at rest.
import { bls12_381 } from "@noble/curves/bls12-381.js";

type G1Point = ReturnType<typeof bls12_381.G1.Point.fromAffine>;
type G2Point = ReturnType<typeof bls12_381.G2.Point.fromAffine>;

/** Domain separation tag of GridLedger BLS signatures (RFC 9380 §3.1). */
export const BLS_DST_SIG = "GRIDLEDGER-V01-CS01-with-BLS12381G2_XMD:SHA-256_SSWU_RO_";
/** Domain separation tag of proofs of possession: a PoP never verifies as a message signature. */
export const BLS_DST_POP = "GRIDLEDGER-V01-POP-BLS12381G2_XMD:SHA-256_SSWU_RO_";

/** The order `r` of G1, G2 and GT (the scalar field of every BBNP computation, DESIGN §4.7). */
export const BLS_R: bigint = bls12_381.fields.Fr.ORDER;
/** The base field modulus `p`. */
export const BLS_P: bigint = bls12_381.fields.Fp.ORDER;

export const BLS_PUBLIC_KEY_LENGTH = 48;
export const BLS_SIGNATURE_LENGTH = 96;
/** EIP-2537 encodings: every Fp element is 64 bytes big-endian with 16 leading zero bytes. */
export const EIP2537_G1_LENGTH = 128;
export const EIP2537_G2_LENGTH = 256;

const G1 = bls12_381.G1.Point;
const G2 = bls12_381.G2.Point;

function assertSecretKey(fn: string, sk: bigint): void {
  if (typeof sk !== "bigint" || sk <= 0n || sk >= BLS_R) {
    throw new RangeError(`${fn}: secret key must be a bigint in [1, r-1]`);
  }
}

function assertBytes(fn: string, what: string, value: Uint8Array, length?: number): void {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${fn}: ${what} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${fn}: ${what} must be ${length} bytes, got ${value.length}`);
  }
}

// Decoders used by the verifiers: undefined for anything that is not a canonical, on-curve,
// prime-order-subgroup point (noble's fromBytes checks the curve; assertValidity the subgroup).
// The identity is refused too (noble refuses it, and so does KeyValidate of the IETF BLS draft):
// neither a key nor a signature is ever the identity in GridLedger.
function decodeG1(bytes: Uint8Array): G1Point | undefined {
  try {
    if (!(bytes instanceof Uint8Array) || bytes.length !== BLS_PUBLIC_KEY_LENGTH) return undefined;
    const p = G1.fromBytes(bytes);
    if (p.is0()) return undefined;
    p.assertValidity();
    return p;
  } catch {
    return undefined;
  }
}

function decodeG2(bytes: Uint8Array): G2Point | undefined {
  try {
    if (!(bytes instanceof Uint8Array) || bytes.length !== BLS_SIGNATURE_LENGTH) return undefined;
    const p = G2.fromBytes(bytes);
    if (p.is0()) return undefined;
    p.assertValidity();
    return p;
  } catch {
    return undefined;
  }
}

/** RFC 9380 hash_to_curve into G2 under `dst` (default: the signature DST); compressed, 96 bytes. */
export function blsHashToG2(msg: Uint8Array, dst: string = BLS_DST_SIG): Uint8Array {
  assertBytes("blsHashToG2", "message", msg);
  return bls12_381.G2.hashToCurve(msg, { DST: dst }).toBytes(true);
}

/** Public key `pk = sk·g1`, 48-byte compressed G1. */
export function blsPublicKey(sk: bigint): Uint8Array {
  assertSecretKey("blsPublicKey", sk);
  return G1.BASE.multiply(sk).toBytes(true);
}

/**
 * A uniformly random secret key from injected randomness (48 bytes reduced mod r: bias < 2^-128).
 * Retries on the negligible zero outcome.
 */
export function blsRandomSecretKey(randomBytes: (length: number) => Uint8Array): bigint {
  for (;;) {
    const bytes = randomBytes(48);
    assertBytes("blsRandomSecretKey", "randomBytes output", bytes, 48);
    let x = 0n;
    for (const b of bytes) x = (x << 8n) | BigInt(b);
    const sk = x % BLS_R;
    if (sk !== 0n) return sk;
  }
}

function signWithDst(sk: bigint, msg: Uint8Array, dst: string): Uint8Array {
  return bls12_381.G2.hashToCurve(msg, { DST: dst }).multiply(sk).toBytes(true);
}

/** Signature `σ = sk·H(msg)` with `H` the RFC 9380 hash to G2 under {@link BLS_DST_SIG}. */
export function blsSign(sk: bigint, msg: Uint8Array): Uint8Array {
  assertSecretKey("blsSign", sk);
  assertBytes("blsSign", "message", msg);
  return signWithDst(sk, msg, BLS_DST_SIG);
}

// e(pk, H(m)) == e(g1, σ), evaluated as e(pk, H(m))·e(−g1, σ) == 1: the same product the
// contract hands to PAIRING_CHECK. The identity key is refused (RFC draft-irtf-cfrg-bls KeyValidate):
// it would verify the identity signature on every message.
function verifyPoints(pk: G1Point, msg: Uint8Array, sig: G2Point, dst: string): boolean {
  // The identity signature never verifies under a non-identity key (H(m) ≠ O); noble refuses to
  // pair the identity, so that case is answered here rather than by a caught exception.
  if (pk.is0() || sig.is0()) return false;
  const h = bls12_381.G2.hashToCurve(msg, { DST: dst });
  const product = bls12_381.pairingBatch([
    { g1: pk, g2: h },
    { g1: G1.BASE.negate(), g2: sig },
  ]);
  return bls12_381.fields.Fp12.eql(product, bls12_381.fields.Fp12.ONE);
}

/** True iff `sig` is a valid signature by `pk` on `msg`; false (never throws) on malformed input. */
export function blsVerify(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (!(msg instanceof Uint8Array)) return false;
  const p = decodeG1(pk);
  const s = decodeG2(sig);
  if (p === undefined || s === undefined) return false;
  return verifyPoints(p, msg, s, BLS_DST_SIG);
}

/**
 * Sum of signatures (96-byte compressed G2). Throws on an empty list, an invalid signature or an
 * identity sum.
 */
export function blsAggregateSignatures(sigs: Uint8Array[]): Uint8Array {
  if (!Array.isArray(sigs) || sigs.length === 0) {
    throw new RangeError("blsAggregateSignatures: need at least one signature");
  }
  let acc = G2.ZERO;
  sigs.forEach((sig, i) => {
    const p = decodeG2(sig);
    if (p === undefined) throw new RangeError(`blsAggregateSignatures: signature ${i} is invalid`);
    acc = acc.add(p);
  });
  if (acc.is0()) throw new RangeError("blsAggregateSignatures: signatures sum to the identity");
  return acc.toBytes(true);
}

/** Sum of public keys (48-byte compressed G1). Throws on an empty list, an invalid key or an identity sum. */
export function blsAggregatePublicKeys(pks: Uint8Array[]): Uint8Array {
  if (!Array.isArray(pks) || pks.length === 0) {
    throw new RangeError("blsAggregatePublicKeys: need at least one public key");
  }
  let acc = G1.ZERO;
  pks.forEach((pk, i) => {
    const p = decodeG1(pk);
    if (p === undefined) throw new RangeError(`blsAggregatePublicKeys: public key ${i} is invalid`);
    acc = acc.add(p);
  });
  if (acc.is0()) throw new RangeError("blsAggregatePublicKeys: keys sum to the identity");
  return acc.toBytes(true);
}

/**
 * Fast aggregate verification (all signers signed the same `msg`, DESIGN §4.8 certificate): checks
 * `aggSig` against the sum of `pks`. Sound only for keys whose possession was proven
 * ({@link blsVerifyPossession}): that is the rogue-key defence. False on malformed input, on an
 * empty list, on an identity key and on keys that sum to the identity.
 */
export function blsVerifyAggregateSameMessage(
  pks: Uint8Array[],
  msg: Uint8Array,
  aggSig: Uint8Array,
): boolean {
  if (!Array.isArray(pks) || pks.length === 0 || !(msg instanceof Uint8Array)) return false;
  let acc = G1.ZERO;
  for (const pk of pks) {
    const p = decodeG1(pk);
    if (p === undefined) return false;
    acc = acc.add(p);
  }
  const s = decodeG2(aggSig);
  if (s === undefined) return false;
  return verifyPoints(acc, msg, s, BLS_DST_SIG);
}

/** Proof of possession: a signature on the key's 48-byte compressed encoding under {@link BLS_DST_POP}. */
export function blsProvePossession(sk: bigint): Uint8Array {
  assertSecretKey("blsProvePossession", sk);
  return signWithDst(sk, G1.BASE.multiply(sk).toBytes(true), BLS_DST_POP);
}

/** True iff `pop` proves possession of the secret key of `pk`; false on malformed input. */
export function blsVerifyPossession(pk: Uint8Array, pop: Uint8Array): boolean {
  const p = decodeG1(pk);
  const s = decodeG2(pop);
  if (p === undefined || s === undefined) return false;
  return verifyPoints(p, p.toBytes(true), s, BLS_DST_POP);
}

// ---- EIP-2537 encodings (the precompiles' uncompressed form) ----

function writeFp(out: Uint8Array, offset: number, x: bigint): void {
  // 16 zero bytes, then 48 bytes big-endian.
  for (let i = 63; i >= 16; i--) {
    out[offset + i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

function readFp(fn: string, bytes: Uint8Array, offset: number): bigint {
  for (let i = 0; i < 16; i++) {
    if (bytes[offset + i] !== 0) throw new RangeError(`${fn}: non-zero padding in Fp element`);
  }
  let x = 0n;
  for (let i = 16; i < 64; i++) x = (x << 8n) | BigInt(bytes[offset + i]);
  if (x >= BLS_P) throw new RangeError(`${fn}: Fp element not below p`);
  return x;
}

/** Compressed G1 public key (48 bytes) to EIP-2537's 128-byte `x ‖ y`. Throws on an invalid point. */
export function g1ToEip2537(pk: Uint8Array): Uint8Array {
  assertBytes("g1ToEip2537", "public key", pk, BLS_PUBLIC_KEY_LENGTH);
  const p = decodeG1(pk);
  if (p === undefined) throw new RangeError("g1ToEip2537: not a valid G1 point");
  const out = new Uint8Array(EIP2537_G1_LENGTH);
  const { x, y } = p.toAffine();
  writeFp(out, 0, x);
  writeFp(out, 64, y);
  return out;
}

/**
 * Compressed G2 signature (96 bytes) to EIP-2537's 256-byte `x.c0 ‖ x.c1 ‖ y.c0 ‖ y.c1`. Throws on
 * an invalid point.
 */
export function g2ToEip2537(sig: Uint8Array): Uint8Array {
  assertBytes("g2ToEip2537", "signature", sig, BLS_SIGNATURE_LENGTH);
  const p = decodeG2(sig);
  if (p === undefined) throw new RangeError("g2ToEip2537: not a valid G2 point");
  const out = new Uint8Array(EIP2537_G2_LENGTH);
  const { x, y } = p.toAffine();
  writeFp(out, 0, x.c0);
  writeFp(out, 64, x.c1);
  writeFp(out, 128, y.c0);
  writeFp(out, 192, y.c1);
  return out;
}

/**
 * Inverse of {@link g1ToEip2537}: throws unless the input is a point of the G1 subgroup other
 * than the identity (EIP-2537's all-zero encoding).
 */
export function eip2537ToG1(encoded: Uint8Array): Uint8Array {
  const fn = "eip2537ToG1";
  assertBytes(fn, "encoding", encoded, EIP2537_G1_LENGTH);
  const x = readFp(fn, encoded, 0);
  const y = readFp(fn, encoded, 64);
  let p: G1Point;
  try {
    p = G1.fromAffine({ x, y });
    if (p.is0()) throw new Error("identity");
    p.assertValidity();
  } catch {
    throw new RangeError(`${fn}: not a point of the G1 subgroup`);
  }
  return p.toBytes(true);
}

/**
 * Inverse of {@link g2ToEip2537}: throws unless the input is a point of the G2 subgroup other
 * than the identity.
 */
export function eip2537ToG2(encoded: Uint8Array): Uint8Array {
  const fn = "eip2537ToG2";
  assertBytes(fn, "encoding", encoded, EIP2537_G2_LENGTH);
  const x = { c0: readFp(fn, encoded, 0), c1: readFp(fn, encoded, 64) };
  const y = { c0: readFp(fn, encoded, 128), c1: readFp(fn, encoded, 192) };
  let p: G2Point;
  try {
    p = G2.fromAffine({ x, y });
    if (p.is0()) throw new Error("identity");
    p.assertValidity();
  } catch {
    throw new RangeError(`${fn}: not a point of the G2 subgroup`);
  }
  return p.toBytes(true);
}
