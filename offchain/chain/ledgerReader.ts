// Rebuilds an interval's OCD, DAP and BC ledgers from the billing ledger's events alone
// (docs/PROTOCOL.md "Billing ledger events") and re-checks everything the contract checked:
// every signature (meters' per-message Schnorr signatures, SP's DAP and bill-batch signatures),
// category values, window, pseudonym order, Σc, the running digests, the tariff price and every
// bill. The report lists mismatches; an honest chain yields none. Any ethers provider works
// (in-process Hardhat or a JSON-RPC URL through `readIntervalFromUrl`).
import { JsonRpcProvider, type Log, type Provider } from "ethers";

import { bytesToBigInt, bytesToHex, concatBytes, hexToBytes, u64 } from "../crypto/bytes.ts";
import { keccak256 } from "../crypto/hash.ts";
import { ENTRY_KIND, verifyEntry, type LedgerEntry } from "../protocol/entry.ts";
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
import { tariffPrice, type TariffSchedule } from "./tariff.ts";

export interface ReadIntervalOptions {
  /** First block to scan (default 0: the deployment block or earlier). */
  fromBlock?: number;
  /** Last block to scan (default: latest). */
  toBlock?: number;
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

/** Logs of `ledger` whose first indexed topic is `interval`, or of the SP key event, in order. */
async function fetchLogs(
  ledger: BillingLedger,
  provider: Provider,
  interval: number,
  options: ReadIntervalOptions,
): Promise<Log[]> {
  const address = await ledger.getAddress();
  const iface = ledger.interface;
  const intervalTopic = "0x" + interval.toString(16).padStart(64, "0");
  const intervalEvents = [
    "IntervalOpened",
    "OcdBatchPosted",
    "OcdSealed",
    "DapPosted",
    "IntervalPriced",
    "BillBatchPosted",
    "BillingRestarted",
    "IntervalFinalized",
  ] as const;
  const intervalTopics = intervalEvents.map((name) => iface.getEvent(name).topicHash);
  const keyTopic = iface.getEvent("ServiceProviderKeysSet").topicHash;
  const from = options.fromBlock ?? 0;
  const to = options.toBlock ?? (await provider.getBlockNumber());
  const range = Math.max(1, options.blockRange ?? 10_000);
  const logs: Log[] = [];
  for (let start = from; start <= to; start += range) {
    const end = Math.min(to, start + range - 1);
    const [ours, keys] = await Promise.all([
      provider.getLogs({
        address,
        fromBlock: start,
        toBlock: end,
        topics: [intervalTopics, intervalTopic],
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
  const domain = hexToBytes(await ledger.domainSeparator());
  const logs = await fetchLogs(ledger, provider, interval, options);
  const mismatches: string[] = [];
  const bad = (m: string): void => void mismatches.push(m);

  // SP's signing key at each point of the log (the contract checks the key in force).
  const [, currentSpSig] = await ledger.serviceProviderKeys();
  let spSigPk: Uint8Array | undefined =
    currentSpSig.prefix === 0n ? undefined : publicKeyBytes(currentSpSig.prefix, currentSpSig.x);
  let sawKeyEvent = false;

  let window: { start: bigint; end: bigint } | undefined;
  let tariffVersion: number | undefined;
  let categories: bigint[] | undefined;
  let mode: DeliveryModeValue | undefined;
  let schedule: TariffSchedule | undefined;
  const ocd: LedgerEntry[] = [];
  const dap: LedgerEntry[] = [];
  let bills: BillFields[] = [];
  let batches: BillBatchRecord[] = [];
  let sumWh = 0n;
  let ocdDigest: Uint8Array = ZERO32;
  let billDigest: Uint8Array = ZERO32;
  let billedTotal = 0n;
  let price: bigint | undefined;
  let expectedPrice: bigint | undefined;
  let sealed = false;
  let lastId: Uint8Array = ZERO32;

  for (const log of logs) {
    const parsed = ledger.interface.parseLog(log);
    if (!parsed) continue;
    const a = parsed.args;
    switch (parsed.name) {
      case "ServiceProviderKeysSet": {
        if (!sawKeyEvent) sawKeyEvent = true;
        spSigPk = publicKeyBytes(a.sigPkPrefix as bigint, a.sigPkX as bigint);
        break;
      }
      case "IntervalOpened": {
        window = { start: a.start as bigint, end: a.end as bigint };
        tariffVersion = Number(a.tariffVersion);
        categories = (a.categoryValues as bigint[]).map((v) => BigInt(v));
        mode = Number(a.mode) as DeliveryModeValue;
        const [breakpointsWh, values, cap] = await ledger.tariff(tariffVersion);
        schedule = { breakpointsWh: [...breakpointsWh], values: [...values], cap };
        break;
      }
      case "OcdBatchPosted": {
        if (sealed) bad(`OCD batch after seal at block ${log.blockNumber}`);
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
          if (window && (e.timestamp < window.start || e.timestamp >= window.end)) {
            bad(`OCD ${idx}: timestamp ${e.timestamp} outside the window`);
          }
          if (compareBytes(e.id, lastId) <= 0) bad(`OCD ${idx}: pseudonym not increasing`);
          lastId = e.id;
          sumWh += e.value;
          ocdDigest = chainDigest(ocdDigest, e.id, e.value);
          ocd.push(e);
        }
        break;
      }
      case "OcdSealed": {
        sealed = true;
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
        if (!sealed) bad("DAP entry before the OCD ledger was sealed");
        if (!spSigPk || !verifyEntry(domain, entry)) bad(`DAP ${dap.length}: SP signature invalid`);
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
        if (!record.signatureValid) bad(`bill batch at ${firstIndex}: SP signature invalid`);
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
        break;
      }
      case "BillingRestarted": {
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
  }

  // Cross-check against contract storage and, for a final interval, bill-for-bill against OCD.
  const rec = await ledger.intervalRecord(interval);
  const state = Number(rec.state) as IntervalStateValue;
  if (Number(rec.ocdCount) !== ocd.length) bad(`stored OCD count ${rec.ocdCount} ≠ ${ocd.length}`);
  if (rec.sumWh !== sumWh) bad(`stored Σc ${rec.sumWh} ≠ ${sumWh}`);
  if (rec.ocdDigest !== hex(ocdDigest)) bad("stored OCD digest ≠ recomputed");
  if (Number(rec.billCount) !== bills.length) bad(`stored bill count ≠ ${bills.length}`);
  if (rec.billDigest !== hex(billDigest)) bad("stored bill digest ≠ recomputed");
  if (Number(rec.dapCount) !== dap.length) bad(`stored DAP count ≠ ${dap.length}`);
  if (state === INTERVAL_STATE.Final) {
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
  const provider = new JsonRpcProvider(rpcUrl);
  try {
    return await readInterval(connectBillingLedger(ledgerAddress, provider), interval, options);
  } finally {
    provider.destroy();
  }
}
