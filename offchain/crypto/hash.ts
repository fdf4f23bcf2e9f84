// Hashes of DESIGN §4 and §4.1 (Oksuz H, H1, H2, H3): SHA-256, keccak256, BIP-340 tagged hash,
// HMAC-SHA256. node:crypto serves SHA-256 and HMAC (≈2× faster than pure JS on this machine);
// keccak256 comes from @noble/hashes. Both are checked against the vectors in test/vectors/.
import { createHash, createHmac } from "node:crypto";

import { keccak_256 } from "@noble/hashes/sha3.js";

import { concatBytes, bytesToBigInt } from "./bytes.ts";

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

export function keccak256(data: Uint8Array): Uint8Array {
  return keccak_256(data);
}

/** `H(key, x)`: the paper's keyed hash, HMAC-SHA256 (DESIGN §4.1). */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(data).digest());
}

const tagPrefixes = new Map<string, Uint8Array>();

/** `SHA256(tag) ‖ SHA256(tag)`, cached per tag. */
function tagPrefix(tag: string): Uint8Array {
  let prefix = tagPrefixes.get(tag);
  if (prefix === undefined) {
    const t = sha256(new TextEncoder().encode(tag));
    prefix = concatBytes(t, t);
    tagPrefixes.set(tag, prefix);
  }
  return prefix;
}

/** `TH(tag, x) = SHA256(SHA256(tag) ‖ SHA256(tag) ‖ x)`, the BIP-340 tagged hash (DESIGN §4). */
export function taggedHash(tag: string, data: Uint8Array): Uint8Array {
  if (typeof tag !== "string" || tag.length === 0) throw new TypeError("taggedHash: empty tag");
  return new Uint8Array(createHash("sha256").update(tagPrefix(tag)).update(data).digest());
}

/** Tagged hash read as a big-endian integer. */
export function taggedHashInt(tag: string, data: Uint8Array): bigint {
  return bytesToBigInt(taggedHash(tag, data));
}
