// Reads an interval of the billing ledger from its events alone (docs/PROTOCOL.md "Billing ledger
// events") and hands them to the protocol's pure audit (offchain/protocol/ledger-audit.ts), which
// rebuilds the OCD, DAP and BC ledgers and re-checks everything the contract checked. This module
// only fetches and decodes: any ethers provider works (in-process Hardhat or a JSON-RPC URL through
// `readIntervalFromUrl`). The endpoint is not trusted (docs/SECURITY.md "Dishonest RPC endpoint"):
// logs it was not asked for are refused here, and the audit compares the events with the storage
// read at the scan's last block.
import { type Log, type Provider } from "ethers";

import { bytesToBigInt, hexToBytes } from "../crypto/bytes.ts";
import type { BillFields, DeliveryModeValue, IntervalStateValue } from "../protocol/billing.ts";
import { ENTRY_KIND, ledgerDomain, type LedgerEntry } from "../protocol/entry.ts";
import {
  INTERVAL_EVENTS,
  IntervalAuditor,
  chainDigest,
  type IntervalReport,
  type LedgerEvent,
} from "../protocol/ledger-audit.ts";
import { connectBillingLedger, publicKeyBytes, type BillingLedger } from "./billing.ts";
import { BILL_PACKED_BYTES } from "./calldata.ts";
import type { ProgressSink } from "../runtime/progress.ts";
import { jsonRpcProvider, readHead } from "./provider.ts";

// The audit and the report it returns are the protocol's (offchain/protocol/ledger-audit.ts).
export { chainDigest };
export type { BillBatchRecord, IntervalReport } from "../protocol/ledger-audit.ts";

export interface ReadIntervalOptions {
  /** First block to scan (default 0: the deployment block or earlier). */
  fromBlock?: number;
  /**
   * Last block to scan; storage is read at this block too. Default: the node's head, at or after
   * `minBlock` and after every write this process made through `chain/` on the same provider
   * (provider.ts `readHead`: never a block before our own write).
   */
  toBlock?: number;
  /** The scan ends at or after this block (e.g. the receipt block of another process's write). */
  minBlock?: number;
  /**
   * At most this many blocks per `eth_getLogs` query (default {@link DEFAULT_BLOCK_RANGE};
   * providers cap ranges). Each page is decoded and dropped before the next is fetched.
   */
  blockRange?: number;
  /**
   * Log data bytes a page aims at (default {@link DEFAULT_PAGE_BYTES}): the page after one of `b`
   * bytes over `r` blocks spans `r · pageBytes / b` blocks (see {@link nextPageBlocks}), so what
   * a response holds follows the logs' density, not a block count.
   */
  pageBytes?: number;
  /**
   * Counted progress (issue 14): "interval blocks read" (blocks scanned of the range) while the
   * logs are fetched and decoded, then "interval slots audited" (OCD entries and zero slots of
   * the stored record) while the audit replays them.
   */
  progress?: ProgressSink;
}

/**
 * The most blocks one `eth_getLogs` page spans by default (pages are sized by the bytes they
 * return, {@link DEFAULT_PAGE_BYTES}; providers cap ranges). A block of OCD records carries up to
 * ≈ 3,700 slots, and the endpoint, the JSON and ethers each hold a page's copy while it is
 * decoded; 1,000 blocks held the whole interval of a 20,000-meter city at once (issue 14).
 */
export const DEFAULT_BLOCK_RANGE = 100;

/**
 * Default log data bytes per `eth_getLogs` page: 1 MiB (2 MiB of hex in the response). The
 * in-process chain (Hardhat's EDR) keeps memory after answering a large `eth_getLogs`: reading
 * 20 MB of logs three times in pages of 4.2 MB of data left its arenas 101 MB larger, in pages of
 * 0.84 MB 6.5 MB (`node offchain/bench/edr-probe.ts --kind getlogs --page-blocks B --passes 3`; docs/SCALE.md
 * "Reading the ledger in pages of bytes", issue 14). At 100,000 meters an OCD block carries
 * ≈ 194 kB of records and zero-slot ids on average, so 100 blocks were a ≈ 19 MB response.
 */
