// Long-term key material of meters, the control center (CC) and the service provider (SP), and
// the secp256k1 ECDH of DESIGN §4.5: `sk_{i,CC} = sk_i·pk_CC = sk_CC·pk_i` (a compressed point),
// `ID = H1(pk)`. Randomness is injected (`RandomBytes`), so key generation is reproducible in tests
// and simulations and uses a CSPRNG in production (`node:crypto` randomBytes).
import { bytesToBigInt, expectBytes, u256 } from "./bytes.ts";
import { h1, taggedHashInt } from "./hash.ts";
import { CURVE_ORDER, secp, type Secp256k1Backend } from "./secp256k1.ts";

/** A source of uniformly random bytes (e.g. `node:crypto` randomBytes, or a seeded DRBG in tests). */
export type RandomBytes = (length: number) => Uint8Array;

/** A secp256k1 key pair with its identity. */
export interface KeyPair {
  /** Secret scalar in [1, n−1]. */
  readonly secretKey: bigint;
  /** 33-byte compressed public key. */
  readonly publicKey: Uint8Array;
  /** `ID = H1(pk)` (DESIGN §4.5), 32 bytes. */
  readonly id: Uint8Array;
}

/**
 * A meter's key material (DESIGN §1, §4.2): `sk_i`, `pk_i`, `ID_i`, its GGM key `K_i` and its
 * signing base key `b_i` with `B_i = b_i·G`.
 */
export interface MeterKeys extends KeyPair {
  /** 32-byte GGM root key `K_i`, shared with the control center at registration. */
  readonly ggmKey: Uint8Array;
  /** Signing base key `b_i` in [1, n−1]: never leaves the meter (`sigSk = b_i + t`, §4.2). */
  readonly baseKey: bigint;
  /** `B_i = b_i·G`, 33-byte compressed: registered with the control center. */
  readonly basePublicKey: Uint8Array;
}

/** Tag of {@link deriveBaseKey}. */
export const BASE_KEY_TAG = "GridLedger/base";

/**
 * A signing base key derived from the meter's secret key: `b = (int(TH("GridLedger/base",
 * u256(sk))) mod (n−1)) + 1`. Key separation from `sk_i` (ECDH, onion relay key) by the tagged
 * hash; the control center, which never sees `sk_i`, cannot compute it. A meter may instead draw
 * `b_i` at random ({@link generateMeterKeys} does).
 */
export function deriveBaseKey(secretKey: bigint): bigint {
  if (typeof secretKey !== "bigint" || secretKey <= 0n || secretKey >= CURVE_ORDER) {
    throw new RangeError("deriveBaseKey: secret key out of range [1, n-1]");
  }
  return (taggedHashInt(BASE_KEY_TAG, u256(secretKey)) % (CURVE_ORDER - 1n)) + 1n;
}

/** Control-center key material: `sk_CC`, `pk_CC`. */
export type ControlCenterKeys = KeyPair;

/** Service-provider key material: `sk_SP`, `pk_SP`, `ID_SP` (Oksuz §6 pseudonyms). */
export type ServiceProviderKeys = KeyPair;

/**
 * A uniform secret scalar in [1, n−1] by rejection sampling of 32-byte strings (a draw is rejected
 * with probability ≈ 2^-128, so the loop is bounded in practice; 64 rejections in a row means the
 * source is broken).
 */
export function randomSecretKey(random: RandomBytes): bigint {
  for (let attempt = 0; attempt < 64; attempt++) {
    const bytes = random(32);
    expectBytes(bytes, 32, "randomSecretKey: random(32)");
    const k = bytesToBigInt(bytes);
    bytes.fill(0);
    if (k > 0n && k < CURVE_ORDER) return k;
  }
  throw new Error("randomSecretKey: random source returned 64 out-of-range values");
}

/** `ID = H1(pk)` (DESIGN §4.5). */
export function identityOf(publicKey: Uint8Array): Uint8Array {
  expectBytes(publicKey, 33, "identityOf: publicKey");
  return h1(publicKey);
}

/** Key pair and identity from a secret scalar. */
export function keyPairFromSecret(secretKey: bigint, backend: Secp256k1Backend = secp): KeyPair {
  if (typeof secretKey !== "bigint" || secretKey <= 0n || secretKey >= CURVE_ORDER) {
    throw new RangeError("keyPairFromSecret: secret key out of range [1, n-1]");
  }
  const publicKey = backend.mulBase(secretKey, true);
  return { secretKey, publicKey, id: h1(publicKey) };
}

export function generateKeyPair(random: RandomBytes, backend: Secp256k1Backend = secp): KeyPair {
  return keyPairFromSecret(randomSecretKey(random), backend);
}

/**
 * Meter key material from its secret scalar, GGM key (copied) and signing base key `b_i`
 * (default {@link deriveBaseKey}`(secretKey)`). Throws RangeError on out-of-range scalars.
 */
export function meterKeysFromSecret(
  secretKey: bigint,
  ggmKey: Uint8Array,
  backend: Secp256k1Backend = secp,
  baseKey: bigint = deriveBaseKey(secretKey),
): MeterKeys {
  expectBytes(ggmKey, 32, "meterKeysFromSecret: ggmKey");
  if (typeof baseKey !== "bigint" || baseKey <= 0n || baseKey >= CURVE_ORDER) {
    throw new RangeError("meterKeysFromSecret: base key out of range [1, n-1]");
  }
  return {
    ...keyPairFromSecret(secretKey, backend),
    ggmKey: Uint8Array.from(ggmKey),
    baseKey,
    basePublicKey: backend.mulBase(baseKey, true),
  };
}

/** Fresh meter keys: `sk_i`, `K_i` and `b_i` all drawn from `random`. */
export function generateMeterKeys(
  random: RandomBytes,
  backend: Secp256k1Backend = secp,
): MeterKeys {
  const secretKey = randomSecretKey(random);
  const ggmKey = random(32);
  expectBytes(ggmKey, 32, "generateMeterKeys: random(32)");
  return meterKeysFromSecret(secretKey, ggmKey, backend, randomSecretKey(random));
}

/**
 * secp256k1 Diffie–Hellman as DESIGN §4.5 defines it: the compressed point `sk·pk` (33 bytes), not
 * only its x-coordinate, so `H1` of it matches on both sides. Throws on an invalid `publicKey`
 * (an attacker-chosen point must never be multiplied unchecked).
 */
export function ecdh(
  secretKey: bigint,
  publicKey: Uint8Array,
  backend: Secp256k1Backend = secp,
): Uint8Array {
  expectBytes(publicKey, 33, "ecdh: publicKey");
  if (!backend.isValidPoint(publicKey) || (publicKey[0] !== 2 && publicKey[0] !== 3)) {
    throw new RangeError("ecdh: publicKey is not a valid compressed secp256k1 point");
  }
  if (typeof secretKey !== "bigint" || secretKey <= 0n || secretKey >= CURVE_ORDER) {
    throw new RangeError("ecdh: secret key out of range [1, n-1]");
  }
  return backend.mul(publicKey, secretKey, true);
}
