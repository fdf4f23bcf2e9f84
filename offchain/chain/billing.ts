// Typed access to the billing ledger (contracts/ledger/BillingLedger.sol, DESIGN §2): encoders
// from the protocol's `LedgerEntry` (offchain/protocol/entry.ts) to the contract's structs, the
// SP's bill-batch signature (docs/PROTOCOL.md "BC batch signature"), and one function per write.
// Takes any ethers v6 Signer/Provider; never imports Hardhat.
import { readFileSync } from "node:fs";

import {
  Contract,
  type ContractRunner,
  type ContractTransactionReceipt,
  type InterfaceAbi,
} from "ethers";

import type { BillingLedger } from "../../types/ethers-contracts/index.ts";
import type {
  BillItemStruct,
  DapEntryStruct,
  OcdEntryStruct,
} from "../../types/ethers-contracts/ledger/BillingLedger.ts";
import {
  bytesToBigInt,
  bytesToHex,
  concatBytes,
  expectBytes,
  hexToBytes,
  toHex0x,
  u32,
  u64,
  u8,
} from "../crypto/bytes.ts";
import { keccak256 } from "../crypto/hash.ts";
import { schnorrSign, schnorrVerify, type SchnorrSignature } from "../crypto/schnorr.ts";
import { secp } from "../crypto/secp256k1.ts";
import { ENTRY_KIND, entryDigest, type EntryFields, type LedgerEntry } from "../protocol/entry.ts";
import { mined } from "./tx.ts";

export type { BillingLedger };

/** On-chain `IntervalState`. */
export const INTERVAL_STATE = {
  None: 0,
  Open: 1,
  OcdSealed: 2,
  Priced: 3,
  Billing: 4,
  Final: 5,
} as const;
export type IntervalStateValue = (typeof INTERVAL_STATE)[keyof typeof INTERVAL_STATE];

/** On-chain `DeliveryMode`: relayed (Oksuz §5, CC publishes) or direct (Oksuz §6, SP publishes). */
export const DELIVERY_MODE = { Relayed: 0, Direct: 1 } as const;
export type DeliveryModeValue = (typeof DELIVERY_MODE)[keyof typeof DELIVERY_MODE];

/** On-chain `EntryProblem` (reason of `BillingLedgerInvalidEntry`). */
export const ENTRY_PROBLEM = {
  BadSignature: 0,
  NotACategoryValue: 1,
  TimestampNotIntervalEnd: 2,
  PseudonymNotIncreasing: 3,
  PriceMismatch: 4,
  BillMismatch: 5,
} as const;

/** Kind of the message SP signs once per bill batch (not an entry kind of DESIGN §4.4). */
export const KIND_BC_BATCH = 3;

/** One bill: its BC entry fields (kind 2, value = B) and the billed consumption `c`. */
export interface BillFields {
  readonly interval: number;
  readonly id: Uint8Array;
  readonly timestamp: bigint;
  readonly bill: bigint;
  readonly consumptionWh: bigint;
}

/** A batch of bills and SP's one signature on it. */
export interface SignedBillBatch {
  readonly interval: number;
  readonly firstIndex: number;
  readonly bills: readonly BillFields[];
  readonly signature: SchnorrSignature;
}

/** The BC entry fields of a bill (DESIGN §4.4 kind 2). */
export function billEntryFields(bill: BillFields): EntryFields {
  return {
    kind: ENTRY_KIND.BC,
    interval: bill.interval,
    id: bill.id,
    timestamp: bill.timestamp,
    value: bill.bill,
  };
}

/**
 * The message SP signs per bill batch: `keccak256(domain ‖ u8 3 ‖ u32 j ‖ root ‖ u64 firstIndex ‖
 * u64 n)`, `root = keccak256(m_1 ‖ … ‖ m_n)`, `m_i` the bills' §4.4 digests (kind 2).
 */
export function billBatchDigest(
  domain: Uint8Array,
  interval: number,
  firstIndex: number,
  bills: readonly BillFields[],
): Uint8Array {
  expectBytes(domain, 32, "billBatchDigest: domain");
  if (bills.length === 0) throw new RangeError("billBatchDigest: empty batch");
  for (const b of bills) {
    if (b.interval !== interval) throw new RangeError("billBatchDigest: bill of another interval");
  }
  const root = keccak256(concatBytes(...bills.map((b) => entryDigest(domain, billEntryFields(b)))));
  return keccak256(
    concatBytes(domain, u8(KIND_BC_BATCH), u32(interval), root, u64(firstIndex), u64(bills.length)),
  );
}

/** SP signs a bill batch with `sigSk_SP`. */
export function signBillBatch(
  domain: Uint8Array,
  interval: number,
  firstIndex: number,
  bills: readonly BillFields[],
  spSigSk: bigint,
): SignedBillBatch {
  const signature = schnorrSign(spSigSk, billBatchDigest(domain, interval, firstIndex, bills));
  return { interval, firstIndex, bills: [...bills], signature };
}

/** Verifies a bill batch's signature under the 33-byte `sigPk_SP`. */
export function verifyBillBatch(
  domain: Uint8Array,
  batch: SignedBillBatch,
  spSigPk: Uint8Array,
): boolean {
  let digest: Uint8Array;
  try {
    digest = billBatchDigest(domain, batch.interval, batch.firstIndex, batch.bills);
  } catch {
    return false;
  }
  return schnorrVerify(spSigPk, digest, batch.signature, secp);
}