export const DEFAULT_PAGE_BYTES = 1 << 20;

/**
 * The span empty pages grow to (doubling): a page gives no density to size the next one by, so
 * the first page after an empty run — registration blocks hold no interval logs, and a read starts
 * at block 0 unless told otherwise — spans at most this many blocks (≈ 3 MB of logs at 100,000
 * meters, once per read). Empty runs cost a request per 16 blocks where they cost one per
 * `blockRange`.
 */
export const EMPTY_PAGE_BLOCKS_MAX = 16;

/**
 * The next `eth_getLogs` page's span in blocks, after a page of `blocks` blocks that returned
 * `bytes` log data bytes: `blocks · pageBytes / bytes` rounded down, at least 1, at most twice
 * `blocks` (densities change between blocks) and at most `maxBlocks`; after an empty page, twice
 * `blocks` up to {@link EMPTY_PAGE_BLOCKS_MAX} (or `blocks` when already above). Pure.
 */
export function nextPageBlocks(
  blocks: number,
  bytes: number,
  pageBytes: number,
  maxBlocks: number,
): number {
  const grown = 2 * blocks;
  const wanted =
    bytes === 0
      ? Math.max(blocks, Math.min(grown, EMPTY_PAGE_BLOCKS_MAX))
      : Math.min(grown, Math.floor((blocks * pageBytes) / bytes));
  return Math.max(1, Math.min(maxBlocks, wanted));
}

/**
 * Decodes the 133-byte OCD records of `OcdBatchPosted`. The byte fields are views into one copy
 * of `packed` (not one buffer each: a small `ArrayBuffer` costs ≈ 200 bytes besides its data, and
 * a 100,000-meter interval holds ≈ 10⁶ such fields; issue 14); they never alias `packed`.
 */
export function decodeOcdRecords(interval: number, input: Uint8Array): LedgerEntry[] {
  if (input.length % 133 !== 0) throw new RangeError("decodeOcdRecords: length not k·133");
  const packed = input.slice();
  const out: LedgerEntry[] = [];
  for (let p = 0; p < packed.length; p += 133) {
    out.push({
      kind: ENTRY_KIND.OCD,
      interval,
      id: packed.subarray(p, p + 32),
      timestamp: bytesToBigInt(packed.subarray(p + 32, p + 40)),
      value: bytesToBigInt(packed.subarray(p + 40, p + 48)),
      sigPk: packed.subarray(p + 48, p + 81),
      signature: {
        rAddr: packed.subarray(p + 81, p + 101),
        y: bytesToBigInt(packed.subarray(p + 101, p + 133)),
      },
    });
  }
  return out;
}

/**
 * Decodes the 56-byte bill records of `BillBatchPosted` (ids: views into one copy, as above), the
 * packed `postBills` calldata as sent (inverse of `writeBillsPacked`, calldata.ts).
 */
export function decodeBillRecords(interval: number, input: Uint8Array): BillFields[] {
  if (input.length % BILL_PACKED_BYTES !== 0) {
    throw new RangeError(`decodeBillRecords: length not k·${BILL_PACKED_BYTES}`);
  }
  const packed = input.slice();
  const out: BillFields[] = [];
  for (let p = 0; p < packed.length; p += BILL_PACKED_BYTES) {
    out.push({
      interval,
      id: packed.subarray(p, p + 32),
      consumptionWh: bytesToBigInt(packed.subarray(p + 32, p + 40)),
      timestamp: bytesToBigInt(packed.subarray(p + 40, p + 48)),
      bill: bytesToBigInt(packed.subarray(p + 48, p + 56)),
    });
  }
  return out;
}

