// The control center on the wire (issue 11; docs/briefs PLAN "Who drives time": CC drives): the
// store-backed `ControlCenterAgent` (agent.ts) driven by wire messages on a `Transport` and by the
// interval schedule on a `Clock`. The same service runs on the VirtualClock + MemoryNetwork
// (simulator) and on the SystemClock + SocketTransport (gridledger cc).
//
// Schedule (DESIGN §3, Oksuz §5; 1-based interval numbers):
//   1. registration: waits for `meterRegistration` from `meters` meters (or finds them in its
//      store after a restart) and registers them on-chain once (agent.registerMeters);
//   2. for j = first…last: opens j on-chain and for admission (agent.openInterval; the onion epoch
//      is j), announces it to every meter, then admits onions for `windowMs`: each admission is
//      answered with the meter's cumulative receipt, each refusal that names a meter with its
//      receipt or a resend request; every `resendMs` meters with reports still missing get the
//      announcement and their receipt again (lost on a lossy link). The window ends early once
//      every slot of every meter is in: CC announces j again with a window of 0 ms, so meters
//      hand their users the batch now;
//      For the last interval, with a closing grace (`closingGraceMs`, issue 14), CC then stops
//      admitting j (every report of j is refused, as once it posts) and waits that long on its
//      clock, sending nothing to meters, before it posts: the meters close their windows and hand
//      their users the batch meanwhile (the simulator retires its fleet then, before the posting);
//   3. posts and seals j (agent.postAndSeal: resumes after the chain's last entry);
//   4. relayed mode (Oksuz §5): SP sends DAP entries and bill batches; CC posts what the chain
//      does not hold yet and closes billing once the bills cover the OCD ledger. Posting is
//      idempotent against the chain, so SP may resend and CC may restart.
import { sleep, type Clock } from "../runtime/clock.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import type { Transport } from "../runtime/network.ts";
import type { ProgressSink } from "../runtime/progress.ts";
import { INTERVAL_STATE, type SignedBillBatch } from "../protocol/billing.ts";
import type { LedgerEntry } from "../protocol/entry.ts";
import {
  decodeWire,
  decodeWireOr,
  encodeWire,
  type MeterRegistration,
} from "../protocol/wire/index.ts";
import type { ControlCenterAgent } from "./agent.ts";
import type { Admission } from "./control-center.ts";
import type { ControlCenterChainClient } from "./chain-client.ts";

export interface ControlCenterServiceInit {
  /** Meters to wait for before registering them on-chain. */
  readonly meters: number;
  /** Intervals to run: `firstInterval … firstInterval + intervals − 1`. */
  readonly intervals: number;
  /** Default 1 (interval numbers are 1-based). */
  readonly firstInterval?: number;
  /** Unix time (s) of interval `firstInterval`'s start. */
  readonly startTime: bigint;
  readonly intervalSeconds: number;
  readonly categories: readonly bigint[];
  /** `K`, slots per meter per interval (DESIGN §7). */
  readonly slots: number;
  /** Admission window per interval on the clock (ms). */
  readonly windowMs: number;
  /** Period of repeated announcements and receipts (ms), default 2400. */
  readonly resendMs?: number;
  /** Transport address of meter i, default `meter-${i}`. */
  readonly meterAddress?: (index: number) => string;
  /** SP's address (only SP's DAP entries and bill batches are taken), default "sp". */
  readonly spAddress?: string;
  /**
   * Batched admission (issue 14 "group commit"): onion packets arriving within this many ms on the
   * clock are admitted together with `ControlCenterAgent.onPackets` — one store transaction, one
   * fsync, acknowledged after it commits — instead of one durable append each (≈ 64 reports/s on a
   * loaded disk at 200 meters in the devnet). Undefined: each packet at once (`onPacket`).
   */
  readonly admissionBatchMs?: number;
  /**
   * Closing grace (issue 14, docs/SCALE.md "Retiring the fleet before the posting"): ms on the
   * clock that CC waits, once the window of the run's last interval (`firstInterval + intervals −
   * 1`) has ended for every meter (its final announcement, or the deadline), before it posts that
   * interval's OCD; earlier intervals post at once, as without a grace (their timeline, and so a
   * lossy run's draws, stay as they were; after the last window nothing else follows, which is
   * when a simulator can retire its fleet). Admission of the interval ends when the grace
   * begins: a report arriving during the grace is refused as one arriving while CC posts (`ControlCenter.endAdmission`: `interval-not-open`, no receipt, no resend
   * request), so the grace changes no admission and no ledger; what was acknowledged was durable
   * before (a batch being admitted when the window ends is admitted, and acknowledged, first).
   * The phase is "posting" during the grace and {@link ControlCenterService.windowClosed} names
   * the interval. CC sends meters nothing during it. A restart during the grace is a restart
   * during the posting (the interval is announced again; the store holds every admission).
   * Default 0: no grace (CC posts at once).
   */
  readonly closingGraceMs?: number;
}

