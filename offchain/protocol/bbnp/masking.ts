// BBNP masking math, reference implementation (DESIGN §4.7; Bao et al. §IV-B/C, fixed per §6).
// Written for clarity over the project's one tagged hash and HMAC (offchain/crypto/hash.ts); the
// gateway, user and TA hot paths (word-level SHA-256, ./fast.ts) are tested to produce exactly
// these values. Every masking term is a PRF output at round t (docs/BBNP.md "Recovery").
import { BbnpInputError } from "./errors.ts";
import {
  BBNP_ORDER,
  bytesToBigInt,
  concatBytes,
  G1_BYTES,
  isU32,
  mod,
  SCALAR_BYTES,
  TAG_BYTES,
  u256,
  u32,
  u64,
} from "./params.ts";
import { hmacSha256, taggedHash } from "../../crypto/hash.ts";

export const TAG_SESSION_KEY = "GridLedger/BBNP/k";
export const TAG_PAIR_KEY = "GridLedger/BBNP/pair";
export const TAG_ROUND_SEED = "GridLedger/BBNP/seed";
export const TAG_GRAPH = "GridLedger/BBNP/graph";
/** Tag of the per-epoch blinding key `b_i` derived from `s_i` (DESIGN §4.7, round-specific blinding). */
export const TAG_BLIND_KEY = "GridLedger/BBNP/blind-key";
export const AUI_LABEL = "GridLedger/BBNP/AUI";
/** Label of the round-`t` blinding term `β_i(t) = int(HMAC(b_i, label ‖ u64 t)) mod r`. */
export const BLIND_LABEL = "GridLedger/BBNP/blind";
export const REVEAL_LABEL = "GridLedger/BBNP/reveal";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * Session key bytes `TH("GridLedger/BBNP/k", enc(s_i·S_g) ‖ u32 ID_i ‖ u32 ID_g ‖ u64 t)`.
 * These 32 bytes are the HMAC key of the report tag; the masking scalar is
 * `k_{i,g} = int(them) mod r` ({@link sessionScalar}).
 */
export function sessionKeyBytes(
  dhEnc: Uint8Array,
  userId: number,
  gatewayId: number,
  round: bigint,
): Uint8Array {
  if (dhEnc.length !== G1_BYTES)
    throw new BbnpInputError(`sessionKeyBytes: dh point must be ${G1_BYTES} bytes`);
  return taggedHash(TAG_SESSION_KEY, concatBytes(dhEnc, u32(userId), u32(gatewayId), u64(round)));
}

export function sessionScalar(keyBytes: Uint8Array): bigint {
  return bytesToBigInt(keyBytes) % BBNP_ORDER;
}

/**
 * Pairwise mask key `k_ab = TH("GridLedger/BBNP/pair", enc(s_a·S_b) ‖ u32 min(a,b) ‖ u32 max(a,b))`:
 * only a and b can compute the DH point (DESIGN §6: never from public data); symmetric in a, b.
 */
export function pairKey(dhEnc: Uint8Array, a: number, b: number): Uint8Array {
  if (dhEnc.length !== G1_BYTES)
    throw new BbnpInputError(`pairKey: dh point must be ${G1_BYTES} bytes`);
  if (!isU32(a) || !isU32(b) || a === b)
    throw new BbnpInputError("pairKey: need two distinct u32 ids");
  return taggedHash(TAG_PAIR_KEY, concatBytes(dhEnc, u32(Math.min(a, b)), u32(Math.max(a, b))));
}

/** Unsigned mask value `int(HMAC(k_ab, "GridLedger/BBNP/AUI" ‖ u64 t)) mod r`. */
export function auiMagnitude(pairKeyBytes: Uint8Array, round: bigint): bigint {
  return (
    bytesToBigInt(hmacSha256(pairKeyBytes, concatBytes(ascii(AUI_LABEL), u64(round)))) % BBNP_ORDER
  );
}

/**
 * Blinding key `b_i = TH("GridLedger/BBNP/blind-key", u256 s_i)`, 32 bytes, one per key epoch.
 * Only user i and the TA (which drew `s_i`) can compute it; it never leaves either.
 */
export function blindingKey(secret: bigint): Uint8Array {
  if (secret <= 0n || secret >= BBNP_ORDER)
    throw new BbnpInputError("blindingKey: secret scalar out of range [1, r−1]");
  return taggedHash(TAG_BLIND_KEY, u256(secret));
}

