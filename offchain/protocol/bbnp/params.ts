// BBNP public parameters, byte encodings and the Diffie–Hellman primitive (DESIGN §4.7).
// Everything here is pure: no randomness, no clocks, no I/O.
import { bls12_381 } from "@noble/curves/bls12-381.js";

import { BbnpInputError } from "./errors.ts";

const G1 = bls12_381.G1.Point;
type G1Point = InstanceType<typeof G1>;

/** BLS12-381 group order r: every BBNP scalar and masked value lives in Z_r (DESIGN §4.7). */
export const BBNP_ORDER: bigint = G1.Fn.ORDER;
/** Base-field modulus p of BLS12-381 (for the compressed-point sign bit). */
const FIELD_P: bigint = G1.Fp.ORDER;
const HALF_P = (FIELD_P - 1n) / 2n;

/** Byte width of `enc(P)`: a compressed G1 point (ZCash/IETF flags, the format noble emits). */
export const G1_BYTES = 48;
/** Byte width of scalars and masked values on the wire (`u256`, big-endian, < r). */
export const SCALAR_BYTES = 32;
/** Byte width of HMAC-SHA256 tags and derived keys. */
export const TAG_BYTES = 32;
/** Largest user id: ids are u32 indices `0..N−1`; the gateway id is published separately. */
export const MAX_USERS = 1 << 20;
/** Default gateway id: the top of the u32 range, never a user index. */
export const DEFAULT_GATEWAY_ID = 0xffffffff;
/**
 * Default minimum number of counted reporters per round (DESIGN §4.7 "a round with fewer counted
 * reporters than a configured minimum is refused on both sides"), capped at N. Decision: 10. A sum
 * over k readings hides each one among k − 1 others; k = 1 publishes a reading, k = 2 hands each
 * of the two the other's. 10 keeps a household among at least nine others (a small street), and
 * leaves a 200-user deployment 190 dropouts of slack. Deployments may raise it; never below 2.
 */
export const DEFAULT_MIN_REPORTERS = 10;
/** Smallest admissible `minReporters`. */
export const MIN_REPORTERS_FLOOR = 2;

export interface BbnpPublicParams {
  /** Key epoch; increases by one at every refresh (DESIGN §4.7 "epoch's keys are refreshed"). */
  readonly epoch: number;
  /** Number of users N (ids 0..N−1). */
  readonly userCount: number;
  /** Target neighbour count h (even, ≥ 2); the degree is min(h, N−1). */
  readonly neighbours: number;
  /** Largest admissible reading (readings are integers in [0, maxReading]). */
  readonly maxReading: bigint;
  /** Gateway id (u32). */
  readonly gatewayId: number;
  /** `enc(S_g)`. */
  readonly gatewayPublicKey: Uint8Array;
  /** `enc(S_i)` indexed by user id. */
  readonly userPublicKeys: readonly Uint8Array[];
  /** Public 32-byte seed from which every round's graph seed `seed_t` is derived. */
  readonly graphSeed: Uint8Array;
  /**
   * Minimum number of counted reporters for a round to be published, in [2, N] (default
   * `min(DEFAULT_MIN_REPORTERS, N)`); the same value is configured on the aggregation ledger.
   */
  readonly minReporters: number;
}

/** `min(DEFAULT_MIN_REPORTERS, N)`: the default minimum for N users (never below 2). */
export function defaultMinReporters(userCount: number): number {
  return Math.max(MIN_REPORTERS_FLOOR, Math.min(DEFAULT_MIN_REPORTERS, userCount));
}