export interface ControlCenterServiceComponents {
  readonly agent: ControlCenterAgent;
  readonly chain: ControlCenterChainClient;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger?: Logger;
  /**
   * Counted progress (issue 14: a city's phases last minutes): "registrations heard" as they
   * arrive, "registrations stored" and "meters registered on-chain" (agent.registerMeters),
   * "reports admitted" of meters × K per interval, "OCD slots posted" (agent.postAndSeal), and in
   * relayed mode "bills posted" of
   * the interval's OCD entries (each restarts every interval).
   */
  readonly step?: ProgressSink;
}

export type ControlCenterPhase =
  "idle" | "registration" | "admission" | "posting" | "done" | "stopped" | "failed";

export interface ControlCenterStatus {
  readonly interval: number;
  readonly phase: ControlCenterPhase;
  readonly registered: number;
  /** Reports admitted in the current interval. */
  readonly admitted: number;
  /** The last interval sealed by this service (0 before the first). */
  readonly sealed: number;
  /** Wire messages that did not decode or came from a sender not allowed to send them. */
  readonly refused: number;
}

export class ControlCenterServiceError extends Error {
  override name = "ControlCenterServiceError";
}

/** Thrown inside the schedule when `stop()` interrupts it (not an error of the run). */
class Stopped extends Error {}

export class ControlCenterService {
  readonly #init: ControlCenterServiceInit;
  readonly #c: ControlCenterServiceComponents;
  readonly #logger: Logger;
  readonly #registrations = new Map<number, MeterRegistration>();
  /** Registrations heard from meters not registered in CC's store (counted as they arrive). */
  #heardUnregistered = 0;
  #registrationArrived?: () => void;
  #phase: ControlCenterPhase = "idle";
  #interval = 0;
  #sealed = 0;
  #windowClosed = 0;
  #refused = 0;
  #running = false;
  /** Chain writes one at a time, in arrival order (nonces; DAP before bills). */
  #writes: Promise<unknown> = Promise.resolve();
  #done?: Promise<void>;
  /** Relayed mode: SP's DAP entries and bill batches the chain refused, in order (the evidence). */
  readonly refusedPosts: {
    readonly interval: number;
    readonly what: "dap" | "bills";
    readonly error: string;
  }[] = [];

  constructor(init: ControlCenterServiceInit, components: ControlCenterServiceComponents) {
    if (!Number.isInteger(init.meters) || init.meters < 1) {
      throw new ControlCenterServiceError("ControlCenterService: meters must be ≥ 1");
    }
    if (!Number.isInteger(init.intervals) || init.intervals < 1) {
      throw new ControlCenterServiceError("ControlCenterService: intervals must be ≥ 1");
    }
    if (!(init.windowMs > 0)) {
      throw new ControlCenterServiceError("ControlCenterService: windowMs must be positive");
    }
    if (init.closingGraceMs !== undefined && !(init.closingGraceMs >= 0)) {
      throw new ControlCenterServiceError("ControlCenterService: closingGraceMs must be ≥ 0");
    }
    this.#init = init;
    this.#c = components;
    this.#logger = components.logger ?? silentLogger;
  }

  get agent(): ControlCenterAgent {
    return this.#c.agent;
  }

  /** Resolves when the last interval is sealed; rejects when the schedule failed. */
  get done(): Promise<void> {
    if (!this.#done) throw new ControlCenterServiceError("ControlCenterService: not started");
    return this.#done;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const { transport } = this.#c;
    transport.handle((from, bytes) => this.#onMessage(from, bytes));
    transport.start();
    this.#done = this.#run().catch((err) => {
      if (err instanceof Stopped) return;
      this.#phase = "failed";
      throw err;
    });
    // Surfaced through `done`; keep an unobserved rejection from crashing the process.
    this.#done.catch(() => {});
  }

