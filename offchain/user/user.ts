// User / consumer (Oksuz 2020 §5 "Bill calculation", Remark 5; §6): verifies its own bill from the
// ledgers alone. It knows its meter's K signed slots of each interval (the user batch: pseudonym,
// value, signature, tweak; DESIGN §7) and the public keys. It compares every slot's (pseudonym,
// value) with the ledger — a real entry under the meter's own key `B_i + t·G`, or a zero slot for
// a dummy — so a value CC altered, a slot it displaced or suppressed, or an entry under a key that
// is not the meter's becomes a dispute with third-party-checkable evidence
// (offchain/protocol/dispute.ts). It checks SP's DAP entry and bill batches, recomputes the price
// from the public tariff and the ledger's aggregate, and its bill `Σ_k p_j·c_{i,j,k}`. Anything
// that does not match is a dispute, named.
import { bytesToHex, equalBytes } from "../crypto/bytes.ts";
import type { BillFields } from "../protocol/billing.ts";
import type { KeyPair } from "../crypto/keys.ts";
import type { IntervalReport } from "../protocol/ledger-audit.ts";
import { ENTRY_KIND, verifyEntry } from "../protocol/entry.ts";
import { PseudonymIndex } from "../protocol/pseudonym-index.ts";
import { spUserPseudonym } from "../protocol/pseudonym.ts";
import { slotDisagreement, type LedgerSlot, type SlotDispute } from "../protocol/dispute.ts";
import {
  USER_BATCH_SLOT_SIZE,
  decodeUserBatch,
  encodeUserBatch,
  type UserBatchSlot,
} from "../protocol/user-batch.ts";

export interface UserInit {
  /** The household's meter (for reports only; the user never reveals it). */
  readonly meterIndex: number;
  readonly domain: Uint8Array;
  /** The meter's signing base key `B_i` (33 bytes, from pairing): evidence for slot disputes. */
  readonly meterBasePublicKey: Uint8Array;
  /** SP's registered `sigPk_SP`. */
  readonly spSigPk: Uint8Array;
  /** Direct mode (paper §6): the user's key pair and SP's `pk_SP`, `ID_SP` to find its DAP entry. */
  readonly direct?: {
    readonly keys: KeyPair;
    readonly spPublicKey: Uint8Array;
    readonly spId: Uint8Array;
  };
}

export interface UserIntervalCheck {
  readonly interval: number;
  readonly meterIndex: number;
  /** Own real (non-zero) entries found in the OCD ledger as the meter signed them. */
  readonly entries: number;
  /** Own slots the ledger lacks entirely (displaced). */
  readonly missing: number;
  /** Slot disputes with evidence a third party can check (`checkSlotDispute`). */
  readonly slotDisputes: readonly SlotDispute[];
  readonly consumptionWh: bigint;
  readonly price?: bigint;
  /** `Σ p·c` over the user's entries, by the user's own arithmetic. */
  readonly expectedBill: bigint;
  /** Σ of the bills the BC ledger holds for the user's pseudonyms. */
  readonly postedBill: bigint;
  /** True iff there is no dispute. */
  readonly verified: boolean;
  readonly disputes: readonly string[];
}

export class User {
  readonly meterIndex: number;
  readonly #init: UserInit;
  /**
   * Each interval's batch, compact (see {@link compactBatch}); made by the first batch, so a
   * household that has received nothing yet holds no table (issue 14).
   */
  #batches?: Map<number, Uint8Array | readonly UserBatchSlot[]>;

  constructor(init: UserInit) {
    this.#init = init;
    this.meterIndex = init.meterIndex;
  }

  /** The meter's K-slot batch for an interval (pairing channel, fixed offset after its end). */
  receiveBatch(interval: number, slots: readonly UserBatchSlot[]): void {
    (this.#batches ??= new Map()).set(interval, compactBatch(slots));
  }

  /**
   * Drops interval `interval`'s kept batch (no effect when none is kept), and the table with the
   * last one. For a household agent once its check of the interval verified (issue 14: ≈ 1.7 kB
   * per household kept until the end of a city's run): the batch is what the household verifies
   * its bill with and builds dispute evidence from (DESIGN §7), so a disputed interval keeps it;
   * a verified one needs only the check. After this the interval's `pseudonyms` are none and
   * `verifyInterval` checks it as an interval without a batch.
   */
  releaseBatch(interval: number): void {
    const batches = this.#batches;
    if (batches === undefined || !batches.delete(interval)) return;
    if (batches.size === 0) this.#batches = undefined;
  }

  /** Whether interval `interval`'s batch is kept (received and not released). */
  keepsBatch(interval: number): boolean {
    return this.#batches?.has(interval) ?? false;
  }

  /** The pseudonyms of the interval's slots, in counter order. */
  pseudonyms(interval: number): readonly Uint8Array[] {
    return this.#slots(interval).map((s) => s.entry.id);
  }

  /** Interval `interval`'s slots as received (none when no batch came). */
  #slots(interval: number): readonly UserBatchSlot[] {
    const kept = this.#batches?.get(interval);
    if (kept === undefined) return [];
    // Views into one copy made for this call (issue 14: three buffers per slot were most of the
    // garbage of 100,000 households' checks); the kept bytes are never aliased.
    return kept instanceof Uint8Array
      ? decodeUserBatch(kept.slice(), kept.length / USER_BATCH_SLOT_SIZE, { views: true })
      : kept;
  }

