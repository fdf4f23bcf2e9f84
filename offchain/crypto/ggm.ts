// GGM-tree PRF and per-message Schnorr keys (DESIGN §4.2; Oksuz 2020 §4, the paper's 6-bit tree
// widened to 48 bits). `G_b(s) = TH("GridLedger/GGM", byte(b) ‖ s)`; `f_K(x)` walks bit 47 down to
// bit 0 of `x`; message `k` (1-based) of interval `j` has index `x = j·2^16 + k`, tweak
// `t = H3(f_K(x))` and keys by public derivation (BIP-32 non-hardened style): `sigSk = b + t mod n`
// with the meter's signing base key `b` (meter only), `sigPk = B + t·G` with `B = b·G` (the control
// center recomputes it from `B` and `K` and can check every key, but cannot sign: it lacks `b`).
import { concatBytes, expectBytes, wipe } from "./bytes.ts";
import { h3, sha256, taggedHash } from "./hash.ts";
import { bytesToWords, compress, taggedHashPrefixState, wordsToBytes } from "./sha256-words.ts";
import { CURVE_ORDER, secp, type Secp256k1Backend } from "./secp256k1.ts";

/** Tag of the GGM PRG halves (DESIGN §4.2). */
export const GGM_TAG = "GridLedger/GGM";
/** Depth of the tree: indices are 48-bit. */
export const GGM_DEPTH = 48;
/** Largest GGM index, 2^48 − 1. */
export const GGM_MAX_INDEX = (1n << 48n) - 1n;
/** Largest interval number `j` (u32). */
export const MAX_INTERVAL = 0xffff_ffff;
/** Largest message counter `k` in an interval (1-based, u16; 0 is never a message). */
export const MAX_COUNTER = 0xffff;

/** `G_b(s)`: one half of the length-doubling PRG (DESIGN §4.2). */
export function ggmPrg(bit: 0 | 1, seed: Uint8Array): Uint8Array {
  if (bit !== 0 && bit !== 1) throw new RangeError(`ggmPrg: bit must be 0 or 1, got ${bit}`);
  expectBytes(seed, 32, "ggmPrg: seed");
  return taggedHash(GGM_TAG, concatBytes(bit === 0 ? ZERO : ONE, seed));
}
const ZERO = Uint8Array.of(0);
const ONE = Uint8Array.of(1);

function checkIndex(index: bigint | number, fn: string): bigint {
  if (typeof index === "number") {
    if (!Number.isSafeInteger(index))
      throw new RangeError(`${fn}: index ${index} is not an integer`);
    index = BigInt(index);
  }
  if (typeof index !== "bigint" || index < 0n || index > GGM_MAX_INDEX) {
    throw new RangeError(`${fn}: index ${String(index)} outside [0, 2^48 − 1]`);
  }
  return index;
}

/** `f_K(x)` without caching: 48 PRG steps from the root (the reference for {@link GgmPrf}). */
export function ggmEvaluate(key: Uint8Array, index: bigint | number): Uint8Array {
  expectBytes(key, 32, "ggmEvaluate: key");
  const x = checkIndex(index, "ggmEvaluate");
  let s = key;
  for (let i = GGM_DEPTH - 1; i >= 0; i--) {
    const next = ggmPrg(Number((x >> BigInt(i)) & 1n) as 0 | 1, s);
    if (s !== key) wipe(s);
    s = next;
  }
  return s;
}

/** `x = j·2^16 + k` (DESIGN §4.2); `j` a u32, `k` in [1, 65535]. */
export function messageIndex(interval: number, counter: number): bigint {
  if (!Number.isInteger(interval) || interval < 0 || interval > MAX_INTERVAL) {
    throw new RangeError(`messageIndex: interval ${interval} is not a u32`);
  }
  if (!Number.isInteger(counter) || counter < 1 || counter > MAX_COUNTER) {
    throw new RangeError(`messageIndex: counter ${counter} outside [1, 65535] (1-based)`);
  }
  return (BigInt(interval) << 16n) | BigInt(counter);
}

/** `TH` prefix state of {@link GGM_TAG}, as words, for the allocation-free steps of {@link GgmPrf}. */
const GGM_PREFIX = taggedHashPrefixState(sha256(new TextEncoder().encode(GGM_TAG)));

/**
 * `f_K` with the last root-to-leaf path cached. Consecutive indices share all levels above their
 * highest differing bit, so the next message key of a meter costs ≈2 PRG steps on average instead
 * of 48. The path is held as 8-word SHA-256 states and each step is one compression from the tag's
 * prefix state (the 33-byte input `byte(b) ‖ s` fits one block), with no allocation: the control
 * center derives a key per admitted report. Produces exactly {@link ggmEvaluate}'s output for any
 * order of indices (property-tested).
 */
export class GgmPrf {
  /** Words `8d..8d+7` hold the seed after `d` levels (level 0 = K); valid for depths ≤ the shared prefix. */
  readonly #path = new Int32Array(8 * (GGM_DEPTH + 1));
  readonly #block = new Int32Array(16);
  #last = -1n;
  #wiped = false;

