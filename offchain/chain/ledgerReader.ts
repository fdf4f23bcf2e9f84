// Rebuilds an interval's OCD, DAP and BC ledgers from the billing ledger's events alone
// (docs/PROTOCOL.md "Billing ledger events") and re-checks everything the contract checked:
// every signature (meters' per-message Schnorr signatures, SP's DAP and bill-batch signatures),
// category values, fixed timestamp, pseudonym order, Σc, the running digests, the tariff price and every
// bill. The report lists mismatches; an honest chain yields none. Any ethers provider works
// (in-process Hardhat or a JSON-RPC URL through `readIntervalFromUrl`).
// The endpoint is not trusted either (docs/SECURITY.md "Dishonest RPC endpoint"): logs it was not
// asked for are refused, the life cycle is replayed from the events, and everything is compared
// with what the contract committed in its events and in storage, read at the scan's last block.
import { type Log, type Provider } from "ethers";

import { bytesToBigInt, bytesToHex, concatBytes, hexToBytes, u64 } from "../crypto/bytes.ts";
import { keccak256 } from "../crypto/hash.ts";
import { ENTRY_KIND, ledgerDomain, verifyEntry, type LedgerEntry } from "../protocol/entry.ts";
import {
  INTERVAL_STATE,
  connectBillingLedger,
  publicKeyBytes,
  verifyBillBatch,
  type BillFields,
  type BillingLedger,
  type DeliveryModeValue,
  type IntervalStateValue,
} from "./billing.ts";
import { jsonRpcProvider, readHead } from "./provider.ts";
import { tariffPrice, type TariffSchedule } from "./tariff.ts";

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
  /** Blocks per `eth_getLogs` query (default 10,000; providers cap ranges). */
  blockRange?: number;
}

/** One bill batch as emitted by `BillBatchPosted`. */
export interface BillBatchRecord {
  readonly firstIndex: number;
  readonly bills: readonly BillFields[];
  readonly rAddr: Uint8Array;
  readonly y: bigint;
  readonly signatureValid: boolean;
}

export interface IntervalReport {
  readonly interval: number;
  /** State in contract storage now. */
  readonly state: IntervalStateValue;
  readonly window?: { readonly start: bigint; readonly end: bigint };
  readonly tariffVersion?: number;
  readonly categoryValues?: readonly bigint[];
  readonly mode?: DeliveryModeValue;
  /** OCD ledger (kind 0 entries) in posting order. */
  readonly ocd: readonly LedgerEntry[];
  /**
   * Zero-value slots (meters' dummies and CC's absence markers, DESIGN §7) in posting order: their
   * pseudonyms only (no signature on-chain, not billed).
   */
  readonly zeroSlots: readonly Uint8Array[];
  /** `K × (registered meters)` at opening (stored): the slots a sealed interval holds. */
  readonly expectedSlots: number;
  /** DAP ledger (kind 1 entries, `sigPk` = SP's key at posting time). */
  readonly dap: readonly LedgerEntry[];
  /** BC ledger: bills in force (after the last `BillingRestarted`), in posting order. */
  readonly bills: readonly BillFields[];
  readonly billBatches: readonly BillBatchRecord[];
  /** Recomputed from the events. */
  readonly sumWh: bigint;
  readonly ocdDigest: Uint8Array;
  readonly billDigest: Uint8Array;
  readonly billedTotal: bigint;
  /** `tariff(Σc)` under the interval's tariff version (undefined before the interval opened). */
  readonly expectedPrice?: bigint;
  /** The price recorded on-chain (`IntervalPriced`), if any. */
  readonly price?: bigint;
  /** Human-readable mismatches; empty for an honest chain. */
  readonly mismatches: readonly string[];
}

const ZERO32 = new Uint8Array(32);

/** `acc_k = keccak256(acc_{k−1} ‖ id ‖ u64 c)`. */
export function chainDigest(acc: Uint8Array, id: Uint8Array, consumptionWh: bigint): Uint8Array {
  return keccak256(concatBytes(acc, id, u64(consumptionWh)));
}