  /** Verifies interval `report.interval` as rebuilt from chain events (offchain/protocol/ledger-audit.ts). */
  verifyInterval(report: IntervalReport): UserIntervalCheck {
    const { domain, spSigPk } = this.#init;
    const interval = report.interval;
    const disputes: string[] = [];
    const slots = this.#slots(interval);
    const index = indexOf(report);

    // Every slot: the ledger must hold exactly what the meter signed (DESIGN §2, §7).
    let entries = 0;
    let missing = 0;
    let consumptionWh = 0n;
    const slotDisputes: SlotDispute[] = [];
    const mine: Uint8Array[] = [];
    for (const slot of slots) {
      // The pseudonym's hex names a dispute only: made when one is (issue 14: 100,000 households'
      // checks made 800,000 of them, ≈ 1 kB of string garbage each, for nothing).
      const key = () => bytesToHex(slot.entry.id);
      const e = ocdEntryOf(report, index, slot.entry.id);
      const ledger: LedgerSlot =
        e !== undefined
          ? { kind: "entry", entry: e }
          : report.zeroSlots.has(slot.entry.id)
            ? { kind: "zero" }
            : { kind: "none" };
      if (e !== undefined) {
        // Billed whatever it says: the user's bill follows the ledger, disputes name the rest.
        mine.push(slot.entry.id);
        consumptionWh += e.value;
        if (!verifyEntry(domain, e)) {
          disputes.push(`OCD entry ${key().slice(0, 12)}… has a bad signature`);
        }
      }
      if (ledger.kind === "none") missing++;
      const reason = slotDisagreement(slot.entry, ledger);
      if (reason === undefined) {
        if (e !== undefined) entries++;
        continue;
      }
      disputes.push(`slot ${key().slice(0, 12)}…: ${reason}`);
      slotDisputes.push({
        interval,
        pseudonym: key(),
        reason,
        meterEntry: slot.entry,
        basePublicKey: this.#init.meterBasePublicKey,
        tweak: slot.tweak,
        ledger,
      });
    }

    // Price: SP-signed DAP entry, equal to the tariff at the ledger's own aggregate.
    let price: bigint | undefined;
    const dap = this.#myDapEntries(report);
    if (dap.length === 0) disputes.push("no DAP entry for me");
    for (const d of dap) {
      if (!equalBytes(d.sigPk, spSigPk) || !verifyEntry(domain, d)) {
        disputes.push("DAP entry not signed by the registered SP key");
      }
      price ??= d.value;
      if (d.value !== price) disputes.push("DAP entries disagree on the price");
    }
    if (
      price !== undefined &&
      report.expectedPrice !== undefined &&
      price !== report.expectedPrice
    ) {
      disputes.push(`price ${price} differs from tariff(Σc) = ${report.expectedPrice}`);
    }
    for (const m of report.mismatches) disputes.push(`ledger: ${m}`);

    // Bills: every own pseudonym billed exactly once, B = p·c, in a batch SP signed.
    let postedBill = 0n;
    for (const id of mine) {
      const key = () => bytesToHex(id);
      const bills = billsOf(report, index, id);
      if (bills.length !== 1 && report.state >= 4) {
        disputes.push(`pseudonym ${key().slice(0, 12)}… billed ${bills.length} times`);
      }
      for (const { bill, signedBySp } of bills) {
        postedBill += bill.bill;
        if (!signedBySp) disputes.push(`bill ${key().slice(0, 12)}… in a batch SP did not sign`);
        if (price !== undefined && bill.bill !== price * bill.consumptionWh) {
          disputes.push(
            `bill ${key().slice(0, 12)}… is ${bill.bill}, expected ${price * bill.consumptionWh}`,
          );
        }
      }
    }
    const expectedBill = price === undefined ? 0n : price * consumptionWh;
    if (postedBill !== expectedBill) {
      disputes.push(`posted bill ${postedBill} differs from my computation ${expectedBill}`);
    }
    return {
      interval,
      meterIndex: this.meterIndex,
      entries,
      missing,
      slotDisputes,
      consumptionWh,
      price,
      expectedBill,
      postedBill,
      verified: disputes.length === 0,
      disputes,
    };
  }

  #myDapEntries(report: IntervalReport) {
    const direct = this.#init.direct;
    if (direct === undefined) return report.dap.filter((d) => d.kind === ENTRY_KIND.DAP);
    const id = spUserPseudonym(
      direct.keys.secretKey,
      direct.spPublicKey,
      direct.spId,
      report.interval,
    );
    return report.dap.filter((d) => equalBytes(d.id, id));
  }
}

