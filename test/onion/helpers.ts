// Shared fixtures for the onion tests (exports only: Hardhat's mocha loads every .ts under test/).
import { readFileSync } from "node:fs";

import { bytesToBigInt, hexToBytes } from "../../offchain/crypto/bytes.ts";
import { sha256 } from "../../offchain/crypto/hash.ts";
import { CURVE_ORDER, secp } from "../../offchain/crypto/secp256k1.ts";
import { decodeBigSize } from "../../offchain/onion/tlv.ts";

export interface TestNode {
  readonly privateKey: bigint;
  readonly nodeId: Uint8Array;
}

/** Deterministic key pair number `i` of a test population `label`. */
export function testNode(label: string, i: number): TestNode {
  const privateKey =
    (bytesToBigInt(sha256(new TextEncoder().encode(`${label}/${i}`))) % (CURVE_ORDER - 1n)) + 1n;
  return { privateKey, nodeId: secp.mulBase(privateKey, true) };
}

export function testNodes(label: string, count: number): TestNode[] {
  return Array.from({ length: count }, (_, i) => testNode(label, i));
}

export const TEST_DOMAIN = sha256(new TextEncoder().encode("GridLedger test deployment"));

export interface BoltVector {
  readonly sessionKey: bigint;
  readonly associatedData: Uint8Array;
  readonly hops: { readonly pubkey: Uint8Array; readonly payload: Uint8Array }[];
  /** The vector's payloads as listed (with their BigSize length prefix). */
  readonly framedPayloads: Uint8Array[];
  readonly onion: Uint8Array;
  readonly decodeKeys: bigint[];
}

/**
 * The BOLT #4 variable-length test vector (copied verbatim from the shared vectors folder). Its
 * payloads "already have the variable length encoded"; our API takes payloads without the length
 * prefix, so the prefix is parsed off here and checked to match the remaining length.
 */
export function loadBoltVector(): BoltVector {
  const raw = JSON.parse(
    readFileSync(new URL("./bolt04-onion-test.json", import.meta.url), "utf8"),
  ) as {
    generate: {
      session_key: string;
      associated_data: string;
      hops: { pubkey: string; payload: string }[];
    };
    onion: string;
    decode: string[];
  };
  const framedPayloads = raw.generate.hops.map((h) => hexToBytes(h.payload));
  const hops = raw.generate.hops.map((h, i) => {
    const framed = framedPayloads[i];
    const { value, length } = decodeBigSize(framed);
    if (Number(value) !== framed.length - length) throw new Error(`vector hop ${i}: bad prefix`);
    return { pubkey: hexToBytes(h.pubkey), payload: framed.slice(length) };
  });
  return {
    sessionKey: bytesToBigInt(hexToBytes(raw.generate.session_key)),
    associatedData: hexToBytes(raw.generate.associated_data),
    hops,
    framedPayloads,
    onion: hexToBytes(raw.onion),
    decodeKeys: raw.decode.map((k) => bytesToBigInt(hexToBytes(k))),
  };
}

/** True iff `needle` occurs as a contiguous run inside `haystack`. */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).indexOf(Buffer.from(needle)) !== -1;
}
