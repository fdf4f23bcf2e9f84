// The pure audit of one interval of the billing ledger (DESIGN §2, §4.4, §7; docs/PROTOCOL.md
// "Billing ledger events", "Interval life cycle"): given the interval's events already decoded (in
// log order) and the contract's stored record, it replays the life cycle and re-checks everything
// the contract checked — every signature (meters' per-message Schnorr signatures, SP's DAP and
// bill-batch signatures), category values, the fixed timestamp, pseudonym order, Σc, the running
// digests, the tariff price and every bill — and returns the rebuilt ledgers with the mismatches.
// No I/O: `chain/ledgerReader.ts` fetches and decodes the logs and storage and calls this; users
// (`user/user.ts`) and SP check their own bills on the `IntervalReport` it returns.
import { concatBytes, equalBytes, toHex0x, u64 } from "../crypto/bytes.ts";
import { keccak256 } from "../crypto/hash.ts";
import {
  INTERVAL_STATE,
  verifyBillBatch,
  type BillFields,
  type DeliveryModeValue,
  type IntervalStateValue,
} from "./billing.ts";
import { ENTRY_KIND, verifyEntry, type LedgerEntry } from "./entry.ts";
import { PseudonymIndex } from "./pseudonym-index.ts";
import { tariffPrice, type TariffSchedule } from "./tariff.ts";

/** One bill batch as emitted by `BillBatchPosted`. */
export interface BillBatchRecord {
  readonly firstIndex: number;
  readonly bills: readonly BillFields[];
  readonly rAddr: Uint8Array;
  readonly y: bigint;
  readonly signatureValid: boolean;
}

/** One interval rebuilt from the ledger's events and audited against its storage. */
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
   * pseudonyms only (no signature on-chain, not billed). Compact (issue 14: ≈ 640,000 of them at
   * 100,000 meters): 32 bytes each in one buffer, `size` of them, `keyAt(i)` the i-th, iterable in
   * order, with an O(1) `has` (what a user asks of it).
   */
  readonly zeroSlots: PseudonymList;
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

/**
 * One decoded ledger event (BillingLedger's events, docs/PROTOCOL.md "Billing ledger events"),
 * with `where` naming its log position ("block B index I"). `interval` is the event's first
 * indexed topic; `IntervalOpened` carries the tariff schedule stored for its version.
 */
export type LedgerEvent = { readonly where: string } & (
  | { readonly name: "ServiceProviderKeysSet"; readonly sigPk: Uint8Array }
  | {
      readonly name: "IntervalOpened";
      readonly interval: number;
      readonly start: bigint;
      readonly end: bigint;
      readonly tariffVersion: number;
      readonly categoryValues: readonly bigint[];
      readonly mode: DeliveryModeValue;
      readonly schedule: TariffSchedule;
    }
  | {
      readonly name: "OcdBatchPosted";
      readonly interval: number;
      readonly firstIndex: number;
      readonly count: number;
      readonly entries: readonly LedgerEntry[];
    }
  | {
      readonly name: "OcdZeroSlotsPosted";
      readonly interval: number;
      readonly firstIndex: number;
      readonly count: number;
      readonly ids: readonly Uint8Array[];
    }
  | {
      readonly name: "OcdSealed";
      readonly interval: number;
      readonly count: number;
      readonly sumWh: bigint;
      readonly ocdDigest: Uint8Array;
    }
  | {
      readonly name: "DapPosted";
      readonly interval: number;
      readonly id: Uint8Array;
      readonly timestamp: bigint;
      readonly price: bigint;
      readonly rAddr: Uint8Array;
      readonly y: bigint;
    }
  | {
      readonly name: "IntervalPriced";
      readonly interval: number;
      readonly price: bigint;
      readonly sumWh: bigint;
      readonly tariffVersion: number;
    }
  | {
      readonly name: "BillBatchPosted";
      readonly interval: number;
      readonly firstIndex: number;
      readonly bills: readonly BillFields[];
      readonly rAddr: Uint8Array;
      readonly y: bigint;
    }
  | { readonly name: "BillingRestarted"; readonly interval: number; readonly discarded: number }
  | {
      readonly name: "IntervalFinalized";
      readonly interval: number;
      readonly count: number;
      readonly billedTotal: bigint;
      readonly billDigest: Uint8Array;
    }
);