/**
 * A batch as a household keeps it until its interval is checked: its wire encoding (K × 170
 * bytes in one buffer, offchain/protocol/user-batch.ts: ≈ 1.4 kB at K = 8) instead of K decoded
 * slots (three small byte arrays and four bigints each, ≈ 7.6 kB at K = 8: 760 MB for a
 * 100,000-household simulation, issue 14), decoded again when needed. Exact: kept encoded only
 * when the encoding decodes to the same fields; a batch that does not encode or decode (a test's
 * malformed slots) is kept as given.
 */
function compactBatch(slots: readonly UserBatchSlot[]): Uint8Array | readonly UserBatchSlot[] {
  let bytes: Uint8Array;
  try {
    bytes = encodeUserBatch(slots);
    decodeUserBatch(bytes, slots.length, { views: true }); // a check only: nothing of it is kept
  } catch {
    return [...slots];
  }
  return bytes;
}

/**
 * A report indexed by pseudonym (its zero slots are one already, `report.zeroSlots`): one
 * {@link PseudonymIndex} per ledger (32 bytes per key in one
 * buffer, no hex string or Map entry per slot: issue 14, where the hex-keyed maps over a
 * 100,000-meter interval's 800,000 slots were ≈ 150 MB). Entry numbers are positions: `ocd` entry
 * `e` is `report.ocd[ocdAt[e]]`; a bill id's first bill is at flat position `billAt[e]` (bills
 * numbered across `report.billBatches` in order) and any later bills of the same id in `moreBills`.
 */
interface ReportIndex {
  readonly ocd: PseudonymIndex;
  readonly ocdAt: Int32Array;
  readonly bills: PseudonymIndex;
  readonly billAt: Int32Array;
  readonly moreBills: ReadonlyMap<number, readonly number[]>;
  /** Flat bill position → its batch (`report.billBatches[batchOf[g]]`) and place in it. */
  readonly batchOf: Int32Array;
  readonly placeIn: Int32Array;
}

/**
 * The report indexed by pseudonym, built once per report object and shared by every user that
 * checks it in this process (a simulation runs many users over one read of the chain): each
 * user's check then costs O(own entries), not O(ledger).
 */
const indexes = new WeakMap<IntervalReport, ReportIndex>();

/** Ids that are not 32 bytes (never on a real ledger; a test's report) are left out of the index. */
const is32 = (id: Uint8Array): boolean => id.length === 32;

function indexOf(report: IntervalReport): ReportIndex {
  let index = indexes.get(report);
  if (index === undefined) {
    // A later entry with the same id shadows the earlier one, as `Map.set` did.
    const ocd = new PseudonymIndex(report.ocd.length);
    const ocdAt = new Int32Array(report.ocd.length);
    report.ocd.forEach((e, i) => {
      if (is32(e.id)) ocdAt[ocd.insert(e.id)] = i;
    });
    let total = 0;
    for (const batch of report.billBatches) total += batch.bills.length;
    const bills = new PseudonymIndex(total);
    const billAt = new Int32Array(total);
    const batchOf = new Int32Array(total);
    const placeIn = new Int32Array(total);
    const moreBills = new Map<number, number[]>();
    let g = 0;
    report.billBatches.forEach((batch, b) => {
      batch.bills.forEach((bill, k) => {
        batchOf[g] = b;
        placeIn[g] = k;
        if (is32(bill.id)) {
          const e = bills.find(bill.id);
          if (e < 0) billAt[bills.insert(bill.id)] = g;
          else {
            let more = moreBills.get(e);
            if (!more) moreBills.set(e, (more = []));
            more.push(g);
          }
        }
        g++;
      });
    });
    index = { ocd, ocdAt, bills, billAt, moreBills, batchOf, placeIn };
    indexes.set(report, index);
  }
  return index;
}

/** The OCD entry of pseudonym `id` in the report, if any. */
function ocdEntryOf(report: IntervalReport, index: ReportIndex, id: Uint8Array) {
  if (!is32(id)) return undefined;
  const e = index.ocd.find(id);
  return e < 0 ? undefined : report.ocd[index.ocdAt[e]];
}

/** Every bill of pseudonym `id` in posting order, with whether SP's batch signature holds. */
function billsOf(
  report: IntervalReport,
  index: ReportIndex,
  id: Uint8Array,
): { bill: BillFields; signedBySp: boolean }[] {
  if (!is32(id)) return [];
  const e = index.bills.find(id);
  if (e < 0) return [];
  return [index.billAt[e], ...(index.moreBills.get(e) ?? [])].map((g) => {
    const batch = report.billBatches[index.batchOf[g]];
    return { bill: batch.bills[index.placeIn[g]], signedBySp: batch.signatureValid };
  });
}
