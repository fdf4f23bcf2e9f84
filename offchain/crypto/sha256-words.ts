// Word-level SHA-256 (FIPS 180-4) for short fixed-layout messages on hot paths: BBNP's gateway
// derives one session key and checks one HMAC tag per user per round and a user computes h
// pairwise masks (DESIGN §4.7); the Oksuz GGM tree is 48 one-block tagged hashes per key (§4.2).
// Padding is precomputed and tagged-hash prefixes and HMAC ipad/opad states are cached as 8-word
// states, so a one-block hash is one compression with no allocation. Results are pinned to
// @noble/hashes in test/bbnp/sha256-words.test.ts and test/crypto/hash.test.ts. Words are held
// as signed 32-bit ints (`| 0`).
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 initial hash value. */
export const SHA256_IV: Int32Array = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/**
 * One compression: `state[so..so+8] ← compress(state[so..so+8], block[bo..bo+16])`, allocating
 * nothing. The message schedule lives in a 16-word window of locals updated in place before each
 * 16 rounds (FIPS 180-4 §6.2.2 steps 1 and 3 interleaved: `W[t]` for t ≥ 16 overwrites `W[t − 16]`),
 * so no 64-word array is written or read; the rounds are unrolled 16 at a time with the working
 * variables renamed instead of shifted (step 4 without the seven moves per round).
 * `Ch(e,f,g) = g ⊕ (e ∧ (f ⊕ g))` and `Maj(a,b,c) = (a ∧ b) ∨ (c ∧ (a ∨ b))` are the usual
 * equivalent forms. Mechanically unrolled; pinned to @noble/hashes in
 * test/bbnp/sha256-words.test.ts.
 */