/**
 * Logs of `ledger` whose first indexed topic is `interval`, or of the SP key event, one page at a
 * time, each page in log order (pages follow each other in block order). Paged so that a caller
 * decodes and drops a page before the next is fetched: at 100,000 meters an interval's logs are
 * ≈ 90 MB of hex in the JSON-RPC response, again as ethers `Log` objects and again as `parseLog`
 * results (issue 14). The first page is one block; each next page's span follows the log bytes of
 * the last ({@link nextPageBlocks}), at most `blockRange` blocks.
 */
async function* fetchLogPages(
  provider: Provider,
  address: string,
  intervalTopics: readonly string[],
  keyTopic: string,
  interval: number,
  from: number,
  to: number,
  blockRange: number,
  pageBytes: number,
): AsyncGenerator<{ readonly logs: Log[]; readonly end: number }> {
  const intervalTopic = "0x" + interval.toString(16).padStart(64, "0");
  let span = 1;
  for (let start = from; start <= to;) {
    const end = Math.min(to, start + span - 1);
    const [ours, keys] = await Promise.all([
      provider.getLogs({
        address,
        fromBlock: start,
        toBlock: end,
        topics: [[...intervalTopics], intervalTopic],
      }),
      provider.getLogs({ address, fromBlock: start, toBlock: end, topics: [keyTopic] }),
    ]);
    const logs = [...ours, ...keys];
    // Data bytes of the page: each log's `data` is 0x-prefixed hex.
    let bytes = 0;
    for (const log of logs) bytes += (log.data.length - 2) >>> 1;
    span = nextPageBlocks(end - start + 1, bytes, pageBytes, blockRange);
    start = end + 1;
    yield { logs: logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index), end };
  }
}

/**
 * Rebuilds and audits interval `interval` of `ledger` from events: fetches the interval's logs and
 * storage at one block, refuses logs the endpoint was not asked for, decodes the rest into
 * {@link LedgerEvent}s and hands them, page by page, to the protocol's pure audit
 * (`IntervalAuditor`, offchain/protocol/ledger-audit.ts). Throws only on transport errors.
 */
