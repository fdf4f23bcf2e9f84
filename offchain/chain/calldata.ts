// Calldata of the ledger's bulk writes (`postOcd`, `postOcdAfter`, `postBills`), ABI-encoded
// natively (issue 14, docs/SCALE.md "Calldata without ethers' encoder"): one zeroed buffer, the
// words written in place and one native hex conversion. Byte for byte what ethers'
// `interface.encodeFunctionData` gives (test/ledger/calldata.test.ts), so gas and the chain's
// state do not change; ethers' coder builds the same bytes through a writer per tuple and array
// and hex strings grown a byte at a time (≈ 800 bytes of garbage per calldata byte of a bill
// batch), which was the largest garbage source left in the billing phase. Bills go packed,
// 56 bytes each, since issue 14's session 12 (docs/SCALE.md "Packed bill calldata").
// Encoding: Solidity ABI specification, "Formal Specification of the Encoding" (head/tail, one
// 32-byte word per static value, dynamic values behind an offset).
import {
  ContractTransactionResponse,
  type ContractTransactionReceipt,
  type Signer,
  type TransactionRequest,
} from "ethers";

import type { BillingLedger } from "../../types/ethers-contracts/index.ts";
import { expectBytes } from "../crypto/bytes.ts";
import type { BillFields } from "../protocol/billing.ts";
import { mined, sent } from "./tx.ts";

/** A 32-byte ABI word. */
const WORD = 32;

/** The 4-byte selector of `name` in `ledger`'s ABI, cached per interface. */
const selectors = new WeakMap<object, Map<string, Buffer>>();
function selector(ledger: BillingLedger, name: "postOcd" | "postOcdAfter" | "postBills"): Buffer {
  let known = selectors.get(ledger.interface);
  if (known === undefined) selectors.set(ledger.interface, (known = new Map()));
  let sel = known.get(name);
  if (sel === undefined) {
    const fragment = ledger.interface.getFunction(name);
    if (fragment === null) throw new TypeError(`calldata: the ledger ABI has no ${name}`);
    sel = Buffer.from(fragment.selector.slice(2), "hex");
    known.set(name, sel);
  }
  return sel;
}

/** Writes unsigned `value` (< 2^(8·bytes)) right-aligned in the word at `at`; RangeError if not. */
function writeUint(out: Buffer, at: number, value: bigint | number, bytes: number, what: string) {
  const v = typeof value === "number" ? BigInt(value) : value;
  if (v < 0n || v >> BigInt(8 * bytes) !== 0n) {
    throw new RangeError(`${what}: ${v} is not a uint${8 * bytes}`);
  }
  if (bytes <= 8) {
    out.writeBigUInt64BE(v, at + WORD - 8);
    return;
  }
  const hex = v.toString(16);
  out.write(hex.length % 2 === 0 ? hex : "0" + hex, at + WORD - Math.ceil(hex.length / 2), "hex");
}

/** Writes the 32 bytes of `value` as a `bytes32` word at `at`. */
function writeBytes32(out: Buffer, at: number, value: Uint8Array, what: string): void {
  expectBytes(value, WORD, what);
  out.set(value, at);
}

/** `0x` + lowercase hex of `out` (one native conversion). */
function hex0x(out: Buffer): string {
  return "0x" + out.toString("hex");
}

/** Words a `bytes` value of `length` bytes takes in the tail: its length word, then the padded data. */
function bytesWords(length: number): number {
  return 1 + Math.ceil(length / WORD);
}

/**
 * Zero-slot ids as a calldata argument: packed (`32 · z` bytes, CC's `PackedPseudonyms.bytes`;
 * issue 14, session 10: copied into the calldata in one `set`) or a list of 32-byte ids.
 */
export type ZeroIdsArg = Uint8Array | readonly Uint8Array[];

