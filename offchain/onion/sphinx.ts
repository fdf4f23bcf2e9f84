// Sphinx onion packets exactly as Lightning's BOLT #4 (version 0) specifies them (DESIGN §4.6):
//
//   packet = version (1, = 0) ‖ ephemeral key (33) ‖ hop_payloads (1300) ‖ hmac (32) = 1366 bytes
//
// Each hop i shares ss_i = SHA256(compressed(e_i·P_i)) with the sender; from it come the stream key
// rho = HMAC("rho", ss) (ChaCha20, 96-bit zero nonce, counter 0) and the HMAC key mu = HMAC("mu", ss).
// A hop payload is `BigSize(length) ‖ payload ‖ next hmac`; peeling decrypts 2×1300 bytes
// (the 1300 received ones extended by 1300 zeros), takes the payload and shifts the rest left by its
// size, so the packet keeps its size at every hop. The sender pre-computes the "filler" that those
// shifts pull in, so every hop's HMAC covers exactly what that hop will receive. The ephemeral key
// is blinded between hops by b_i = SHA256(E_i ‖ ss_i), so consecutive hops see unlinkable keys.
// The 1300 initial bytes come from ChaCha20 keyed with HMAC("pad", session key), which makes the
// construction deterministic given the session key (and reproducible against the BOLT vector).
import { createCipheriv } from "node:crypto";

