// Hashes of DESIGN §4 and §4.1 (Oksuz H, H1, H2, H3): SHA-256, keccak256, BIP-340 tagged hash,
// HMAC-SHA256. node:crypto serves long SHA-256 and HMAC inputs, word-level compressions
// (./sha256-words.ts) the one-block ones, and ./keccak.ts keccak256; all are checked against
// @noble/hashes and the vectors in test/vectors/.
import { createHash, createHmac, type Hash } from "node:crypto";

import { concatBytes, bytesToBigInt, expectBytes } from "./bytes.ts";
import { keccak256 as keccak256Unrolled } from "./keccak.ts";
import { CURVE_ORDER } from "./secp256k1.ts";
import {
  bytesToWords,
  compress,
  hmacKeyStatesFromWords,
  hmacOneBlock,
  SHA256_IV,
  taggedHashPrefixState,
  wordsToBytes,
} from "./sha256-words.ts";

/**
 * SHA-256 (FIPS 180-4). Inputs of at most {@link SHA256_SHORT_MAX} bytes (one or two blocks: the
 * 33-byte ECDH points and 65-byte blinding inputs of Sphinx, DESIGN §4.6, and most protocol
 * digests) take word-level compressions with no node:crypto object (≈ 4× cheaper per call on this
 * machine, `crypto.sha256_short_us`); longer ones take node:crypto. Either path's running time
 * depends only on the length, never on the bytes (no table look-ups or branches on data), so it
 * is as constant-time as the node:crypto one for secret inputs. Pinned to @noble/hashes for every
 * length 0..300 in test/crypto/hash.test.ts.
 */
export function sha256(data: Uint8Array): Uint8Array {
  if (data.length <= SHA256_SHORT_MAX) return sha256Short(data);
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** Longest input {@link sha256} hashes word by word: two blocks minus the padding. */
export const SHA256_SHORT_MAX = 119;

export function keccak256(data: Uint8Array): Uint8Array {
  return keccak256Unrolled(data);
}

/** `H(key, x)`: the paper's keyed hash, HMAC-SHA256 (DESIGN §4.1). */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(data).digest());
}

/**
 * `HMAC-SHA256(key, first ‖ second)` (RFC 2104) without building the concatenation (Sphinx's
 * `HMAC(mu, hop_payloads ‖ associated_data)`, BOLT #4, DESIGN §4.6): two updates of one
 * node:crypto HMAC. Returns a fresh 32-byte array; throws TypeError on non-byte inputs.
 */