export async function readInterval(
  ledger: BillingLedger,
  interval: number,
  options: ReadIntervalOptions = {},
): Promise<IntervalReport> {
  const provider = ledger.runner?.provider;
  if (!provider) throw new Error("readInterval: the contract needs a runner with a provider");
  const address = await ledger.getAddress();
  const iface = ledger.interface;
  const intervalTopics = INTERVAL_EVENTS.map((name) => iface.getEvent(name).topicHash);
  const keyTopic = iface.getEvent("ServiceProviderKeysSet").topicHash;
  const requestedTopics = new Set([...intervalTopics, keyTopic]);
  const from = options.fromBlock ?? 0;
  const to = options.toBlock ?? (await readHead(provider, options.minBlock));
  // Storage is read at the scan's last block, so logs and storage describe the same chain state.
  const atEnd = { blockTag: to };

  // DESIGN §4.4: the domain is keccak256(chainId ‖ ledger). Computed here rather than taken from
  // `domainSeparator()`, which only the endpoint vouches for.
  const domain = ledgerDomain((await provider.getNetwork()).chainId, address);
  const storedDomainSeparator = hexToBytes(await ledger.domainSeparator(atEnd));
  const blockRange = Math.max(1, Math.floor(options.blockRange ?? DEFAULT_BLOCK_RANGE));
  const pageBytes = Math.max(1, Math.floor(options.pageBytes ?? DEFAULT_PAGE_BYTES));
  const blocks = to - from + 1;
  const progress = options.progress;

  // Storage first (read at the scan's last block, so logs and storage still describe the same
  // chain state): it sizes the report's indexes, and the audit then takes each page of logs as it
  // is decoded (issue 14: an interval's decoded events were all held until the audit ran, ≈ 160,000
  // entries and 800,000 zero-slot ids per read at 100,000 meters).
  const rec = await ledger.intervalRecord(interval, atEnd);
  // SP's signing key at each point of the log (the contract checks the key in force).
  const [, storedSpSig] = await ledger.serviceProviderKeys(atEnd);
  const storedSpSigPk =
    storedSpSig.prefix === 0n ? undefined : publicKeyBytes(storedSpSig.prefix, storedSpSig.x);
  const audit = new IntervalAuditor({
    interval,
    domain,
    storedDomainSeparator,
    stored: {
      state: Number(rec.state) as IntervalStateValue,
      start: rec.start,
      end: rec.end,
      tariffVersion: Number(rec.tariffVersion),
      mode: Number(rec.mode),
      categoryValues: rec.categoryValues.map((v: bigint) => BigInt(v)),
      ocdCount: Number(rec.ocdCount),
      zeroCount: Number(rec.zeroCount),
      expectedSlots: Number(rec.expectedSlots),
      sumWh: rec.sumWh,
      ocdDigest: hexToBytes(rec.ocdDigest),
      billCount: Number(rec.billCount),
      billDigest: hexToBytes(rec.billDigest),
      dapCount: Number(rec.dapCount),
      price: rec.price,
      billedTotal: rec.billedTotal,
    },
    storedSpSigPk,
    spSigPkAtStart: from === 0 ? undefined : storedSpSigPk,
    progress:
      progress && ((done, total) => progress({ task: "interval slots audited", done, total })),
  });

  // Log positions seen ("block B index I"): one short string per log (≈ 8,000 at 100,000 meters).
  const positions = new Set<string>();
  const pages = fetchLogPages(
    provider,
    address,
    intervalTopics,
    keyTopic,
    interval,
    from,
    to,
    blockRange,
    pageBytes,
  );
  for await (const page of pages) {
    for (const log of page.logs) {
      const where = `block ${log.blockNumber} index ${log.index}`;
      // An honest endpoint answers exactly the query: this ledger's logs, the requested topics, the
      // requested interval, each log once. Anything else is refused before it can touch the ledgers.
      if (log.address.toLowerCase() !== address.toLowerCase()) {
        audit.add({ problem: `log at ${where} from ${log.address}, not the ledger` });
        continue;
      }
      if (positions.has(where)) {
        audit.add({ problem: `duplicate log at ${where}` });
        continue;
      }
      positions.add(where);
      if (!requestedTopics.has(log.topics[0])) {
        audit.add({ problem: `unexpected log ${log.topics[0]} at ${where}` });
        continue;
      }
      let event: LedgerEvent;
      try {
        event = await decodeLedgerEvent(ledger, log, where, atEnd);
      } catch (err) {
        // A malformed log (e.g. records not a multiple of their size) is the endpoint's doing.
        audit.add({
          problem: `log at ${where} could not be processed: ${(err as Error).message}`,
        });
        continue;
      }
      audit.add({ event });
    }
    progress?.({ task: "interval blocks read", done: page.end - from + 1, total: blocks });
  }
  return audit.finish();
}

/** The three events that carry an interval's records (`bytes` of packed records) by topic. */
const PACKED_EVENTS = ["OcdBatchPosted", "OcdZeroSlotsPosted", "BillBatchPosted"] as const;
type PackedEventName = (typeof PACKED_EVENTS)[number];
const packedTopics = new WeakMap<object, ReadonlyMap<string, PackedEventName>>();

/** Head words before the `bytes` field of each packed event's data (its ABI offset / 32). */
const HEAD_WORDS: Readonly<Record<PackedEventName, number>> = {
  OcdBatchPosted: 3, // firstIndex, count, offset
  OcdZeroSlotsPosted: 3, // firstIndex, count, offset
  BillBatchPosted: 5, // firstIndex, count, rAddr, y, offset
};

