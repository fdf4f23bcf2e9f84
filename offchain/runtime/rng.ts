// Seeded deterministic randomness for simulations and for anything that must be injectable
// (DESIGN §1 "no randomness except injected"). A run is reproducible from its seed.
//
// Construction: the seed is hashed into a 32-byte ChaCha20 key, and the stream is the ChaCha20
// keystream (RFC 8439, @noble/ciphers) read in 1 KiB blocks. ChaCha20 is a well-studied PRF, so
// the output is indistinguishable from uniform and streams for different keys are independent.
// The stream is read as it always was, in 1 KiB "buffers" of 16 blocks (a `nextU32` that would
// cross a buffer's end skips to the next one), but a generator holds only the one 64-byte block
// it is reading, and `bytes(n)` writes whole blocks straight into its output: the same numbers
// for the same seed, ≈ 1 kB less per generator (issue 14: one per simulated meter).
// `fork(label)` derives a child key from the parent *key* and the label only — not from how much
// of the parent stream was consumed — so sub-streams stay stable when unrelated code draws more
// or fewer numbers. This is a simulation RNG: it is also cryptographically strong, but production
// key material must come from node:crypto's CSPRNG, not from a seed written in a scenario file.
import { chacha20 } from "@noble/ciphers/chacha.js";
import { createHash } from "node:crypto";

import type { ByteSlab } from "./byte-slab.ts";

export class RngError extends Error {
  override name = "RngError";
}

/** What consumers depend on; `ChaChaRng` is the implementation. */
export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextU32(): number;
  /** Uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number;
  /** Uniform integer in [0, maxExclusive), unbiased (rejection sampling). */
  nextInt(maxExclusive: number): number;
  /** Uniform bigint in [0, maxExclusive), unbiased (rejection sampling). */
  nextBigInt(maxExclusive: bigint): bigint;
  /** True with probability `p` (p in [0, 1]). */
  chance(p: number): boolean;
  /** `n` fresh bytes. */
  bytes(n: number): Uint8Array;
  /**
   * Independent sub-stream named by `label`; a pure function of (seed, fork path, label). With
   * `store`, the child keeps its 96-byte state (key and current block) in that slab instead of
   * a buffer of its own (issue 14: one per simulated meter); the stream is the same. The slab's
   * owner must be the holder of every generator in it (the state is the stream's secret).
   */
  fork(label: string, store?: ByteSlab): Rng;
  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(array: T[]): T[];
}

const BUFFER_BYTES = 1024; // 16 ChaCha20 blocks per (virtual) buffer: fixes where draws skip
const BLOCK_BYTES = 64;
const BLOCKS_PER_BUFFER = BUFFER_BYTES / BLOCK_BYTES;
const ZERO_BUFFER = new Uint8Array(BUFFER_BYTES);
/** The nonce of epoch 0 (all zero), shared by every generator until its counter would wrap. */
const ZERO_NONCE = new Uint8Array(12);
/** A block's worth of zeros: the initial "current block" copied into a slab. */
const ZERO_BLOCK = new Uint8Array(BLOCK_BYTES);
const textEncoder = new TextEncoder();

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function seedBytes(seed: string | Uint8Array | number | bigint): Uint8Array {
  if (seed instanceof Uint8Array) return seed;
  if (typeof seed === "string") return textEncoder.encode(seed);
  if (typeof seed === "number") {
    if (!Number.isSafeInteger(seed)) throw new RngError("createRng: seed must be a safe integer");
    return textEncoder.encode(`n:${seed}`);
  }
  if (typeof seed === "bigint") return textEncoder.encode(`b:${seed}`);
  throw new RngError("createRng: seed must be a string, Uint8Array, number or bigint");
}

export class ChaChaRng implements Rng {
  // Key (32 bytes) and the block being read (64 bytes) in one view (issue 14): of a buffer of its
  // own, or of a slab shared with other generators (`fork(label, store)`). Never handed out.
  readonly #state: Uint8Array;
  // 12-byte IETF nonce: bytes 0..7 hold an epoch that is bumped when the 32-bit block counter
  // would wrap (after 256 GiB), so the stream never repeats.
  #nonce = ZERO_NONCE;
  #epoch = 0;
  /** Counter of the next buffer's first block. */
  #counter = 0;
  /** Counter of the current buffer's first block. */
  #base = 0;
  /** Read position in the current buffer; `BUFFER_BYTES` = exhausted (so also at the start). */
  #offset = BUFFER_BYTES;
  /** Which block of the current buffer the state's block holds (−1: none). */
  #loaded = -1;

  /**
   * `key` must be 32 bytes; use `createRng(seed)` to start from an arbitrary seed. `store`: keep
   * the state in this slab (see {@link Rng.fork}).
   */
  constructor(key: Uint8Array, store?: ByteSlab) {
    if (!(key instanceof Uint8Array) || key.length !== 32) {
      throw new RngError("ChaChaRng: key must be 32 bytes");
    }
    if (store === undefined) {
      this.#state = new Uint8Array(32 + BLOCK_BYTES);
      this.#state.set(key);
    } else {
      this.#state = store.copy(key, ZERO_BLOCK);
    }
  }

