// Ledger entries of DESIGN §4.4 (Oksuz Tables 1–3): one layout for OCD, DAP and BC entries, one
// digest (the paper's H2) that the contracts recompute byte for byte (contracts/libraries/
// EntryDigest.sol). This is the only encoder of entries: agents, tests and vectors use it.
import { concatBytes, expectBytes, hexToBytes, u256, u32, u64, u8 } from "../crypto/bytes.ts";
import { keccak256 } from "../crypto/hash.ts";
import { schnorrSign, schnorrVerify, type SchnorrSignature } from "../crypto/schnorr.ts";
import { secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";

/** Entry kinds: the paper's 00 (OCD), 01 (DAP), 10 (BC). */
export const ENTRY_KIND = { OCD: 0, DAP: 1, BC: 2 } as const;
export type EntryKind = (typeof ENTRY_KIND)[keyof typeof ENTRY_KIND];

const U32_MAX = 0xffffffffn;
const U64_MAX = 0xffffffffffffffffn;

/** The signed fields of an entry. */
export interface EntryFields {
  readonly kind: EntryKind;
  /** Interval `j` (u32). */
  readonly interval: number;
  /** Pseudonym `id` (32 bytes). */
  readonly id: Uint8Array;
  /** Unix timestamp in seconds (u64). */
  readonly timestamp: bigint;
  /** Consumption in Wh (OCD), price per Wh (DAP) or bill in price units (BC) (u64). */
  readonly value: bigint;
}

/** An entry as posted: its fields, the per-message key and the signature. */
export interface LedgerEntry extends EntryFields {
  /** 33-byte compressed per-message Schnorr key `sigPk`. */
  readonly sigPk: Uint8Array;
  readonly signature: SchnorrSignature;
}

/** `domain = keccak256(u256 chainId ‖ address ledger)` (DESIGN §4.4). */
export function ledgerDomain(chainId: bigint, ledger: Uint8Array | string): Uint8Array {
  const address = typeof ledger === "string" ? hexToBytes(ledger) : ledger;
  expectBytes(address, 20, "ledgerDomain: ledger address");
  return keccak256(concatBytes(u256(chainId, "ledgerDomain: chainId"), address));
}

/** `m = keccak256(domain ‖ u8 kind ‖ u32 j ‖ bytes32 id ‖ u64 T ‖ u64 value)` (85 bytes hashed). */
export function entryDigest(domain: Uint8Array, fields: EntryFields): Uint8Array {
  expectBytes(domain, 32, "entryDigest: domain");
  expectBytes(fields.id, 32, "entryDigest: id");
  if (fields.kind !== 0 && fields.kind !== 1 && fields.kind !== 2) {
    throw new RangeError(`entryDigest: unknown kind ${String(fields.kind)}`);
  }
  if (
    !Number.isInteger(fields.interval) ||
    fields.interval < 0 ||
    BigInt(fields.interval) > U32_MAX
  ) {
    throw new RangeError(`entryDigest: interval ${fields.interval} is not a u32`);
  }
  if (fields.timestamp < 0n || fields.timestamp > U64_MAX) {
    throw new RangeError(`entryDigest: timestamp ${fields.timestamp} is not a u64`);
  }
  if (fields.value < 0n || fields.value > U64_MAX) {
    throw new RangeError(`entryDigest: value ${fields.value} is not a u64`);
  }
  return keccak256(
    concatBytes(
      domain,
      u8(fields.kind),
      u32(fields.interval),
      fields.id,
      u64(fields.timestamp),
      u64(fields.value),
    ),
  );
}

/** Signs an entry with the per-message key `sigSk` (its public key may be passed to save work). */
export function signEntry(
  domain: Uint8Array,
  fields: EntryFields,
  sigSk: bigint,
  options: { sigPk?: Uint8Array; backend?: Secp256k1Backend } = {},
): LedgerEntry {
  const backend = options.backend ?? secp;
  const sigPk = options.sigPk ?? backend.mulBase(sigSk, true);
  const signature = schnorrSign(sigSk, entryDigest(domain, fields), { publicKey: sigPk, backend });
  return { ...fields, sigPk, signature };
}

/** Verifies an entry's signature against its own `sigPk` (who owns `sigPk` is checked elsewhere). */
export function verifyEntry(
  domain: Uint8Array,
  entry: LedgerEntry,
  backend: Secp256k1Backend = secp,
): boolean {
  let digest: Uint8Array;
  try {
    digest = entryDigest(domain, entry);
  } catch {
    return false;
  }
  return schnorrVerify(entry.sigPk, digest, entry.signature, backend);
}