export function hmacSha256Concat(
  key: Uint8Array,
  first: Uint8Array,
  second: Uint8Array,
): Uint8Array {
  const out = createHmac("sha256", key).update(first).update(second).digest();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

const tagStates = new Map<string, Hash>();
const tagWordStates = new Map<string, Int32Array>();

/** A SHA-256 state that has absorbed `SHA256(tag) ‖ SHA256(tag)` (one 64-byte block), per tag. */
function tagState(tag: string): Hash {
  let state = tagStates.get(tag);
  if (state === undefined) {
    const t = sha256(new TextEncoder().encode(tag));
    state = createHash("sha256").update(concatBytes(t, t));
    tagStates.set(tag, state);
  }
  return state;
}

/** The same prefix state as 8 words, for the one-block path of {@link taggedHash}. */
function tagWordState(tag: string): Int32Array {
  let state = tagWordStates.get(tag);
  if (state === undefined) {
    state = taggedHashPrefixState(sha256(new TextEncoder().encode(tag)));
    tagWordStates.set(tag, state);
  }
  return state;
}

// Scratch of the one-block paths (single-threaded: no call re-enters before returning).
const BLOCK = new Int32Array(16);
const STATE = new Int32Array(8);
const SCRATCH = new Int32Array(16);

// Scratch of {@link sha256Short}: two blocks of words.
const SHORT_BLOCKS = new Int32Array(32);

/**
 * SHA-256 of ≤ 119 bytes: the message, 0x80, zeros and the 64-bit bit length laid out in one or two
 * blocks of words (FIPS 180-4 §5.1.1), compressed from the IV. Allocates only the digest.
 */
function sha256Short(data: Uint8Array): Uint8Array {
  const n = data.length;
  const blocks = n <= 55 ? 1 : 2;
  const words = SHORT_BLOCKS;
  words.fill(0);
  for (let i = 0; i < n; i++) words[i >> 2] |= data[i] << (24 - 8 * (i & 3));
  words[n >> 2] |= 0x80 << (24 - 8 * (n & 3));
  words[blocks * 16 - 1] = n * 8;
  STATE.set(SHA256_IV);
  compress(STATE, 0, words, 0);
  if (blocks === 2) compress(STATE, 0, words, 16);
  words.fill(0); // the input may be secret (an ECDH point)
  return wordsToBytes(STATE, 0, 8);
}

/**
 * Loads `data` (≤ 55 bytes) as the final padded block of a message that follows `prefixBytes`
 * already-compressed bytes: data ‖ 0x80 ‖ zeros ‖ u64 bit length (FIPS 180-4 §5.1.1).
 */
function loadFinalBlock(data: Uint8Array, prefixBytes: number): Int32Array {
  BLOCK.fill(0);
  const n = data.length;
  for (let i = 0; i < n; i++) BLOCK[i >> 2] |= data[i] << (24 - 8 * (i & 3));
  BLOCK[n >> 2] |= 0x80 << (24 - 8 * (n & 3));
  BLOCK[15] = (prefixBytes + n) * 8;
  return BLOCK;
}

/**
 * `TH(tag, x) = SHA256(SHA256(tag) ‖ SHA256(tag) ‖ x)`, the BIP-340 tagged hash (DESIGN §4).
 * The prefix is exactly one SHA-256 block, so its state is computed once per tag. Inputs of at
 * most 55 bytes (the GGM steps of §4.2, H1 and H3 of §4.1: 32–33 bytes) then take one word-level
 * compression without allocation (≈ 6× cheaper than a node:crypto hash object per call, which
 * made the GGM tree the control center's largest cost); longer inputs copy the cached
 * node:crypto state. Both paths are pinned to @noble/hashes in test/crypto/hash.test.ts.
 */
export function taggedHash(tag: string, data: Uint8Array): Uint8Array {
  if (typeof tag !== "string" || tag.length === 0) throw new TypeError("taggedHash: empty tag");
  if (!(data instanceof Uint8Array)) throw new TypeError("taggedHash: data must be a Uint8Array");
  if (data.length <= 55) {
    STATE.set(tagWordState(tag));
    compress(STATE, 0, loadFinalBlock(data, 64), 0);
    return wordsToBytes(STATE, 0, 8);
  }
  return new Uint8Array(tagState(tag).copy().update(data).digest());
}

/** Tagged hash read as a big-endian integer. */
export function taggedHashInt(tag: string, data: Uint8Array): bigint {
  return bytesToBigInt(taggedHash(tag, data));
}

/** Tag of H1 (DESIGN §4.1). */
export const H1_TAG = "GridLedger/H1";
/** Tag of H3 (DESIGN §4.1). */
export const H3_TAG = "GridLedger/H3";

/**
 * `H1(P) = TH("GridLedger/H1", compressed(P))` (DESIGN §4.1): identities `ID_i = H1(pk_i)` and
 * pseudonym keys `A_i = H1(sk_{i,CC})` (§4.5). Takes the 33-byte compressed encoding; whether the
 * point is on the curve is the caller's concern (every caller holds a point a backend produced or
 * validated), so H1 stays a pure hash.
 */
export function h1(point: Uint8Array): Uint8Array {
  expectBytes(point, 33, "h1: point");
  if (point[0] !== 2 && point[0] !== 3) {
    throw new RangeError(`h1: point must be compressed (prefix 02/03), got ${point[0]}`);
  }
  return taggedHash(H1_TAG, point);
}

/**
 * `H3(x) = (int(TH("GridLedger/H3", x)) mod (n−1)) + 1` (DESIGN §4.1): maps bytes to a non-zero
 * secp256k1 scalar in [1, n−1] (per-message secret keys of §4.2).
 */
export function h3(data: Uint8Array): bigint {
  if (!(data instanceof Uint8Array)) throw new TypeError("h3: data must be a Uint8Array");
  return (taggedHashInt(H3_TAG, data) % (CURVE_ORDER - 1n)) + 1n;
}

/**
 * HMAC-SHA256 under a fixed key, with the inner and outer pad states precomputed (RFC 2104):
 * equal to {@link hmacSha256}`(key, ·)` (tested), ≈30 % cheaper per message. Used where one key
 * MACs many messages (the control center precomputing an interval's pseudonyms, DESIGN §4.5).
 */
export function hmacSha256Keyed(key: Uint8Array): (data: Uint8Array) => Uint8Array {
  if (!(key instanceof Uint8Array))
    throw new TypeError("hmacSha256Keyed: key must be a Uint8Array");
  const block = new Uint8Array(64);
  block.set(key.length > 64 ? sha256(key) : key);
  const ipad = block.map((b) => b ^ 0x36);
  const opad = block.map((b) => b ^ 0x5c);
  const inner = createHash("sha256").update(ipad);
  const outer = createHash("sha256").update(opad);
  // The same pad states as words for messages of ≤ 55 bytes (one block each side).
  const states = new Int32Array(16);
  const keyWords = bytesToWords(block);
  hmacKeyStatesFromWords(keyWords, 0, 16, states, 0);
  keyWords.fill(0);
  block.fill(0);
  ipad.fill(0);
  opad.fill(0);
  return (data) => {
    if (data.length <= 55) {
      hmacOneBlock(states, 0, loadFinalBlock(data, 64), STATE, 0, SCRATCH);
      return wordsToBytes(STATE, 0, 8);
    }
    const innerDigest = inner.copy().update(data).digest();
    return new Uint8Array(outer.copy().update(innerDigest).digest());
  };
}