/** The interval events of {@link LedgerEvent} (all but `ServiceProviderKeysSet`). */
export const INTERVAL_EVENTS = [
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
export type IntervalEventName = (typeof INTERVAL_EVENTS)[number];

/** The contract's `IntervalRecord` as stored (read at the scan's last block). */
export interface StoredIntervalRecord {
  readonly state: IntervalStateValue;
  readonly start: bigint;
  readonly end: bigint;
  readonly tariffVersion: number;
  readonly mode: number;
  readonly categoryValues: readonly bigint[];
  readonly ocdCount: number;
  readonly zeroCount: number;
  readonly expectedSlots: number;
  readonly sumWh: bigint;
  readonly ocdDigest: Uint8Array;
  readonly billCount: number;
  readonly billDigest: Uint8Array;
  readonly dapCount: number;
  /** 0 when not priced. */
  readonly price: bigint;
  readonly billedTotal: bigint;
}

/**
 * What {@link auditInterval} audits: the log items in log order (a decoded event, or a problem
 * the reader found with a log — foreign, duplicated, unrequested, undecodable), the storage it
 * read at the scan's last block, and the domain it computed itself (DESIGN §4.4).
 */
export interface IntervalAuditInput {
  readonly interval: number;
  /** keccak256(chainId ‖ ledger), computed by the auditor, not taken from the endpoint. */
  readonly domain: Uint8Array;
  /** What `domainSeparator()` returned. */
  readonly storedDomainSeparator: Uint8Array;
  readonly items: readonly ({ readonly event: LedgerEvent } | { readonly problem: string })[];
  readonly stored: StoredIntervalRecord;
  /** `sigPk_SP` stored at the end (undefined when none is set). */
  readonly storedSpSigPk?: Uint8Array;
  /**
   * SP's signing key in force at the scan's first block: undefined for a scan from block 0 (the
   * contract refuses DAP and bills before SP's key is set, DESIGN §2, so a scan from genesis sees
   * `ServiceProviderKeysSet` first); for a later start, the key stored at the end.
   */
  readonly spSigPkAtStart?: Uint8Array;
  /**
   * Counted progress (issue 14: at 100,000 meters the audit checks ≈ 160,000 signatures and
   * 800,000 slots, minutes with no line): called after each OCD or zero-slot event with the slots
   * audited so far and the slots the stored record holds (`ocdCount + zeroCount`).
   */
  readonly progress?: (slotsAudited: number, slotsTotal: number) => void;
}

/** The report's compact list of pseudonyms (a {@link PseudonymIndex}, read-only use). */
export type PseudonymList = Pick<PseudonymIndex, "size" | "keyAt" | "has" | typeof Symbol.iterator>;

const ZERO32 = new Uint8Array(32);

/** `id`'s first 32 bytes, zero-padded (a malformed id, kept in the report's list of slots). */
function padded32(id: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  out.set(id.subarray(0, 32));
  return out;
}

/** Entries to size an index for from a stored count (never trusted: at most 2^20, 0 if absurd). */
function sizingHint(n: number): number {
  return Number.isSafeInteger(n) && n > 0 ? Math.min(n, 1 << 20) : 0;
}

/** The slots a stored record says the interval holds (a sizing hint; never trusted). */
function storedSlots(stored: StoredIntervalRecord): number {
  const n = stored.ocdCount + stored.zeroCount;
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** `acc_k = keccak256(acc_{k−1} ‖ id ‖ u64 c)` (the ledger's running OCD and bill digests). */
export function chainDigest(acc: Uint8Array, id: Uint8Array, consumptionWh: bigint): Uint8Array {
  return keccak256(concatBytes(acc, id, u64(consumptionWh)));
}

/** Lexicographic order of byte strings (pseudonyms compare as big-endian u256). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const hex = toHex0x;

const sameKey = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  a === undefined || b === undefined ? a === b : equalBytes(a, b);

const { None, Open, OcdSealed, Priced, Billing, Final } = INTERVAL_STATE;

/**
 * The life cycle the contract enforces (DESIGN §2; docs/PROTOCOL.md "Interval life cycle"): the
 * states in which each event can be emitted and the state it leaves. Replaying it names a log that
 * an endpoint dropped, replayed or moved even when its values are harmless (e.g. a second
 * `IntervalPriced` with the same price).
 */
export const INTERVAL_LIFECYCLE: Readonly<
  Record<
    IntervalEventName,
    { readonly from: readonly IntervalStateValue[]; readonly to?: IntervalStateValue }
  >
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

/** The name of an `IntervalState` value ("Open", "Final"…). */
export const INTERVAL_STATE_NAME = Object.fromEntries(
  Object.entries(INTERVAL_STATE).map(([name, value]) => [value, name]),
) as Record<IntervalStateValue, string>;

/**
 * Rebuilds interval `input.interval` from its decoded events and audits it against the stored
 * record. Pure and deterministic; never throws on hostile input (every problem is a mismatch).
 * The same audit as {@link IntervalAuditor}, given every item at once.
 */
export function auditInterval(input: IntervalAuditInput): IntervalReport {
  const auditor = new IntervalAuditor(input);
  for (const item of input.items) auditor.add(item);
  return auditor.finish();
}

/** What an {@link IntervalAuditor} needs before the first log item: all but the items. */
export type IntervalAuditStart = Omit<IntervalAuditInput, "items">;

/** One log item of {@link IntervalAuditInput}: a decoded event, or a problem with a log. */
export type IntervalAuditItem = IntervalAuditInput["items"][number];

/** Thrown by {@link IntervalAuditor} when used after `finish`. */
export class IntervalAuditorError extends Error {
  override name = "IntervalAuditorError";
}

/** The end of the items (what `finish` sends the replay). */
const END: unique symbol = Symbol("end of items");

/**
 * {@link auditInterval} fed one log item at a time (issue 14): a reader hands each page of logs
 * over as it decodes it and drops it, so an interval's decoded events are never all alive at once
 * (at 100,000 meters ≈ 800,000 zero-slot ids and 160,000 entries per read). The storage record
 * (read at the scan's last block) comes first: it sizes the report's indexes. Same report, same
 * mismatches in the same order as `auditInterval` with the items in the same order. `add` after
 * `finish`, or `finish` twice, throws {@link IntervalAuditorError}.
 */
export class IntervalAuditor {
  readonly #replay: Generator<void, IntervalReport, IntervalAuditItem | typeof END>;
  #finished = false;

  constructor(start: IntervalAuditStart) {
    this.#replay = replayInterval(start);
    this.#replay.next(); // runs up to the first item
  }

  /** Audits the next log item (in log order). */
  add(item: IntervalAuditItem): void {
    if (this.#finished) throw new IntervalAuditorError("IntervalAuditor: add after finish");
    this.#replay.next(item);
  }

  /** The report: the events replayed, then cross-checked against the stored record. */
  finish(): IntervalReport {
    if (this.#finished) throw new IntervalAuditorError("IntervalAuditor: finished already");
    this.#finished = true;
    const r = this.#replay.next(END);
    if (!r.done) throw new IntervalAuditorError("IntervalAuditor: replay did not end");
    return r.value;
  }
}

/**
 * The audit as a generator: set-up, then one item per `next(item)` until `next(END)`, then the
 * cross-checks against storage and the report as its return value.
 */
function* replayInterval(
  input: IntervalAuditStart,
): Generator<void, IntervalReport, IntervalAuditItem | typeof END> {
  const { interval, domain, stored: rec, storedSpSigPk } = input;
  const mismatches: string[] = [];
  const bad = (m: string): void => void mismatches.push(m);

  if (!equalBytes(input.storedDomainSeparator, domain)) {
    bad("domainSeparator() ≠ keccak256(chainId ‖ ledger) (DESIGN §4.4)");
  }
  let spSigPk = input.spSigPkAtStart;

  let window: { start: bigint; end: bigint } | undefined;
  let tariffVersion: number | undefined;
  let categories: bigint[] | undefined;
  let mode: DeliveryModeValue | undefined;
  let schedule: TariffSchedule | undefined;
  const ocd: LedgerEntry[] = [];
  const zeroSlots = new PseudonymIndex(sizingHint(input.stored.zeroCount));
  // "One slot per pseudonym": the OCD entries' ids and the zero slots (the report's own index),
  // 32 bytes each in one buffer (issue 14: a hex string and a Set entry per slot were ≈ 150 B ×
  // 800,000 at 100,000 meters; a third index of every slot, ≈ 34 MB per read at 100,000 meters,
  // is not needed beside these two). Sized from the stored counts (they grow past them if the
  // events hold more).
  const slotsTotal = storedSlots(input.stored);
  const ocdIds = new PseudonymIndex(sizingHint(input.stored.ocdCount));
  const holdsSlot = (id: Uint8Array): boolean =>
    // An id that is not 32 bytes is refused below as such.
    id.length === 32 && (ocdIds.find(id) >= 0 || zeroSlots.find(id) >= 0);
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

  for (let item = yield; item !== END; item = yield) {
    if ("problem" in item) {
      bad(item.problem);
      continue;
    }
    const e = item.event;
    if (e.name !== "ServiceProviderKeysSet") {
      if (e.interval !== interval) {
        bad(`${e.name} of interval ${e.interval} at ${e.where}`);
        continue;
      }
      const step = INTERVAL_LIFECYCLE[e.name];
      if (!step.from.includes(eventState)) {
        bad(`${e.name} at ${e.where} out of order (state ${INTERVAL_STATE_NAME[eventState]})`);
      }
      if (step.to !== undefined) eventState = step.to;
    }
    switch (e.name) {
      case "ServiceProviderKeysSet":
        spSigPk = e.sigPk;
        break;
      case "IntervalOpened":
        window = { start: e.start, end: e.end };
        tariffVersion = e.tariffVersion;
        categories = [...e.categoryValues];
        mode = e.mode;
        schedule = e.schedule;
        break;
      case "OcdBatchPosted":
        if (e.firstIndex !== ocd.length) {
          bad(`OCD batch firstIndex ${e.firstIndex} but ${ocd.length} entries so far`);
        }
        if (e.count !== e.entries.length) bad(`OCD batch count ${e.count} ≠ ${e.entries.length}`);
        for (const entry of e.entries) {
          const idx = ocd.length;
          if (!verifyEntry(domain, entry)) bad(`OCD ${idx}: signature does not verify`);
          if (categories && !categories.includes(entry.value)) {
            bad(`OCD ${idx}: ${entry.value} Wh is not a category value`);
          }
          // DESIGN §4.4: an OCD timestamp is fixed by protocol to the interval's last second.
          if (window && entry.timestamp !== window.end - 1n) {
            bad(`OCD ${idx}: timestamp ${entry.timestamp} is not the interval's last second`);
          }
          if (compareBytes(entry.id, lastId) <= 0) bad(`OCD ${idx}: pseudonym not increasing`);
          lastId = entry.id;
          if (entry.id.length !== 32) bad(`OCD ${idx}: pseudonym is not 32 bytes`);
          if (holdsSlot(entry.id)) bad(`OCD ${idx}: pseudonym already holds a slot`);
          else if (entry.id.length === 32) ocdIds.insert(entry.id);
          sumWh += entry.value;
          ocdDigest = chainDigest(ocdDigest, entry.id, entry.value);
          ocd.push(entry);
        }
        input.progress?.(ocd.length + zeroSlots.size, slotsTotal);
        break;
      case "OcdZeroSlotsPosted":
        // One transaction merges real entries and zero slots in one increasing order; across
        // the two events, each kind increases on its own and no pseudonym holds two slots.
        if (e.firstIndex !== zeroSlots.size) {
          bad(`zero slots firstIndex ${e.firstIndex} but ${zeroSlots.size} so far`);
        }
        if (e.count !== e.ids.length) bad(`zero slots count ${e.count} ≠ records`);
        for (const id of e.ids) {
          if (compareBytes(id, lastZeroId) <= 0) bad(`zero slot ${hex(id)}: not increasing`);
          if (id.length !== 32) bad(`zero slot ${hex(id)}: pseudonym is not 32 bytes`);
          if (holdsSlot(id)) bad(`zero slot ${hex(id)}: pseudonym already holds a slot`);
          lastZeroId = id;
          // Kept in posting order; an id that is not 32 bytes (named above) as 32, zero-padded.
          zeroSlots.insert(id.length === 32 ? id : padded32(id));
        }
        input.progress?.(ocd.length + zeroSlots.size, slotsTotal);
        break;
      case "OcdSealed":
        if (e.count !== ocd.length) bad(`OcdSealed count ${e.count} ≠ ${ocd.length}`);
        if (e.sumWh !== sumWh) bad(`OcdSealed Σc ${e.sumWh} ≠ ${sumWh}`);
        if (!equalBytes(e.ocdDigest, ocdDigest)) {
          bad("OcdSealed digest ≠ recomputed OCD digest");
        }
        if (schedule) expectedPrice = tariffPrice(schedule, sumWh);
        break;
      case "DapPosted": {
        const entry: LedgerEntry = {
          kind: ENTRY_KIND.DAP,
          interval,
          id: e.id,
          timestamp: e.timestamp,
          value: e.price,
          sigPk: spSigPk ?? new Uint8Array(33),
          signature: { rAddr: e.rAddr, y: e.y },
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
      case "IntervalPriced":
        price = e.price;
        if (expectedPrice !== undefined && price !== expectedPrice) {
          bad(`IntervalPriced ${price} ≠ tariff(Σc) ${expectedPrice}`);
        }
        if (e.sumWh !== sumWh) bad(`IntervalPriced Σc ${e.sumWh} ≠ ${sumWh}`);
        if (e.tariffVersion !== tariffVersion) {
          bad(`IntervalPriced tariff version ${e.tariffVersion} ≠ ${tariffVersion} at opening`);
        }
        break;
      case "BillBatchPosted": {
        const record: BillBatchRecord = {
          firstIndex: e.firstIndex,
          bills: e.bills,
          rAddr: e.rAddr,
          y: e.y,
          signatureValid:
            spSigPk !== undefined &&
            verifyBillBatch(
              domain,
              {
                interval,
                firstIndex: e.firstIndex,
                bills: e.bills,
                signature: { rAddr: e.rAddr, y: e.y },
              },
              spSigPk,
            ),
        };
        if (e.firstIndex !== bills.length) {
          bad(`bill batch firstIndex ${e.firstIndex} but ${bills.length} bills so far`);
        }
        if (!spSigPk) bad(`bill batch at ${e.firstIndex}: no ServiceProviderKeysSet before it`);
        else if (!record.signatureValid) bad(`bill batch at ${e.firstIndex}: SP signature invalid`);
        for (const b of e.bills) {
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
      case "BillingRestarted":
        if (e.discarded !== bills.length) {
          bad(`BillingRestarted discarded ${e.discarded} ≠ ${bills.length} bills posted`);
        }
        bills = [];
        batches = [];
        billDigest = ZERO32;
        billedTotal = 0n;
        break;
      case "IntervalFinalized":
        if (e.count !== bills.length) bad(`IntervalFinalized count ≠ ${bills.length}`);
        if (e.billedTotal !== billedTotal) bad("IntervalFinalized total ≠ Σ bills");
        if (!equalBytes(e.billDigest, billDigest)) bad("IntervalFinalized digest ≠ recomputed");
        break;
    }
  }

  // Cross-check against contract storage and, for a final interval, bill-for-bill against OCD.
  const state = rec.state;
  if (state !== eventState) {
    bad(
      `stored state ${INTERVAL_STATE_NAME[state]} ≠ ${INTERVAL_STATE_NAME[eventState]} from the events`,
    );
  }
  if (
    state !== None &&
    (window?.start !== rec.start ||
      window?.end !== rec.end ||
      tariffVersion !== rec.tariffVersion ||
      mode !== rec.mode ||
      rec.categoryValues.some((v, i) => categories?.[i] !== v))
  ) {
    bad("stored window, tariff version, category values or mode ≠ IntervalOpened");
  }
  if (rec.ocdCount !== ocd.length) bad(`stored OCD count ${rec.ocdCount} ≠ ${ocd.length}`);
  if (rec.zeroCount !== zeroSlots.size) {
    bad(`stored zero-slot count ${rec.zeroCount} ≠ ${zeroSlots.size}`);
  }
  const expectedSlots = rec.expectedSlots;
  if (state >= OcdSealed && ocd.length + zeroSlots.size !== expectedSlots) {
    bad(`sealed with ${ocd.length + zeroSlots.size} slots, not K × meters = ${expectedSlots}`);
  }
  if (rec.sumWh !== sumWh) bad(`stored Σc ${rec.sumWh} ≠ ${sumWh}`);
  if (!equalBytes(rec.ocdDigest, ocdDigest)) bad("stored OCD digest ≠ recomputed");
  if (rec.billCount !== bills.length) bad(`stored bill count ≠ ${bills.length}`);
  if (!equalBytes(rec.billDigest, billDigest)) bad("stored bill digest ≠ recomputed");
  if (rec.dapCount !== dap.length) bad(`stored DAP count ≠ ${dap.length}`);
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
