// Typed access to the billing ledger (contracts/ledger/BillingLedger.sol, DESIGN §2): encoders
// from the protocol's `LedgerEntry` (offchain/protocol/entry.ts) and bills (offchain/protocol/
// billing.ts) to the contract's structs, and one function per write.
// Takes any ethers v6 Signer/Provider; never imports Hardhat.
import { readFileSync } from "node:fs";

import {
  Contract,
  type ContractRunner,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type InterfaceAbi,
} from "ethers";

import type { BillingLedger } from "../../types/ethers-contracts/index.ts";
import type {
  DapEntryStruct,
  OcdEntryStruct,
} from "../../types/ethers-contracts/ledger/BillingLedger.ts";
import {
  bytesToBigInt,
  bytesToHex,
  expectBytes,
  hexToBytes,
  toHex0x,
  u32,
} from "../crypto/bytes.ts";
import { INTERVAL_STATE, type BillFields, type SignedBillBatch } from "../protocol/billing.ts";
import { ENTRY_KIND, type LedgerEntry } from "../protocol/entry.ts";
import {
  BILL_PACKED_BYTES,
  minedCalldata,
  postBillsCalldata,
  postOcdAfterCalldata,
  postOcdCalldata,
  zeroIdCount,
  type ZeroIdsArg,
  sentCalldata,
  writeBillsPacked,
} from "./calldata.ts";
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

/** Bytes of one entry in the packed calldata of `postOcd` (contracts: `OcdBatch.OCD_CALLDATA_SIZE`). */
export const OCD_PACKED_ENTRY_BYTES = 121;

/** The packed `entries` of `postOcd` had a length that is not a whole number of entries. */
export class OcdPackedLengthError extends RangeError {
  readonly length: number;
  constructor(length: number) {
    super(`decodeOcdPacked: ${length} bytes is not a multiple of ${OCD_PACKED_ENTRY_BYTES}`);
    this.name = "OcdPackedLengthError";
    this.length = length;
  }
}

/**
 * The packed calldata of `postOcd` for signed OCD entries (kind 0), in the given order:
 * `count × 121` bytes, each `id (32) ‖ u32 c ‖ u8 sigPkPrefix ‖ sigPkX (32) ‖ rAddr (20) ‖ y (32)`
 * (docs/PROTOCOL.md "Packed OCD calldata"). The timestamp is not encoded: the ledger uses the
 * interval's last second (DESIGN §4.4), so an entry signed with another timestamp is refused
 * on-chain as `BadSignature`. Throws `RangeError` for a non-OCD entry, a consumption ≥ 2^32 (no
 * category value is; DESIGN §7), a key not 33 bytes or an `rAddr` not 20 bytes, or `y` ≥ 2^256.
 */
export function encodeOcdPacked(entries: readonly LedgerEntry[]): Uint8Array {
  const out = new Uint8Array(entries.length * OCD_PACKED_ENTRY_BYTES);
  entries.forEach((e, i) => {
    if (e.kind !== ENTRY_KIND.OCD) throw new RangeError("encodeOcdPacked: not an OCD entry");
    if (e.value < 0n || e.value >= 1n << 32n) {
      throw new RangeError(`encodeOcdPacked: consumption ${e.value} is not a u32`);
    }
    if (e.signature.y < 0n || e.signature.y >= 1n << 256n) {
      throw new RangeError("encodeOcdPacked: y is not a u256");
    }
    expectBytes(e.id, 32, "encodeOcdPacked: id");
    expectBytes(e.sigPk, 33, "encodeOcdPacked: sigPk");
    expectBytes(e.signature.rAddr, 20, "encodeOcdPacked: rAddr");
    const p = i * OCD_PACKED_ENTRY_BYTES;
    out.set(e.id, p);
    out.set(u32(Number(e.value)), p + 32);
    out.set(e.sigPk, p + 36);
    out.set(e.signature.rAddr, p + 69);
    out.set(hexToBytes(e.signature.y.toString(16).padStart(64, "0")), p + 89);
  });
  return out;
}

/**
 * Inverse of `encodeOcdPacked`: the OCD entries of packed `postOcd` calldata for `interval`, each
 * with the timestamp the ledger fixes (`end − 1`). Throws `OcdPackedLengthError` if the length is
 * not a multiple of 121 (the contract's `BillingLedgerPackedLength`).
 */
