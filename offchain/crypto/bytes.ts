// Byte helpers shared by every primitive: fixed-width big-endian integers (DESIGN §4 notation),
// concatenation, hex at the edges.
import { Buffer } from "node:buffer";

import { hexToBytes as nobleHexToBytes } from "@noble/hashes/utils.js";

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Big-endian encoding of `value` in exactly `width` bytes; throws if it does not fit. */
export function uintToBytes(
  value: bigint | number,
  width: number,
  what = "uintToBytes",
): Uint8Array {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new RangeError(`${what}: ${value} is not a safe integer`);
  }
  const v = typeof value === "number" ? BigInt(value) : value;
  if (v < 0n || v >> BigInt(8 * width) !== 0n) {
    throw new RangeError(`${what}: ${v} does not fit in ${width} bytes`);
  }
  const out = new Uint8Array(width);
  if (width <= 6) {
    // Fits a double exactly: no BigInt per byte.
    let n = Number(v);
    for (let i = width - 1; i >= 0; i--) {
      out[i] = n % 256;
      n = Math.floor(n / 256);
    }
    return out;
  }
  // One hex conversion instead of `width` BigInt shifts (hot in signing, the digests and every
  // scalar handed to the native secp256k1 backend), read back two characters at a time by char
  // code: no substring or parseInt per byte.
  const hex = v.toString(16);
  let i = hex.length;
  let o = width - 1;
  for (; i >= 2; i -= 2) {
    out[o--] = (hexValue(hex.charCodeAt(i - 2)) << 4) | hexValue(hex.charCodeAt(i - 1));
  }
  if (i === 1) out[o] = hexValue(hex.charCodeAt(0));
  return out;
}

/** Value of one lowercase hex digit's char code (`bigint.toString(16)` emits 0-9 and a-f only). */
function hexValue(code: number): number {
  return code <= 57 ? code - 48 : code - 87;
}

export const u8 = (v: bigint | number, what = "u8"): Uint8Array => uintToBytes(v, 1, what);
export const u16 = (v: bigint | number, what = "u16"): Uint8Array => uintToBytes(v, 2, what);
export const u32 = (v: bigint | number, what = "u32"): Uint8Array => uintToBytes(v, 4, what);
export const u64 = (v: bigint | number, what = "u64"): Uint8Array => uintToBytes(v, 8, what);
export const u256 = (v: bigint | number, what = "u256"): Uint8Array => uintToBytes(v, 32, what);

/** Big-endian bytes → non-negative bigint. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  // One parse of the hex string instead of a BigInt shift per byte.
  return bytes.length === 0 ? 0n : BigInt("0x" + bytesToHex(bytes));
}

/** Hex (with or without 0x) → bytes; throws on odd length or non-hex characters. */
export function hexToBytes(hex: string): Uint8Array {
  return nobleHexToBytes(hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex);
}

/**
 * Bytes → lowercase hex without 0x (the vectors' form), as one flat string; throws TypeError for
 * anything but a Uint8Array. Not noble's `bytesToHex`: on Node 22 it builds the string two
 * characters at a time, which V8 keeps as a rope (a 32-byte cons node per step, plus the leaves),
 * so a 33-byte key kept as a Map key cost ≈ 1 kB instead of ≈ 90 B — the relay directory's 100,000
 * keys were ≈ 0.1 GB of the simulator's onion phase (issue 14, session 8). Same characters.
 */
export function bytesToHex(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("bytesToHex: expected a Uint8Array");
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Bytes → 0x-prefixed hex (the form ethers takes). */
export function toHex0x(bytes: Uint8Array): string {
  return "0x" + bytesToHex(bytes);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Throws unless `bytes` is a Uint8Array of exactly `length` bytes. */
export function expectBytes(
  bytes: unknown,
  length: number,
  what: string,
): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what}: expected Uint8Array`);
  if (bytes.length !== length) {
    throw new RangeError(`${what}: expected ${length} bytes, got ${bytes.length}`);
  }
}

/** Overwrites a secret buffer (best effort: JS cannot guarantee no copies were made). */
export function wipe(bytes: Uint8Array): void {
  bytes.fill(0);
}
