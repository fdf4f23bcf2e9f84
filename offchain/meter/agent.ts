// Meter agent (issue 11 "One agent per role"; Oksuz 2020 §5; DESIGN §4.2, §4.6, §7): the pure
// `Meter` state machine and its `OnionRelay`, driven by messages on a `Transport` and timers on a
// `Clock`, so the same agent runs on the VirtualClock + MemoryNetwork (simulator) and on the
// SystemClock + SocketTransport (services). Every message is a wire message (protocol/wire/).
//
//   - start: sends its registration (`K_i` sealed to `pk_CC`, `pk_i`, `B_i`) to CC, again every
//     `resendMs` until CC's first interval announcement shows it was heard;
//   - relay: every `roundMs` it ends a relay round (batch, shuffle, cover) and forwards what the
//     round releases; onion packets from anyone go into the relay;
//   - interval announcement (from CC only): reads the interval's consumption from its reading
//     source, signs K slots, sends each in its own onion at a random round of the first
//     `sendRounds` rounds (DESIGN §4.6: spread out, not a burst);
//   - delivery: every `resendMs` until the window closes it resends, in a fresh onion, each counter
//     CC's cumulative receipt does not list yet; a resend request from CC is answered at once. So a
//     lossy link loses nothing as long as one copy and one receipt cross within the window;
//   - window close (the announced window, or earlier when CC announces the interval again with a
//     shorter one: every slot is in): the interval's user batch (K slots with tweaks, DESIGN §7) goes to its user in
//     one fixed-size message, again every `resendMs` until the user's receipt arrives (bounded:
//     a batch is dropped four intervals later).
import { ByteSlab } from "../runtime/byte-slab.ts";
import type { Clock, TimerHandle } from "../runtime/clock.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import type { Transport } from "../runtime/network.ts";
import type { Rng } from "../runtime/rng.ts";
import { bytesToHex, concatBytes, equalBytes } from "../crypto/bytes.ts";
import type { OnionRelay } from "../onion/relay.ts";
import {
  buildReportOnion,
  DEFAULT_PATH_LENGTH,
  onionAssociatedData,
  selectRelayPath,
} from "../onion/report.ts";
import { sessionKeyFrom } from "../onion/random.ts";
import type { LedgerEntry } from "../protocol/entry.ts";
import {
  METER_REPORT_SIZE,
  decodeMeterReport,
  encodeMeterReport,
} from "../protocol/meter-report.ts";
import { USER_BATCH_SLOT_SIZE } from "../protocol/user-batch.ts";
import { decodeWire, decodeWireOr, encodeWire } from "../protocol/wire/index.ts";
import type { ReadingSource } from "./source/source.ts";
import type { Meter, MeterIntervalReport } from "./meter.ts";

/** The onion directory: relays' node ids (= meters' `pk_i`, on-chain) and their addresses. */
export interface RelayDirectory {
  readonly publicKeys: readonly Uint8Array[];
  /** Transport address of a relay (or CC) by node id; undefined for an unknown id. */
  addressOf(nodeId: Uint8Array): string | undefined;
}

export interface MeterAgentInit {
  /** This meter's transport address ("meter-<i>"). */
  readonly address: string;
  /** Its user's address ("user-<i>"). */
  readonly userAddress: string;
  /** CC's address, default "cc". */
  readonly ccAddress?: string;
  /** `pk_CC` (the onion's exit). */
  readonly ccPublicKey: Uint8Array;
  readonly domain: Uint8Array;
  /** Relays per onion, default 3 (DESIGN §4.6). */
  readonly pathLength?: number;
  /** Relay round length, default 200 ms. */
  readonly roundMs?: number;
  /** Rounds over which the K onions of an interval are spread, default 8. */
  readonly sendRounds?: number;
  /** Wait for a receipt before resending (and between registration attempts); default 12 rounds. */
  readonly resendMs?: number;
  /**
   * The user batch leaves at a uniformly random whole number of ms in [0, userBatchDelayMs) after
   * the window closes, not at its close; default 0 (at once). Drawn from a fork of the agent's
   * generator labelled by the interval, which nothing else reads (paths and send rounds are as
   * without it), and independent of the reports: the batch's time tells nothing about them
   * (DESIGN §6, §7). A city's simulator spreads the fleet's batches so that each meter retires
   * soon after its household confirms, instead of every household being built while the whole
   * fleet is alive (issue 14). An integer ≥ 0, else {@link MeterAgentError}.
   */
  readonly userBatchDelayMs?: number;
  /**
   * The ephemeral secret of the registration's ECIES box (injected randomness). The agent keeps
   * it only until CC's first announcement shows the registration was heard (it never registers
   * again after that).
   */
  readonly registrationSecret: bigint;
}