  /** The key: the state's first 32 bytes (a view made at use, not kept). */
  get #key(): Uint8Array {
    return this.#state.subarray(0, 32);
  }

  /** Starts the next 1 KiB buffer (nothing is generated until a block of it is read). */
  #refill(): void {
    if (this.#counter + BLOCKS_PER_BUFFER > 0xffffffff) {
      this.#epoch++;
      this.#counter = 0;
      const nonce = new Uint8Array(12);
      new DataView(nonce.buffer).setBigUint64(0, BigInt(this.#epoch), true);
      this.#nonce = nonce;
    }
    this.#base = this.#counter;
    this.#counter += BLOCKS_PER_BUFFER;
    this.#offset = 0;
    this.#loaded = -1;
  }

  /**
   * Block `index` (0..15) of the current buffer, generated into the state's bytes 32..95 unless it
   * is there; returns the state (the block at offset 32).
   */
  #load(index: number): Uint8Array {
    if (this.#loaded !== index) {
      chacha20(
        this.#key,
        this.#nonce,
        ZERO_BUFFER.subarray(0, BLOCK_BYTES),
        this.#state.subarray(32),
        this.#base + index,
      );
      this.#loaded = index;
    }
    return this.#state;
  }

  /** Copies the current buffer's bytes [offset, offset + out.length) into `out`. */
  #read(out: Uint8Array): void {
    let o = this.#offset;
    const end = o + out.length;
    let filled = 0;
    while (o < end) {
      const index = o >>> 6;
      const inBlock = o & (BLOCK_BYTES - 1);
      if (inBlock === 0 && end - o >= BLOCK_BYTES && this.#loaded !== index) {
        // Whole blocks straight into the output.
        const blocks = (end - o) >>> 6;
        const span = out.subarray(filled, filled + blocks * BLOCK_BYTES);
        chacha20(
          this.#key,
          this.#nonce,
          ZERO_BUFFER.subarray(0, span.length),
          span,
          this.#base + index,
        );
        o += span.length;
        filled += span.length;
        continue;
      }
      const take = Math.min(end - o, BLOCK_BYTES - inBlock);
      out.set(this.#load(index).subarray(32 + inBlock, 32 + inBlock + take), filled);
      o += take;
      filled += take;
    }
    this.#offset = end;
  }

  nextU32(): number {
    if (this.#offset + 4 > BUFFER_BYTES) this.#refill();
    const o = this.#offset;
    const inBlock = o & (BLOCK_BYTES - 1);
    if (inBlock <= BLOCK_BYTES - 4) {
      const b = this.#load(o >>> 6);
      const at = 32 + inBlock;
      this.#offset = o + 4;
      return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
    }
    // Straddles two blocks of the buffer (after an odd-sized `bytes`).
    const b = new Uint8Array(4);
    this.#read(b);
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  }

  nextFloat(): number {
    // 21 + 32 = 53 bits: every representable multiple of 2^-53 in [0, 1) is equally likely.
    const hi = this.nextU32() >>> 11;
    const lo = this.nextU32();
    return (hi * 0x100000000 + lo) / 2 ** 53;
  }

  nextInt(maxExclusive: number): number {
    if (!Number.isSafeInteger(maxExclusive) || maxExclusive <= 0) {
      throw new RngError("nextInt: maxExclusive must be a positive safe integer");
    }
    if (maxExclusive <= 0x100000000) {
      // Reject the top partial bucket of [0, 2^32) so every residue is equally likely.
      const limit = 0x100000000 - (0x100000000 % maxExclusive);
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return x % maxExclusive;
      }
    }
    return Number(this.nextBigInt(BigInt(maxExclusive)));
  }

  nextBigInt(maxExclusive: bigint): bigint {
    if (typeof maxExclusive !== "bigint" || maxExclusive <= 0n) {
      throw new RngError("nextBigInt: maxExclusive must be a positive bigint");
    }
    if (maxExclusive === 1n) return 0n;
    // Draw exactly bitLength(max − 1) bits and reject values ≥ max: expected < 2 draws.
    const bits = (maxExclusive - 1n).toString(2).length;
    const words = Math.ceil(bits / 32);
    const excess = BigInt(words * 32 - bits);
    for (;;) {
      let x = 0n;
      for (let i = 0; i < words; i++) x = (x << 32n) | BigInt(this.nextU32());
      x >>= excess;
      if (x < maxExclusive) return x;
    }
  }

  chance(p: number): boolean {
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
      throw new RngError("chance: p must be a number in [0, 1]");
    }
    if (p === 0) return false;
    if (p === 1) return true;
    return this.nextFloat() < p;
  }

  bytes(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RngError("bytes: n must be a non-negative safe integer");
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#offset >= BUFFER_BYTES) this.#refill();
      const take = Math.min(n - filled, BUFFER_BYTES - this.#offset);
      this.#read(out.subarray(filled, filled + take));
      filled += take;
    }
    return out;
  }

  fork(label: string, store?: ByteSlab): Rng {
    if (typeof label !== "string") throw new RngError("fork: label must be a string");
    const labelBytes = textEncoder.encode(label);
    // Length-prefix the label so ("a","bc") and ("ab","c") fork paths cannot collide.
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, labelBytes.length);
    return new ChaChaRng(
      sha256(textEncoder.encode("GridLedger/rng/fork"), this.#key, len, labelBytes),
      store,
    );
  }

  shuffle<T>(array: T[]): T[] {
    if (!Array.isArray(array)) throw new RngError("shuffle: expected an array");
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }
}

/** A deterministic RNG from any seed: key = SHA-256("GridLedger/rng" ‖ seed bytes). */
export function createRng(seed: string | Uint8Array | number | bigint): Rng {
  return new ChaChaRng(sha256(textEncoder.encode("GridLedger/rng"), seedBytes(seed)));
}

/** Standard normal deviate by Box–Muller (uses two floats; deterministic given the stream). */
export function nextGaussian(rng: Rng): number {
  // 1 − u ∈ (0, 1] keeps log finite.
  const u = 1 - rng.nextFloat();
  const v = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
