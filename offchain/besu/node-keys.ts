// Besu node keys (DESIGN §2 "Besu"): a node's identity is a secp256k1 key pair. Besu reads the
// secret key from the `key` file (32 bytes as 0x-hex), its enode id is the 64-byte uncompressed
// public key without the 0x04 prefix, and for QBFT the node's address (keccak256 of those 64 bytes,
// last 20) is its validator address (Besu docs "Node keys"; Ethereum yellow paper, eq. 284).
// Keys and points by @noble/curves; randomness injected.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { getAddress } from "ethers";

import { bytesToHex, expectBytes, hexToBytes } from "../crypto/bytes.ts";
import { keccak256 } from "../crypto/keccak.ts";
import type { RandomBytes } from "../crypto/keys.ts";
import { BesuKitError } from "./errors.ts";

/** A Besu node key pair with the identifiers derived from it. */
export interface BesuNodeKey {
  /** 32-byte secret key, 0x-hex: the content of the node's `key` file. */
  readonly privateKey: string;
  /** 64-byte uncompressed public key without the 0x04 prefix, 0x-hex (`key.pub`). */
  readonly publicKey: string;
  /** The enode id: the public key as 128 hex digits, no prefix. */
  readonly enodeId: string;
  /** Checksummed address: the validator address of a QBFT validator. */
  readonly address: string;
}

/**
 * Derives the node key from a 32-byte secret. Throws BesuKitError unless the secret is a valid
 * secp256k1 scalar in [1, n−1].
 */
export function besuNodeKey(secret: Uint8Array): BesuNodeKey {
  expectBytes(secret, 32, "besuNodeKey: secret");
  if (!secp256k1.utils.isValidSecretKey(secret)) {
    throw new BesuKitError("besuNodeKey: secret is not a secp256k1 scalar in [1, n-1]");
  }
  const uncompressed = secp256k1.getPublicKey(secret, false);
  const xy = uncompressed.subarray(1);
  return {
    privateKey: "0x" + bytesToHex(secret),
    publicKey: "0x" + bytesToHex(xy),
    enodeId: bytesToHex(xy),
    address: getAddress("0x" + bytesToHex(keccak256(xy).subarray(12))),
  };
}

/** A fresh node key from `random` (rejection sampling: a draw outside [1, n−1] is redrawn). */
export function generateBesuNodeKey(random: RandomBytes): BesuNodeKey {
  for (let attempt = 0; attempt < 64; attempt++) {
    const secret = random(32);
    expectBytes(secret, 32, "generateBesuNodeKey: random(32)");
    if (secp256k1.utils.isValidSecretKey(secret)) return besuNodeKey(secret);
  }
  throw new BesuKitError("generateBesuNodeKey: random source returned 64 out-of-range values");
}

/** Reads a `key` file's content (0x-hex or bare hex, surrounding whitespace ignored). */
export function parseKeyFile(content: string): BesuNodeKey {
  const hex = content.trim().replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new BesuKitError("parseKeyFile: a key file holds 32 bytes of hex");
  }
  return besuNodeKey(hexToBytes(hex));
}

/** `enode://<id>@<host>:<port>` (the discovery port equals the P2P port, so no `?discport`). */
export function enodeUrl(enodeId: string, host: string, port: number): string {
  return `enode://${enodeId}@${host}:${port}`;
}
