// Smart meter (Oksuz 2020 §5 "Outsourcing consumption data"; DESIGN §4.2, §4.5, §7): a pure state
// machine. Per interval it splits the measured consumption (plus the carry) into category chunks,
// and for chunk k signs an OCD entry under the pseudonym P_{i,j,k} with the per-message key
// sigSk_{i,j,k} = b_i + H3(f_{K_i}(x)) (public derivation: CC, which holds K_i and B_i = b_i·G,
// checks the key but cannot sign). The interval's pseudonyms go to the user in ONE batch at interval end (DESIGN §6:
// per-message delivery would let the pairing channel's timing link reports to the household).
// Wrapping reports in onions and sending them is the agent's job (offchain/meter/agent.ts).
import { concatBytes } from "../crypto/bytes.ts";
import { eciesEncrypt } from "../crypto/ecies.ts";
import { MessageKeyDeriver } from "../crypto/ggm.ts";
import type { MeterKeys } from "../crypto/keys.ts";
import { secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";
import type { ByteSlab } from "../runtime/byte-slab.ts";
import { ENTRY_KIND, signEntry, type LedgerEntry } from "../protocol/entry.ts";
import {
  METER_REPORT_SIZE,
  decodeMeterReport,
  encodeMeterReport,
} from "../protocol/meter-report.ts";
import { MeterPseudonyms } from "../protocol/pseudonym.ts";
import { registrationContext } from "../protocol/registration.ts";
import type { UserBatchSlot } from "../protocol/user-batch.ts";
import {
  DEFAULT_REPORT_SLOTS,
  splitIntoSlots,
  validateCategories,
  type UsageCategories,
} from "../protocol/splitting.ts";

export interface MeterInit {
  /** The meter's index in the directory (public: the onion directory lists meters by key). */
  readonly index: number;
  readonly keys: MeterKeys;
  /** `pk_CC` (33 bytes): pseudonym keys and the key-registration box are bound to it. */
  readonly ccPublicKey: Uint8Array;
  /** The billing ledger's §4.4 domain (chain id and contract address). */
  readonly domain: Uint8Array;
  /** The region's five category values (DESIGN §7). */
  readonly categories: readonly bigint[];
  /** Carry from before this meter's first interval (e.g. restored state). */
  readonly initialCarryWh?: bigint;
  /** `K`, the public report slots per interval (DESIGN §7), default {@link DEFAULT_REPORT_SLOTS}. */
  readonly slots?: number;
  /**
   * The fleet's slab for this meter's derived secret (the pseudonym key `A_i`, 32 bytes) instead
   * of a buffer of its own (issue 14: the simulator's 100,000 meters). It must belong to the
   * meters' side alone (the simulator's fleet, `offchain/sim/oksuz-agents.ts`): the meter never
   * hands out a view of it. Default: none.
   */
  readonly secretStore?: ByteSlab;
  readonly backend?: Secp256k1Backend;
}

/**
 * What a meter sends CC at registration: `K_i` encrypted to `pk_CC`, the box bound to `pk_i ‖ B_i`
 * (context), and its signing base key `B_i = b_i·G` (DESIGN §4.2).
 */
export interface MeterRegistration {
  readonly index: number;
  readonly publicKey: Uint8Array;
  readonly encryptedGgmKey: Uint8Array;
  /** `B_i`, 33-byte compressed. */
  readonly basePublicKey: Uint8Array;
}

/** One interval's output. */
export interface MeterIntervalReport {
  readonly interval: number;
  readonly measuredWh: bigint;
  readonly carryInWh: bigint;
  readonly carryOutWh: bigint;
  /**
   * Exactly K signed OCD entries, counter k = index + 1: the real chunks first (category values),
   * then zero-value dummies (DESIGN §7), all under per-message pseudonyms and keys.
   */
  readonly entries: readonly LedgerEntry[];
  /** How many of `entries` are real chunks (the rest are dummies). */
  readonly chunks: number;
  /**
   * The fixed-size batch delivered to the user after the interval: its K pseudonyms P_{i,j,1..K}
   * (the signed `entries` go with them: the user checks values and keeps evidence).
   */
  readonly pseudonyms: readonly Uint8Array[];
  /**
   * The user batch (offchain/protocol/user-batch.ts): every slot's signed entry and tweak `t`, so
   * the user checks values and can prove a slot's key is `B_i + t·G`.
   */
  readonly userBatch: readonly UserBatchSlot[];
}

export class MeterError extends Error {
  override name = "MeterError";
}

export class Meter {
  readonly index: number;
  readonly publicKey: Uint8Array;
  readonly id: Uint8Array;
  readonly #keys: MeterKeys;
  readonly #ccPublicKey: Uint8Array;
  readonly #domain: Uint8Array;
  readonly #backend: Secp256k1Backend;
  readonly #pseudonyms: MeterPseudonyms;
  #categories: UsageCategories;
  readonly #slots: number;
  #carryWh: bigint;
  #lastInterval = -1;
  /**
   * Entries of recent intervals, kept for CC's resend requests and the user batch: encoded (K ×
   * 138 bytes in one buffer, offchain/protocol/meter-report.ts), not as K decoded entries (≈ 3.5 kB
   * per meter at K = 8; issue 14), decoded again on a resend. Once {@link releaseSent} has been
   * called for an interval only what signs its entries again is kept (the real chunks' values and
   * the timestamp; dummies are zero): pseudonyms, message keys and Schnorr nonces are
   * deterministic (DESIGN §4.2, §4.3), so the same bytes are re-signed on demand. A short list (at
   * most five intervals), not a Map per meter.
   */
  #sent: SentInterval[] = [];

  constructor(init: MeterInit) {
    if (!Number.isInteger(init.index) || init.index < 0) {
      throw new MeterError(`Meter: index ${init.index} is not a non-negative integer`);
    }
    this.index = init.index;
    this.#keys = init.keys;
    this.publicKey = init.keys.publicKey;
    this.id = init.keys.id;
    this.#ccPublicKey = init.ccPublicKey;
    this.#domain = init.domain;
    this.#backend = init.backend ?? secp;
    this.#categories = validateCategories(init.categories);
    this.#carryWh = init.initialCarryWh ?? 0n;
    this.#slots = init.slots ?? DEFAULT_REPORT_SLOTS;
    if (!Number.isInteger(this.#slots) || this.#slots < 1 || this.#slots > 64) {
      throw new MeterError(`Meter: slots ${init.slots} outside [1, 64]`);
    }
    this.#pseudonyms = new MeterPseudonyms(
      init.keys.secretKey,
      init.keys.publicKey,
      init.ccPublicKey,
      this.#backend,
      init.keys.id, // the keys' ID_i, not a copy per meter (issue 14)
      init.secretStore,
    );
  }

  /** `K`, the report slots this meter fills per interval. */
  get slots(): number {
    return this.#slots;
  }

  /** Consumption carried into the next interval (< c1 unless more than K chunks were due). */
  get carryWh(): bigint {
    return this.#carryWh;
  }

  /** `B_i = b_i·G` (33 bytes), the base of every per-message key (DESIGN §4.2). */
  get basePublicKey(): Uint8Array {
    return this.#keys.basePublicKey;
  }

  /** Registration message for CC: `K_i` sealed to `pk_CC` with context `pk_i ‖ B_i`, and `B_i`. */
  registration(ephemeralSecret: bigint): MeterRegistration {
    const basePublicKey = this.#keys.basePublicKey;
    return {
      index: this.index,
      publicKey: this.publicKey,
      encryptedGgmKey: eciesEncrypt(
        this.#ccPublicKey,
        this.#keys.ggmKey,
        ephemeralSecret,
        registrationContext(this.publicKey, basePublicKey),
        this.#backend,
      ),
      basePublicKey,
    };
  }

  /**
   * Restores the state before reporting `interval` (a restarted meter, from its store): the carry
   * into `interval` (Wh, ≥ 0) and "last reported = interval − 1", so `reportInterval(interval, …)`
   * with the same reading signs exactly the entries it signed before the restart (pseudonyms,
   * message keys and Schnorr nonces are deterministic), or continues with the next interval.
   * Throws {@link MeterError} on a non-integer interval (< 1) or a negative carry.
   */
  resumeAt(interval: number, carryWh: bigint): void {
    if (!Number.isSafeInteger(interval) || interval < 1) {
      throw new MeterError(`Meter.resumeAt: interval ${interval} must be an integer ≥ 1`);
    }
    if (typeof carryWh !== "bigint" || carryWh < 0n) {
      throw new MeterError("Meter.resumeAt: carry must be a non-negative bigint");
    }
    this.#lastInterval = interval - 1;
    this.#carryWh = carryWh;
  }

  /** New category values (a region may publish new ones between intervals). */
  setCategories(categories: readonly bigint[]): void {
    this.#categories = validateCategories(categories);
  }

  /**
   * Reports interval `interval`: splits `measuredWh + carry` into at most K category chunks (the
   * rest carries over) and signs exactly K OCD entries: one per chunk, then zero-value dummies
   * (DESIGN §7), so every meter sends the same number of reports. `timestamp` must be the interval's last second `end − 1` (DESIGN §4.4:
   * fixed by protocol; CC and the contract refuse any other), so timestamps neither order a meter's
   * chunks nor group them by meter. Intervals must increase.
   */
  reportInterval(interval: number, measuredWh: bigint, timestamp: bigint): MeterIntervalReport {
    if (!Number.isInteger(interval) || interval <= this.#lastInterval) {
      throw new MeterError(
        `Meter.reportInterval: interval ${interval} does not follow ${this.#lastInterval}`,
      );
    }
    if (measuredWh < 0n) throw new MeterError("Meter.reportInterval: negative consumption");
    const carryInWh = this.#carryWh;
    // K slots (DESIGN §7): the largest K chunks, the rest carried; then dummies of value 0.
    const { chunks, carryOutWh } = splitIntoSlots(
      measuredWh,
      carryInWh,
      this.#categories,
      this.#slots,
    );
    const { entries, userBatch } = this.#sign(interval, chunks, timestamp);
    const pseudonyms = entries.map((e) => e.id);
    this.#lastInterval = interval;
    this.#carryWh = carryOutWh;
    // Keep only the last few intervals for resends; older ones are sealed on-chain already.
    // (A meter resumed at an interval it had reported replaces that interval's entries.)
    // Both arrays exact (`concat` and `slice`: an array grown by `push`, or a literal spreading
    // one, keeps room for more elements, ≈ 0.1 kB per meter each; issue 14).
    this.#sent = this.#sent
      .filter((s) => s.interval >= interval - 4 && s.interval !== interval)
      .concat([
        {
          interval,
          timestamp,
          chunks: chunks.slice(),
          bytes: concatBytes(...entries.map(encodeMeterReport)),
        },
      ]);
    return {
      interval,
      measuredWh,
      carryInWh,
      carryOutWh,
      entries,
      chunks: chunks.length,
      pseudonyms,
      userBatch,
    };
  }

  /**
   * Signs interval `interval`'s K slots: one OCD entry per chunk of `chunks` (category values),
   * then zero-value dummies (DESIGN §7), each under its pseudonym `P_{i,j,k}` and message key
   * `b_i + t_{i,j,k}` (DESIGN §4.2, §4.5). Deterministic: the same arguments give the same bytes.
   */
  #sign(
    interval: number,
    chunks: readonly bigint[],
    timestamp: bigint,
  ): { entries: LedgerEntry[]; userBatch: UserBatchSlot[] } {
    const values = [...chunks, ...Array<bigint>(this.#slots - chunks.length).fill(0n)];
    const entries: LedgerEntry[] = [];
    const userBatch: UserBatchSlot[] = [];
    // A deriver per interval, dropped after it: its cached GGM path (≈ 1.7 kB) is not kept per
    // meter between intervals (issue 14: 170 MB in a 100,000-meter simulation). The first key
    // of an interval derives the whole path (48 steps, a few per cent of the interval's
    // signing), the next K − 1 reuse it.
    const messageKeys = new MessageKeyDeriver(this.#keys.ggmKey, this.#backend);
    values.forEach((value, i) => {
      const counter = i + 1;
      const id = this.#pseudonyms.pseudonym(interval, counter);
      const key = messageKeys.messageKey(this.#keys.baseKey, interval, counter);
      const entry = signEntry(
        this.#domain,
        { kind: ENTRY_KIND.OCD, interval, id, timestamp, value },
        key.sigSk,
        { sigPk: key.sigPk, backend: this.#backend },
      );
      entries.push(entry);
      userBatch.push({ entry, tweak: key.tweak });
    });
    messageKeys.wipe();
    return { entries, userBatch };
  }

  /**
   * Interval `interval`'s K entries as kept for resends (`encodeMeterReport` each, K × 138 bytes in
   * counter order), if the meter still holds the interval: the meter's own buffer, not a copy —
   * read it, never write it. Its agent sends from it instead of keeping a second copy while the
   * window is open (issue 14). After {@link releaseSent} a fresh buffer each call, signed again
   * (K signatures and a GGM path: for the rare call after the user has its batch).
   */
  reportsSent(interval: number): Uint8Array | undefined {
    const sent = this.#sent.find((s) => s.interval === interval);
    if (sent === undefined) return undefined;
    return (
      sent.bytes ??
      concatBytes(
        ...this.#sign(interval, sent.chunks, sent.timestamp).entries.map(encodeMeterReport),
      )
    );
  }

  /**
   * Interval `interval` needs no kept bytes any more (its user holds the batch and its window
   * has closed: CC asks for no resend after the seal, DESIGN §7): drops its K × 138 bytes and
   * keeps the chunk values and timestamp that sign them again (issue 14: ≈ 1.2 kB per meter
   * after the seal, 120 MB in a 100,000-meter simulation). `reportsSent` and `resend` still
   * answer, with the same bytes, re-signed. No effect for an interval not held.
   */
  releaseSent(interval: number): void {
    const sent = this.#sent.find((s) => s.interval === interval);
    if (sent !== undefined) sent.bytes = undefined;
  }

  /** The entry CC asked to be sent again (lost or damaged on the way), if still held. */
  resend(interval: number, counter: number): LedgerEntry | undefined {
    if (!Number.isInteger(counter) || counter < 1 || counter > this.#slots) return undefined;
    const sent = this.reportsSent(interval);
    if (sent === undefined || counter * METER_REPORT_SIZE > sent.length) return undefined;
    return decodeMeterReport(
      sent.subarray((counter - 1) * METER_REPORT_SIZE, counter * METER_REPORT_SIZE),
    );
  }
}

/**
 * An interval a meter has reported, as it keeps it (`Meter.#sent`): the signed entries' bytes
 * until released, and always what signs them again.
 */
interface SentInterval {
  readonly interval: number;
  /** The entries' `T` (DESIGN §4.4). */
  readonly timestamp: bigint;
  /** The real chunks' values in counter order (the K − chunks dummies are zero). */
  readonly chunks: readonly bigint[];
  /** `encodeMeterReport` of the K entries, until `releaseSent`. */
  bytes?: Uint8Array;
}
