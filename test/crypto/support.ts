// Shared helpers of the crypto tests (exports only; Hardhat's mocha runner loads every .ts here).
import { createHash } from "node:crypto";

import { bytesToBigInt, toHex0x } from "../../offchain/crypto/bytes.ts";
import type { SchnorrSignature } from "../../offchain/crypto/schnorr.ts";
import { CURVE_ORDER } from "../../offchain/crypto/secp256k1.ts";

/** A deterministic byte stream (SHA-256 in counter mode over a label): seeded test inputs. */
export function seededBytes(label: string): (length: number) => Uint8Array {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (length) => {
    while (pool.length < length) {
      const block = createHash("sha256").update(label).update(String(counter++)).digest();
      pool = Buffer.concat([pool, block]);
    }
    const out = new Uint8Array(pool.subarray(0, length));
    pool = pool.subarray(length);
    return out;
  };
}

/** A scalar in [1, n−1] from a seeded stream. */
export function seededScalar(random: (length: number) => Uint8Array): bigint {
  return (bytesToBigInt(random(40)) % (CURVE_ORDER - 1n)) + 1n;
}

/** The CryptoHarness.tryVerify argument tuple of a (key, message, signature). */
export function harnessArgs(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: SchnorrSignature,
): [number, bigint, string, string, bigint] {
  return [
    publicKey[0],
    bytesToBigInt(publicKey.subarray(1)),
    toHex0x(message),
    toHex0x(signature.rAddr),
    signature.y,
  ];
}

/** Transposes argument tuples into CryptoHarness.tryVerifyBatch's five arrays. */
export function batchArgs(
  rows: readonly [number, bigint, string, string, bigint][],
): [number[], bigint[], string[], string[], bigint[]] {
  return [
    rows.map((r) => r[0]),
    rows.map((r) => r[1]),
    rows.map((r) => r[2]),
    rows.map((r) => r[3]),
    rows.map((r) => r[4]),
  ];
}

/** Copy of `bytes` with bit `bit` (0 = MSB of byte 0) flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3] ^= 0x80 >> (bit & 7);
  return out;
}
