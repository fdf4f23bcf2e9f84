// BBNP masking math, reference implementation (DESIGN §4.7; Bao et al. §IV-B/C, fixed per §6).
// Written for clarity over @noble/hashes; the gateway and user hot paths (word-level SHA-256)
// are tested to produce exactly these values.
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

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

export const TAG_SESSION_KEY = "GridLedger/BBNP/k";
export const TAG_PAIR_KEY = "GridLedger/BBNP/pair";
export const TAG_ROUND_SEED = "GridLedger/BBNP/seed";
export const TAG_GRAPH = "GridLedger/BBNP/graph";
export const AUI_LABEL = "GridLedger/BBNP/AUI";
export const REVEAL_LABEL = "GridLedger/BBNP/reveal";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** `TH(tag, x) = SHA256(SHA256(tag) ‖ SHA256(tag) ‖ x)` (DESIGN §4, BIP-340 tagged hash). */
export function taggedHash(tag: string, ...parts: readonly Uint8Array[]): Uint8Array {
  const t = sha256(ascii(tag));
  return sha256(concatBytes(t, t, ...parts));
}

export function hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  return hmac(sha256, key, concatBytes(...parts));
}

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
    throw new Error(`sessionKeyBytes: dh point must be ${G1_BYTES} bytes`);
  return taggedHash(TAG_SESSION_KEY, dhEnc, u32(userId), u32(gatewayId), u64(round));
}

export function sessionScalar(keyBytes: Uint8Array): bigint {
  return bytesToBigInt(keyBytes) % BBNP_ORDER;
}

/**
 * Pairwise mask key `k_ab = TH("GridLedger/BBNP/pair", enc(s_a·S_b) ‖ u32 min(a,b) ‖ u32 max(a,b))`:
 * only a and b can compute the DH point (DESIGN §6: never from public data); symmetric in a, b.
 */
export function pairKey(dhEnc: Uint8Array, a: number, b: number): Uint8Array {
  if (dhEnc.length !== G1_BYTES) throw new Error(`pairKey: dh point must be ${G1_BYTES} bytes`);
  if (!isU32(a) || !isU32(b) || a === b) throw new Error("pairKey: need two distinct u32 ids");
  return taggedHash(TAG_PAIR_KEY, dhEnc, u32(Math.min(a, b)), u32(Math.max(a, b)));
}

/** Unsigned mask value `int(HMAC(k_ab, "GridLedger/BBNP/AUI" ‖ u64 t)) mod r`. */
export function auiMagnitude(pairKeyBytes: Uint8Array, round: bigint): bigint {
  return bytesToBigInt(hmacSha256(pairKeyBytes, ascii(AUI_LABEL), u64(round))) % BBNP_ORDER;
}

/** `AUI_{self,peer}(t)`: `+` for the smaller index, so `AUI_{a,b} + AUI_{b,a} ≡ 0 (mod r)`. */
export function auiMask(
  pairKeyBytes: Uint8Array,
  self: number,
  peer: number,
  round: bigint,
): bigint {
  if (self === peer) throw new Error("auiMask: a user is not its own neighbour");
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
  /** s_i. */
  readonly secret: bigint;
}

/** `C_i = m_i + k_{i,g} + Σ_b AUI_{i,b} + s_i mod r` (DESIGN §4.7). */
export function maskReading(input: MaskInput): bigint {
  let c = input.reading + input.sessionScalar + input.secret;
  for (const m of input.masks) c += m;
  return mod(c);
}

/** Report tag `HMAC(k_{i,g}, u256 C_i ‖ u64 t)`. */
export function reportTag(sessionKey: Uint8Array, masked: bigint, round: bigint): Uint8Array {
  if (masked < 0n || masked >= BBNP_ORDER) throw new Error("reportTag: masked value must be < r");
  return hmacSha256(sessionKey, u256(masked), u64(round));
}

/** Tag on a revealed mask: `HMAC(k_{i,g}, "GridLedger/BBNP/reveal" ‖ u64 t ‖ u32 d ‖ u256 AUI_{i,d})`. */
export function revealTag(
  sessionKey: Uint8Array,
  round: bigint,
  peer: number,
  mask: bigint,
): Uint8Array {
  return hmacSha256(sessionKey, ascii(REVEAL_LABEL), u64(round), u32(peer), u256(mask));
}

/** `seed_t = TH("GridLedger/BBNP/seed", graphSeed ‖ u32 epoch ‖ u64 t)`: public per-round randomness. */
export function roundSeed(graphSeed: Uint8Array, epoch: number, round: bigint): Uint8Array {
  return taggedHash(TAG_ROUND_SEED, graphSeed, u32(epoch), u64(round));
}

export interface UnmaskInput {
  /** Σ C_i over accepted reports (any representative mod r). */
  readonly sumMasked: bigint;
  /** Σ k_{g,i} over the same users (any representative mod r). */
  readonly sumSessionScalars: bigint;
  /** s_g. */
  readonly gatewaySecret: bigint;
  /** Σ of the AUI_{i,d}(t) revealed by reporting neighbours i of missing users d. */
  readonly revealedMasks: bigint;
  /** TA's correction Σ_{d missing} s_d (0 when nobody is missing). */
  readonly dropoutCorrection: bigint;
}

/**
 * `Σ_{i∈R} m_i = Σ C_i − Σ k_{g,i} − Σ revealed AUI + s_g + Σ_{d∉R} s_d  (mod r)`, because
 * `Σ_{i∈R} s_i = −s_g − Σ_{d∉R} s_d` and masks between two reporting users cancel.
 */
export function unmaskSum(input: UnmaskInput): bigint {
  return mod(
    input.sumMasked -
      input.sumSessionScalars -
      input.revealedMasks +
      input.gatewaySecret +
      input.dropoutCorrection,
  );
}

export { SCALAR_BYTES, TAG_BYTES };