export function compress(state: Int32Array, so: number, block: Int32Array, bo: number): void {
  let a = state[so];
  let b = state[so + 1];
  let c = state[so + 2];
  let d = state[so + 3];
  let e = state[so + 4];
  let f = state[so + 5];
  let g = state[so + 6];
  let h = state[so + 7];
  let w0 = block[bo];
  let w1 = block[bo + 1];
  let w2 = block[bo + 2];
  let w3 = block[bo + 3];
  let w4 = block[bo + 4];
  let w5 = block[bo + 5];
  let w6 = block[bo + 6];
  let w7 = block[bo + 7];
  let w8 = block[bo + 8];
  let w9 = block[bo + 9];
  let w10 = block[bo + 10];
  let w11 = block[bo + 11];
  let w12 = block[bo + 12];
  let w13 = block[bo + 13];
  let w14 = block[bo + 14];
  let w15 = block[bo + 15];
  let t1 = 0;
  for (let i = 0; i < 64; i += 16) {
    if (i > 0) {
      // W[t] = σ1(W[t−2]) + W[t−7] + σ0(W[t−15]) + W[t−16], the 16-word window in place.
      w0 =
        (w0 +
          (((w1 >>> 7) | (w1 << 25)) ^ ((w1 >>> 18) | (w1 << 14)) ^ (w1 >>> 3)) +
          w9 +
          (((w14 >>> 17) | (w14 << 15)) ^ ((w14 >>> 19) | (w14 << 13)) ^ (w14 >>> 10))) |
        0;
      w1 =
        (w1 +
          (((w2 >>> 7) | (w2 << 25)) ^ ((w2 >>> 18) | (w2 << 14)) ^ (w2 >>> 3)) +
          w10 +
          (((w15 >>> 17) | (w15 << 15)) ^ ((w15 >>> 19) | (w15 << 13)) ^ (w15 >>> 10))) |
        0;
      w2 =
        (w2 +
          (((w3 >>> 7) | (w3 << 25)) ^ ((w3 >>> 18) | (w3 << 14)) ^ (w3 >>> 3)) +
          w11 +
          (((w0 >>> 17) | (w0 << 15)) ^ ((w0 >>> 19) | (w0 << 13)) ^ (w0 >>> 10))) |
        0;
      w3 =
        (w3 +
          (((w4 >>> 7) | (w4 << 25)) ^ ((w4 >>> 18) | (w4 << 14)) ^ (w4 >>> 3)) +
          w12 +
          (((w1 >>> 17) | (w1 << 15)) ^ ((w1 >>> 19) | (w1 << 13)) ^ (w1 >>> 10))) |
        0;
      w4 =
        (w4 +
          (((w5 >>> 7) | (w5 << 25)) ^ ((w5 >>> 18) | (w5 << 14)) ^ (w5 >>> 3)) +
          w13 +
          (((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10))) |
        0;
      w5 =
        (w5 +
          (((w6 >>> 7) | (w6 << 25)) ^ ((w6 >>> 18) | (w6 << 14)) ^ (w6 >>> 3)) +
          w14 +
          (((w3 >>> 17) | (w3 << 15)) ^ ((w3 >>> 19) | (w3 << 13)) ^ (w3 >>> 10))) |
        0;
      w6 =
        (w6 +
          (((w7 >>> 7) | (w7 << 25)) ^ ((w7 >>> 18) | (w7 << 14)) ^ (w7 >>> 3)) +
          w15 +
          (((w4 >>> 17) | (w4 << 15)) ^ ((w4 >>> 19) | (w4 << 13)) ^ (w4 >>> 10))) |
        0;
      w7 =
        (w7 +
          (((w8 >>> 7) | (w8 << 25)) ^ ((w8 >>> 18) | (w8 << 14)) ^ (w8 >>> 3)) +
          w0 +
          (((w5 >>> 17) | (w5 << 15)) ^ ((w5 >>> 19) | (w5 << 13)) ^ (w5 >>> 10))) |
        0;
      w8 =
        (w8 +
          (((w9 >>> 7) | (w9 << 25)) ^ ((w9 >>> 18) | (w9 << 14)) ^ (w9 >>> 3)) +
          w1 +
          (((w6 >>> 17) | (w6 << 15)) ^ ((w6 >>> 19) | (w6 << 13)) ^ (w6 >>> 10))) |
        0;
      w9 =
        (w9 +
          (((w10 >>> 7) | (w10 << 25)) ^ ((w10 >>> 18) | (w10 << 14)) ^ (w10 >>> 3)) +
          w2 +
          (((w7 >>> 17) | (w7 << 15)) ^ ((w7 >>> 19) | (w7 << 13)) ^ (w7 >>> 10))) |
        0;
      w10 =
        (w10 +
          (((w11 >>> 7) | (w11 << 25)) ^ ((w11 >>> 18) | (w11 << 14)) ^ (w11 >>> 3)) +
          w3 +
          (((w8 >>> 17) | (w8 << 15)) ^ ((w8 >>> 19) | (w8 << 13)) ^ (w8 >>> 10))) |
        0;
      w11 =
        (w11 +
          (((w12 >>> 7) | (w12 << 25)) ^ ((w12 >>> 18) | (w12 << 14)) ^ (w12 >>> 3)) +
          w4 +
          (((w9 >>> 17) | (w9 << 15)) ^ ((w9 >>> 19) | (w9 << 13)) ^ (w9 >>> 10))) |
        0;
      w12 =
        (w12 +
          (((w13 >>> 7) | (w13 << 25)) ^ ((w13 >>> 18) | (w13 << 14)) ^ (w13 >>> 3)) +
          w5 +
          (((w10 >>> 17) | (w10 << 15)) ^ ((w10 >>> 19) | (w10 << 13)) ^ (w10 >>> 10))) |
        0;
      w13 =
        (w13 +
          (((w14 >>> 7) | (w14 << 25)) ^ ((w14 >>> 18) | (w14 << 14)) ^ (w14 >>> 3)) +
          w6 +
          (((w11 >>> 17) | (w11 << 15)) ^ ((w11 >>> 19) | (w11 << 13)) ^ (w11 >>> 10))) |
        0;
      w14 =
        (w14 +
          (((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)) +
          w7 +
          (((w12 >>> 17) | (w12 << 15)) ^ ((w12 >>> 19) | (w12 << 13)) ^ (w12 >>> 10))) |
        0;
      w15 =
        (w15 +
          (((w0 >>> 7) | (w0 << 25)) ^ ((w0 >>> 18) | (w0 << 14)) ^ (w0 >>> 3)) +
          w8 +
          (((w13 >>> 17) | (w13 << 15)) ^ ((w13 >>> 19) | (w13 << 13)) ^ (w13 >>> 10))) |
        0;
    }
    t1 =
      ((h +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        (g ^ (e & (f ^ g)))) |
        0) +
      ((K[i + 0] + w0) | 0);
    d = (d + t1) | 0;
    h =
      (t1 +
        ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) | (c & (a | b))))) |
      0;
    t1 =
      ((g +
        (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) +
        (f ^ (d & (e ^ f)))) |
        0) +
      ((K[i + 1] + w1) | 0);
    c = (c + t1) | 0;
    g =
      (t1 +
        ((((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) +
          ((h & a) | (b & (h | a))))) |
      0;
    t1 =
      ((f +
        (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) +
        (e ^ (c & (d ^ e)))) |
        0) +
      ((K[i + 2] + w2) | 0);
    b = (b + t1) | 0;
    f =
      (t1 +
        ((((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) +
          ((g & h) | (a & (g | h))))) |
      0;
    t1 =
      ((e +
        (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) +
        (d ^ (b & (c ^ d)))) |
        0) +
      ((K[i + 3] + w3) | 0);
    a = (a + t1) | 0;
    e =
      (t1 +
        ((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) +
          ((f & g) | (h & (f | g))))) |
      0;
    t1 =
      ((d +
        (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) +
        (c ^ (a & (b ^ c)))) |
        0) +
      ((K[i + 4] + w4) | 0);
    h = (h + t1) | 0;
    d =
      (t1 +
        ((((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) +
          ((e & f) | (g & (e | f))))) |
      0;
    t1 =
      ((c +
        (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) +
        (b ^ (h & (a ^ b)))) |
        0) +
      ((K[i + 5] + w5) | 0);
    g = (g + t1) | 0;
    c =
      (t1 +
        ((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) +
          ((d & e) | (f & (d | e))))) |
      0;
    t1 =
      ((b +
        (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) +
        (a ^ (g & (h ^ a)))) |
        0) +
      ((K[i + 6] + w6) | 0);
    f = (f + t1) | 0;
    b =
      (t1 +
        ((((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) +
          ((c & d) | (e & (c | d))))) |
      0;
    t1 =
      ((a +
        (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) +
        (h ^ (f & (g ^ h)))) |
        0) +
      ((K[i + 7] + w7) | 0);
    e = (e + t1) | 0;
    a =
      (t1 +
        ((((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) +
          ((b & c) | (d & (b | c))))) |
      0;
    t1 =
      ((h +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        (g ^ (e & (f ^ g)))) |
        0) +
      ((K[i + 8] + w8) | 0);
    d = (d + t1) | 0;
    h =
      (t1 +
        ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) | (c & (a | b))))) |
      0;
    t1 =
      ((g +
        (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) +
        (f ^ (d & (e ^ f)))) |
        0) +
      ((K[i + 9] + w9) | 0);
    c = (c + t1) | 0;
    g =
      (t1 +
        ((((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) +
          ((h & a) | (b & (h | a))))) |
      0;
    t1 =
      ((f +
        (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) +
        (e ^ (c & (d ^ e)))) |
        0) +
      ((K[i + 10] + w10) | 0);
    b = (b + t1) | 0;
    f =
      (t1 +
        ((((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) +
          ((g & h) | (a & (g | h))))) |
      0;
    t1 =
      ((e +
        (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) +
        (d ^ (b & (c ^ d)))) |
        0) +
      ((K[i + 11] + w11) | 0);
    a = (a + t1) | 0;
    e =
      (t1 +
        ((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) +
          ((f & g) | (h & (f | g))))) |
      0;
    t1 =
      ((d +
        (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) +
        (c ^ (a & (b ^ c)))) |
        0) +
      ((K[i + 12] + w12) | 0);
    h = (h + t1) | 0;
    d =
      (t1 +
        ((((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) +
          ((e & f) | (g & (e | f))))) |
      0;
    t1 =
      ((c +
        (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) +
        (b ^ (h & (a ^ b)))) |
        0) +
      ((K[i + 13] + w13) | 0);
    g = (g + t1) | 0;
    c =
      (t1 +
        ((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) +
          ((d & e) | (f & (d | e))))) |
      0;
    t1 =
      ((b +
        (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) +
        (a ^ (g & (h ^ a)))) |
        0) +
      ((K[i + 14] + w14) | 0);
    f = (f + t1) | 0;
    b =
      (t1 +
        ((((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) +
          ((c & d) | (e & (c | d))))) |
      0;
    t1 =
      ((a +
        (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) +
        (h ^ (f & (g ^ h)))) |
        0) +
      ((K[i + 15] + w15) | 0);
    e = (e + t1) | 0;
    a =
      (t1 +
        ((((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) +
          ((b & c) | (d & (b | c))))) |
      0;
  }
  state[so + 0] = (state[so + 0] + a) | 0;
  state[so + 1] = (state[so + 1] + b) | 0;
  state[so + 2] = (state[so + 2] + c) | 0;
  state[so + 3] = (state[so + 3] + d) | 0;
  state[so + 4] = (state[so + 4] + e) | 0;
  state[so + 5] = (state[so + 5] + f) | 0;
  state[so + 6] = (state[so + 6] + g) | 0;
  state[so + 7] = (state[so + 7] + h) | 0;
}

/** Big-endian bytes → words (length a multiple of 4). */
export function bytesToWords(
  bytes: Uint8Array,
  out: Int32Array = new Int32Array(bytes.length >> 2),
  off = 0,
): Int32Array {
  if (bytes.length % 4 !== 0) throw new Error("bytesToWords: length must be a multiple of 4");
  for (let i = 0; i < bytes.length >> 2; i++) {
    const j = i << 2;
    out[off + i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
  }
  return out;
}

export function wordsToBytes(words: Int32Array, off = 0, count = 8): Uint8Array {
  const out = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) {
    const x = words[off + i];
    out[4 * i] = x >>> 24;
    out[4 * i + 1] = (x >>> 16) & 0xff;
    out[4 * i + 2] = (x >>> 8) & 0xff;
    out[4 * i + 3] = x & 0xff;
  }
  return out;
}

/**
 * The padded final block for a message of `msg.length ≤ 55` bytes that follows `prefixBytes`
 * already-compressed bytes (64 for HMAC's key block and for a tagged hash's tag prefix).
 */
export function paddedBlock(msg: Uint8Array, prefixBytes: number): Int32Array {
  if (msg.length > 55) throw new Error("paddedBlock: message longer than one block");
  const bytes = new Uint8Array(64);
  bytes.set(msg);
  bytes[msg.length] = 0x80;
  const bits = (prefixBytes + msg.length) * 8;
  new DataView(bytes.buffer).setUint32(60, bits);
  return bytesToWords(bytes);
}

/**
 * HMAC-SHA256 key states for a key of ≤ 64 bytes: words 0..7 the inner state after `K ⊕ ipad`,
 * words 8..15 the outer state after `K ⊕ opad` (RFC 2104). Cached per key: per epoch for the
 * pairwise mask keys, per user and round for the session key.
 */
export function hmacKeyStates(key: Uint8Array, out: Int32Array = new Int32Array(16)): Int32Array {
  if (key.length > 64) throw new Error("hmacKeyStates: key longer than a block");
  const padded = new Uint8Array(64);
  padded.set(key);
  const kw = bytesToWords(padded);
  hmacKeyStatesFromWords(kw, 0, 16, out, 0);
  return out;
}

/**
 * Same as {@link hmacKeyStates} for a key given as `keyWords` words at `ko` (the rest of the
 * 64-byte block zero); writes 16 words at `out[oo..]`. `block` scratch: 16+ words.
 */
export function hmacKeyStatesFromWords(
  key: Int32Array,
  ko: number,
  keyWords: number,
  out: Int32Array,
  oo: number,
  block: Int32Array = new Int32Array(16),
): void {
  for (let i = 0; i < 16; i++) block[i] = (i < keyWords ? key[ko + i] : 0) ^ 0x36363636;
  for (let i = 0; i < 8; i++) out[oo + i] = SHA256_IV[i];
  compress(out, oo, block, 0);
  for (let i = 0; i < 16; i++) block[i] = (i < keyWords ? key[ko + i] : 0) ^ 0x5c5c5c5c;
  for (let i = 0; i < 8; i++) out[oo + 8 + i] = SHA256_IV[i];
  compress(out, oo + 8, block, 0);
}

/**
 * HMAC over a one-block message: `msgBlock` is the padded block from
 * `paddedBlock(msg, 64)`. Writes the 8-word MAC at `out[oo..]`. `scratch` ≥ 16 words.
 */
export function hmacOneBlock(
  keyStates: Int32Array,
  ko: number,
  msgBlock: Int32Array,
  out: Int32Array,
  oo: number,
  scratch: Int32Array,
): void {
  // Inner hash: state after ipad, then the message block.
  for (let i = 0; i < 8; i++) scratch[i] = keyStates[ko + i];
  compress(scratch, 0, msgBlock, 0);
  // Outer block: inner digest (already in scratch[0..7]) ‖ 0x80 ‖ 0… ‖ bit length (64 + 32 bytes).
  scratch[8] = 0x80000000 | 0;
  for (let i = 9; i < 15; i++) scratch[i] = 0;
  scratch[15] = 768;
  for (let i = 0; i < 8; i++) out[oo + i] = keyStates[ko + 8 + i];
  compress(out, oo, scratch, 0);
}

/** State after compressing `SHA256(tag) ‖ SHA256(tag)`: the cached prefix of a tagged hash. */
export function taggedHashPrefixState(tagDigest: Uint8Array): Int32Array {
  if (tagDigest.length !== 32)
    throw new Error("taggedHashPrefixState: tag digest must be 32 bytes");
  const block = new Int32Array(16);
  bytesToWords(tagDigest, block, 0);
  bytesToWords(tagDigest, block, 8);
  const state = Int32Array.from(SHA256_IV);
  compress(state, 0, block, 0);
  return state;
}