/** Decodes the 133-byte OCD records of `OcdBatchPosted`. */
export function decodeOcdRecords(interval: number, packed: Uint8Array): LedgerEntry[] {
  if (packed.length % 133 !== 0) throw new RangeError("decodeOcdRecords: length not k·133");
  const out: LedgerEntry[] = [];
  for (let p = 0; p < packed.length; p += 133) {
    out.push({
      kind: ENTRY_KIND.OCD,
      interval,
      id: packed.slice(p, p + 32),
      timestamp: bytesToBigInt(packed.subarray(p + 32, p + 40)),
      value: bytesToBigInt(packed.subarray(p + 40, p + 48)),
      sigPk: packed.slice(p + 48, p + 81),
      signature: {
        rAddr: packed.slice(p + 81, p + 101),
        y: bytesToBigInt(packed.subarray(p + 101, p + 133)),
      },
    });
  }
  return out;
}

/** Decodes the 56-byte bill records of `BillBatchPosted`. */
export function decodeBillRecords(interval: number, packed: Uint8Array): BillFields[] {
  if (packed.length % 56 !== 0) throw new RangeError("decodeBillRecords: length not k·56");
  const out: BillFields[] = [];
  for (let p = 0; p < packed.length; p += 56) {
    out.push({
      interval,
      id: packed.slice(p, p + 32),
      consumptionWh: bytesToBigInt(packed.subarray(p + 32, p + 40)),
      timestamp: bytesToBigInt(packed.subarray(p + 40, p + 48)),
      bill: bytesToBigInt(packed.subarray(p + 48, p + 56)),
    });
  }
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const hex = (b: Uint8Array): string => "0x" + bytesToHex(b);

const sameKey = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  a === undefined || b === undefined ? a === b : compareBytes(a, b) === 0;

/** The events of one interval (first indexed topic `interval`). */
const INTERVAL_EVENTS = [
  "IntervalOpened",
  "OcdBatchPosted",
  "OcdZeroSlotsPosted",
  "OcdSealed",
  "DapPosted",
  "IntervalPriced",
  "BillBatchPosted",
  "BillingRestarted",
  "IntervalFinalized",
] as const;
type IntervalEvent = (typeof INTERVAL_EVENTS)[number];

const { None, Open, OcdSealed, Priced, Billing, Final } = INTERVAL_STATE;

/**
 * The life cycle the contract enforces (DESIGN §2; docs/PROTOCOL.md "Interval life cycle"): the
 * states in which each event can be emitted and the state it leaves. Replaying it names a log that
 * an endpoint dropped, replayed or moved even when its values are harmless (e.g. a second
 * `IntervalPriced` with the same price).
 */
const LIFECYCLE: Record<
  IntervalEvent,
  { readonly from: readonly IntervalStateValue[]; readonly to?: IntervalStateValue }
> = {
  IntervalOpened: { from: [None], to: Open },
  OcdBatchPosted: { from: [Open] },
  OcdZeroSlotsPosted: { from: [Open] },
  OcdSealed: { from: [Open], to: OcdSealed },
  DapPosted: { from: [OcdSealed, Priced] },
  IntervalPriced: { from: [OcdSealed], to: Priced },
  BillBatchPosted: { from: [Priced, Billing], to: Billing },
  BillingRestarted: { from: [Billing], to: Priced },
  IntervalFinalized: { from: [Priced, Billing], to: Final },
};

const STATE_NAME = Object.fromEntries(
  Object.entries(INTERVAL_STATE).map(([name, value]) => [value, name]),
) as Record<IntervalStateValue, string>;

/** Logs of `ledger` whose first indexed topic is `interval`, or of the SP key event, in order. */
async function fetchLogs(
  provider: Provider,
  address: string,
  intervalTopics: readonly string[],
  keyTopic: string,
  interval: number,
  from: number,
  to: number,
  blockRange: number | undefined,
): Promise<Log[]> {
  const intervalTopic = "0x" + interval.toString(16).padStart(64, "0");
  const range = Math.max(1, blockRange ?? 10_000);
  const logs: Log[] = [];
  for (let start = from; start <= to; start += range) {
    const end = Math.min(to, start + range - 1);
    const [ours, keys] = await Promise.all([
      provider.getLogs({
        address,
        fromBlock: start,
        toBlock: end,
        topics: [[...intervalTopics], intervalTopic],
      }),
      provider.getLogs({ address, fromBlock: start, toBlock: end, topics: [keyTopic] }),
    ]);
    logs.push(...ours, ...keys);
  }
  return logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
}

/** Rebuilds and audits interval `interval` of `ledger` from events. */
export async function readInterval(
  ledger: BillingLedger,
  interval: number,
  options: ReadIntervalOptions = {},
): Promise<IntervalReport> {
  const provider = ledger.runner?.provider;
  if (!provider) throw new Error("readInterval: the contract needs a runner with a provider");
  const mismatches: string[] = [];
  const bad = (m: string): void => void mismatches.push(m);
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
  if ((await ledger.domainSeparator(atEnd)) !== hex(domain)) {
    bad("domainSeparator() ≠ keccak256(chainId ‖ ledger) (DESIGN §4.4)");
  }
  const logs = await fetchLogs(
    provider,
    address,
    intervalTopics,
    keyTopic,
    interval,
    from,
    to,
    options.blockRange,
  );

  // SP's signing key at each point of the log (the contract checks the key in force). The
  // contract refuses DAP and bills before SP's key is set (DESIGN §2), so a scan from block 0 sees
  // a ServiceProviderKeysSet before any of them; a later start assumes the key stored at the end
  // was already in force.
  const [, storedSpSig] = await ledger.serviceProviderKeys(atEnd);
  const storedSpSigPk =
    storedSpSig.prefix === 0n ? undefined : publicKeyBytes(storedSpSig.prefix, storedSpSig.x);
  let spSigPk: Uint8Array | undefined = from === 0 ? undefined : storedSpSigPk;

  let window: { start: bigint; end: bigint } | undefined;
  let tariffVersion: number | undefined;
  let categories: bigint[] | undefined;
  let mode: DeliveryModeValue | undefined;
  let schedule: TariffSchedule | undefined;
  const ocd: LedgerEntry[] = [];
  const zeroSlots: Uint8Array[] = [];
  const slotIds = new Set<string>();
  let lastZeroId: Uint8Array = ZERO32;
  const dap: LedgerEntry[] = [];
  let bills: BillFields[] = [];
  let batches: BillBatchRecord[] = [];
  let sumWh = 0n;
  let ocdDigest: Uint8Array = ZERO32;
  let billDigest: Uint8Array = ZERO32;
  let billedTotal = 0n;
  let price: bigint | undefined;
  let expectedPrice: bigint | undefined;
  let eventState: IntervalStateValue = None;
  let lastId: Uint8Array = ZERO32;
  let lastDapId: Uint8Array = ZERO32;
  let dapClosed = false;
  const positions = new Set<string>();

  for (const log of logs) {
    const where = `block ${log.blockNumber} index ${log.index}`;
    // An honest endpoint answers exactly the query: this ledger's logs, the requested topics, the
    // requested interval, each log once. Anything else is refused before it can touch the ledgers.
    if (log.address.toLowerCase() !== address.toLowerCase()) {
      bad(`log at ${where} from ${log.address}, not the ledger`);
      continue;
    }
    if (positions.has(where)) {
      bad(`duplicate log at ${where}`);
      continue;
    }
    positions.add(where);
    if (!requestedTopics.has(log.topics[0])) {
      bad(`unexpected log ${log.topics[0]} at ${where}`);
      continue;
    }
    try {
      const parsed = iface.parseLog(log);
      if (!parsed) throw new Error("unknown event");
      const a = parsed.args;
      if (parsed.name !== "ServiceProviderKeysSet") {
        if (Number(a.interval) !== interval) {
          bad(`${parsed.name} of interval ${a.interval} at ${where}`);
          continue;
        }
        const step = LIFECYCLE[parsed.name as IntervalEvent];
        if (!step.from.includes(eventState)) {
          bad(`${parsed.name} at ${where} out of order (state ${STATE_NAME[eventState]})`);
        }
        if (step.to !== undefined) eventState = step.to;
      }
      switch (parsed.name) {
        case "ServiceProviderKeysSet": {
          spSigPk = publicKeyBytes(a.sigPkPrefix as bigint, a.sigPkX as bigint);
          break;
        }
        case "IntervalOpened": {
          window = { start: a.start as bigint, end: a.end as bigint };
          tariffVersion = Number(a.tariffVersion);
          categories = (a.categoryValues as bigint[]).map((v) => BigInt(v));
          mode = Number(a.mode) as DeliveryModeValue;
          const [breakpointsWh, values, cap] = await ledger.tariff(tariffVersion, atEnd);
          schedule = { breakpointsWh: [...breakpointsWh], values: [...values], cap };
          break;
        }
        case "OcdBatchPosted": {
          const entries = decodeOcdRecords(interval, hexToBytes(a.getValue("entries") as string));
          if (Number(a.firstIndex) !== ocd.length) {
            bad(`OCD batch firstIndex ${a.firstIndex} but ${ocd.length} entries so far`);
          }
          if (Number(a.count) !== entries.length)
            bad(`OCD batch count ${a.count} ≠ ${entries.length}`);
          for (const e of entries) {
            const idx = ocd.length;
            if (!verifyEntry(domain, e)) bad(`OCD ${idx}: signature does not verify`);
            if (categories && !categories.includes(e.value)) {
              bad(`OCD ${idx}: ${e.value} Wh is not a category value`);
            }
            // DESIGN §4.4: an OCD timestamp is fixed by protocol to the interval's last second.
            if (window && e.timestamp !== window.end - 1n) {
              bad(`OCD ${idx}: timestamp ${e.timestamp} is not the interval's last second`);
            }
            if (compareBytes(e.id, lastId) <= 0) bad(`OCD ${idx}: pseudonym not increasing`);
            lastId = e.id;
            const key = hex(e.id);
            if (slotIds.has(key)) bad(`OCD ${idx}: pseudonym already holds a slot`);
            slotIds.add(key);
            sumWh += e.value;
            ocdDigest = chainDigest(ocdDigest, e.id, e.value);
            ocd.push(e);
          }
          break;
        }
        case "OcdZeroSlotsPosted": {
          // One transaction merges real entries and zero slots in one increasing order; across
          // the two events, each kind increases on its own and no pseudonym holds two slots.
          const raw = hexToBytes(a.ids as string);
          if (raw.length % 32 !== 0) throw new Error("zero-slot ids not a multiple of 32 bytes");
          if (Number(a.firstIndex) !== zeroSlots.length) {
            bad(`zero slots firstIndex ${a.firstIndex} but ${zeroSlots.length} so far`);
          }
          if (Number(a.count) !== raw.length / 32) bad(`zero slots count ${a.count} ≠ records`);
          for (let o = 0; o < raw.length; o += 32) {
            const id = raw.slice(o, o + 32);
            const key = hex(id);
            if (compareBytes(id, lastZeroId) <= 0) bad(`zero slot ${key}: not increasing`);
            if (slotIds.has(key)) bad(`zero slot ${key}: pseudonym already holds a slot`);
            slotIds.add(key);
            lastZeroId = id;
            zeroSlots.push(id);
          }
          break;
        }
        case "OcdSealed": {
          if (Number(a.count) !== ocd.length) bad(`OcdSealed count ${a.count} ≠ ${ocd.length}`);
          if ((a.sumWh as bigint) !== sumWh) bad(`OcdSealed Σc ${a.sumWh} ≠ ${sumWh}`);
          if (a.ocdDigest !== hex(ocdDigest)) bad("OcdSealed digest ≠ recomputed OCD digest");
          if (schedule) expectedPrice = tariffPrice(schedule, sumWh);
          break;
        }
        case "DapPosted": {
          const entry: LedgerEntry = {
            kind: ENTRY_KIND.DAP,
            interval,
            id: hexToBytes(a.id as string),
            timestamp: a.timestamp as bigint,
            value: a.price as bigint,
            sigPk: spSigPk ?? new Uint8Array(33),
            signature: { rAddr: hexToBytes(a.rAddr as string), y: a.y as bigint },
          };
          // The contract's DAP rules: ids strictly increase; none after the first bill batch.
          if (compareBytes(entry.id, lastDapId) <= 0) bad(`DAP ${dap.length}: id not increasing`);
          if (dapClosed) bad(`DAP ${dap.length}: posted after the first bill batch`);
          lastDapId = entry.id;
          if (!spSigPk) bad(`DAP ${dap.length}: no ServiceProviderKeysSet before it`);
          else if (!verifyEntry(domain, entry)) bad(`DAP ${dap.length}: SP signature invalid`);
          if (expectedPrice !== undefined && entry.value !== expectedPrice) {
            bad(`DAP ${dap.length}: price ${entry.value} ≠ tariff ${expectedPrice}`);
          }
          dap.push(entry);
          break;
        }
        case "IntervalPriced": {
          price = a.price as bigint;
          if (expectedPrice !== undefined && price !== expectedPrice) {
            bad(`IntervalPriced ${price} ≠ tariff(Σc) ${expectedPrice}`);
          }
          if ((a.sumWh as bigint) !== sumWh) bad(`IntervalPriced Σc ${a.sumWh} ≠ ${sumWh}`);
          if (Number(a.tariffVersion) !== tariffVersion) {
            bad(`IntervalPriced tariff version ${a.tariffVersion} ≠ ${tariffVersion} at opening`);
          }
          break;
        }
        case "BillBatchPosted": {
          const batchBills = decodeBillRecords(interval, hexToBytes(a.items as string));
          const firstIndex = Number(a.firstIndex);
          if (firstIndex !== bills.length) {
            bad(`bill batch firstIndex ${firstIndex} but ${bills.length} bills so far`);
          }
          const record: BillBatchRecord = {
            firstIndex,
            bills: batchBills,
            rAddr: hexToBytes(a.rAddr as string),
            y: a.y as bigint,
            signatureValid:
              spSigPk !== undefined &&
              verifyBillBatch(
                domain,
                {
                  interval,
                  firstIndex,
                  bills: batchBills,
                  signature: { rAddr: hexToBytes(a.rAddr as string), y: a.y as bigint },
                },
                spSigPk,
              ),
          };
          if (!spSigPk) bad(`bill batch at ${firstIndex}: no ServiceProviderKeysSet before it`);
          else if (!record.signatureValid) bad(`bill batch at ${firstIndex}: SP signature invalid`);
          for (const b of batchBills) {
            const idx = bills.length;
            if (price === undefined || b.bill !== price * b.consumptionWh) {
              bad(`bill ${idx}: ${b.bill} ≠ p_j × c`);
            }
            billDigest = chainDigest(billDigest, b.id, b.consumptionWh);
            billedTotal += b.bill;
            bills.push(b);
          }
          batches.push(record);
          dapClosed = true;
          break;
        }
        case "BillingRestarted": {
          if (Number(a.discarded) !== bills.length) {
            bad(`BillingRestarted discarded ${a.discarded} ≠ ${bills.length} bills posted`);
          }
          bills = [];
          batches = [];
          billDigest = ZERO32;
          billedTotal = 0n;
          break;
        }
        case "IntervalFinalized": {
          if (Number(a.count) !== bills.length) bad(`IntervalFinalized count ≠ ${bills.length}`);
          if ((a.billedTotal as bigint) !== billedTotal) bad("IntervalFinalized total ≠ Σ bills");
          if (a.billDigest !== hex(billDigest)) bad("IntervalFinalized digest ≠ recomputed");
          break;
        }
      }
    } catch (err) {
      // A malformed log (e.g. records not a multiple of their size) is the endpoint's doing.
      bad(`log at ${where} could not be processed: ${(err as Error).message}`);
    }
  }

  // Cross-check against contract storage and, for a final interval, bill-for-bill against OCD.
  const rec = await ledger.intervalRecord(interval, atEnd);
  const state = Number(rec.state) as IntervalStateValue;
  if (state !== eventState) {
    bad(`stored state ${STATE_NAME[state]} ≠ ${STATE_NAME[eventState]} from the events`);
  }
  if (
    state !== None &&
    (window?.start !== rec.start ||
      window?.end !== rec.end ||
      tariffVersion !== Number(rec.tariffVersion) ||
      mode !== Number(rec.mode) ||
      rec.categoryValues.some((v, i) => categories?.[i] !== BigInt(v)))
  ) {
    bad("stored window, tariff version, category values or mode ≠ IntervalOpened");
  }
  if (Number(rec.ocdCount) !== ocd.length) bad(`stored OCD count ${rec.ocdCount} ≠ ${ocd.length}`);
  if (Number(rec.zeroCount) !== zeroSlots.length) {
    bad(`stored zero-slot count ${rec.zeroCount} ≠ ${zeroSlots.length}`);
  }
  const expectedSlots = Number(rec.expectedSlots);
  if (state >= OcdSealed && ocd.length + zeroSlots.length !== expectedSlots) {
    bad(`sealed with ${ocd.length + zeroSlots.length} slots, not K × meters = ${expectedSlots}`);
  }
  if (rec.sumWh !== sumWh) bad(`stored Σc ${rec.sumWh} ≠ ${sumWh}`);
  if (rec.ocdDigest !== hex(ocdDigest)) bad("stored OCD digest ≠ recomputed");
  if (Number(rec.billCount) !== bills.length) bad(`stored bill count ≠ ${bills.length}`);
  if (rec.billDigest !== hex(billDigest)) bad("stored bill digest ≠ recomputed");
  if (Number(rec.dapCount) !== dap.length) bad(`stored DAP count ≠ ${dap.length}`);
  if (rec.price !== (price ?? 0n)) bad(`stored price ${rec.price} ≠ ${price ?? "none"}`);
  if (rec.billedTotal !== billedTotal)
    bad(`stored billed total ${rec.billedTotal} ≠ ${billedTotal}`);
  if (!sameKey(spSigPk, storedSpSigPk)) {
    bad("stored sigPk_SP ≠ the key of the last ServiceProviderKeysSet");
  }
  if (state === Final || eventState === Final) {
    if (bills.length !== ocd.length) bad("final interval: bills do not cover the OCD ledger");
    for (let i = 0; i < Math.min(bills.length, ocd.length); i++) {
      if (compareBytes(bills[i].id, ocd[i].id) !== 0 || bills[i].consumptionWh !== ocd[i].value) {
        bad(`final interval: bill ${i} does not match OCD entry ${i}`);
      }
    }
    if (price !== undefined && billedTotal !== price * sumWh) bad("final: Σ bills ≠ p_j × Σc");
  }

  return {
    interval,
    state,
    window,
    tariffVersion,
    categoryValues: categories,
    mode,
    ocd,
    zeroSlots,
    expectedSlots,
    dap,
    bills,
    billBatches: batches,
    sumWh,
    ocdDigest,
    billDigest,
    billedTotal,
    expectedPrice,
    price,
    mismatches,
  };
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