/** Number of ids in `zeroIds`; throws `RangeError` for packed bytes not a multiple of 32. */
export function zeroIdCount(zeroIds: ZeroIdsArg): number {
  if (!(zeroIds instanceof Uint8Array)) return zeroIds.length;
  if (zeroIds.length % WORD !== 0) {
    throw new RangeError("calldata: packed zeroIds not a multiple of 32 bytes");
  }
  return zeroIds.length / WORD;
}

/**
 * Calldata of `postOcd(uint32 interval, bytes entries, bytes32[] zeroIds)` (packed entries as
 * `encodeOcdPacked` gives them; zero-slot ids of 32 bytes, packed or as a list, {@link ZeroIdsArg}),
 * `0x`-hex. Throws `RangeError` for an interval not a uint32, an id not 32 bytes or packed ids not
 * a multiple of 32 bytes; `TypeError` if the ABI lacks the function.
 */
export function postOcdCalldata(
  ledger: BillingLedger,
  interval: number,
  packed: Uint8Array,
  zeroIds: ZeroIdsArg,
): string {
  return ocdCalldata(selector(ledger, "postOcd"), interval, undefined, packed, zeroIds);
}

/**
 * Calldata of `postOcdAfter(uint32 interval, bytes32 predecessor, bytes entries, bytes32[]
 * zeroIds)`, `0x`-hex. Throws as {@link postOcdCalldata}, and `RangeError` for a predecessor not
 * 32 bytes.
 */
export function postOcdAfterCalldata(
  ledger: BillingLedger,
  interval: number,
  predecessor: Uint8Array,
  packed: Uint8Array,
  zeroIds: ZeroIdsArg,
): string {
  return ocdCalldata(selector(ledger, "postOcdAfter"), interval, predecessor, packed, zeroIds);
}

function ocdCalldata(
  sel: Buffer,
  interval: number,
  predecessor: Uint8Array | undefined,
  packed: Uint8Array,
  zeroIds: ZeroIdsArg,
): string {
  const headWords = predecessor === undefined ? 3 : 4;
  const entriesAt = headWords * WORD;
  const zeroAt = entriesAt + bytesWords(packed.length) * WORD;
  const zeros = zeroIdCount(zeroIds);
  const out = Buffer.alloc(4 + zeroAt + (1 + zeros) * WORD);
  sel.copy(out, 0);
  const h = 4;
  writeUint(out, h, interval, 4, "calldata: interval");
  let w = h + WORD;
  if (predecessor !== undefined) {
    writeBytes32(out, w, predecessor, "calldata: predecessor");
    w += WORD;
  }
  writeUint(out, w, entriesAt, 8, "calldata: offset");
  writeUint(out, w + WORD, zeroAt, 8, "calldata: offset");
  writeUint(out, h + entriesAt, packed.length, 8, "calldata: length");
  out.set(packed, h + entriesAt + WORD);
  writeUint(out, h + zeroAt, zeros, 8, "calldata: length");
  if (zeroIds instanceof Uint8Array) {
    // bytes32[] elements are the ids back to back: the packed list is the array's body.
    out.set(zeroIds, h + zeroAt + WORD);
  } else {
    zeroIds.forEach((id, i) =>
      writeBytes32(out, h + zeroAt + (1 + i) * WORD, id, "calldata: zeroId"),
    );
  }
  return hex0x(out);
}

/** Bytes of one bill in the packed calldata of `postBills` (contracts: `OcdBatch.BILL_PACKED_SIZE`). */
export const BILL_PACKED_BYTES = 56;

/** Writes unsigned `value` (< 2^64) as 8 big-endian bytes at `at`; RangeError if not a u64. */
function writeU64(view: DataView, at: number, value: bigint, what: string): void {
  if (value < 0n || value >> 64n !== 0n) throw new RangeError(`${what}: ${value} is not a uint64`);
  view.setBigUint64(at, value);
}

