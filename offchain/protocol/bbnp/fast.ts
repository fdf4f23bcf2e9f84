// Allocation-free BBNP hashing over 32-bit words (the hot paths of DESIGN §4.7). Each method
// computes exactly the reference value of ./masking.ts (differential tests in
// test/bbnp/sha256-words.test.ts); a FastHasher owns its scratch buffers, so one instance per caller.
import { AUI_LABEL, BLIND_LABEL, TAG_SESSION_KEY } from "./masking.ts";
import { BBNP_ORDER, concatBytes, u64 } from "./params.ts";
import {
  compress,
  hmacKeyStatesFromWords,
  hmacOneBlock,
  paddedBlock,
  taggedHashPrefixState,
} from "../../crypto/sha256-words.ts";
import { sha256 } from "../../crypto/hash.ts";

/** State after the 64-byte prefix SHA256(tag) ‖ SHA256(tag) of the session-key tagged hash. */
const SESSION_PREFIX = taggedHashPrefixState(sha256(new TextEncoder().encode(TAG_SESSION_KEY)));
/** The session key's second block: padding only (0x80, zeros, bit length 128 · 8). */
const SESSION_PAD = Int32Array.from([
  0x80000000 | 0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  1024,
]);
const AUI_LABEL_BYTES = new TextEncoder().encode(AUI_LABEL);
const BLIND_LABEL_BYTES = new TextEncoder().encode(BLIND_LABEL);

/** r as 8 big-endian words, for the canonical-encoding check C < r. */
export const ORDER_WORDS: Int32Array = (() => {
  const out = new Int32Array(8);
  let v = BBNP_ORDER;
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(v & 0xffffffffn) | 0;
    v >>= 32n;
  }
  return out;
})();

/** True iff the 8-word big-endian integer at `words[off..]` is < r. */
export function wordsBelowOrder(words: Int32Array, off: number): boolean {
  for (let i = 0; i < 8; i++) {
    const a = words[off + i] >>> 0;
    const b = ORDER_WORDS[i] >>> 0;
    if (a !== b) return a < b;
  }
  return false;
}

/** The 8-word big-endian integer at `words[off..]`. */
export function wordsToBigInt(words: Int32Array, off = 0): bigint {
  const hi =
    (BigInt(words[off] >>> 0) << 96n) |
    (BigInt(words[off + 1] >>> 0) << 64n) |
    (BigInt(words[off + 2] >>> 0) << 32n) |
    BigInt(words[off + 3] >>> 0);
  const lo =
    (BigInt(words[off + 4] >>> 0) << 96n) |
    (BigInt(words[off + 5] >>> 0) << 64n) |
    (BigInt(words[off + 6] >>> 0) << 32n) |
    BigInt(words[off + 7] >>> 0);
  return (hi << 128n) | lo;
}

/** The padded AUI message block `"GridLedger/BBNP/AUI" ‖ u64 t` (after the 64-byte HMAC key block). */
export function auiBlock(round: bigint): Int32Array {
  return paddedBlock(concatBytes(AUI_LABEL_BYTES, u64(round)), 64);
}

/**
 * The padded blinding message block `"GridLedger/BBNP/blind" ‖ u64 t` (after the 64-byte HMAC key
 * block): `β_i(t)` is {@link FastHasher.aui} over the HMAC states of `b_i` and this block.
 */
export function blindBlock(round: bigint): Int32Array {
  return paddedBlock(concatBytes(BLIND_LABEL_BYTES, u64(round)), 64);
}

export class FastHasher {
  readonly #block = new Int32Array(16);
  readonly #scratch = new Int32Array(16);
  readonly #keyStates = new Int32Array(16);

  /**
   * Session key words `TH("GridLedger/BBNP/k", enc(DH) ‖ u32 ID_i ‖ u32 ID_g ‖ u64 t)`: the
   * message is exactly one 64-byte block after the cached tag prefix, then a constant padding
   * block (length 128 bytes). `dh` holds enc(DH) as 12 words at `dhOff`.
   */
  sessionKey(
    dh: Int32Array,
    dhOff: number,
    userId: number,
    gatewayId: number,
    roundHi: number,
    roundLo: number,
    out: Int32Array,
    oo: number,
  ): void {
    const block = this.#block;
    for (let i = 0; i < 12; i++) block[i] = dh[dhOff + i];
    block[12] = userId | 0;
    block[13] = gatewayId | 0;
    block[14] = roundHi | 0;
    block[15] = roundLo | 0;
    for (let i = 0; i < 8; i++) out[oo + i] = SESSION_PREFIX[i];
    compress(out, oo, block, 0);
    compress(out, oo, SESSION_PAD, 0);
  }

  /**
   * Report tag words `HMAC(key, u256 C ‖ u64 t)` with `key` the 8 session-key words at `ko` and
   * C the 8 words at `co`: 4 compressions (ipad, message, opad, inner digest).
   */
  reportTag(
    key: Int32Array,
    ko: number,
    masked: Int32Array,
    co: number,
    roundHi: number,
    roundLo: number,
    out: Int32Array,
    oo: number,
  ): void {
    const states = this.#keyStates;
    hmacKeyStatesFromWords(key, ko, 8, states, 0, this.#block);
    const block = this.#block;
    for (let i = 0; i < 8; i++) block[i] = masked[co + i];
    block[8] = roundHi | 0;
    block[9] = roundLo | 0;
    block[10] = 0x80000000 | 0;
    block[11] = 0;
    block[12] = 0;
    block[13] = 0;
    block[14] = 0;
    block[15] = (64 + 40) * 8;
    hmacOneBlock(states, 0, block, out, oo, this.#scratch);
  }

  /**
   * `HMAC(key, block)` from cached key states: `AUI` with {@link auiBlock} under `k_ab`, `β_i(t)`
   * with {@link blindBlock} under `b_i`.
   */
  aui(pairStates: Int32Array, po: number, block: Int32Array, out: Int32Array, oo: number): void {
    hmacOneBlock(pairStates, po, block, out, oo, this.#scratch);
  }

  /** HMAC key states for a 32-byte key given as 8 words. */
  keyStates(key: Int32Array, ko: number, out: Int32Array, oo: number): void {
    hmacKeyStatesFromWords(key, ko, 8, out, oo, this.#block);
  }
}
