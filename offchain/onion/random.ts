// Injected randomness (DESIGN §1: protocol logic takes its randomness as an input). A
// `RandomBytes` is any source of uniform bytes: node:crypto's randomBytes in agents, a seeded
// ChaCha20 stream in tests and simulations, so shuffles and session keys replay exactly.
import { createCipheriv } from "node:crypto";

import { CURVE_ORDER } from "../crypto/secp256k1.ts";

/** Source of injected randomness: `length` uniformly random bytes. */
export type RandomBytes = (length: number) => Uint8Array;

/** Uniform integer in [0, bound) by rejection sampling on 32-bit draws (no modulo bias). */
export function uniformInt(bound: number, random: RandomBytes): number {
  if (!Number.isSafeInteger(bound) || bound <= 0 || bound > 2 ** 32) {
    throw new RangeError("uniformInt: bound must be an integer in [1, 2^32]");
  }
  const limit = 2 ** 32 - (2 ** 32 % bound);
  for (;;) {
    const b = random(4);
    const x = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    if (x < limit) return x % bound;
  }
}

/** Fisher–Yates shuffle of a copy of `items`, driven by `random` (deterministic given it). */
export function shuffle<T>(items: readonly T[], random: RandomBytes): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = uniformInt(i + 1, random);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** A fresh session key in [1, n−1] from injected randomness (rejection sampling). */
export function sessionKeyFrom(random: RandomBytes): bigint {
  for (;;) {
    const b = random(32);
    let k = 0n;
    for (const x of b) k = (k << 8n) | BigInt(x);
    if (k > 0n && k < CURVE_ORDER) return k;
  }
}

/**
 * Deterministic RandomBytes from a 32-byte seed (ChaCha20 keystream): for tests and simulations
 * only, never for live session keys.
 */
export function seededRandom(seed: Uint8Array): RandomBytes {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new TypeError("seededRandom: seed must be 32 bytes");
  }
  // One continuous ChaCha20 keystream: the node:crypto cipher object keeps its block counter.
  const stream = createCipheriv("chacha20", seed, new Uint8Array(16));
  return (length: number) => {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError("seededRandom: length");
    const out = stream.update(new Uint8Array(length));
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  };
}
