// Control center (Oksuz 2020 §5, DESIGN §1, §4.2 and §4.5): a pure state machine. CC knows every
// registered meter's `pk_i`, `K_i` and signing base key `B_i`, so it precomputes the pseudonyms
// P_{i,j,k} of an interval (O(1) admission through a hash map, Remark 3 of the paper) and derives
// each message's tweak t_{i,j,k} = H3(f_{K_i}(x)); it never knows sigSk = b_i + t (public
// derivation), so it can check a meter's report but not make one. The check is one double
// multiplication against B_i (`schnorrVerifyTweaked`: the signature verifies under B_i + t·G),
// and `sigPk == B_i + t·G` is implied by it together with the chain's check (B_i + t·G is
// computed only to name the reason of a refusal). Admitted entries are released sorted by
// pseudonym, because the ledger enforces strictly increasing pseudonyms per interval (DESIGN §2).
// The pseudonym look-up, the per-meter keys and the admitted reports live in typed arrays
// (admission-table.ts: ≈ 129 bytes per meter, ≈ 45 bytes per pseudonym and 138 per admitted
// report; docs/SCALE.md "Memory per role"); the signature check is a pure function of the report
// and the table (admission-verify.ts), so a caller may run it on worker threads and pass the
// verdict in (`signatureJob` → `AdmitOptions.signatureVerdict`, admission-pool.ts): admission
// itself, its order and its state stay here.
//
// Admission rules, in the order they are checked (docs/PROTOCOL.md "Admission"):
//   malformed → interval-not-open → unknown-pseudonym → meter-excluded → replay →
//   key-mismatch | bad-signature (one check, two names) → wrong-timestamp → not-a-category
//   [→ not-stored, when the caller's persist hook fails]
// (wrong-timestamp: T must be the interval's last second `end − 1`, DESIGN §4.4 — a per-meter
// clock would let entries be grouped by meter.)
// The signature comes before the value checks because a fault counts towards exclusion only if the
// meter's own message key signed it (issue 16): anyone who learns a live pseudonym (a user gets its
// meter's batch at interval end) can send unsigned garbage under it, and that must not exclude
// the meter. A failed signature is refused and answered with a resend request, never counted.
// Faults are counted once per message (pseudonym), so replaying one faulty report counts once.
import { equalBytes } from "../crypto/bytes.ts";
import { eciesDecrypt } from "../crypto/ecies.ts";
import { intervalMessageTweak, messagePublicKey } from "../crypto/ggm.ts";
import type { ControlCenterKeys } from "../crypto/keys.ts";
import { secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";
import { type LedgerEntry } from "../protocol/entry.ts";
import { PackedPseudonyms } from "../protocol/packed-pseudonyms.ts";
import {
  decodeMeterReport,
  METER_REPORT_PSEUDONYM_OFFSET,
  METER_REPORT_SIZE,
  METER_REPORT_VALUE_OFFSET,
  MeterReportDecodeError,
  peekMeterReportInterval,
} from "../protocol/meter-report.ts";
import { DEFAULT_REPORT_SLOTS, validateCategories } from "../protocol/splitting.ts";
import { registrationContext } from "../protocol/registration.ts";
import {
  ENTRY_ADMITTED,
  ENTRY_DUMMY,
  ENTRY_FAULTED,
  IntervalTable,
  MeterDirectory,
  ReportArena,
} from "./admission-table.ts";
import { entrySignatureVerifies, type SignatureJob } from "./admission-verify.ts";

export const REJECT_REASONS = [
  "malformed",
  "interval-not-open",
  "unknown-pseudonym",
  "meter-excluded",
  "replay",
  "wrong-timestamp",
  "not-a-category",
  "key-mismatch",
  "bad-signature",
  "not-stored",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * Reasons that are the meter's fault: a report its own message key signed, yet invalid. Counted
 * towards exclusion (once per message) and answered by a resend request.
 */
const METER_FAULTS: ReadonlySet<RejectReason> = new Set(["wrong-timestamp", "not-a-category"]);

/**
 * Refusals answered by a resend request but never counted against the meter: a signature that
 * does not verify proves nothing about who sent it, and a report CC could not store is CC's fault.
 */
const UNCOUNTED_RESEND: ReadonlySet<RejectReason> = new Set([
  "key-mismatch",
  "bad-signature",
  "not-stored",
]);

export interface ResendRequest {
  readonly meter: number;
  readonly interval: number;
  readonly counter: number;
}

export type Admission =
  | {
      readonly accepted: true;
      readonly entry: LedgerEntry;
      readonly meter: number;
      readonly counter: number;
    }
  | {
      readonly accepted: false;
      readonly reason: RejectReason;
      /** Known when the pseudonym identified the meter. */
      readonly meter?: number;
      readonly counter?: number;
      /** Set when CC should ask the meter to send this message again. */
      readonly resend?: ResendRequest;
      /** True when this rejection excluded the meter. */
      readonly excluded?: boolean;
    };

export interface AdmitOptions {
  /**
   * Makes an accepted report durable before it is marked admitted (the agent appends it to its
   * store). If it throws, the report is refused with reason `not-stored` and a resend request, and
   * CC keeps no trace of it: a resend is admitted normally. The error is passed to `onPersistError`.
   */
  readonly persist?: (entry: LedgerEntry, report: Uint8Array) => void;
  readonly onPersistError?: (error: unknown) => void;
  /**
   * The verdict of this very report's signature check, computed off this thread from
   * {@link ControlCenter.signatureJob} (admission-pool.ts). Trusted input: a caller that passes it
   * vouches that it is `signatureJobVerifies` of that job. Absent: CC checks inline.
   */
  readonly signatureVerdict?: boolean;
}

export interface IntervalWindow {
  /** Inclusive, unix seconds. */
  readonly start: bigint;
  /** Exclusive, unix seconds. */
  readonly end: bigint;
}

export interface ControlCenterInit {
  readonly keys: ControlCenterKeys;
  /** The billing ledger's §4.4 domain. */
  readonly domain: Uint8Array;
  /**
   * `K`, the report slots of every meter per interval (DESIGN §7): counters 1…K are indexed and
   * each gets exactly one ledger entry (real, dummy or absence marker). Default
   * {@link DEFAULT_REPORT_SLOTS}; must equal the ledger's `slotsPerMeter`.
   */
  readonly maxMessagesPerMeter?: number;
  /** Meter faults in one interval before the meter is excluded, default 3. */
  readonly maxFailures?: number;
  readonly backend?: Secp256k1Backend;
}

export class ControlCenterError extends Error {
  override name = "ControlCenterError";
}

/**
 * A read that needs an interval's pseudonym table or admitted reports (`admittedEntries`,
 * `originOf`, `closeInterval`) after `releaseInterval` dropped them (the interval is sealed; the
 * store and the chain hold what was posted).
 */
export class IntervalReleasedError extends ControlCenterError {
  override name = "IntervalReleasedError";
  readonly interval: number;
  constructor(interval: number, what: string) {
    super(`ControlCenter.${what}: interval ${interval} was sealed and released`);
    this.interval = interval;
  }
}

/** Per-slot flags of a released interval (`ReleasedInterval.slots`). */
const SLOT_ADMITTED = 1;
const SLOT_DUMMY = 2;

/**
 * What CC keeps of a sealed interval once `releaseInterval` dropped its table and reports (issue
 * 14: ≈ 1.6 kB per meter): one byte per slot (admitted, dummy) — K bytes per meter — from which
 * receipts, complete meters and the zero slots are read again, and the admission statistics.
 */
interface ReleasedInterval {
  /** Meters (directory rows 0…meters−1) the interval's table indexed. */
  readonly meters: number;
  /** K. */
  readonly slotCount: number;
  /** Flags of slot `row·K + (k − 1)`: `SLOT_ADMITTED`, `SLOT_DUMMY`. */
  readonly slots: Uint8Array;
  readonly admitted: number;
  readonly rejected: ReadonlyMap<RejectReason, number>;
}

interface IntervalState {
  readonly window: IntervalWindow;
  readonly categories: ReadonlySet<bigint>;
  /** Pseudonyms, seeds and per-entry flags (admitted; faulted: a replayed fault counts once). */
  readonly table: IntervalTable;
  /**
   * Admitted real reports (value ≠ 0) in admission order; an admitted dummy is only its table
   * entry's `ENTRY_DUMMY` flag (issue 14: its bytes are in the store's reports log, and CC posts
   * only its pseudonym).
   */
  readonly admitted: ReportArena;
  /** Reports admitted, dummies included. */
  admittedCount: number;
  readonly rejected: Map<RejectReason, number>;
  /** Faults per meter index (only meters that faulted). */
  readonly failures: Map<number, number>;
  closed: boolean;
}

/** Byte order of two equal-length byte strings (= hex order). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

export interface IntervalStats {
  readonly admitted: number;
  readonly rejected: Readonly<Record<RejectReason, number>>;
}

/** The zero-value slots CC posts for an interval (DESIGN §7), and who they stand for. */
export interface ZeroSlots {
  /**
   * Pseudonyms of admitted dummies and of absence markers, sorted (hex order = byte order), packed
   * in one buffer (issue 14, session 10).
   */
  readonly ids: PackedPseudonyms;
  /** Meters' admitted dummies (value 0, meter-signed, checked off-chain). */
  readonly dummies: number;
  /** Absence markers: slots no admitted report filled (meter offline, onions lost, refused). */
  readonly markers: number;
  /** Registered meters none of whose K slots was filled by a report. */
  readonly missingMeters: number;
}

export class ControlCenter {
  readonly #keys: ControlCenterKeys;
  readonly #domain: Uint8Array;
  readonly #backend: Secp256k1Backend;
  readonly #maxMessages: number;
  readonly #maxFailures: number;
  readonly #directory = new MeterDirectory();
  readonly #excluded = new Set<number>();
  readonly #intervals = new Map<number, IntervalState>();
  /** Sealed intervals whose tables were released (`releaseInterval`). */
  readonly #released = new Map<number, ReleasedInterval>();
  /** Rejections that name no open interval (malformed, or for an interval not open). */
  readonly #unattributed = new Map<RejectReason, number>();

  constructor(init: ControlCenterInit) {
    this.#keys = init.keys;
    this.#domain = init.domain;
    this.#backend = init.backend ?? secp;
    this.#maxMessages = init.maxMessagesPerMeter ?? DEFAULT_REPORT_SLOTS;
    this.#maxFailures = init.maxFailures ?? 3;
    if (
      !Number.isInteger(this.#maxMessages) ||
      this.#maxMessages < 1 ||
      this.#maxMessages > 65535
    ) {
      throw new ControlCenterError("ControlCenter: maxMessagesPerMeter must be in [1, 65535]");
    }
  }

  get publicKey(): Uint8Array {
    return this.#keys.publicKey;
  }

  get meterCount(): number {
    return this.#directory.count;
  }

  /** Bytes CC's typed-array state holds (directory, interval tables, admitted reports). */
  get stateBytes(): number {
    let n = this.#directory.byteLength;
    for (const s of this.#intervals.values()) n += s.table.byteLength + s.admitted.byteLength;
    for (const r of this.#released.values()) n += r.slots.byteLength;
    return n;
  }

  /**
   * Opens a meter's registration box (`K_i` sealed to pk_CC, bound to `pk_i ‖ B_i`) and registers
   * it with its signing base key `B_i` (DESIGN §4.2). Returns `K_i`. Throws ControlCenterError on
   * a bad `K_i` or `B_i`, EciesError when the box does not open under this context.
   */
  registerMeter(
    index: number,
    publicKey: Uint8Array,
    encryptedGgmKey: Uint8Array,
    basePublicKey: Uint8Array,
  ): Uint8Array {
    if (!(basePublicKey instanceof Uint8Array) || basePublicKey.length !== 33) {
      throw new ControlCenterError(`ControlCenter.registerMeter: meter ${index} sent a bad B_i`);
    }
    const ggmKey = eciesDecrypt(
      this.#keys.secretKey,
      encryptedGgmKey,
      registrationContext(publicKey, basePublicKey),
      this.#backend,
    );
    if (ggmKey.length !== 32) {
      throw new ControlCenterError(`ControlCenter.registerMeter: meter ${index} sent a bad K_i`);
    }
    this.restoreMeter(index, publicKey, ggmKey, basePublicKey);
    return ggmKey;
  }

  /**
   * Registers a meter from already-decrypted key material (restart from the encrypted store):
   * one row of the typed-array directory (admission-table.ts). Throws ControlCenterError if the
   * index is taken or `B_i` is not a compressed point, AdmissionTableError if the index is not a
   * u32, RangeError if `K_i` is not 32 bytes. Intervals opened before do not admit this meter.
   */
  restoreMeter(
    index: number,
    publicKey: Uint8Array,
    ggmKey: Uint8Array,
    basePublicKey: Uint8Array,
  ): void {
    if (this.#directory.rowOf(index) !== -1) {
      throw new ControlCenterError(
        `ControlCenter.registerMeter: meter ${index} already registered`,
      );
    }
    if (
      !(basePublicKey instanceof Uint8Array) ||
      basePublicKey.length !== 33 ||
      !this.#backend.isValidPoint(basePublicKey)
    ) {
      throw new ControlCenterError(
        `ControlCenter.registerMeter: meter ${index}: B_i is not a compressed secp256k1 point`,
      );
    }
    this.#directory.add(
      index,
      publicKey,
      ggmKey,
      basePublicKey,
      this.#keys.secretKey,
      this.#backend,
    );
  }

  /** `B_i` of a registered meter (a copy), or undefined. */
  basePublicKeyOf(index: number): Uint8Array | undefined {
    const row = this.#directory.rowOf(index);
    return row === -1 ? undefined : Uint8Array.from(this.#directory.basePublicKeyAt(row));
  }

  /** True once `openInterval(interval)` ran (also for a closed interval). */
  hasInterval(interval: number): boolean {
    return this.#intervals.has(interval) || this.#released.has(interval);
  }

  /**
   * Opens an interval: precomputes every registered meter's pseudonyms and interval seed for it
   * (K HMACs and 32 GGM steps per meter). Meters registered later are not admitted in it.
   */
  openInterval(interval: number, window: IntervalWindow, categories: readonly bigint[]): void {
    if (this.hasInterval(interval)) {
      throw new ControlCenterError(`ControlCenter.openInterval: interval ${interval} already open`);
    }
    if (window.end <= window.start) {
      throw new ControlCenterError("ControlCenter.openInterval: window end must follow start");
    }
    const cats = new Set(validateCategories(categories));
    this.#intervals.set(interval, {
      window,
      categories: cats,
      table: IntervalTable.build(this.#directory, interval, this.#maxMessages),
      admitted: new ReportArena(METER_REPORT_SIZE),
      admittedCount: 0,
      rejected: new Map(),
      failures: new Map(),
      closed: false,
    });
  }

  /**
   * Checks one meter report (the final onion hop's payload) and admits it if valid. With
   * `options.persist`, an accepted report is marked admitted only after `persist` returned (DESIGN
   * §3 "Persistence": acknowledged ⇒ durable); see {@link AdmitOptions}.
   */
  admit(report: Uint8Array, options: AdmitOptions = {}): Admission {
    let entry: LedgerEntry;
    try {
      entry = decodeMeterReport(report);
    } catch (err) {
      if (err instanceof MeterReportDecodeError) return this.#reject(undefined, "malformed");
      throw err;
    }
    const state = this.#intervals.get(entry.interval);
    if (state === undefined || state.closed) return this.#reject(undefined, "interval-not-open");
    const { table } = state;
    const e = table.find(entry.id);
    if (e === -1) return this.#reject(state, "unknown-pseudonym");
    const row = table.rowOf(e);
    const meter = this.#directory.indexAt(row);
    const counter = table.counterOf(e);
    if (this.#excluded.has(meter)) return this.#reject(state, "meter-excluded", meter, counter);
    if (table.has(e, ENTRY_ADMITTED)) return this.#reject(state, "replay", meter, counter);
    // One double multiplication on the accept path: the signature verifies under B_i + t·G.
    // That implies the chain's check under entry.sigPk passes too, unless sigPk ≠ B_i + t·G and
    // two distinct points share a 20-byte address with c = H(rAddr ‖ sigPk ‖ m) binding them: a
    // 160-bit coincidence a meter cannot search for faster than ≈ 2^160 hashes (docs/PROTOCOL.md
    // "Admission"). So B_i + t·G is computed only to name the reason of a refusal.
    const base = this.#directory.basePublicKeyAt(row);
    const seed = table.seedAt(row);
    const verifies =
      options.signatureVerdict ??
      entrySignatureVerifies(this.#domain, entry, base, seed, counter, this.#backend);
    if (!verifies) {
      const tweak = intervalMessageTweak(seed, counter);
      const reason = equalBytes(messagePublicKey(base, tweak, this.#backend), entry.sigPk)
        ? "bad-signature"
        : "key-mismatch";
      return this.#uncounted(state, reason, meter, entry.interval, counter);
    }
    // From here on the meter's own message key signed the report: a bad field is its fault.
    if (entry.timestamp !== state.window.end - 1n) {
      return this.#fault(state, "wrong-timestamp", meter, entry.interval, counter, e);
    }
    // A category value, or 0: a meter's dummy for an unused slot (DESIGN §7).
    if (entry.value !== 0n && !state.categories.has(entry.value)) {
      return this.#fault(state, "not-a-category", meter, entry.interval, counter, e);
    }
    if (options.persist !== undefined) {
      try {
        options.persist(entry, report);
      } catch (err) {
        options.onPersistError?.(err);
        return this.#uncounted(state, "not-stored", meter, entry.interval, counter);
      }
    }
    if (entry.value === 0n) {
      table.set(e, ENTRY_ADMITTED | ENTRY_DUMMY);
    } else {
      table.set(e, ENTRY_ADMITTED);
      state.admitted.push(report);
    }
    state.admittedCount++;
    return { accepted: true, entry, meter, counter };
  }

  /**
   * The signature check `admit(report)` would run now, as a self-contained job (report, `B_i`,
   * `K_{i,j}`, k) for another thread, or undefined when admission would end before it (wrong size
   * or version, interval not open, unknown pseudonym, excluded meter, replay). Reads state,
   * changes nothing.
   * Its verdict (`signatureJobVerifies`, admission-verify.ts) is the `signatureVerdict` of that
   * report's `admit` whenever it is applied, since it depends only on the report's bytes and on
   * keys fixed at registration and interval opening.
   */
  signatureJob(report: Uint8Array): SignatureJob | undefined {
    // Only the interval and the pseudonym are read here; a report malformed further on gets a job
    // whose verdict is false and is refused as malformed by `admit` before the verdict is used.
    const interval = peekMeterReportInterval(report);
    if (interval === undefined) return undefined;
    const state = this.#intervals.get(interval);
    if (state === undefined || state.closed) return undefined;
    const e = state.table.find(report, METER_REPORT_PSEUDONYM_OFFSET);
    if (e === -1 || state.table.has(e, ENTRY_ADMITTED)) return undefined;
    const row = state.table.rowOf(e);
    if (this.#excluded.has(this.#directory.indexAt(row))) return undefined;
    return {
      report,
      basePublicKey: this.#directory.basePublicKeyAt(row),
      intervalSeed: state.table.seedAt(row),
      counter: state.table.counterOf(e),
    };
  }

  #reject(
    state: IntervalState | undefined,
    reason: RejectReason,
    meter?: number,
    counter?: number,
  ): Admission {
    const counts = state?.rejected ?? this.#unattributed;
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
    return { accepted: false, reason, meter, counter };
  }

  #uncounted(
    state: IntervalState,
    reason: RejectReason,
    meter: number,
    interval: number,
    counter: number,
  ): Admission {
    if (!UNCOUNTED_RESEND.has(reason)) throw new ControlCenterError(`not a resend: ${reason}`);
    state.rejected.set(reason, (state.rejected.get(reason) ?? 0) + 1);
    return { accepted: false, reason, meter, counter, resend: { meter, interval, counter } };
  }

  #fault(
    state: IntervalState,
    reason: RejectReason,
    meter: number,
    interval: number,
    counter: number,
    entryNumber: number,
  ): Admission {
    if (!METER_FAULTS.has(reason)) throw new ControlCenterError(`not a meter fault: ${reason}`);
    state.rejected.set(reason, (state.rejected.get(reason) ?? 0) + 1);
    // One fault per message: a replay of the same signed faulty report (or the meter resending it
    // unchanged) does not count again.
    if (!state.table.has(entryNumber, ENTRY_FAULTED)) {
      state.table.set(entryNumber, ENTRY_FAULTED);
      const failures = (state.failures.get(meter) ?? 0) + 1;
      state.failures.set(meter, failures);
      if (failures >= this.#maxFailures) {
        this.#excluded.add(meter);
        return { accepted: false, reason, meter, counter, excluded: true };
      }
    }
    return { accepted: false, reason, meter, counter, resend: { meter, interval, counter } };
  }

  /** True if `meter` was excluded after repeated faults. */
  isExcluded(meter: number): boolean {
    return this.#excluded.has(meter);
  }

  /** Lets an excluded meter report again (operator decision after maintenance). */
  readmit(meter: number): void {
    this.#excluded.delete(meter);
  }

  /** Excludes `meter` (restoring a persisted exclusion after a restart). */
  exclude(meter: number): void {
    if (this.#directory.rowOf(meter) === -1) {
      throw new ControlCenterError(`ControlCenter.exclude: meter ${meter} not registered`);
    }
    this.#excluded.add(meter);
  }

  /** Excluded meters, ascending. */
  excludedMeters(): number[] {
    return [...this.#excluded].sort((a, b) => a - b);
  }

  /**
   * The interval's admitted real entries (value ≠ 0) sorted by pseudonym (the ledger's order);
   * admitted dummies are not kept as reports, only their pseudonyms ({@link zeroSlots}).
   */
  admittedEntries(interval: number): LedgerEntry[] {
    const state = this.#intervals.get(interval);
    if (this.#released.has(interval)) throw new IntervalReleasedError(interval, "admittedEntries");
    if (state === undefined) return [];
    const entries: LedgerEntry[] = [];
    for (let i = 0; i < state.admitted.count; i++) {
      entries.push(decodeMeterReport(state.admitted.at(i)));
    }
    return entries.sort((a, b) => compareBytes(a.id, b.id));
  }

  /**
   * The interval's zero-value slots (DESIGN §7): the pseudonyms of admitted dummies, and an
   * absence marker (the slot's pseudonym, value 0, no signature) for every slot 1…K of every
   * registered meter that no admitted report filled, so the interval seals with exactly
   * K × (registered meters) entries. A marker over a slot whose meter did report is visible to its
   * user, who disputes it. Deterministic given the admitted set.
   */
  zeroSlots(interval: number): ZeroSlots {
    const released = this.#released.get(interval);
    if (released !== undefined) return this.#releasedZeroSlots(interval, released);
    const state = this.#intervals.get(interval);
    if (state === undefined) {
      throw new ControlCenterError(`ControlCenter.zeroSlots: interval ${interval} not open`);
    }
    const { table } = state;
    const K = this.#maxMessages;
    let dummies = 0;
    let markers = 0;
    let missingMeters = 0;
    // Dummies and markers both from the table's flags: a dummy's report is not kept (ENTRY_DUMMY).
    // Counted first, so the pseudonyms go straight into one buffer of the right size (issue 14,
    // session 10: no view or copy per zero slot).
    for (let row = 0; row < table.meters; row++) {
      let filled = 0;
      for (let e = row * K; e < (row + 1) * K; e++) {
        if (table.has(e, ENTRY_DUMMY)) {
          dummies++;
          filled++;
        } else if (table.has(e, ENTRY_ADMITTED)) {
          filled++;
        } else {
          markers++;
        }
      }
      if (filled === 0) missingMeters++;
    }
    // Meters registered after the interval opened: none of their slots could be admitted.
    const late = this.#directory.count - table.meters;
    missingMeters += late;
    markers += late * K;
    const packed = new Uint8Array(32 * (dummies + markers));
    let n = 0;
    for (let e = 0; e < table.meters * K; e++) {
      if (table.has(e, ENTRY_DUMMY) || !table.has(e, ENTRY_ADMITTED)) {
        table.writePseudonymAt(e, packed, 32 * n++);
      }
    }
    for (let row = table.meters; row < this.#directory.count; row++) {
      this.#directory.writePseudonyms(row, interval, K, packed, 32 * n);
      n += K;
    }
    return { ids: PackedPseudonyms.sorted(packed), dummies, markers, missingMeters };
  }

  /**
   * The zero slots of a released interval, read again from its slot flags: the pseudonyms come
   * from the directory (K HMACs per meter with a zero slot), so the result equals what
   * {@link zeroSlots} gave before the release.
   */
  #releasedZeroSlots(interval: number, released: ReleasedInterval): ZeroSlots {
    const K = released.slotCount;
    let dummies = 0;
    let markers = 0;
    let missingMeters = 0;
    // Counted first (one buffer of the right size), then written without a copy per pseudonym.
    for (let row = 0; row < this.#directory.count; row++) {
      const indexed = row < released.meters;
      let filled = 0;
      for (let k = 0; k < K; k++) {
        const flags = indexed ? released.slots[row * K + k] : 0;
        if (flags & SLOT_ADMITTED) filled++;
        if (flags & SLOT_DUMMY) dummies++;
        else if (!(flags & SLOT_ADMITTED)) markers++;
      }
      if (filled === 0) missingMeters++;
    }
    const packed = new Uint8Array(32 * (dummies + markers));
    const scratch = new Uint8Array(32 * K);
    let n = 0;
    for (let row = 0; row < this.#directory.count; row++) {
      const indexed = row < released.meters;
      let derived = false;
      for (let k = 0; k < K; k++) {
        const flags = indexed ? released.slots[row * K + k] : 0;
        if (flags & SLOT_ADMITTED && !(flags & SLOT_DUMMY)) continue;
        if (!derived) {
          this.#directory.writePseudonyms(row, interval, K, scratch, 0);
          derived = true;
        }
        packed.set(scratch.subarray(32 * k, 32 * k + 32), 32 * n++);
      }
    }
    return { ids: PackedPseudonyms.sorted(packed), dummies, markers, missingMeters };
  }

  /**
   * Drops a closed interval's pseudonym table, seeds and admitted reports (issue 14: ≈ 1.6 kB per
   * meter held for the rest of the run), keeping one flag byte per slot (admitted, dummy) and the
   * statistics: {@link admittedCounters}, {@link receipts}, {@link completeMeters},
   * {@link zeroSlots} and {@link stats} answer as before; {@link admittedEntries},
   * {@link originOf} and {@link closeInterval} throw {@link IntervalReleasedError}. The caller
   * releases an interval once it is sealed on the chain and its store record is gone (agent.ts
   * `postAndSeal`): the store's reports log and the chain stay the truth. Throws
   * `ControlCenterError` for an interval not open or not closed; a second release is a no-op.
   */
  releaseInterval(interval: number): void {
    if (this.#released.has(interval)) return;
    const state = this.#intervals.get(interval);
    if (state === undefined) {
      throw new ControlCenterError(`ControlCenter.releaseInterval: interval ${interval} not open`);
    }
    if (!state.closed) {
      throw new ControlCenterError(
        `ControlCenter.releaseInterval: interval ${interval} is still admitting`,
      );
    }
    const { table } = state;
    const slots = new Uint8Array(table.meters * table.slots);
    for (let e = 0; e < slots.length; e++) {
      if (table.has(e, ENTRY_ADMITTED)) slots[e] = SLOT_ADMITTED;
      if (table.has(e, ENTRY_DUMMY)) slots[e] |= SLOT_DUMMY;
    }
    this.#released.set(interval, {
      meters: table.meters,
      slotCount: table.slots,
      slots,
      admitted: state.admittedCount,
      rejected: state.rejected,
    });
    this.#intervals.delete(interval);
  }

  /** True once {@link releaseInterval} dropped the interval's tables. */
  isReleased(interval: number): boolean {
    return this.#released.has(interval);
  }

  /**
   * Counters admitted per meter (CC's receipts, Oksuz §5), read from the slot flags: meters with
   * none are absent. Works before and after {@link releaseInterval}; empty for an unknown interval.
   */
  receipts(interval: number): Map<number, Set<number>> {
    const out = new Map<number, Set<number>>();
    const released = this.#released.get(interval);
    const table = this.#intervals.get(interval)?.table;
    const meters = released?.meters ?? table?.meters ?? 0;
    const K = released?.slotCount ?? table?.slots ?? 0;
    for (let row = 0; row < meters; row++) {
      let set: Set<number> | undefined;
      for (let k = 0; k < K; k++) {
        const e = row * K + k;
        const admitted = released
          ? (released.slots[e] & SLOT_ADMITTED) !== 0
          : table!.has(e, ENTRY_ADMITTED);
        if (!admitted) continue;
        if (set === undefined) out.set(this.#directory.indexAt(row), (set = new Set()));
        set.add(k + 1);
      }
    }
    return out;
  }

  /** Which meter and counter an admitted pseudonym came from (CC's private link). */
  originOf(
    interval: number,
    pseudonym: Uint8Array,
  ): { meter: number; counter: number } | undefined {
    if (this.#released.has(interval)) throw new IntervalReleasedError(interval, "originOf");
    const table = this.#intervals.get(interval)?.table;
    if (table === undefined || !(pseudonym instanceof Uint8Array) || pseudonym.length !== 32) {
      return undefined;
    }
    const e = table.find(pseudonym);
    if (e === -1 || !table.has(e, ENTRY_ADMITTED)) return undefined;
    return { meter: this.#directory.indexAt(table.rowOf(e)), counter: table.counterOf(e) };
  }

  /**
   * Stops admission for the interval (its window has ended) without building its entries: every
   * report of it is refused from here on (`interval-not-open`, as after {@link closeInterval},
   * which still runs when CC posts). Used by the service's closing grace (issue 14,
   * `ControlCenterServiceInit.closingGraceMs`) so the grace admits nothing. Idempotent; throws
   * {@link IntervalReleasedError} after `releaseInterval`, `ControlCenterError` for an interval
   * never opened.
   */
  endAdmission(interval: number): void {
    if (this.#released.has(interval)) throw new IntervalReleasedError(interval, "endAdmission");
    const state = this.#intervals.get(interval);
    if (state === undefined) {
      throw new ControlCenterError(`ControlCenter.endAdmission: interval ${interval} not open`);
    }
    state.closed = true;
  }

  /**
   * Stops admission for the interval and wipes its interval seeds. Returns the real (billed)
   * entries sorted by pseudonym (byte fields are views of CC's report arena: read, never modify);
   * the zero-value slots come from {@link zeroSlots}.
   */
  closeInterval(interval: number): LedgerEntry[] {
    if (this.#released.has(interval)) throw new IntervalReleasedError(interval, "closeInterval");
    const state = this.#intervals.get(interval);
    if (state === undefined) {
      throw new ControlCenterError(`ControlCenter.closeInterval: interval ${interval} not open`);
    }
    state.closed = true;
    // No more signature checks in this interval; its pseudonyms stay for zeroSlots and originOf.
    state.table.wipeSeeds();
    // The arena holds the real reports only (dummies are table flags; issue 14); their byte fields
    // are views of it (append-only): the same list as admittedEntries(interval).
    const entries: LedgerEntry[] = [];
    for (let i = 0; i < state.admitted.count; i++) {
      entries.push(decodeMeterReport(state.admitted.at(i), { views: true }));
    }
    return entries.sort((a, b) => compareBytes(a.id, b.id));
  }

  /** Rejections of reports that named no open interval (malformed, or for a closed interval). */
  unattributedRejections(): Readonly<Partial<Record<RejectReason, number>>> {
    return Object.fromEntries(this.#unattributed);
  }

  /**
   * Counters (1…K, ascending) of `meter`'s slots admitted in `interval`: its receipt (Oksuz §5,
   * CC's cumulative acknowledgement), read from the interval table's flags in O(K) (issue 14: the
   * service rebuilt every meter's receipt from every admitted report per admission, O(N²) per
   * interval). Empty for an unknown interval or meter, or one registered after the interval opened.
   */
  admittedCounters(interval: number, meter: number): number[] {
    const row = this.#directory.rowOf(meter);
    const released = this.#released.get(interval);
    if (released !== undefined) {
      if (row === -1 || row >= released.meters) return [];
      const out: number[] = [];
      for (let k = 1; k <= released.slotCount; k++) {
        if (released.slots[row * released.slotCount + k - 1] & SLOT_ADMITTED) out.push(k);
      }
      return out;
    }
    const table = this.#intervals.get(interval)?.table;
    if (table === undefined || row === -1 || row >= table.meters) return [];
    const out: number[] = [];
    for (let k = 1; k <= table.slots; k++) {
      if (table.has(row * table.slots + k - 1, ENTRY_ADMITTED)) out.push(k);
    }
    return out;
  }

  /**
   * Meters of `interval` with all K slots admitted (O(meters × K) over the flags, no decoding):
   * what CC's admission window waits for.
   */
  completeMeters(interval: number): number {
    const released = this.#released.get(interval);
    if (released !== undefined) {
      let n = 0;
      for (let row = 0; row < released.meters; row++) {
        let filled = 0;
        for (let k = 0; k < released.slotCount; k++) {
          if (released.slots[row * released.slotCount + k] & SLOT_ADMITTED) filled++;
        }
        if (filled === released.slotCount) n++;
      }
      return n;
    }
    const table = this.#intervals.get(interval)?.table;
    if (table === undefined) return 0;
    let n = 0;
    for (let row = 0; row < table.meters; row++) {
      if (table.admittedOfRow(row) === table.slots) n++;
    }
    return n;
  }

  stats(interval: number): IntervalStats {
    const state = this.#intervals.get(interval);
    const rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<
      RejectReason,
      number
    >;
    const released = this.#released.get(interval);
    for (const [reason, n] of released?.rejected ?? state?.rejected ?? []) rejected[reason] = n;
    return { admitted: released?.admitted ?? state?.admittedCount ?? 0, rejected };
  }
}