export interface MeterAgentComponents {
  readonly meter: Meter;
  readonly relay: OnionRelay;
  readonly transport: Transport;
  readonly clock: Clock;
  /** Paths, session keys, send rounds and relay shuffles. */
  readonly rng: Rng;
  readonly readings: ReadingSource;
  readonly directory: RelayDirectory;
  readonly logger?: Logger;
  /**
   * Where the agent keeps its intervals' compact user batches (head and K tweaks, 8 + K × 32
   * bytes): copied into this slab instead of a buffer each (issue 14: an `ArrayBuffer` and a
   * malloc block per meter and kept interval). One slab for the meters' agents of one process
   * (the simulator); the agent keeps its view private and sends only the expanded message, a
   * fresh buffer, so no user or other role gets a view of it. Default: none, a buffer each.
   */
  readonly batchSlab?: ByteSlab;
}

/** What the meter did in one interval (the simulator's per-meter figures). */
export interface MeterIntervalRecord {
  readonly report: MeterIntervalReport;
  /** Onions this meter originated for the interval (first copies and resends). */
  readonly onionsSent: number;
  readonly acked: ReadonlySet<number>;
  readonly userBatchSent: boolean;
  /** The user confirmed the batch. */
  readonly userBatchAcked: boolean;
}

export interface MeterAgentStatus {
  readonly address: string;
  /** The last interval announced (0 before the first). */
  readonly interval: number;
  readonly registered: boolean;
  /** Counters of the current interval CC's receipts list. */
  readonly reportsAcked: number;
  readonly onionsSent: number;
  readonly resent: number;
  /** Wire messages that did not decode, or came from the wrong sender. */
  readonly refused: number;
}

/**
 * One interval as the agent keeps it until the user confirms its batch (and four intervals on):
 * compact, as bytes (issue 14: the decoded report — K entries of three small byte arrays and
 * bigints each, twice with the user batch — was ≈ 5 kB per meter, 500 MB in a 100,000-meter
 * simulation). The report is decoded again only for `interval()` and `onUserBatch`.
 */
interface IntervalState {
  /**
   * The K onion payloads (encoded meter reports, offchain/protocol/meter-report.ts), K × 138
   * bytes, while the window is open; dropped when it closes (the meter keeps its entries for
   * `resend`, and signs deterministically, so `interval()` reads them there).
   */
  payloads?: Uint8Array;
  /** K. */
  slots: number;
  /**
   * The user batch wire message (K × 170 bytes of slots), sent after the window — as the part of
   * it that is not the meter's kept reports: the message's head and the K 32-byte tweaks (issue
   * 14: 8 + K × 32 bytes instead of a K × 170-byte copy of what the meter keeps anyway; see
   * {@link compactUserBatch}). The whole message only for a meter whose kept reports differ from
   * the batch's entries (the adversary wrappers rewrite entries).
   */
  userBatch: { readonly compact: Uint8Array } | { readonly message: Uint8Array };
  /** The report's figures besides its entries. */
  figures: Pick<
    MeterIntervalReport,
    "interval" | "measuredWh" | "carryInWh" | "carryOutWh" | "chunks"
  >;
  /**
   * Counters CC's receipts list: bit k − 1 of `ackedLo` for k ≤ 32, bit k − 33 of `ackedHi`
   * above (K ≤ 64, `Meter`), and how many — two numbers, not a Set per interval (issue 14).
   */
  ackedLo: number;
  ackedHi: number;
  ackedCount: number;
  onionsSent: number;
  /**
   * Pending timers to clear when the window closes (and at `stop`): the window's close (one, or
   * two after CC shortened it) and the resend loop's next run. The K send timers are held only
   * until each fires, and their array only until the last has (issue 14: every fired handle of
   * the window — K sends and each resend run — was kept until the window closed, ≈ 0.5 kB per
   * meter half-way through a city's onion phase, more with every resend run).
   */
  timers: TimerHandle[];
  sendTimers?: (TimerHandle | undefined)[];
  resendTimer?: TimerHandle;
  open: boolean;
  userBatchSent: boolean;
  userBatchAcked: boolean;
  userBatchTimer?: TimerHandle;
}

