// Typed access to the billing ledger (contracts/ledger/BillingLedger.sol, DESIGN §2): encoders
// from the protocol's `LedgerEntry` (offchain/protocol/entry.ts) and bills (offchain/protocol/
// billing.ts) to the contract's structs, and one function per write.
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
import { bytesToBigInt, bytesToHex, expectBytes, hexToBytes, toHex0x } from "../crypto/bytes.ts";
import type { BillFields, SignedBillBatch } from "../protocol/billing.ts";
import { ENTRY_KIND, type LedgerEntry } from "../protocol/entry.ts";
import { mined } from "./tx.ts";

export type { BillingLedger };

// The billing rules live in the protocol (offchain/protocol/billing.ts); re-exported for callers
// that already hold a ledger.
export {
  DELIVERY_MODE,
  ENTRY_PROBLEM,
  INTERVAL_STATE,
  KIND_BC_BATCH,
  billBatchDigest,
  billEntryFields,
  signBillBatch,
  verifyBillBatch,
  type BillFields,
  type DeliveryModeValue,
  type IntervalStateValue,
  type SignedBillBatch,
} from "../protocol/billing.ts";

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