/** Check the structural invariants of published parameters; throws with the function name. */
export function validateParams(params: BbnpPublicParams): void {
  const fn = "validateParams";
  const { userCount: n, neighbours: h } = params;
  if (!Number.isSafeInteger(n) || n < 2 || n > MAX_USERS) {
    throw new BbnpInputError(`${fn}: userCount must be an integer in [2, ${MAX_USERS}], got ${n}`);
  }
  if (!Number.isSafeInteger(h) || h < 2 || h % 2 !== 0) {
    throw new BbnpInputError(`${fn}: neighbours must be an even integer ≥ 2, got ${h}`);
  }
  if (!Number.isSafeInteger(params.epoch) || params.epoch < 0 || params.epoch > 0xffffffff) {
    throw new BbnpInputError(`${fn}: epoch must be a u32, got ${params.epoch}`);
  }
  if (params.maxReading < 0n || params.maxReading * BigInt(n) >= BBNP_ORDER) {
    throw new BbnpInputError(`${fn}: maxReading · N must be < r so the sum is recovered exactly`);
  }
  if (!isU32(params.gatewayId) || params.gatewayId < n) {
    throw new BbnpInputError(`${fn}: gatewayId must be a u32 outside the user index range`);
  }
  if (params.userPublicKeys.length !== n) {
    throw new BbnpInputError(
      `${fn}: expected ${n} user public keys, got ${params.userPublicKeys.length}`,
    );
  }
  if (params.graphSeed.length !== 32) throw new BbnpInputError(`${fn}: graphSeed must be 32 bytes`);
  const k = params.minReporters;
  if (!Number.isSafeInteger(k) || k < MIN_REPORTERS_FLOOR || k > n) {
    throw new BbnpInputError(
      `${fn}: minReporters must be an integer in [${MIN_REPORTERS_FLOOR}, ${n}], got ${k}`,
    );
  }
  if (params.gatewayPublicKey.length !== G1_BYTES) {
    throw new BbnpInputError(`${fn}: gatewayPublicKey must be ${G1_BYTES} bytes`);
  }
}

export function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

// Fixed-width big-endian encodings and byte helpers: the project's one implementation
// (offchain/crypto/bytes.ts), re-exported under the names the BBNP modules use.
export { bytesToBigInt, concatBytes, u32, u64, u256 } from "../../crypto/bytes.ts";

export function mod(x: bigint): bigint {
  const m = x % BBNP_ORDER;
  return m < 0n ? m + BBNP_ORDER : m;
}

/** A scalar in [1, r−1]; throws otherwise (zero keys would publish the identity point). */
export function checkSecretScalar(fn: string, s: bigint): void {
  if (s <= 0n || s >= BBNP_ORDER)
    throw new BbnpInputError(`${fn}: secret scalar out of range [1, r−1]`);
}

/**
 * `enc(P)`: 48-byte compressed G1 (x big-endian with flag bits 0x80 compressed, 0x40 infinity,
 * 0x20 "y is the larger root"). Written out rather than calling `toBytes(true)` because noble's
 * encoder re-checks subgroup membership (≈1.5 ms); the DH outputs are multiples of points that
 * were checked on decode. Tests pin this to noble's encoder.
 */
export function encodeG1(point: G1Point): Uint8Array {
  if (point.is0()) {
    const out = new Uint8Array(G1_BYTES);
    out[0] = 0xc0;
    return out;
  }
  const { x, y } = point.toAffine();
  const out = new Uint8Array(G1_BYTES);
  let v = x;
  for (let i = G1_BYTES - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  out[0] |= 0x80;
  if (y > HALF_P) out[0] |= 0x20;
  return out;
}

/** Decode and validate (on curve, in the prime-order subgroup, not the identity). */
export function decodeG1(bytes: Uint8Array): G1Point {
  if (bytes.length !== G1_BYTES) throw new BbnpInputError(`decodeG1: expected ${G1_BYTES} bytes`);
  const p = G1.fromBytes(bytes);
  p.assertValidity();
  if (p.is0()) throw new BbnpInputError("decodeG1: identity point is not a valid public key");
  return p;
}

/** `enc(s·g)`: a public key. */
export function publicKey(secret: bigint): Uint8Array {
  checkSecretScalar("publicKey", secret);
  return encodeG1(G1.BASE.multiply(secret));
}

/** `enc(s·P)`: the DH point of DESIGN §4.7, computed once per key epoch by its users. */
export function dhPoint(secret: bigint, peerPublicKey: Uint8Array): Uint8Array {
  checkSecretScalar("dhPoint", secret);
  return encodeG1(decodeG1(peerPublicKey).multiply(secret));
}

/**
 * `enc((a·b mod r)·g)`, equal to `dhPoint(a, enc(b·g))`. Only a party knowing both scalars (the
 * TA, or a benchmark's set-up) can use it: fixed-base multiplication is ~10× faster than a
 * variable-base one, which matters when preparing 10^4 users' key caches outside timed regions.
 */
export function dhPointFromScalars(a: bigint, b: bigint): Uint8Array {
  checkSecretScalar("dhPointFromScalars", a);
  checkSecretScalar("dhPointFromScalars", b);
  return encodeG1(G1.BASE.multiplyUnsafe(mod(a * b)));
}