/**
 * Writes `bills` packed at `at` of `out`, 56 bytes each: `id (32) ‖ u64 consumptionWh ‖
 * u64 timestamp ‖ u64 bill` (docs/PROTOCOL.md "Packed bill calldata"; the layout of the ledger's
 * `BillBatchPosted` records, decoded by `decodeBillRecords` in ledgerReader.ts). `out` must have
 * `56 · bills.length` bytes from `at`. Throws `RangeError` for an id not 32 bytes or a field not
 * a u64.
 */
export function writeBillsPacked(out: Uint8Array, at: number, bills: readonly BillFields[]): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  bills.forEach((b, i) => {
    const p = at + i * BILL_PACKED_BYTES;
    expectBytes(b.id, WORD, "calldata: bill id");
    out.set(b.id, p);
    writeU64(view, p + 32, b.consumptionWh, "calldata: consumptionWh");
    writeU64(view, p + 40, b.timestamp, "calldata: timestamp");
    writeU64(view, p + 48, b.bill, "calldata: bill");
  });
}

/**
 * Calldata of `postBills(uint32 interval, bytes bills, address rAddr, uint256 y)` for one signed
 * bill batch, the bills packed by {@link writeBillsPacked}, `0x`-hex. Throws `RangeError` for an
 * id not 32 bytes, a field past its width or an `rAddr` not 20 bytes.
 */
export function postBillsCalldata(
  ledger: BillingLedger,
  interval: number,
  bills: readonly BillFields[],
  rAddr: Uint8Array,
  y: bigint,
): string {
  expectBytes(rAddr, 20, "calldata: rAddr");
  const billsAt = 4 * WORD;
  const length = bills.length * BILL_PACKED_BYTES;
  const out = Buffer.alloc(4 + billsAt + bytesWords(length) * WORD);
  selector(ledger, "postBills").copy(out, 0);
  const h = 4;
  writeUint(out, h, interval, 4, "calldata: interval");
  writeUint(out, h + WORD, billsAt, 8, "calldata: offset");
  out.set(rAddr, h + 2 * WORD + 12);
  writeUint(out, h + 3 * WORD, y, 32, "calldata: y");
  writeUint(out, h + billsAt, length, 8, "calldata: length");
  writeBillsPacked(out, h + billsAt + WORD, bills);
  return hex0x(out);
}

/**
 * Sends pre-encoded calldata `data` to `ledger` through its signer, exactly as a typed contract
 * call does (`runner.sendTransaction({to, data, ...overrides})`, the response wrapped with the
 * ledger's interface so receipts parse its events). A revert comes back as the same error object
 * (errors.ts decodes it from its revert data; the calldata's origin plays no part). `TypeError`
 * if the ledger is not connected with a signer.
 */
export async function sendCalldata(
  ledger: BillingLedger,
  data: string,
  overrides: Omit<TransactionRequest, "to" | "data"> = {},
): Promise<ContractTransactionResponse> {
  const runner = ledger.runner as Signer | null;
  if (!runner || typeof runner.sendTransaction !== "function" || !runner.provider) {
    throw new TypeError("sendCalldata: the ledger is not connected with a signer");
  }
  const to = await ledger.getAddress();
  const tx = await runner.sendTransaction({ ...overrides, to, data });
  return new ContractTransactionResponse(ledger.interface, runner.provider, tx);
}

/** {@link sendCalldata}, then its receipt (`mined` in tx.ts: named `ChainError`s). */
export function minedCalldata(
  ledger: BillingLedger,
  data: string,
): Promise<ContractTransactionReceipt> {
  return mined(() => sendCalldata(ledger, data));
}

/** {@link sendCalldata} until the node accepted it (`sent` in tx.ts: named `ChainError`s). */
export function sentCalldata(
  ledger: BillingLedger,
  data: string,
  overrides: Omit<TransactionRequest, "to" | "data">,
): Promise<ContractTransactionResponse> {
  return sent(() => sendCalldata(ledger, data, overrides));
}