export function decodeOcdPacked(
  interval: number,
  timestamp: bigint,
  packed: Uint8Array,
): LedgerEntry[] {
  if (packed.length % OCD_PACKED_ENTRY_BYTES !== 0) throw new OcdPackedLengthError(packed.length);
  const out: LedgerEntry[] = [];
  for (let p = 0; p < packed.length; p += OCD_PACKED_ENTRY_BYTES) {
    out.push({
      kind: ENTRY_KIND.OCD,
      interval,
      id: packed.slice(p, p + 32),
      timestamp,
      value: bytesToBigInt(packed.subarray(p + 32, p + 36)),
      sigPk: packed.slice(p + 36, p + 69),
      signature: {
        rAddr: packed.slice(p + 69, p + 89),
        y: bytesToBigInt(packed.subarray(p + 89, p + 121)),
      },
    });
  }
  return out;
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

/**
 * The packed `bills` argument of `postBills`: `56 · bills.length` bytes, each bill
 * `id (32) ‖ u64 consumptionWh ‖ u64 timestamp ‖ u64 bill` (docs/PROTOCOL.md "Packed bill
 * calldata"), the layout of the `BillBatchPosted` records that `decodeBillRecords` (ledgerReader.ts)
 * reads back. Throws `RangeError` for an id not 32 bytes or a field not a u64.
 */
export function encodeBillsPacked(bills: readonly BillFields[]): Uint8Array {
  const out = new Uint8Array(bills.length * BILL_PACKED_BYTES);
  writeBillsPacked(out, 0, bills);
  return out;
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

/** Per ledger contract: interval → its last second `end − 1`, once the interval is open. */
const lastSeconds = new WeakMap<object, Map<number, bigint>>();

/**
 * The last second `end − 1` of an opened interval (DESIGN §4.4), from the ledger's storage; cached
 * per ledger object, since an interval's window never changes once opened. Undefined if the
 * interval was never opened.
 */
async function intervalLastSecond(
  ledger: BillingLedger,
  interval: number,
): Promise<bigint | undefined> {
  let known = lastSeconds.get(ledger);
  if (known === undefined) lastSeconds.set(ledger, (known = new Map()));
  const cached = known.get(interval);
  if (cached !== undefined) return cached;
  const rec = await ledger.intervalRecord(interval);
  if (Number(rec.state) === INTERVAL_STATE.None) return undefined;
  const last = BigInt(rec.end) - 1n;
  known.set(interval, last);
  return last;
}

/**
 * CC posts signed OCD entries and, when given, zero-value slots (`zeroIds`: meters' dummies and
 * absence markers; packed `32 · z` bytes or a list, calldata.ts `ZeroIdsArg`), both sorted, their merge increasing across the interval's batches. Sends the
 * packed form (`postOcd`, `encodeOcdPacked`): the ledger's checks and events are those of the
 * ABI-struct `postSlots`, at less gas per entry (docs/BENCHMARKS.md). The packed form has no
 * timestamp (the ledger uses `end − 1`, DESIGN §4.4; read once per interval from storage), so a
 * batch with an entry at another timestamp (or for an interval not open) goes in the ABI form,
 * whose ledger error names it (`TimestampNotIntervalEnd`, or the interval's state) instead of
 * posting the entry at `end − 1`, which is not the entry given.
 */
export async function postOcdBatch(
  ledger: BillingLedger,
  interval: number,
  entries: readonly LedgerEntry[],
  zeroIds: ZeroIdsArg = [],
): Promise<ContractTransactionReceipt> {
  for (const e of entries) {
    if (e.interval !== interval) throw new RangeError("postOcdBatch: entry of another interval");
  }
  if (entries.length > 0) {
    const last = await intervalLastSecond(ledger, interval);
    if (last === undefined || entries.some((e) => e.timestamp !== last)) {
      const ids =
        zeroIds instanceof Uint8Array
          ? Array.from({ length: zeroIdCount(zeroIds) }, (_, i) =>
              toHex0x(zeroIds.subarray(32 * i, 32 * i + 32)),
            )
          : zeroIds.map(toHex0x);
      return mined(ledger.postSlots(interval, entries.map(toOcdEntryStruct), ids));
    }
  }
  // Real entries and zero slots (dummies, absence markers; DESIGN §7) in one merged order; the
  // calldata encoded natively (calldata.ts: the bytes ethers' coder gives, without its garbage).
  return minedCalldata(
    ledger,
    postOcdCalldata(ledger, interval, encodeOcdPacked(entries), zeroIds),
  );
}

/**
 * Sends one OCD batch with `postOcdAfter` (issue 14 "Posting at chain speed"): the ledger applies
 * it only right after pseudonym `predecessor` (32 bytes; zero before the interval's first slot),
 * else reverts `BillingLedgerPredecessorMismatch`. `overrides` fixes the nonce and gas limit (no
 * gas estimation: with batches in flight, the chain's state is not yet the one the batch follows).
 * Resolves with the response once the node accepted the transaction (`receiptOf` in tx.ts waits
 * for it). Throws `RangeError` for an entry of another interval or with a timestamp that is not
 * the interval's last second (the packed form has none), and for an interval never opened.
 */
export async function sendOcdAfter(
  ledger: BillingLedger,
  interval: number,
  predecessor: Uint8Array,
  entries: readonly LedgerEntry[],
  zeroIds: ZeroIdsArg,
  overrides: { readonly nonce: number; readonly gasLimit: bigint },
): Promise<ContractTransactionResponse> {
  expectBytes(predecessor, 32, "sendOcdAfter: predecessor");
  for (const e of entries) {
    if (e.interval !== interval) throw new RangeError("sendOcdAfter: entry of another interval");
  }
  if (entries.length > 0) {
    const last = await intervalLastSecond(ledger, interval);
    if (last === undefined) throw new RangeError(`sendOcdAfter: interval ${interval} not open`);
    if (entries.some((e) => e.timestamp !== last)) {
      throw new RangeError("sendOcdAfter: an entry's timestamp is not the interval's last second");
    }
  }
  // Encoded natively (calldata.ts): ethers' coder was most of the posting phase's garbage.
  return sentCalldata(
    ledger,
    postOcdAfterCalldata(ledger, interval, predecessor, encodeOcdPacked(entries), zeroIds),
    { nonce: overrides.nonce, gasLimit: overrides.gasLimit },
  );
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

/**
 * Posts one SP-signed bill batch (`postBills`; calldata encoded natively by `postBillsCalldata`,
 * the bytes ethers' coder gives). Throws `RangeError` for a field past its ABI width, and the
 * named `ChainError`s of `mined` (a refused batch: `ContractRevertError`, e.g.
 * `BillingLedgerInvalidBatchSignature`).
 */
export function postBills(
  ledger: BillingLedger,
  batch: SignedBillBatch,
): Promise<ContractTransactionReceipt> {
  return minedCalldata(
    ledger,
    postBillsCalldata(
      ledger,
      batch.interval,
      batch.bills,
      batch.signature.rAddr,
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