/** An announced interval as the agent keeps it: its window's end, its state once measured. */
interface IntervalRecord {
  readonly interval: number;
  /** When the window closes (clock ms): the announcement's, or CC's earlier end. */
  windowEnd: number;
  state?: IntervalState;
}

/** The settled promise an idle agent's `idle()` returns (one for all agents). */
const SETTLED: Promise<void> = Promise.resolve();

export class MeterAgentError extends Error {
  override name = "MeterAgentError";
}

export class MeterAgent {
  readonly address: string;
  readonly #init: Omit<MeterAgentInit, "registrationSecret">;
  /**
   * The registration box's ephemeral secret until CC's first announcement shows the registration
   * was heard; then dropped (issue 14: a bigint per meter for the whole run, and an ephemeral
   * secret kept no longer than it is needed).
   */
  #registrationSecret: bigint | undefined;
  readonly #c: MeterAgentComponents;
  readonly #logger: Logger;
  readonly #cc: string;
  readonly #roundMs: number;
  readonly #resendMs: number;
  readonly #userBatchDelayMs: number;
  /**
   * The announced intervals still kept (the last five), oldest first: when each one's window
   * closes (clock ms: the announcement's, or CC's earlier end) and its state once measured. An
   * array of records, not two Maps per meter for one or two entries (issue 14: ≈ 100 B less per
   * meter). Replaced, not pushed to: an array grown by `push` reserves 17 slots.
   */
  #intervals: readonly IntervalRecord[] = [];
  #current = 0;
  #registered = false;
  #running = false;
  #roundTimer?: TimerHandle;
  #registrationTimer?: TimerHandle;
  #onionsSent = 0;
  #resent = 0;
  #refused = 0;
  /**
   * Measurement in progress (awaited by `idle()` in tests and by `stop()`); {@link SETTLED}, one
   * promise shared by every agent, once it is done (issue 14: a settled promise per meter for the
   * whole run).
   */
  #pending: Promise<void> = SETTLED;
  /** Called once per interval when the user batch left (the simulator's hook). */
  onUserBatch?: (interval: number, report: MeterIntervalReport) => void;