/** Word `w` of `data` as a number when its top `32 − bytes` bytes are zero, else undefined. */
function smallWord(data: Uint8Array, w: number, bytes: number): number | undefined {
  const o = 32 * w;
  for (let i = o; i < o + 32 - bytes; i++) if (data[i] !== 0) return undefined;
  let v = 0;
  for (let i = o + 32 - bytes; i < o + 32; i++) v = v * 256 + data[i];
  return v;
}

/**
 * The interval's record-carrying events (`OcdBatchPosted`, `OcdZeroSlotsPosted`,
 * `BillBatchPosted`) decoded straight from the log's bytes when their ABI encoding is the
 * canonical one the contract emits (two topics, the `bytes` at its head offset, exact length,
 * zero padding, numbers in range); undefined for anything else, which then goes through ethers'
 * ABI decoder as every other event does (so a malformed log is named exactly as before). Issue
 * 14: ethers decodes a `bytes` field by building its hex string one byte at a time and copying the
 * data twice — at 1,000 meters ≈ 75 MB of garbage per read of an interval, ≈ 60 times its data.
 * For a canonical encoding both decoders give the same values.
 */
export function decodePackedLog(
  ledger: BillingLedger,
  log: Log,
  where: string,
): LedgerEvent | undefined {
  let byTopic = packedTopics.get(ledger.interface);
  if (byTopic === undefined) {
    byTopic = new Map(PACKED_EVENTS.map((n) => [ledger.interface.getEvent(n).topicHash, n]));
    packedTopics.set(ledger.interface, byTopic);
  }
  const name = byTopic.get(log.topics[0]);
  if (name === undefined || log.topics.length !== 2) return undefined;
  let topic: Uint8Array;
  let data: Uint8Array;
  try {
    topic = hexToBytes(log.topics[1]);
    data = hexToBytes(log.data);
  } catch {
    return undefined; // not hex: ethers names it
  }
  const interval = topic.length === 32 ? smallWord(topic, 0, 4) : undefined;
  const head = HEAD_WORDS[name];
  if (interval === undefined || data.length < 32 * (head + 1) || data.length % 32 !== 0) {
    return undefined;
  }
  const firstIndex = smallWord(data, 0, 4);
  const count = smallWord(data, 1, 4);
  const offset = smallWord(data, head - 1, 4);
  const length = smallWord(data, head, 4);
  if (
    firstIndex === undefined ||
    count === undefined ||
    offset !== 32 * head ||
    length === undefined ||
    data.length !== 32 * (head + 1) + 32 * Math.ceil(length / 32)
  ) {
    return undefined;
  }
  const start = 32 * (head + 1);
  for (let i = start + length; i < data.length; i++) if (data[i] !== 0) return undefined;
  const records = data.subarray(start, start + length);
  switch (name) {
    case "OcdBatchPosted":
      return {
        name,
        where,
        interval,
        firstIndex,
        count,
        entries: decodeOcdRecords(interval, records),
      };
    case "OcdZeroSlotsPosted": {
      if (length % 32 !== 0) throw new Error("zero-slot ids not a multiple of 32 bytes");
      // Views into one copy of the ids (see decodeOcdRecords), not into the whole log's data.
      const raw = records.slice();
      const ids: Uint8Array[] = [];
      for (let o = 0; o < raw.length; o += 32) ids.push(raw.subarray(o, o + 32));
      return { name, where, interval, firstIndex, count, ids };
    }
    case "BillBatchPosted": {
      // rAddr: an address (20 bytes, the top 12 zero); y: a full word.
      for (let i = 64; i < 76; i++) if (data[i] !== 0) return undefined;
      return {
        name,
        where,
        interval,
        firstIndex,
        bills: decodeBillRecords(interval, records),
        rAddr: data.slice(76, 96),
        y: bytesToBigInt(data.subarray(96, 128)),
      };
    }
  }
}