  /** Stops the schedule and the transport; the store stays as it is (the agent's owner closes it). */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#c.transport.stop();
    this.#registrationArrived?.();
    if (this.#phase !== "done") this.#phase = "stopped";
    await this.#writes.catch(() => {});
  }

  /**
   * The last interval whose admission this service ended (0 before the first): it admits nothing
   * more of it and sends its meters nothing more about it. With a closing grace
   * (`closingGraceMs` > 0), the run's last interval counts once its window has ended, before the
   * posting; every other interval at its seal (= `status().sealed`).
   */
  get windowClosed(): number {
    return this.#windowClosed;
  }

  status(): ControlCenterStatus {
    return {
      interval: this.#interval,
      phase: this.#phase,
      registered: this.#c.agent.center.meterCount,
      admitted: this.#interval > 0 ? this.#c.agent.center.stats(this.#interval).admitted : 0,
      sealed: this.#sealed,
      refused: this.#refused,
    };
  }

  // ---- schedule -------------------------------------------------------------------------------

  async #run(): Promise<void> {
    const { agent, chain, clock } = this.#c;
    const init = this.#init;
    this.#phase = "registration";
    while (this.#registeredOrHeard() < init.meters) {
      await new Promise<void>((resolve) => (this.#registrationArrived = resolve));
      this.#checkRunning();
    }
    // The registrations are collected inside the write's callback, not in a local of this
    // function: a local captured by a closure lives in the context of `#run`, that is, for the
    // whole run (issue 14: every meter's keys and encrypted K_i, ≈ 0.8 kB per meter).
    await this.#write(() =>
      agent.registerMeters(
        [...this.#registrations.values()]
          .filter((r) => agent.center.basePublicKeyOf(r.index) === undefined)
          .sort((a, b) => a.index - b.index),
        (task, done, total) => this.#c.step?.({ task, done, total }),
      ),
    );
    this.#registrations.clear(); // registered: the store holds them now (bounded memory, issue 14)
    this.#logger.info("meters registered", { meters: agent.center.meterCount });

    const first = init.firstInterval ?? 1;
    for (let j = first; j < first + init.intervals; j++) {
      this.#checkRunning();
      this.#interval = j;
      const progress = await chain.intervalProgress(j);
      if (progress.state >= INTERVAL_STATE.OcdSealed) {
        this.#sealed = j; // sealed before a restart: nothing left to admit
        this.#windowClosed = j;
        continue;
      }
      const start = init.startTime + BigInt((j - first) * init.intervalSeconds);
      const window = { start, end: start + BigInt(init.intervalSeconds) };
      if (agent.epoch < j) agent.rotateEpoch(j);
      await this.#write(() => agent.openInterval(j, window, init.categories));
      this.#phase = "admission";
      const deadline = clock.now() + init.windowMs;
      const resendMs = init.resendMs ?? 2_400;
      this.#announce(j, window, deadline, () => true);
      while (clock.now() < deadline && !this.#allIn(j)) {
        await sleep(clock, Math.min(resendMs, deadline - clock.now()));
        this.#checkRunning();
        if (this.#allIn(j) || clock.now() >= deadline) break;
        // Meters still missing reports: the announcement or a receipt may have been lost.
        this.#announce(j, window, deadline, (i) => agent.receiptOf(j, i).length < init.slots);
      }
      // The window ends for every meter at once (DESIGN §7: batches to users at interval end):
      // when every slot is in before the deadline, CC says so, so no meter waits for the deadline.
      if (clock.now() < deadline) this.#announce(j, window, clock.now(), () => true);
      this.#phase = "posting";
      await this.#admitting; // a batch in flight is admitted (and acknowledged) before the seal
      const graceMs = j === first + init.intervals - 1 ? (init.closingGraceMs ?? 0) : 0;
      if (graceMs > 0) {
        // Admission of j ends here (a report arriving now is refused as during the posting): the
        // grace changes no admission; the meters close their windows meanwhile.
        agent.center.endAdmission(j);
        this.#windowClosed = j;
        await sleep(clock, graceMs);
        this.#checkRunning();
        await this.#admitting; // a batch that arrived during the grace: refused, nothing to ack
      }
      const { zeroSlots } = await this.#write(() =>
        agent.postAndSeal(j, (done, total) =>
          this.#c.step?.({ task: "OCD slots posted", done, total }),
        ),
      );
      this.#sealed = j;
      this.#windowClosed = j;
      this.#logger.info("interval sealed", { interval: j, markers: zeroSlots.markers });
    }
    this.#phase = "done";
  }

  /**
   * Meters registered in the store plus those heard since, in O(1) (issue 14: it counted over every
   * registration heard at each arrival, O(N²) for a city). Valid while waiting for registrations:
   * the store registers no meter before the wait ends.
   */
  #registeredOrHeard(): number {
    return this.#c.agent.center.meterCount + this.#heardUnregistered;
  }

