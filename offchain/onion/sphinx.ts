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
import { hmacSha256, sha256 } from "../crypto/hash.ts";
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
const KEY_RHO = ENCODER.encode("rho");
const KEY_MU = ENCODER.encode("mu");
const KEY_PAD = ENCODER.encode("pad");

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
  const out = createCipheriv("chacha20", key, ZERO_IV).update(data);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** BOLT #4 `generate_key`: HMAC-SHA256 keyed with the ASCII key type ("rho", "mu", "pad"). */
function generateKey(keyType: Uint8Array, secret: Uint8Array): Uint8Array {
  return hmacSha256(keyType, secret);
}

/** b = SHA256(E ‖ ss) read as a scalar (reduced mod n: multiplying by b or b mod n is the same). */
function blindingFactor(ephemeralKey: Uint8Array, sharedSecret: Uint8Array): bigint {
  const b = bytesToBigInt(sha256(concatBytes(ephemeralKey, sharedSecret))) % CURVE_ORDER;
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

  const padKey = generateKey(KEY_PAD, u256(sessionKey));
  let mixHeader = chacha20Xor(padKey, new Uint8Array(HOP_PAYLOADS_SIZE));
  let nextHmac: Uint8Array = new Uint8Array(HMAC_SIZE);
  for (let i = hops.length - 1; i >= 0; i--) {
    const shift = framed[i].length + HMAC_SIZE;
    const shifted = new Uint8Array(HOP_PAYLOADS_SIZE);
    shifted.set(framed[i], 0);
    shifted.set(nextHmac, framed[i].length);
    shifted.set(mixHeader.subarray(0, HOP_PAYLOADS_SIZE - shift), shift);
    mixHeader = chacha20Xor(generateKey(KEY_RHO, sharedSecrets[i]), shifted);
    if (i === hops.length - 1) mixHeader.set(filler, HOP_PAYLOADS_SIZE - filler.length);
    nextHmac = hmacSha256(
      generateKey(KEY_MU, sharedSecrets[i]),
      concatBytes(mixHeader, associatedData),
    );
  }
  for (const ss of sharedSecrets) wipe(ss);
  wipe(padKey);
  return concatBytes(Uint8Array.of(ONION_VERSION), firstEphemeral, mixHeader, nextHmac);
}

/**
 * The bytes that hops 0..n−2 shift into the tail of hop_payloads. Hop i decrypts 1300 + shift_i
 * bytes of its stream and keeps positions [shift_i, 1300 + shift_i), so after hop i the filler
 * (length L_i = Σ_{j≤i} shift_j) is the stream-XORed tail; the sender writes it into the last
 * hop's layer so that the HMACs it computes match what each hop will really receive.
 */
function generateFiller(framed: readonly Uint8Array[], sharedSecrets: readonly Uint8Array[]) {
  let filler = new Uint8Array(0);
  for (let i = 0; i < framed.length - 1; i++) {
    const shift = framed[i].length + HMAC_SIZE;
    const extended = new Uint8Array(filler.length + shift);
    extended.set(filler, 0);
    const stream = chacha20Xor(
      generateKey(KEY_RHO, sharedSecrets[i]),
      new Uint8Array(HOP_PAYLOADS_SIZE + shift),
    );
    const start = HOP_PAYLOADS_SIZE + shift - extended.length;
    for (let k = 0; k < extended.length; k++) extended[k] ^= stream[start + k];
    filler = extended;
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
  if ((ephemeral[0] !== 2 && ephemeral[0] !== 3) || !backend.isValidPoint(ephemeral)) {
    throw new OnionKeyError("deriveSharedSecret: ephemeral key is not a valid compressed point");
  }
  return sha256(backend.mul(ephemeral, privateKey, true));
}

/** True iff the packet's HMAC is right for shared secret `ss` and `associatedData`. */
export function verifyOnionHmac(
  packet: Uint8Array,
  sharedSecret: Uint8Array,
  associatedData: Uint8Array,
): boolean {
  checkPacket(packet, "verifyOnionHmac");
  const mu = generateKey(KEY_MU, sharedSecret);
  const expected = hmacSha256(
    mu,
    concatBytes(packet.subarray(PAYLOADS_OFFSET, HMAC_OFFSET), associatedData),
  );
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
  const rho = generateKey(KEY_RHO, sharedSecret);
  const extended = new Uint8Array(2 * HOP_PAYLOADS_SIZE);
  extended.set(packet.subarray(PAYLOADS_OFFSET, HMAC_OFFSET), 0);
  const plain = chacha20Xor(rho, extended);
  wipe(rho);

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
  const nextHmac = plain.slice(payloadEnd, payloadEnd + HMAC_SIZE);
  const shift = payloadEnd + HMAC_SIZE;
  if (nextHmac.every((b) => b === 0)) {
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
  const next = concatBytes(
    Uint8Array.of(ONION_VERSION),
    nextEphemeral,
    plain.subarray(shift, shift + HOP_PAYLOADS_SIZE),
    nextHmac,
  );
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