/** Decodes one requested log of the ledger; throws on a log it cannot decode. */
async function decodeLedgerEvent(
  ledger: BillingLedger,
  log: Log,
  where: string,
  atEnd: { blockTag: number },
): Promise<LedgerEvent> {
  const packed = decodePackedLog(ledger, log, where);
  if (packed !== undefined) return packed;
  const parsed = ledger.interface.parseLog(log);
  if (!parsed) throw new Error("unknown event");
  const a = parsed.args;
  const interval = Number(a.interval);
  switch (parsed.name) {
    case "ServiceProviderKeysSet":
      return {
        name: parsed.name,
        where,
        sigPk: publicKeyBytes(a.sigPkPrefix as bigint, a.sigPkX as bigint),
      };
    case "IntervalOpened": {
      const tariffVersion = Number(a.tariffVersion);
      const [breakpointsWh, values, cap] = await ledger.tariff(tariffVersion, atEnd);
      return {
        name: parsed.name,
        where,
        interval,
        start: a.start as bigint,
        end: a.end as bigint,
        tariffVersion,
        categoryValues: (a.categoryValues as bigint[]).map((v) => BigInt(v)),
        mode: Number(a.mode) as DeliveryModeValue,
        schedule: { breakpointsWh: [...breakpointsWh], values: [...values], cap },
      };
    }
    case "OcdBatchPosted":
      return {
        name: parsed.name,
        where,
        interval,
        firstIndex: Number(a.firstIndex),
        count: Number(a.count),
        entries: decodeOcdRecords(interval, hexToBytes(a.getValue("entries") as string)),
      };
    case "OcdZeroSlotsPosted": {
      const raw = hexToBytes(a.ids as string);
      if (raw.length % 32 !== 0) throw new Error("zero-slot ids not a multiple of 32 bytes");
      // Views into the log's own buffer (see decodeOcdRecords).
      const ids: Uint8Array[] = [];
      for (let o = 0; o < raw.length; o += 32) ids.push(raw.subarray(o, o + 32));
      return {
        name: parsed.name,
        where,
        interval,
        firstIndex: Number(a.firstIndex),
        count: Number(a.count),
        ids,
      };
    }
    case "OcdSealed":
      return {
        name: parsed.name,
        where,
        interval,
        count: Number(a.count),
        sumWh: a.sumWh as bigint,
        ocdDigest: hexToBytes(a.ocdDigest as string),
      };
    case "DapPosted":
      return {
        name: parsed.name,
        where,
        interval,
        id: hexToBytes(a.id as string),
        timestamp: a.timestamp as bigint,
        price: a.price as bigint,
        rAddr: hexToBytes(a.rAddr as string),
        y: a.y as bigint,
      };
    case "IntervalPriced":
      return {
        name: parsed.name,
        where,
        interval,
        price: a.price as bigint,
        sumWh: a.sumWh as bigint,
        tariffVersion: Number(a.tariffVersion),
      };
    case "BillBatchPosted":
      return {
        name: parsed.name,
        where,
        interval,
        firstIndex: Number(a.firstIndex),
        bills: decodeBillRecords(interval, hexToBytes(a.items as string)),
        rAddr: hexToBytes(a.rAddr as string),
        y: a.y as bigint,
      };
    case "BillingRestarted":
      return { name: parsed.name, where, interval, discarded: Number(a.discarded) };
    case "IntervalFinalized":
      return {
        name: parsed.name,
        where,
        interval,
        count: Number(a.count),
        billedTotal: a.billedTotal as bigint,
        billDigest: hexToBytes(a.billDigest as string),
      };
    default:
      throw new Error(`unknown event ${parsed.name}`);
  }
}

/** {@link readInterval} over a JSON-RPC endpoint. */
export async function readIntervalFromUrl(
  rpcUrl: string,
  ledgerAddress: string,
  interval: number,
  options: ReadIntervalOptions = {},
): Promise<IntervalReport> {
  const provider = jsonRpcProvider(rpcUrl);
  try {
    return await readInterval(connectBillingLedger(ledgerAddress, provider), interval, options);
  } finally {
    provider.destroy();
  }
}