/**
 * Round-`t` blinding term `β_i(t) = int(HMAC(b_i, "GridLedger/BBNP/blind" ‖ u64 t)) mod r`
 * (DESIGN §4.7: the blinding term is a PRF output under a round-specific input, so revealing
 * `β_d(t)`, or a sum of such terms, says nothing about `β_d(t')` for any other round `t'`).
 */
export function blindingTerm(blindKey: Uint8Array, round: bigint): bigint {
  if (blindKey.length !== TAG_BYTES)
    throw new BbnpInputError(`blindingTerm: key must be ${TAG_BYTES} bytes`);
  return (
    bytesToBigInt(hmacSha256(blindKey, concatBytes(ascii(BLIND_LABEL), u64(round)))) % BBNP_ORDER
  );
}

/** `AUI_{self,peer}(t)`: `+` for the smaller index, so `AUI_{a,b} + AUI_{b,a} ≡ 0 (mod r)`. */
export function auiMask(
  pairKeyBytes: Uint8Array,
  self: number,
  peer: number,
  round: bigint,
): bigint {
  if (self === peer) throw new BbnpInputError("auiMask: a user is not its own neighbour");
  const m = auiMagnitude(pairKeyBytes, round);
  return self < peer ? m : mod(-m);
}

export interface MaskInput {
  /** The reading m_i, an integer in [0, maxReading]. */
  readonly reading: bigint;
  /** k_{i,g} (already reduced mod r). */
  readonly sessionScalar: bigint;
  /** AUI_{i,b}(t) for every neighbour b. */
  readonly masks: readonly bigint[];
  /** β_i(t), the round's blinding term ({@link blindingTerm}). */
  readonly blinding: bigint;
}

/** `C_i = m_i + k_{i,g}(t) + Σ_b AUI_{i,b}(t) + β_i(t) mod r` (DESIGN §4.7). */
export function maskReading(input: MaskInput): bigint {
  let c = input.reading + input.sessionScalar + input.blinding;
  for (const m of input.masks) c += m;
  return mod(c);
}

/** Report tag `HMAC(k_{i,g}, u256 C_i ‖ u64 t)`. */
export function reportTag(sessionKey: Uint8Array, masked: bigint, round: bigint): Uint8Array {
  if (masked < 0n || masked >= BBNP_ORDER)
    throw new BbnpInputError("reportTag: masked value must be < r");
  return hmacSha256(sessionKey, concatBytes(u256(masked), u64(round)));
}

/** Tag on a revealed mask: `HMAC(k_{i,g}, "GridLedger/BBNP/reveal" ‖ u64 t ‖ u32 d ‖ u256 AUI_{i,d})`. */
export function revealTag(
  sessionKey: Uint8Array,
  round: bigint,
  peer: number,
  mask: bigint,
): Uint8Array {
  return hmacSha256(
    sessionKey,
    concatBytes(ascii(REVEAL_LABEL), u64(round), u32(peer), u256(mask)),
  );
}

/** `seed_t = TH("GridLedger/BBNP/seed", graphSeed ‖ u32 epoch ‖ u64 t)`: public per-round randomness. */
export function roundSeed(graphSeed: Uint8Array, epoch: number, round: bigint): Uint8Array {
  return taggedHash(TAG_ROUND_SEED, concatBytes(graphSeed, u32(epoch), u64(round)));
}

export interface UnmaskInput {
  /** Σ C_i over the counted reports (any representative mod r). */
  readonly sumMasked: bigint;
  /** Σ k_{g,i}(t) over the same users (any representative mod r). */
  readonly sumSessionScalars: bigint;
  /** The TA's `β_g(t) = −Σ_{all i} β_i(t)` for this round. */
  readonly gatewayBlinding: bigint;
  /** Σ of the AUI_{i,d}(t) revealed by counted neighbours i of non-counted users d. */
  readonly revealedMasks: bigint;
  /** The TA's correction `Σ_{d∉R} β_d(t)` over the non-counted users (0 when all are counted). */
  readonly dropoutCorrection: bigint;
}

/**
 * `Σ_{i∈R} m_i = Σ_R C_i − Σ_R k_{g,i} − Σ revealed AUI − β_g(t) − Σ_{d∉R} β_d(t)  (mod r)`,
 * because `Σ_{i∈R} β_i(t) = −β_g(t) − Σ_{d∉R} β_d(t)` and masks between two counted users cancel.
 */
export function unmaskSum(input: UnmaskInput): bigint {
  return mod(
    input.sumMasked -
      input.sumSessionScalars -
      input.revealedMasks +
      input.gatewayBlinding +
      input.dropoutCorrection,
  );
}

export { SCALAR_BYTES, TAG_BYTES };
