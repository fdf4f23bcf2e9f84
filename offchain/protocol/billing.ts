// Billing rules shared by every party (DESIGN §2, §4.4; docs/PROTOCOL.md "BC batch signature"):
// the interval life cycle and the ledger's entry problems as the contract numbers them, a bill's
// BC entry fields, and the one message SP signs per bill batch. Pure: SP signs with it, CC relays
// what it signed, users and the ledger audit verify with it; `chain/billing.ts` only encodes the
// result as calldata.
import { concatBytes, expectBytes, u32, u64, u8 } from "../crypto/bytes.ts";
import { keccak256 } from "../crypto/hash.ts";
import { schnorrSign, schnorrVerify, type SchnorrSignature } from "../crypto/schnorr.ts";
import { secp } from "../crypto/secp256k1.ts";
import { ENTRY_KIND, entryDigest, type EntryFields } from "./entry.ts";

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