import { bytesToBigInt, concatBytes, equalBytes, u256, wipe } from "../crypto/bytes.ts";
import { hmacSha256Concat, hmacSha256Keyed, sha256 } from "../crypto/hash.ts";
import { CURVE_ORDER, secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";
import {
  OnionError,
  OnionHmacError,
  OnionKeyError,
  OnionLengthError,
  OnionPayloadError,
  OnionVersionError,
} from "./errors.ts";
import { bigSizeLength, decodeBigSize, encodeBigSize } from "./tlv.ts";

export const ONION_VERSION = 0;
export const EPHEMERAL_KEY_SIZE = 33;
export const HOP_PAYLOADS_SIZE = 1300;
export const HMAC_SIZE = 32;
/** 1 + 33 + 1300 + 32: the size of every packet on every link. */
export const ONION_PACKET_SIZE = 1 + EPHEMERAL_KEY_SIZE + HOP_PAYLOADS_SIZE + HMAC_SIZE;

const KEY_OFFSET = 1;
const PAYLOADS_OFFSET = KEY_OFFSET + EPHEMERAL_KEY_SIZE;
const HMAC_OFFSET = PAYLOADS_OFFSET + HOP_PAYLOADS_SIZE;
const ZERO_IV = new Uint8Array(16);
const ENCODER = new TextEncoder();
// BOLT #4 `generate_key` for each key type: HMAC-SHA256 keyed with the ASCII key type, its pad
// states computed once (a 32-byte secret is then one word-level block per side: no node:crypto
// object per call; the compressions' running time does not depend on the secret).
const KEY_RHO = hmacSha256Keyed(ENCODER.encode("rho"));
const KEY_MU = hmacSha256Keyed(ENCODER.encode("mu"));
const KEY_PAD = hmacSha256Keyed(ENCODER.encode("pad"));

export interface OnionHop {
  /** The hop's 33-byte compressed secp256k1 public key. */
  readonly pubkey: Uint8Array;
  /** The hop's payload without its length prefix (Sphinx adds the BigSize length). */
  readonly payload: Uint8Array;
}

export interface BuildOnionInput {
  /** Sender's fresh session key in [1, n−1]; injected so builds are reproducible. */
  readonly sessionKey: bigint;
  readonly hops: readonly OnionHop[];
  /** Bound into every hop's HMAC but not carried in the packet; every hop must know it. */
  readonly associatedData: Uint8Array;
}

export interface OnionOptions {
  /** secp256k1 backend; the default is the fastest available (`secp`). */
  readonly backend?: Secp256k1Backend;
}

export interface PeeledOnion {
  /** This hop's payload (length prefix removed). */
  readonly payload: Uint8Array;
  /** The packet to forward, or null at the final hop (next HMAC all zero). */
  readonly next: Uint8Array | null;
  /** ss for this hop: the replay cache keys on it. Secret: do not log. */
  readonly sharedSecret: Uint8Array;
}

/**
 * ChaCha20 (RFC 8439, 96-bit zero nonce, counter 0) XOR of `data`. node:crypto's "chacha20" takes a
 * 16-byte IV = 32-bit LE counter ‖ 96-bit nonce, so an all-zero IV is exactly BOLT #4's stream;
 * test/onion/sphinx.test.ts checks it against @noble/ciphers.
 */
export function chacha20Xor(key: Uint8Array, data: Uint8Array): Uint8Array {
  return asBytes(createCipheriv("chacha20", key, ZERO_IV).update(data));
}

/**
 * Bytes [start, start + length) of the ChaCha20 keystream of `key` (zero nonce): starts the
 * cipher at block ⌊start / 64⌋ through the IV's 32-bit little-endian counter (RFC 8439 §2.4)
 * instead of generating and discarding the first `start` bytes.
 */
function chacha20Stream(key: Uint8Array, start: number, length: number): Uint8Array {
  const iv = new Uint8Array(16);
  new DataView(iv.buffer).setUint32(0, Math.floor(start / 64), true);
  const skip = start % 64;
  return asBytes(
    createCipheriv("chacha20", key, iv).update(new Uint8Array(skip + length)),
  ).subarray(skip);
}

function asBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** b = SHA256(E ‖ ss) read as a scalar (reduced mod n: multiplying by b or b mod n is the same). */
function blindingFactor(ephemeralKey: Uint8Array, sharedSecret: Uint8Array): bigint {
  const input = new Uint8Array(EPHEMERAL_KEY_SIZE + HMAC_SIZE);
  input.set(ephemeralKey, 0);
  input.set(sharedSecret, EPHEMERAL_KEY_SIZE);
  const b = bytesToBigInt(sha256(input)) % CURVE_ORDER;
  wipe(input);
  // Probability 2^-256; refusing is better than producing a point at infinity.
  if (b === 0n) throw new OnionKeyError("blindingFactor: zero blinding factor");
  return b;
}

function checkScalar(k: unknown, what: string): asserts k is bigint {
  if (typeof k !== "bigint" || k <= 0n || k >= CURVE_ORDER) {
    throw new RangeError(`${what}: scalar out of range [1, n-1]`);
  }
}

/** Size a payload takes in hop_payloads: BigSize(length) ‖ payload ‖ hmac. */
export function hopPayloadFootprint(payloadLength: number): number {
  return bigSizeLength(payloadLength) + payloadLength + HMAC_SIZE;
}

/**
 * Builds a BOLT #4 version-0 onion. Deterministic in its inputs. Throws RangeError when the
 * payloads do not fit in 1300 bytes.
 */
export function buildOnion(input: BuildOnionInput, options: OnionOptions = {}): Uint8Array {
  const backend = options.backend ?? secp;
  const { sessionKey, hops, associatedData } = input;
  checkScalar(sessionKey, "buildOnion: sessionKey");
  if (!(associatedData instanceof Uint8Array)) {
    throw new TypeError("buildOnion: associatedData must be a Uint8Array");
  }
  if (!Array.isArray(hops) || hops.length === 0) throw new RangeError("buildOnion: no hops");
  const framed: Uint8Array[] = [];
  let total = 0;
  for (const [i, hop] of hops.entries()) {
    if (!(hop.pubkey instanceof Uint8Array) || hop.pubkey.length !== EPHEMERAL_KEY_SIZE) {
      throw new TypeError(`buildOnion: hop ${i} pubkey must be 33 bytes`);
    }
    if (!(hop.payload instanceof Uint8Array) || hop.payload.length === 0) {
      // Length 0 is BOLT #4's deprecated legacy-format marker; we never produce it.
      throw new RangeError(`buildOnion: hop ${i} payload must be non-empty bytes`);
    }
    const f = concatBytes(encodeBigSize(hop.payload.length), hop.payload);
    framed.push(f);
    total += f.length + HMAC_SIZE;
  }
  if (total > HOP_PAYLOADS_SIZE) {
    throw new RangeError(`buildOnion: hop payloads need ${total} bytes, ${HOP_PAYLOADS_SIZE} fit`);
  }

  // Per-hop ECDH with the blinded ephemeral key e_i (BOLT #4 "Shared secret").
  const sharedSecrets: Uint8Array[] = [];
  let e = sessionKey;
  const firstEphemeral = backend.mulBase(e, true);
  let ephemeral = firstEphemeral;
  for (const [i, hop] of hops.entries()) {
    let ecdh: Uint8Array;
    try {
      ecdh = backend.mul(hop.pubkey, e, true);
    } catch (err) {
      throw new TypeError(`buildOnion: hop ${i} pubkey invalid (${(err as Error).message})`);
    }
    const ss = sha256(ecdh);
    sharedSecrets.push(ss);
    if (i + 1 < hops.length) {
      e = (e * blindingFactor(ephemeral, ss)) % CURVE_ORDER;
      ephemeral = backend.mulBase(e, true);
    }
  }

  const filler = generateFiller(framed, sharedSecrets);

  const sessionBytes = u256(sessionKey);
  const padKey = KEY_PAD(sessionBytes);
  wipe(sessionBytes);
  let mixHeader = chacha20Stream(padKey, 0, HOP_PAYLOADS_SIZE);
  let nextHmac: Uint8Array = new Uint8Array(HMAC_SIZE);
  // One scratch layer, rewritten per hop: framed payload ‖ next HMAC ‖ the previous layer's head.
  const shifted = new Uint8Array(HOP_PAYLOADS_SIZE);
  for (let i = hops.length - 1; i >= 0; i--) {
    const shift = framed[i].length + HMAC_SIZE;
    shifted.set(mixHeader.subarray(0, HOP_PAYLOADS_SIZE - shift), shift);
    shifted.set(framed[i], 0);
    shifted.set(nextHmac, framed[i].length);
    const rho = KEY_RHO(sharedSecrets[i]);
    mixHeader = chacha20Xor(rho, shifted);
    wipe(rho);
    if (i === hops.length - 1) mixHeader.set(filler, HOP_PAYLOADS_SIZE - filler.length);
    const mu = KEY_MU(sharedSecrets[i]);
    nextHmac = hmacSha256Concat(mu, mixHeader, associatedData);
    wipe(mu);
  }
  for (const ss of sharedSecrets) wipe(ss);
  wipe(padKey);
  const packet = new Uint8Array(ONION_PACKET_SIZE);
  packet[0] = ONION_VERSION;
  packet.set(firstEphemeral, KEY_OFFSET);
  packet.set(mixHeader, PAYLOADS_OFFSET);
  packet.set(nextHmac, HMAC_OFFSET);
  return packet;
}

/**
 * The bytes that hops 0..n−2 shift into the tail of hop_payloads. Hop i decrypts 1300 + shift_i
 * bytes of its stream and keeps positions [shift_i, 1300 + shift_i), so after hop i the filler
 * (length L_i = Σ_{j≤i} shift_j) is the stream-XORed tail; the sender writes it into the last
 * hop's layer so that the HMACs it computes match what each hop will really receive.
 */
function generateFiller(framed: readonly Uint8Array[], sharedSecrets: readonly Uint8Array[]) {
  let total = 0;
  for (let i = 0; i < framed.length - 1; i++) total += framed[i].length + HMAC_SIZE;
  // The filler grows by shift_i per hop; it lives at the head of one buffer of its final length.
  const filler = new Uint8Array(total);
  let length = 0;
  for (let i = 0; i < framed.length - 1; i++) {
    length += framed[i].length + HMAC_SIZE;
    const rho = KEY_RHO(sharedSecrets[i]);
    // Only the last `length` bytes of the 1300 + shift_i bytes of stream are used.
    const stream = chacha20Stream(
      rho,
      HOP_PAYLOADS_SIZE + framed[i].length + HMAC_SIZE - length,
      length,
    );
    wipe(rho);
    for (let k = 0; k < length; k++) filler[k] ^= stream[k];
  }
  return filler;
}

function checkPacket(packet: unknown, fn: string): asserts packet is Uint8Array {
  if (!(packet instanceof Uint8Array)) throw new TypeError(`${fn}: packet must be a Uint8Array`);
  if (packet.length !== ONION_PACKET_SIZE) {
    throw new OnionLengthError(`${fn}: packet is ${packet.length} bytes, not ${ONION_PACKET_SIZE}`);
  }
  if (packet[0] !== ONION_VERSION) {
    throw new OnionVersionError(`${fn}: unknown onion version ${packet[0]}`);
  }
}

/**
 * ss = SHA256(compressed(k·E)) for the packet's ephemeral key E and this hop's private key k.
 * Checks size, version and the key before any secret-dependent work.
 */
export function deriveSharedSecret(
  packet: Uint8Array,
  privateKey: bigint,
  options: OnionOptions = {},
): Uint8Array {
  const backend = options.backend ?? secp;
  checkPacket(packet, "deriveSharedSecret");
  checkScalar(privateKey, "deriveSharedSecret: privateKey");
  const ephemeral = packet.subarray(KEY_OFFSET, PAYLOADS_OFFSET);
  if (ephemeral[0] !== 2 && ephemeral[0] !== 3) {
    throw new OnionKeyError("deriveSharedSecret: ephemeral key is not a valid compressed point");
  }
  // `mul` parses the point and refuses one off the curve (both backends): no separate
  // isValidPoint (one decompression fewer per hop). Refusing depends only on the public key.
  let point: Uint8Array;
  try {
    point = backend.mul(ephemeral, privateKey, true);
  } catch {
    throw new OnionKeyError("deriveSharedSecret: ephemeral key is not a valid compressed point");
  }
  const ss = sha256(point);
  wipe(point);
  return ss;
}

/** True iff the packet's HMAC is right for shared secret `ss` and `associatedData`. */
export function verifyOnionHmac(
  packet: Uint8Array,
  sharedSecret: Uint8Array,
  associatedData: Uint8Array,
): boolean {
  checkPacket(packet, "verifyOnionHmac");
  const mu = KEY_MU(sharedSecret);
  const expected = hmacSha256Concat(
    mu,
    packet.subarray(PAYLOADS_OFFSET, HMAC_OFFSET),
    associatedData,
  );
  wipe(mu);
  // equalBytes runs in time independent of where the bytes differ.
  return equalBytes(expected, packet.subarray(HMAC_OFFSET));
}

/** Peels one layer given the hop's shared secret (lets a relay try several associated data). */
export function peelWithSharedSecret(
  packet: Uint8Array,
  sharedSecret: Uint8Array,
  associatedData: Uint8Array,
  options: OnionOptions = {},
): PeeledOnion {
  const backend = options.backend ?? secp;
  if (!(associatedData instanceof Uint8Array)) {
    throw new TypeError("peelOnion: associatedData must be a Uint8Array");
  }
  if (!verifyOnionHmac(packet, sharedSecret, associatedData)) {
    throw new OnionHmacError("peelOnion: HMAC mismatch");
  }
  // BOLT #4 decrypts hop_payloads ‖ 1300 zeros; only the first 1300 + shift bytes are ever read
  // (shift ≤ 1300), so the stream is drawn in two parts: the packet's 1300 bytes now, the zeros'
  // `shift` bytes once the payload length is known.
  const rho = KEY_RHO(sharedSecret);
  const cipher = createCipheriv("chacha20", rho, ZERO_IV);
  wipe(rho);
  const plain = asBytes(cipher.update(packet.subarray(PAYLOADS_OFFSET, HMAC_OFFSET)));

  let length: { value: bigint; length: number };
  try {
    length = decodeBigSize(plain, 0);
  } catch (err) {
    throw new OnionPayloadError(`peelOnion: bad payload length (${(err as Error).message})`);
  }
  if (length.value === 0n) throw new OnionPayloadError("peelOnion: legacy/empty hop payload");
  const payloadEnd = length.length + Number(length.value);
  if (length.value > BigInt(HOP_PAYLOADS_SIZE) || payloadEnd + HMAC_SIZE > HOP_PAYLOADS_SIZE) {
    throw new OnionPayloadError("peelOnion: payload length exceeds hop_payloads");
  }
  const payload = plain.slice(length.length, payloadEnd);
  const nextHmac = plain.subarray(payloadEnd, payloadEnd + HMAC_SIZE);
  const shift = payloadEnd + HMAC_SIZE;
  let nonZero = 0;
  for (let k = 0; k < HMAC_SIZE; k++) nonZero |= nextHmac[k];
  if (nonZero === 0) {
    return { payload, next: null, sharedSecret };
  }
  const ephemeral = packet.subarray(KEY_OFFSET, PAYLOADS_OFFSET);
  let nextEphemeral: Uint8Array;
  try {
    nextEphemeral = backend.mul(ephemeral, blindingFactor(ephemeral, sharedSecret), true);
  } catch (err) {
    if (err instanceof OnionError) throw err;
    throw new OnionKeyError(`peelOnion: blinding failed (${(err as Error).message})`);
  }
  const next = new Uint8Array(ONION_PACKET_SIZE);
  next[0] = ONION_VERSION;
  next.set(nextEphemeral, KEY_OFFSET);
  next.set(plain.subarray(shift), PAYLOADS_OFFSET);
  next.set(cipher.update(new Uint8Array(shift)), PAYLOADS_OFFSET + HOP_PAYLOADS_SIZE - shift);
  next.set(nextHmac, HMAC_OFFSET);
  return { payload, next, sharedSecret };
}

/**
 * Peels the layer addressed to `privateKey` (BOLT #4 "Accepting and Forwarding a Payment"):
 * version, key, HMAC over hop_payloads ‖ associatedData, then decrypt, take the payload and shift.
 * Throws a typed {@link OnionError} subclass saying why a packet is dropped.
 */
export function peelOnion(
  packet: Uint8Array,
  privateKey: bigint,
  associatedData: Uint8Array,
  options: OnionOptions = {},
): PeeledOnion {
  const ss = deriveSharedSecret(packet, privateKey, options);
  return peelWithSharedSecret(packet, ss, associatedData, options);
}
