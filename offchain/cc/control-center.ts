// Control center (Oksuz 2020 §5, DESIGN §1, §4.2 and §4.5): a pure state machine. CC knows every
// registered meter's `pk_i`, `K_i` and signing base key `B_i`, so it precomputes the pseudonyms
// P_{i,j,k} of an interval (O(1) admission through a hash map, Remark 3 of the paper) and derives
// each message's tweak t_{i,j,k} = H3(f_{K_i}(x)); it never knows sigSk = b_i + t (public
// derivation), so it can check a meter's report but not make one. The check is one double
// multiplication against B_i (`schnorrVerifyTweaked`: the signature verifies under B_i + t·G),
// and `sigPk == B_i + t·G` is implied by it together with the chain's check (B_i + t·G is
// computed only to name the reason of a refusal). Admitted entries are released sorted by
// pseudonym, because the ledger enforces strictly increasing pseudonyms per interval (DESIGN §2).
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
import { bytesToHex, equalBytes } from "../crypto/bytes.ts";
import { eciesDecrypt } from "../crypto/ecies.ts";
import { MessageKeyDeriver, messagePublicKey } from "../crypto/ggm.ts";
import type { ControlCenterKeys } from "../crypto/keys.ts";
import { schnorrVerifyTweaked } from "../crypto/schnorr.ts";
import { secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";
import { entryDigest, type LedgerEntry } from "../protocol/entry.ts";
import { decodeMeterReport, MeterReportDecodeError } from "../protocol/meter-report.ts";
import { ControlCenterPseudonyms } from "../protocol/pseudonym.ts";
import { DEFAULT_REPORT_SLOTS, validateCategories } from "../protocol/splitting.ts";
import { registrationContext } from "../protocol/registration.ts";

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

interface RegisteredMeter {
  readonly index: number;
  readonly publicKey: Uint8Array;
  readonly ggmKey: Uint8Array;
  /** `B_i`, the meter's signing base key (33 bytes, validated at registration). */
  readonly basePublicKey: Uint8Array;
  readonly keys: MessageKeyDeriver;
}

interface IntervalState {
  readonly window: IntervalWindow;
  readonly categories: ReadonlySet<bigint>;
  readonly admitted: Map<string, { entry: LedgerEntry; meter: number; counter: number }>;
  readonly rejected: Map<RejectReason, number>;
  readonly failures: Map<number, number>;
  /** Pseudonyms (hex) already counted as a fault: a replayed faulty report counts once. */
  readonly faulted: Set<string>;
  closed: boolean;
}

export interface IntervalStats {
  readonly admitted: number;
  readonly rejected: Readonly<Record<RejectReason, number>>;
}

/** The zero-value slots CC posts for an interval (DESIGN §7), and who they stand for. */
export interface ZeroSlots {
  /** Pseudonyms of admitted dummies and of absence markers, sorted (hex order = byte order). */
  readonly ids: readonly Uint8Array[];
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
  readonly #pseudonyms: ControlCenterPseudonyms<number>;
  readonly #meters = new Map<number, RegisteredMeter>();
  readonly #excluded = new Set<number>();
  readonly #intervals = new Map<number, IntervalState>();
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
    this.#pseudonyms = new ControlCenterPseudonyms<number>(init.keys.secretKey, this.#backend);
  }

  get publicKey(): Uint8Array {
    return this.#keys.publicKey;
  }

  get meterCount(): number {
    return this.#meters.size;
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

  /** Registers a meter from already-decrypted key material (restart from the encrypted store). */
  restoreMeter(
    index: number,
    publicKey: Uint8Array,
    ggmKey: Uint8Array,
    basePublicKey: Uint8Array,
  ): void {
    if (this.#meters.has(index)) {
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
    this.#pseudonyms.registerMeter(index, publicKey);
    this.#meters.set(index, {
      index,
      publicKey,
      ggmKey: Uint8Array.from(ggmKey),
      basePublicKey: Uint8Array.from(basePublicKey),
      keys: new MessageKeyDeriver(ggmKey, this.#backend),
    });
  }

  /** `B_i` of a registered meter (a copy), or undefined. */
  basePublicKeyOf(index: number): Uint8Array | undefined {
    const m = this.#meters.get(index);
    return m ? Uint8Array.from(m.basePublicKey) : undefined;
  }

  /** True once `openInterval(interval)` ran (also for a closed interval). */
  hasInterval(interval: number): boolean {
    return this.#intervals.has(interval);
  }

  /** Opens an interval: precomputes every registered meter's pseudonyms for it. */
  openInterval(interval: number, window: IntervalWindow, categories: readonly bigint[]): void {
    if (this.#intervals.has(interval)) {
      throw new ControlCenterError(`ControlCenter.openInterval: interval ${interval} already open`);
    }
    if (window.end <= window.start) {
      throw new ControlCenterError("ControlCenter.openInterval: window end must follow start");
    }
    this.#pseudonyms.indexInterval(interval, this.#maxMessages);
    this.#intervals.set(interval, {
      window,
      categories: new Set(validateCategories(categories)),
      admitted: new Map(),
      rejected: new Map(),
      failures: new Map(),
      faulted: new Set(),
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
    const origin = this.#pseudonyms.lookup(entry.id);
    if (origin === undefined || origin.interval !== entry.interval) {
      return this.#reject(state, "unknown-pseudonym");
    }
    const meter = origin.meter;
    const counter = origin.counter;
    if (this.#excluded.has(meter)) return this.#reject(state, "meter-excluded", meter, counter);
    const key = bytesToHex(entry.id);
    if (state.admitted.has(key)) return this.#reject(state, "replay", meter, counter);
    const registered = this.#meters.get(meter);
    if (registered === undefined) throw new ControlCenterError("ControlCenter: index out of sync");
    const tweak = registered.keys.tweak(entry.interval, counter);
    const digest = entryDigest(this.#domain, entry);
    // One double multiplication on the accept path: the signature verifies under B_i + t·G.
    // That implies the chain's check under entry.sigPk passes too, unless sigPk ≠ B_i + t·G and
    // two distinct points share a 20-byte address with c = H(rAddr ‖ sigPk ‖ m) binding them: a
    // 160-bit coincidence a meter cannot search for faster than ≈ 2^160 hashes (docs/PROTOCOL.md
    // "Admission"). So B_i + t·G is computed only to name the reason of a refusal.
    const base = registered.basePublicKey;
    if (!schnorrVerifyTweaked(base, tweak, entry.sigPk, digest, entry.signature, this.#backend)) {
      const reason = equalBytes(messagePublicKey(base, tweak, this.#backend), entry.sigPk)
        ? "bad-signature"
        : "key-mismatch";
      return this.#uncounted(state, reason, meter, entry.interval, counter);
    }
    // From here on the meter's own message key signed the report: a bad field is its fault.
    if (entry.timestamp !== state.window.end - 1n) {
      return this.#fault(state, "wrong-timestamp", meter, entry.interval, counter, key);
    }
    // A category value, or 0: a meter's dummy for an unused slot (DESIGN §7).
    if (entry.value !== 0n && !state.categories.has(entry.value)) {
      return this.#fault(state, "not-a-category", meter, entry.interval, counter, key);
    }
    if (options.persist !== undefined) {
      try {
        options.persist(entry, report);
      } catch (err) {
        options.onPersistError?.(err);
        return this.#uncounted(state, "not-stored", meter, entry.interval, counter);
      }
    }
    state.admitted.set(key, { entry, meter, counter });
    return { accepted: true, entry, meter, counter };
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
    pseudonymHex: string,
  ): Admission {
    if (!METER_FAULTS.has(reason)) throw new ControlCenterError(`not a meter fault: ${reason}`);
    state.rejected.set(reason, (state.rejected.get(reason) ?? 0) + 1);
    // One fault per message: a replay of the same signed faulty report (or the meter resending it
    // unchanged) does not count again.
    if (!state.faulted.has(pseudonymHex)) {
      state.faulted.add(pseudonymHex);
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
    if (!this.#meters.has(meter)) {
      throw new ControlCenterError(`ControlCenter.exclude: meter ${meter} not registered`);
    }
    this.#excluded.add(meter);
  }

  /** Excluded meters, ascending. */
  excludedMeters(): number[] {
    return [...this.#excluded].sort((a, b) => a - b);
  }

  /** The interval's admitted entries (real and dummies) sorted by pseudonym (the ledger's order). */
  admittedEntries(interval: number): LedgerEntry[] {
    const state = this.#intervals.get(interval);
    if (state === undefined) return [];
    return [...state.admitted.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, v]) => v.entry);
  }

  /**
   * The interval's zero-value slots (DESIGN §7): the pseudonyms of admitted dummies, and an
   * absence marker (the slot's pseudonym, value 0, no signature) for every slot 1…K of every
   * registered meter that no admitted report filled, so the interval seals with exactly
   * K × (registered meters) entries. A marker over a slot whose meter did report is visible to its
   * user, who disputes it. Deterministic given the admitted set.
   */
  zeroSlots(interval: number): ZeroSlots {
    const state = this.#intervals.get(interval);
    if (state === undefined) {
      throw new ControlCenterError(`ControlCenter.zeroSlots: interval ${interval} not open`);
    }
    const filled = new Map<number, number>();
    let dummies = 0;
    const ids: { key: string; id: Uint8Array }[] = [];
    for (const [key, v] of state.admitted) {
      filled.set(v.meter, (filled.get(v.meter) ?? 0) + 1);
      if (v.entry.value === 0n) {
        dummies++;
        ids.push({ key, id: v.entry.id });
      }
    }
    let markers = 0;
    let missingMeters = 0;
    for (const meter of this.#meters.keys()) {
      if ((filled.get(meter) ?? 0) === this.#maxMessages) continue;
      if (!filled.has(meter)) missingMeters++;
      const ps = this.#pseudonyms.intervalPseudonyms(meter, interval, 1, this.#maxMessages);
      for (const id of ps) {
        const key = bytesToHex(id);
        if (state.admitted.has(key)) continue;
        markers++;
        ids.push({ key, id });
      }
    }
    ids.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { ids: ids.map((x) => x.id), dummies, markers, missingMeters };
  }

  /** Which meter and counter an admitted pseudonym came from (CC's private link). */
  originOf(
    interval: number,
    pseudonym: Uint8Array,
  ): { meter: number; counter: number } | undefined {
    const hit = this.#intervals.get(interval)?.admitted.get(bytesToHex(pseudonym));
    return hit ? { meter: hit.meter, counter: hit.counter } : undefined;
  }

  /**
   * Stops admission for the interval and frees its pseudonym index. Returns the real (billed)
   * entries sorted by pseudonym; the zero-value slots come from {@link zeroSlots}.
   */
  closeInterval(interval: number): LedgerEntry[] {
    const state = this.#intervals.get(interval);
    if (state === undefined) {
      throw new ControlCenterError(`ControlCenter.closeInterval: interval ${interval} not open`);
    }
    state.closed = true;
    this.#pseudonyms.forgetInterval(interval);
    return this.admittedEntries(interval).filter((e) => e.value !== 0n);
  }

  /** Rejections of reports that named no open interval (malformed, or for a closed interval). */
  unattributedRejections(): Readonly<Partial<Record<RejectReason, number>>> {
    return Object.fromEntries(this.#unattributed);
  }

  stats(interval: number): IntervalStats {
    const state = this.#intervals.get(interval);
    const rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<
      RejectReason,
      number
    >;
    for (const [reason, n] of state?.rejected ?? []) rejected[reason] = n;
    return { admitted: state?.admitted.size ?? 0, rejected };
  }
}