/** `OcdEntry` calldata struct of a signed OCD entry (kind 0). */
export function toOcdEntryStruct(entry: LedgerEntry): OcdEntryStruct {
  if (entry.kind !== ENTRY_KIND.OCD) throw new RangeError("toOcdEntryStruct: not an OCD entry");
  expectBytes(entry.sigPk, 33, "toOcdEntryStruct: sigPk");
  return {
    id: toHex0x(entry.id),
    timestamp: entry.timestamp,
    consumptionWh: entry.value,
    sigPkPrefix: entry.sigPk[0],
    sigPkX: bytesToBigInt(entry.sigPk.subarray(1)),
    rAddr: toHex0x(entry.signature.rAddr),
    y: entry.signature.y,
  };
}

/** `DapEntry` calldata struct of a signed DAP entry (kind 1). */
export function toDapEntryStruct(entry: LedgerEntry): DapEntryStruct {
  if (entry.kind !== ENTRY_KIND.DAP) throw new RangeError("toDapEntryStruct: not a DAP entry");
  return {
    id: toHex0x(entry.id),
    timestamp: entry.timestamp,
    price: entry.value,
    rAddr: toHex0x(entry.signature.rAddr),
    y: entry.signature.y,
  };
}

/** `BillItem` calldata struct of a bill. */
export function toBillItemStruct(bill: BillFields): BillItemStruct {
  return {
    id: toHex0x(bill.id),
    consumptionWh: bill.consumptionWh,
    timestamp: bill.timestamp,
    bill: bill.bill,
  };
}

/** 33-byte compressed key from the contract's (prefix, x) form. */
export function publicKeyBytes(prefix: bigint | number, x: bigint): Uint8Array {
  const out = new Uint8Array(33);
  out[0] = Number(prefix);
  out.set(hexToBytes(x.toString(16).padStart(64, "0")), 1);
  return out;
}

/** The contract's `PublicKey {prefix, x}` of a 33-byte compressed key. */
export function publicKeyStruct(key: Uint8Array): { prefix: number; x: bigint } {
  expectBytes(key, 33, "publicKeyStruct: key");
  return { prefix: key[0], x: bytesToBigInt(key.subarray(1)) };
}

/** This deployment's §4.4 domain, read from the chain. */
export async function readDomain(ledger: BillingLedger): Promise<Uint8Array> {
  return hexToBytes(await ledger.domainSeparator());
}

let cachedAbi: InterfaceAbi | undefined;

/** The BillingLedger ABI from the Hardhat build output (`npx hardhat build`). */
export function billingLedgerAbi(): InterfaceAbi {
  if (cachedAbi) return cachedAbi;
  const url = new URL(
    "../../artifacts/contracts/ledger/BillingLedger.sol/BillingLedger.json",
    import.meta.url,
  );
  let text: string;
  try {
    text = readFileSync(url, "utf8");
  } catch {
    throw new Error("billingLedgerAbi: artifact missing; run `npx hardhat build` first");
  }
  cachedAbi = (JSON.parse(text) as { abi: InterfaceAbi }).abi;
  return cachedAbi;
}

/** A typed BillingLedger at `address` over any ethers runner (Signer or Provider). */
export function connectBillingLedger(address: string, runner: ContractRunner): BillingLedger {
  return new Contract(address, billingLedgerAbi(), runner) as unknown as BillingLedger;
}

/**
 * CC posts signed OCD entries and, when given, zero-value slots (`zeroIds`: meters' dummies and
 * absence markers), both sorted, their merge increasing across the interval's batches.
 */
export function postOcdBatch(
  ledger: BillingLedger,
  interval: number,
  entries: readonly LedgerEntry[],
  zeroIds: readonly Uint8Array[] = [],
): Promise<ContractTransactionReceipt> {
  for (const e of entries) {
    if (e.interval !== interval) throw new RangeError("postOcdBatch: entry of another interval");
  }
  if (zeroIds.length === 0) {
    return mined(ledger.postOcdBatch(interval, entries.map(toOcdEntryStruct)));
  }
  // Real entries and zero slots (dummies, absence markers; DESIGN §7) in one merged order.
  return mined(ledger.postSlots(interval, entries.map(toOcdEntryStruct), zeroIds.map(toHex0x)));
}

/** CC opens an interval with window `[start, end)`. */
export function openInterval(
  ledger: BillingLedger,
  interval: number,
  start: bigint,
  end: bigint,
): Promise<ContractTransactionReceipt> {
  return mined(ledger.openInterval(interval, start, end));
}

/** CC seals the interval's OCD ledger. */
export function sealInterval(
  ledger: BillingLedger,
  interval: number,
): Promise<ContractTransactionReceipt> {
  return mined(ledger.sealInterval(interval));
}

/** Posts SP-signed DAP entries (CC in relayed mode, SP in direct mode). */
export function postDap(
  ledger: BillingLedger,
  interval: number,
  entries: readonly LedgerEntry[],
): Promise<ContractTransactionReceipt> {
  for (const e of entries) {
    if (e.interval !== interval) throw new RangeError("postDap: entry of another interval");
  }
  return mined(ledger.postDap(interval, entries.map(toDapEntryStruct)));
}

/** Posts one SP-signed bill batch. */
export function postBills(
  ledger: BillingLedger,
  batch: SignedBillBatch,
): Promise<ContractTransactionReceipt> {
  return mined(
    ledger.postBills(
      batch.interval,
      batch.bills.map(toBillItemStruct),
      toHex0x(batch.signature.rAddr),
      batch.signature.y,
    ),
  );
}

/** Finalizes the interval (bills must cover the sealed OCD entries exactly, in order). */
export function closeBilling(
  ledger: BillingLedger,
  interval: number,
): Promise<ContractTransactionReceipt> {
  return mined(ledger.closeBilling(interval));
}

/** `0x`-less hex of a pseudonym, for map keys. */
export function pseudonymKey(id: Uint8Array): string {
  return bytesToHex(id);
}