  constructor(init: MeterAgentInit, components: MeterAgentComponents) {
    const { registrationSecret, ...rest } = init;
    this.#init = rest;
    this.#registrationSecret = registrationSecret;
    if (components.batchSlab !== undefined && !(components.batchSlab instanceof ByteSlab)) {
      throw new MeterAgentError("MeterAgent: batchSlab must be a ByteSlab");
    }
    this.#c = components;
    this.address = init.address;
    this.#logger = components.logger ?? silentLogger;
    this.#cc = init.ccAddress ?? "cc";
    this.#roundMs = init.roundMs ?? 200;
    const rounds = init.sendRounds ?? 8;
    if (!Number.isInteger(rounds) || rounds < 1) {
      throw new MeterAgentError("MeterAgent: sendRounds must be a positive integer");
    }
    this.#resendMs = init.resendMs ?? 12 * this.#roundMs;
    if (!(this.#roundMs > 0) || !(this.#resendMs > 0)) {
      throw new MeterAgentError("MeterAgent: roundMs and resendMs must be positive");
    }
    this.#userBatchDelayMs = init.userBatchDelayMs ?? 0;
    if (!Number.isSafeInteger(this.#userBatchDelayMs) || this.#userBatchDelayMs < 0) {
      throw new MeterAgentError("MeterAgent: userBatchDelayMs must be an integer ≥ 0");
    }
  }

  /** Starts receiving, the relay rounds and the registration attempts. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const { transport } = this.#c;
    transport.handle((from, bytes) => this.#onMessage(from, bytes));
    transport.start();
    this.#scheduleRound();
    this.#register();
  }

  /** Stops timers and the transport; idempotent. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    const { clock, transport } = this.#c;
    if (this.#roundTimer) clock.clearTimeout(this.#roundTimer);
    if (this.#registrationTimer) clock.clearTimeout(this.#registrationTimer);
    for (const { state } of this.#intervals) {
      if (!state) continue;
      clearWindowTimers(clock, state);
      if (state.userBatchTimer) clock.clearTimeout(state.userBatchTimer);
    }
    transport.stop();
    await this.#pending.catch(() => {});
  }

  /** Resolves once the measurement started by the last announcement is done. */
  idle(): Promise<void> {
    return this.#pending;
  }

  status(): MeterAgentStatus {
    return {
      address: this.address,
      interval: this.#current,
      registered: this.#registered,
      reportsAcked: this.#state(this.#current)?.ackedCount ?? 0,
      onionsSent: this.#onionsSent,
      resent: this.#resent,
      refused: this.#refused,
    };
  }

  /** What the meter did in `interval` (undefined before its announcement). */
  interval(interval: number): MeterIntervalRecord | undefined {
    const s = this.#state(interval);
    return (
      s && {
        report: this.#report(s),
        onionsSent: s.onionsSent,
        acked: ackedSet(s),
        userBatchSent: s.userBatchSent,
        userBatchAcked: s.userBatchAcked,
      }
    );
  }

  /**
   * Whether the household acknowledged interval `last`'s user batch and every other kept
   * interval's (`MeterIntervalRecord.userBatchAcked`, without rebuilding a report): after that
   * the meter sends its household nothing more. False when `last` was never measured.
   */
  userBatchesAcked(last: number): boolean {
    if (this.#state(last)?.userBatchAcked !== true) return false;
    for (const { state } of this.#intervals) if (state && !state.userBatchAcked) return false;
    return true;
  }

  /**
   * Whether a kept interval's window is still open, so that the agent may still send report
   * onions (first copies, resends, answers to CC's resend requests); false once every window has
   * closed and no measurement is in progress (one opens a window when it ends).
   */
  sending(): boolean {
    if (this.#pending !== SETTLED) return true;
    for (const { state } of this.#intervals) if (state?.open) return true;
    return false;
  }

  // ---- timers ---------------------------------------------------------------------------------

  #register(): void {
    if (!this.#running || this.#registered || this.#registrationSecret === undefined) return;
    const registration = this.#c.meter.registration(this.#registrationSecret);
    this.#send(this.#cc, encodeWire({ type: "meterRegistration", registration }));
    this.#registrationTimer = this.#c.clock.setTimeout(() => this.#register(), this.#resendMs);
  }

  #scheduleRound(): void {
    this.#roundTimer = this.#c.clock.setTimeout(() => {
      if (!this.#running) return;
      this.#endRound();
      this.#scheduleRound();
    }, this.#roundMs);
  }

  #endRound(): void {
    const { relay, directory, rng } = this.#c;
    const random = (n: number) => rng.bytes(n);
    for (const out of relay.endRound({ random, directory: directory.publicKeys })) {
      const to = directory.addressOf(out.nextNodeId);
      if (to !== undefined) this.#send(to, encodeWire({ type: "onionPacket", packet: out.packet }));
    }
  }

  // ---- messages -------------------------------------------------------------------------------

  #onMessage(from: string, bytes: Uint8Array): void {
    const message = decodeWireOr(bytes, (err) => {
      this.#refused++;
      this.#logger.debug("wire message refused", { from, error: err.message });
    });
    if (message === undefined) return;
    if (message.type === "onionPacket") {
      this.#c.relay.receive(message.packet);
      return;
    }
    if (message.type === "userBatchReceipt" && from === this.#init.userAddress) {
      const state = this.#state(message.interval);
      if (state) {
        state.userBatchAcked = true;
        if (state.userBatchTimer) this.#c.clock.clearTimeout(state.userBatchTimer);
        // The household has the batch (sent after the window closed, so no onion needs the
        // bytes): the meter keeps what re-signs the interval, not its K × 138 bytes (issue 14,
        // `Meter.releaseSent`; the same bytes come back, re-signed, if ever asked for again).
        this.#c.meter.releaseSent?.(message.interval);
      }
      return;
    }
    // Everything else is CC's, on its direct channel (DESIGN §4.6: CC knows the link anyway).
    if (from !== this.#cc) {
      this.#refused++;
      return;
    }
    switch (message.type) {
      case "intervalAnnouncement": {
        this.#registered = true;
        this.#registrationSecret = undefined;
        // Cleared and forgotten: a cancelled handle kept for the whole run is 64 B per meter.
        if (this.#registrationTimer) this.#c.clock.clearTimeout(this.#registrationTimer);
        this.#registrationTimer = undefined;
        const a = message.announcement;
        if (a.interval < this.#current) return;
        if (a.interval === this.#current) {
          // A repeated announcement: already under way; it may end the window earlier.
          this.#shortenWindow(a.interval, a.windowMs);
          return;
        }
        this.#current = a.interval;
        this.#intervals = this.#intervals.concat([
          { interval: a.interval, windowEnd: this.#c.clock.now() + a.windowMs },
        ]);
        const pending: Promise<void> = this.#openInterval(a.interval, a.start, a.end)
          .catch((err) =>
            this.#logger.error("interval not reported", {
              interval: a.interval,
              error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
            }),
          )
          .then(() => {
            if (this.#pending === pending) this.#pending = SETTLED;
          });
        this.#pending = pending;
        return;
      }
      case "ccReceipt": {
        const { interval, meter, counters } = message.receipt;
        const state = this.#state(interval);
        if (meter !== this.#c.meter.index || !state) return;
        for (const k of counters)
          if (Number.isInteger(k) && k >= 1 && k <= state.slots) ack(state, k);
        return;
      }
      case "ccResendRequest": {
        const { interval, meter, counter } = message.request;
        const state = this.#state(interval);
        if (meter !== this.#c.meter.index || !state?.open) return;
        const entry = this.#c.meter.resend(interval, counter);
        if (entry) {
          this.#resent++;
          this.#sendOnion(state, encodeMeterReport(entry));
        }
        return;
      }
      default:
        this.#refused++;
    }
  }

  /**
   * CC ended interval `interval`'s window early (every slot in, DESIGN §7 "at interval end"): the
   * window now closes `windowMs` from now, but not before a round has passed (the receipts CC sent
   * with the announcement arrive first on a FIFO link). Never lengthens a window.
   */
  #shortenWindow(interval: number, windowMs: number): void {
    const { clock } = this.#c;
    const end = clock.now() + Math.max(windowMs, this.#roundMs);
    const kept = this.#intervals.find((r) => r.interval === interval);
    if (kept === undefined || end >= kept.windowEnd) return;
    kept.windowEnd = end;
    const state = this.#state(interval);
    if (state?.open) {
      state.timers = state.timers.concat([
        clock.setTimeout(() => this.#closeInterval(interval), end - clock.now()),
      ]);
    }
  }

  async #openInterval(interval: number, start: bigint, end: bigint) {
    const { meter, relay, readings, clock, rng } = this.#c;
    // Onion epoch = interval number: every hop rotates at each announcement (DESIGN §4.6).
    if (interval > relay.epoch) relay.rotateEpoch(interval);
    const wh = await readings.consumptionWh(Number(start), Number(end));
    if (!this.#running) return;
    const report = meter.reportInterval(interval, wh, end - 1n);
    const encoded = concatBytes(...report.entries.map(encodeMeterReport));
    // The meter keeps these very bytes for resends: send from its copy rather than hold a second
    // one (issue 14: K × 138 bytes per meter while the window is open). A meter whose report
    // differs from what it keeps (the adversary wrappers rewrite entries) keeps its own copy here.
    const kept = meter.reportsSent?.(interval);
    const payloads = kept !== undefined && equalBytes(kept, encoded) ? kept : encoded;
    const userBatch = encodeWire({ type: "userBatch", interval, slots: report.userBatch });
    const compact = kept === undefined ? undefined : compactUserBatch(userBatch, kept);
    const batchSlab = this.#c.batchSlab;
    const state: IntervalState = {
      payloads,
      slots: report.entries.length,
      userBatch:
        compact === undefined
          ? { message: userBatch }
          : { compact: batchSlab === undefined ? compact : batchSlab.copy(compact) },
      figures: {
        interval: report.interval,
        measuredWh: report.measuredWh,
        carryInWh: report.carryInWh,
        carryOutWh: report.carryOutWh,
        chunks: report.chunks,
      },
      ackedLo: 0,
      ackedHi: 0,
      ackedCount: 0,
      onionsSent: 0,
      timers: [],
      open: true,
      userBatchSent: false,
      userBatchAcked: false,
    };
    let record = this.#intervals.find((r) => r.interval === interval);
    if (record === undefined) {
      record = { interval, windowEnd: clock.now() };
      this.#intervals = this.#intervals.concat([record]);
    }
    record.state = state;
    for (const old of this.#intervals) {
      if (old.interval < interval - 4 && old.state?.userBatchTimer) {
        clock.clearTimeout(old.state.userBatchTimer);
      }
    }
    if (this.#intervals.some((old) => old.interval < interval - 4)) {
      this.#intervals = this.#intervals.filter((old) => old.interval >= interval - 4).slice();
    }
    const rounds = this.#init.sendRounds ?? 8;
    // Round r of the send window starts (r + 1) rounds from now: every relay has the announcement
    // (and its epoch) by then on any link faster than a round.
    const slots = report.entries.length;
    // The payloads exist while the window is open (and only then is anything sent).
    const payload = (k: number) =>
      state.payloads!.subarray(k * METER_REPORT_SIZE, (k + 1) * METER_REPORT_SIZE);
    // One callback for the K send timers, not a closure per slot (issue 14): the clock runs
    // timers in (due time, creation) order, so they fire in (round, k) order and each firing
    // sends the next slot of that order — what a closure per slot sent.
    const { roundOf, order } = sendSchedule(rng, slots, rounds);
    let next = 0;
    const sendNext = (): void => {
      const k = order[next++];
      // This timer (slot k's) has fired: forget its handle, and the array after the last one.
      if (next === slots) state.sendTimers = undefined;
      else if (state.sendTimers) state.sendTimers[k] = undefined;
      if (state.open) this.#sendOnion(state, payload(k));
    };
    // `map`, not `push`: an array grown by `push` (or spread) reserves 17 slots (issue 14).
    const sendTimers: (TimerHandle | undefined)[] = roundOf.map((r) =>
      clock.setTimeout(sendNext, (r + 1) * this.#roundMs),
    );
    if (slots > 0) state.sendTimers = sendTimers;
    const resendLoop = (): void => {
      state.resendTimer = undefined;
      if (!this.#running || !state.open) return;
      for (let k = 0; k < slots; k++) {
        if (isAcked(state, k + 1)) continue;
        this.#resent++;
        this.#sendOnion(state, payload(k));
      }
      state.resendTimer = clock.setTimeout(resendLoop, this.#resendMs);
    };
    state.resendTimer = clock.setTimeout(resendLoop, (rounds + 1) * this.#roundMs + this.#resendMs);
    const windowMs = Math.max(0, record.windowEnd - clock.now());
    // An array literal of its one handle (`push` onto `[]` reserves 17 slots: 152 B, issue 14).
    state.timers = [clock.setTimeout(() => this.#closeInterval(interval), windowMs)];
  }

  #closeInterval(interval: number): void {
    const state = this.#state(interval);
    if (!state || !state.open) return;
    state.open = false;
    clearWindowTimers(this.#c.clock, state);
    // The user batch: all K signed slots in one fixed-size message, after the window (DESIGN §7),
    // again until the user confirms it. Rebuilt at each send (from the meter's kept reports), not
    // held between resends.
    const deliver = (): void => {
      if (!this.#running || state.userBatchAcked) return;
      this.#send(this.#init.userAddress, this.#userBatchMessage(state));
      state.userBatchTimer = this.#c.clock.setTimeout(deliver, this.#resendMs);
    };
    const first = (): void => {
      state.userBatchTimer = undefined;
      if (!this.#running) return;
      deliver();
      state.userBatchSent = true;
      if (this.onUserBatch) this.onUserBatch(interval, this.#report(state));
    };
    const delayMs =
      this.#userBatchDelayMs === 0
        ? 0
        : this.#c.rng.fork(`user-batch-delay/${interval}`).nextInt(this.#userBatchDelayMs);
    if (delayMs === 0) first();
    else state.userBatchTimer = this.#c.clock.setTimeout(first, delayMs);
    state.payloads = undefined;
    const slots = state.slots;
    if (state.ackedCount < slots) {
      this.#logger.warn("window closed with reports unacknowledged", {
        interval,
        acked: state.ackedCount,
        slots,
      });
    }
  }

  /** Sends one report (`payload`, an encoded meter report) in a fresh onion. */
  #sendOnion(state: IntervalState, payload: Uint8Array): void {
    if (!this.#running || !state.open) return;
    const { meter, directory, rng } = this.#c;
    const random = (n: number) => rng.bytes(n);
    const path = selectRelayPath(
      directory.publicKeys,
      this.#init.pathLength ?? DEFAULT_PATH_LENGTH,
      random,
      [meter.publicKey],
    );
    const onion = buildReportOnion(
      path,
      this.#init.ccPublicKey,
      payload,
      sessionKeyFrom(random),
      onionAssociatedData(this.#init.domain, this.#c.relay.epoch),
    );
    const to = directory.addressOf(onion.firstHop);
    if (to === undefined) {
      throw new MeterAgentError(`MeterAgent: no address for relay ${bytesToHex(onion.firstHop)}`);
    }
    state.onionsSent++;
    this.#onionsSent++;
    this.#send(to, encodeWire({ type: "onionPacket", packet: onion.packet }));
  }

  /** Interval `interval`'s state, once measured and while kept. */
  #state(interval: number): IntervalState | undefined {
    for (const r of this.#intervals) if (r.interval === interval) return r.state;
    return undefined;
  }

  #send(to: string, bytes: Uint8Array): void {
    this.#c.transport.send(to, bytes);
  }
  /**
   * The interval's report again, from the agent's compact state (identical fields): the entries
   * from the payloads while the window is open, then from the meter's own copy (`resend`: the
   * same entries, signatures being deterministic).
   */
  #report(state: IntervalState): MeterIntervalReport {
    const entries: LedgerEntry[] = [];
    for (let k = 0; k < state.slots; k++) {
      const entry = state.payloads
        ? decodeMeterReport(
            state.payloads.subarray(k * METER_REPORT_SIZE, (k + 1) * METER_REPORT_SIZE),
          )
        : this.#c.meter.resend(state.figures.interval, k + 1);
      if (entry === undefined) {
        throw new MeterAgentError(
          `MeterAgent: the meter no longer holds interval ${state.figures.interval}`,
        );
      }
      entries.push(entry);
    }
    return userBatchReport(state, this.#userBatchMessage(state), entries);
  }

  /** The interval's user batch wire message, from the meter's kept reports and the tweaks. */
  #userBatchMessage(state: IntervalState): Uint8Array {
    if ("message" in state.userBatch) return state.userBatch.message;
    const kept = this.#c.meter.reportsSent?.(state.figures.interval);
    if (kept === undefined) {
      throw new MeterAgentError(
        `MeterAgent: the meter no longer holds interval ${state.figures.interval}`,
      );
    }
    return expandUserBatch(state.userBatch.compact, kept, state.slots);
  }
}

/**
 * The user batch wire message `message` without the K reports the meter keeps (`kept`, K × 138
 * bytes, `Meter.reportsSent`): its head (wire header, interval, K) followed by the K 32-byte
 * tweaks — or undefined when `message` is not its head followed by K slots of (`kept`'s report
 * k ‖ tweak k), so that {@link expandUserBatch} gives these very bytes back (issue 14). Layout:
 * offchain/protocol/user-batch.ts (each slot a 138-byte meter report ‖ u256 tweak), checked here
 * on the bytes rather than assumed.
 */
export function compactUserBatch(message: Uint8Array, kept: Uint8Array): Uint8Array | undefined {
  const slots = kept.length / METER_REPORT_SIZE;
  const head = message.length - slots * USER_BATCH_SLOT_SIZE;
  if (!Number.isInteger(slots) || head < 0) return undefined;
  const tweak = USER_BATCH_SLOT_SIZE - METER_REPORT_SIZE;
  const compact = new Uint8Array(head + slots * tweak);
  compact.set(message.subarray(0, head), 0);
  for (let k = 0; k < slots; k++) {
    const at = head + k * USER_BATCH_SLOT_SIZE + METER_REPORT_SIZE;
    compact.set(message.subarray(at, at + tweak), head + k * tweak);
  }
  return equalBytes(expandUserBatch(compact, kept, slots), message) ? compact : undefined;
}

/** The message {@link compactUserBatch} made `compact` from, given the same `kept` reports. */
export function expandUserBatch(compact: Uint8Array, kept: Uint8Array, slots: number): Uint8Array {
  const tweak = USER_BATCH_SLOT_SIZE - METER_REPORT_SIZE;
  const head = compact.length - slots * tweak;
  const message = new Uint8Array(head + slots * USER_BATCH_SLOT_SIZE);
  message.set(compact.subarray(0, head), 0);
  for (let k = 0; k < slots; k++) {
    const at = head + k * USER_BATCH_SLOT_SIZE;
    message.set(kept.subarray(k * METER_REPORT_SIZE, (k + 1) * METER_REPORT_SIZE), at);
    message.set(compact.subarray(head + k * tweak, head + (k + 1) * tweak), at + METER_REPORT_SIZE);
  }
  return message;
}

/**
 * The K slots' send rounds (each drawn from `rng` in slot order, as before) and the slots in
 * (round, slot) order, the order their timers fire. A function of its own so that no closure of
 * the agent's window captures the rounds (issue 14: the comparator made `roundOf` a context
 * variable, kept with its 17-slot backing store until the window closed).
 */
function sendSchedule(
  rng: Rng,
  slots: number,
  rounds: number,
): { readonly roundOf: number[]; readonly order: number[] } {
  const roundOf = new Array<number>(slots);
  for (let k = 0; k < slots; k++) roundOf[k] = rng.nextInt(rounds);
  const order = roundOf.map((_, k) => k).sort((a, b) => roundOf[a] - roundOf[b] || a - b);
  return { roundOf, order };
}

/** Clears `state`'s pending window timers (close, sends, resend loop) and forgets them. */
function clearWindowTimers(clock: Clock, state: IntervalState): void {
  for (const t of state.timers) clock.clearTimeout(t);
  state.timers = [];
  for (const t of state.sendTimers ?? []) if (t) clock.clearTimeout(t);
  state.sendTimers = undefined;
  if (state.resendTimer) clock.clearTimeout(state.resendTimer);
  state.resendTimer = undefined;
}

/** Whether counter `k` (1..64) is acknowledged. */
function isAcked(state: IntervalState, k: number): boolean {
  return k <= 32
    ? ((state.ackedLo >>> (k - 1)) & 1) === 1
    : ((state.ackedHi >>> (k - 33)) & 1) === 1;
}

/** Marks counter `k` (1..64) acknowledged (once). */
function ack(state: IntervalState, k: number): void {
  if (isAcked(state, k)) return;
  if (k <= 32) state.ackedLo |= 1 << (k - 1);
  else state.ackedHi |= 1 << (k - 33);
  state.ackedCount++;
}

/** The acknowledged counters as a fresh Set (for `interval()`). */
function ackedSet(state: IntervalState): Set<number> {
  const set = new Set<number>();
  for (let k = 1; k <= state.slots; k++) if (isAcked(state, k)) set.add(k);
  return set;
}

/** The report of `state` with its `entries`, its user batch (`message`) decoded again. */
function userBatchReport(
  state: IntervalState,
  message: Uint8Array,
  entries: LedgerEntry[],
): MeterIntervalReport {
  const batch = decodeWire(message);
  if (batch.type !== "userBatch") throw new MeterAgentError("MeterAgent: corrupt user batch");
  return {
    ...state.figures,
    entries,
    pseudonyms: batch.slots.map((s) => s.entry.id),
    userBatch: batch.slots,
  };
}

/** A directory over `publicKeys[i]` ↔ `addresses[i]`, plus CC's key → "cc". */
export function relayDirectory(
  publicKeys: readonly Uint8Array[],
  addresses: readonly string[],
  cc?: { readonly publicKey: Uint8Array; readonly address: string },
): RelayDirectory {
  const byKey = new Map<string, string>();
  publicKeys.forEach((pk, i) => byKey.set(bytesToHex(pk), addresses[i]));
  if (cc) byKey.set(bytesToHex(cc.publicKey), cc.address);
  return {
    publicKeys,
    addressOf: (nodeId) => byKey.get(bytesToHex(nodeId)),
  };
}