  constructor(key: Uint8Array) {
    expectBytes(key, 32, "GgmPrf: key");
    bytesToWords(key, this.#path, 0);
  }

  /** `f_K(index)` (a fresh copy: the caller may wipe it). */
  evaluate(index: bigint | number): Uint8Array {
    if (this.#wiped) throw new Error("GgmPrf.evaluate: key material was wiped");
    const x = checkIndex(index, "GgmPrf.evaluate");
    // Levels 0..start are shared with the cached path: `start` = number of leading bits (from bit
    // 47) where x and the last index agree.
    let start = 0;
    if (this.#last >= 0n) {
      const diff = x ^ this.#last;
      start = diff === 0n ? GGM_DEPTH : GGM_DEPTH - diff.toString(2).length;
    }
    // 48 bits exceed a 32-bit int but not a double: read bits with Math.floor on a Number.
    const xn = Number(x);
    const path = this.#path;
    const block = this.#block;
    for (let d = start; d < GGM_DEPTH; d++) {
      const bit = Math.floor(xn / 2 ** (GGM_DEPTH - 1 - d)) & 1;
      // Block = byte(bit) ‖ seed (32 bytes) ‖ 0x80 ‖ zeros ‖ u64 bit length (64 + 33) · 8.
      const s = 8 * d;
      block[0] = (bit << 24) | (path[s] >>> 8);
      for (let i = 1; i < 8; i++) block[i] = (path[s + i - 1] << 24) | (path[s + i] >>> 8);
      block[8] = (path[s + 7] << 24) | 0x800000;
      for (let i = 9; i < 15; i++) block[i] = 0;
      block[15] = (64 + 33) * 8;
      const o = s + 8;
      for (let i = 0; i < 8; i++) path[o + i] = GGM_PREFIX[i];
      compress(path, o, block, 0);
    }
    block.fill(0);
    this.#last = x;
    return wordsToBytes(path, 8 * GGM_DEPTH, 8);
  }

  /** Overwrites the key and the cached path; the instance is unusable afterwards. */
  wipe(): void {
    this.#path.fill(0);
    this.#block.fill(0);
    this.#wiped = true;
  }
}

/**
 * Walks `bits` levels (1…48) of the GGM tree from `seed` (32 bytes), taking the bits of `path`
 * (an unsigned integer < 2^bits) from the most significant down: `G_{b_1}(…G_{b_bits}(seed))` in
 * the notation of DESIGN §4.2. Allocation-free steps, as in {@link GgmPrf}. Returns a fresh 32-byte
 * node (the caller may wipe it).
 */
function ggmDescend(seed: Uint8Array, path: number, bits: number): Uint8Array {
  const state = new Int32Array(16);
  const block = new Int32Array(16);
  bytesToWords(seed, state, 0);
  for (let d = 0; d < bits; d++) {
    const bit = Math.floor(path / 2 ** (bits - 1 - d)) & 1;
    const s = (d & 1) * 8;
    const o = 8 - s;
    block[0] = (bit << 24) | (state[s] >>> 8);
    for (let i = 1; i < 8; i++) block[i] = (state[s + i - 1] << 24) | (state[s + i] >>> 8);
    block[8] = (state[s + 7] << 24) | 0x800000;
    for (let i = 9; i < 15; i++) block[i] = 0;
    block[15] = (64 + 33) * 8;
    for (let i = 0; i < 8; i++) state[o + i] = GGM_PREFIX[i];
    compress(state, o, block, 0);
  }
  const out = wordsToBytes(state, (bits & 1) * 8, 8);
  state.fill(0);
  block.fill(0);
  return out;
}

/**
 * `K_{i,j}`: the GGM node after the 32 bits of interval `j` (index `x = j·2^16 + k`, DESIGN §4.2),
 * the root of the 16-level subtree holding every message tweak of that interval and nothing else.
 * The control center keeps it per meter while interval `j` is open (32 bytes instead of `K_i`'s
 * whole cached path) and hands it, not `K_i`, to its admission workers. Throws RangeError on a bad
 * key or interval.
 */
export function ggmIntervalSeed(ggmKey: Uint8Array, interval: number): Uint8Array {
  expectBytes(ggmKey, 32, "ggmIntervalSeed: ggmKey");
  if (!Number.isInteger(interval) || interval < 0 || interval > MAX_INTERVAL) {
    throw new RangeError(`ggmIntervalSeed: interval ${interval} is not a u32`);
  }
  return ggmDescend(ggmKey, interval, 32);
}

/**
 * `t_{i,j,k} = H3(f_{K_i}(j·2^16 + k))` from the interval seed `K_{i,j}` of {@link ggmIntervalSeed}:
 * 16 PRG steps. Equals {@link messageTweak}`(K_i, j, k)` (property-tested).
 */
export function intervalMessageTweak(intervalSeed: Uint8Array, counter: number): bigint {
  expectBytes(intervalSeed, 32, "intervalMessageTweak: intervalSeed");
  if (!Number.isInteger(counter) || counter < 1 || counter > MAX_COUNTER) {
    throw new RangeError(`intervalMessageTweak: counter ${counter} outside [1, 65535] (1-based)`);
  }
  const leaf = ggmDescend(intervalSeed, counter, 16);
  const t = h3(leaf);
  wipe(leaf);
  return t;
}

/** A per-message Schnorr key pair (DESIGN §4.2). */
export interface MessageKey {
  readonly interval: number;
  readonly counter: number;
  /** `t_{i,j,k} = H3(f_{K_i}(j·2^16 + k))`, in [1, n−1] (known to the meter and CC). */
  readonly tweak: bigint;
  /** `sigSk_{i,j,k} = b_i + t mod n`, in [1, n−1] (the meter only). */
  readonly sigSk: bigint;
  /** `sigPk = sigSk·G = B_i + t·G`, 33-byte compressed. */
  readonly sigPk: Uint8Array;
}

export class MessageKeyError extends Error {
  override name = "MessageKeyError";
}

function checkBaseKey(baseKey: bigint, fn: string): void {
  if (typeof baseKey !== "bigint" || baseKey <= 0n || baseKey >= CURVE_ORDER) {
    throw new MessageKeyError(`${fn}: base key out of range [1, n-1]`);
  }
}

/** `sigSk = b + t mod n`; throws in the ≈ 2^−256 case `b + t ≡ 0` (the meter draws a new `b`). */
function tweakedSecret(baseKey: bigint, tweak: bigint, fn: string): bigint {
  const sigSk = (baseKey + tweak) % CURVE_ORDER;
  if (sigSk === 0n) throw new MessageKeyError(`${fn}: b + t ≡ 0 mod n (choose another base key)`);
  return sigSk;
}

/** `t = H3(f_K(j·2^16 + k))` from scratch (no cache): the reference path. */
export function messageTweak(ggmKey: Uint8Array, interval: number, counter: number): bigint {
  const leaf = ggmEvaluate(ggmKey, messageIndex(interval, counter));
  const t = h3(leaf);
  wipe(leaf);
  return t;
}

/**
 * `sigPk = B + t·G` (DESIGN §4.2): what the control center recomputes from the registered base key
 * `B` (33 bytes) and the tweak. Throws on an invalid `B`.
 */
export function messagePublicKey(
  basePublicKey: Uint8Array,
  tweak: bigint,
  backend: Secp256k1Backend = secp,
): Uint8Array {
  expectBytes(basePublicKey, 33, "messagePublicKey: basePublicKey");
  return backend.addMulBase(basePublicKey, tweak, true);
}

/** One message key from scratch (no cache): the reference path. `baseKey` is `b_i` in [1, n−1]. */
export function deriveMessageKey(
  ggmKey: Uint8Array,
  baseKey: bigint,
  interval: number,
  counter: number,
  backend: Secp256k1Backend = secp,
): MessageKey {
  checkBaseKey(baseKey, "deriveMessageKey");
  const tweak = messageTweak(ggmKey, interval, counter);
  const sigSk = tweakedSecret(baseKey, tweak, "deriveMessageKey");
  return { interval, counter, tweak, sigSk, sigPk: backend.mulBase(sigSk, true) };
}

/**
 * Derives a meter's per-message tweaks from `K_i` with the GGM path cached: the control center
 * (every tweak of a meter, to check keys and signatures against `B_i`) and, with the base key, the
 * meter (its next message key).
 */
export class MessageKeyDeriver {
  readonly #prf: GgmPrf;
  readonly #backend: Secp256k1Backend;

  constructor(ggmKey: Uint8Array, backend: Secp256k1Backend = secp) {
    expectBytes(ggmKey, 32, "MessageKeyDeriver: ggmKey");
    this.#prf = new GgmPrf(ggmKey);
    this.#backend = backend;
  }

  /** `t_{i,j,k}` (the control center checks against `B_i + t·G` and never learns `sigSk`). */
  tweak(interval: number, counter: number): bigint {
    const leaf = this.#prf.evaluate(messageIndex(interval, counter));
    const t = h3(leaf);
    wipe(leaf);
    return t;
  }

  /** `sigPk_{i,j,k} = B_i + t·G` from the registered base key (control center side). */
  publicKey(basePublicKey: Uint8Array, interval: number, counter: number): Uint8Array {
    return messagePublicKey(basePublicKey, this.tweak(interval, counter), this.#backend);
  }

  /** `(t, sigSk = b + t, sigPk)` for message `counter` of `interval` (meter side: needs `b_i`). */
  messageKey(baseKey: bigint, interval: number, counter: number): MessageKey {
    checkBaseKey(baseKey, "MessageKeyDeriver.messageKey");
    const tweak = this.tweak(interval, counter);
    const sigSk = tweakedSecret(baseKey, tweak, "MessageKeyDeriver.messageKey");
    return { interval, counter, tweak, sigSk, sigPk: this.#backend.mulBase(sigSk, true) };
  }

  wipe(): void {
    this.#prf.wipe();
  }
}