  #allIn(interval: number): boolean {
    const { center } = this.#c.agent;
    return center.completeMeters(interval) + center.excludedMeters().length >= center.meterCount;
  }

  #announce(
    interval: number,
    window: { start: bigint; end: bigint },
    deadline: number,
    which: (meter: number) => boolean,
  ): void {
    const { agent, clock } = this.#c;
    const windowMs = Math.max(0, Math.round(deadline - clock.now()));
    const announcement = encodeWire({
      type: "intervalAnnouncement",
      announcement: { interval, start: window.start, end: window.end, windowMs },
    });
    for (let i = 0; i < agent.center.meterCount; i++) {
      if (!which(i) || agent.center.isExcluded(i)) continue;
      const to = this.#meterAddress(i);
      this.#c.transport.send(to, announcement);
      const got = agent.receiptOf(interval, i);
      if (got.length > 0) this.#sendReceipt(i, interval, got);
    }
  }

  #meterAddress(i: number): string {
    return this.#init.meterAddress?.(i) ?? `meter-${i}`;
  }

  /** CC's cumulative receipt: `counters` ascending (`ControlCenterAgent.receiptOf`). */
  #sendReceipt(meter: number, interval: number, counters: readonly number[]): void {
    this.#c.transport.send(
      this.#meterAddress(meter),
      encodeWire({ type: "ccReceipt", receipt: { interval, meter, counters } }),
    );
  }

  #checkRunning(): void {
    if (!this.#running) throw new Stopped();
  }

  /** Runs a chain write after the previous ones (one signer: one nonce sequence). */
  #write<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#writes.then(op, op);
    this.#writes = next.catch(() => {});
    return next;
  }

  // ---- messages -------------------------------------------------------------------------------

  /** Receipt, resend request or repeated receipt for one admission (as CC's direct channel). */
  #answer(admission: Admission | undefined): void {
    if (!admission) return;
    const { agent } = this.#c;
    if (admission.accepted) {
      const interval = admission.entry.interval;
      this.#c.step?.({
        task: "reports admitted",
        done: agent.center.stats(interval).admitted,
        total: agent.center.meterCount * this.#init.slots,
      });
      const got = agent.receiptOf(interval, admission.meter);
      if (got.length > 0) this.#sendReceipt(admission.meter, interval, got);
    } else if (admission.resend) {
      const { meter, interval, counter } = admission.resend;
      this.#c.transport.send(
        this.#meterAddress(meter),
        encodeWire({ type: "ccResendRequest", request: { meter, interval, counter } }),
      );
    } else if (admission.meter !== undefined && admission.reason === "replay") {
      // A copy of an admitted report: its receipt was lost, send it again.
      const interval = this.#interval;
      const got = agent.receiptOf(interval, admission.meter);
      if (got.length > 0) this.#sendReceipt(admission.meter, interval, got);
    }
  }

  #pendingPackets: Uint8Array[] = [];
  #flushScheduled = false;
  /** The batch being admitted: the next one waits for it, so admissions keep arrival order. */
  #admitting: Promise<void> = Promise.resolve();

  #queuePacket(packet: Uint8Array): void {
    this.#pendingPackets.push(packet);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#c.clock.setTimeout(() => {
      this.#flushScheduled = false;
      const batch = this.#pendingPackets;
      this.#pendingPackets = [];
      this.#admitting = this.#admitting.then(async () => {
        try {
          for (const { admission } of await this.#c.agent.onPackets(batch)) this.#answer(admission);
        } catch (err) {
          // Nothing of a failed batch was acknowledged; the meters resend (receipts tell them).
          this.#logger.warn("admission batch failed", {
            packets: batch.length,
            error: describe(err),
          });
        }
      });
    }, this.#init.admissionBatchMs ?? 0);
  }

  #onMessage(from: string, bytes: Uint8Array): void {
    const message = decodeWireOr(bytes, (err) => {
      this.#refused++;
      this.#logger.debug("wire message refused", { from, error: err.message });
    });
    if (message === undefined) return;
    const { agent } = this.#c;
    switch (message.type) {
      case "meterRegistration": {
        const r = message.registration;
        // A meter registers from its own address; CC checks the box opens under pk_i ‖ B_i later.
        if (from !== this.#meterAddress(r.index) || r.index >= this.#init.meters) {
          this.#refused++;
          return;
        }
        if (!this.#registrations.has(r.index)) {
          this.#registrations.set(r.index, r);
          if (agent.center.basePublicKeyOf(r.index) === undefined) this.#heardUnregistered++;
          this.#c.step?.({
            task: "registrations heard",
            done: this.#registeredOrHeard(),
            total: this.#init.meters,
          });
        }
        this.#registrationArrived?.();
        return;
      }
      case "onionPacket": {
        if (this.#init.admissionBatchMs !== undefined) {
          this.#queuePacket(message.packet);
          return;
        }
        this.#answer(agent.onPacket(message.packet).admission);
        return;
      }
      case "dapEntries":
        if (from !== (this.#init.spAddress ?? "sp")) break;
        void this.#write(() => this.#postDap(message.dap.interval, message.dap.entries)).catch(
          (err) => {
            this.refusedPosts.push({
              interval: message.dap.interval,
              what: "dap",
              error: describe(err),
            });
            this.#logger.warn("DAP not posted", { error: describe(err) });
          },
        );
        return;
      case "billBatch":
        if (from !== (this.#init.spAddress ?? "sp")) break;
        this.#queueBills(bytes, message.batch.interval);
        return;
    }
    this.#refused++;
  }

  /**
   * Queues a `billBatch` wire message (`bytes`, of interval `interval`) for posting: held as its
   * bytes (a copy: the transport's buffer is not CC's) until its turn, and decoded again then
   * (issue 14: SP sends a city's batches at once; decoded — an object, a view and three bigints
   * per bill — they waited ≈ 0.4 kB per bill in the write queue). A method of its own, so the
   * queued call holds no context of `#onMessage` (where the decoded message lives).
   */
  #queueBills(bytes: Uint8Array, interval: number): void {
    const wire = bytes.slice();
    void this.#write(() => this.#postBills(billBatchOf(wire))).catch((err) => {
      this.refusedPosts.push({ interval, what: "bills", error: describe(err) });
      this.#logger.warn("bill batch not posted", { error: describe(err) });
    });
  }

  /** Posts SP's DAP entries unless the chain has them (a resend, or a restart). */
  async #postDap(interval: number, entries: readonly LedgerEntry[]): Promise<void> {
    const p = await this.#c.chain.intervalProgress(interval);
    if (p.state !== INTERVAL_STATE.OcdSealed || p.dapCount > 0) return;
    await this.#c.chain.postDap(interval, entries);
    // Nothing to bill (no real entry): the interval is final once priced.
    if (p.ocdCount === 0) await this.#c.chain.closeBilling(interval);
  }

  /** Posts a bill batch at the chain's bill count, and closes billing once they cover the OCD. */
  async #postBills(batch: SignedBillBatch): Promise<void> {
    const { chain } = this.#c;
    let p = await chain.intervalProgress(batch.interval);
    const billing = p.state === INTERVAL_STATE.Priced || p.state === INTERVAL_STATE.Billing;
    if (billing && p.billCount === batch.firstIndex) {
      await chain.postBills(batch);
      p = await chain.intervalProgress(batch.interval);
      this.#c.step?.({ task: "bills posted", done: p.billCount, total: p.ocdCount });
    }
    if (
      (p.state === INTERVAL_STATE.Priced || p.state === INTERVAL_STATE.Billing) &&
      p.billCount === p.ocdCount
    ) {
      await chain.closeBilling(batch.interval);
    }
  }
}

/** The batch of a `billBatch` wire message that decoded before (so it decodes the same). */
function billBatchOf(wire: Uint8Array): SignedBillBatch {
  const message = decodeWire(wire);
  if (message.type !== "billBatch") {
    throw new ControlCenterServiceError(`a billBatch message decoded as ${message.type}`);
  }
  return message.batch;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
