// User agent (issue 11 "One agent per role"; Oksuz 2020 §5 "Bill calculation", Remark 5; DESIGN
// §7): the household's pure `User` verifier fed by its meter's user batch over the wire (pairing
// channel) and by the chain (injected UserChainClient, polled on the injected clock). Once an
// interval is final on-chain and its batch has arrived, the user verifies its bill and keeps the
// check; a missing batch or a dispute is reported, never hidden. A verified interval's batch is
// released then (only the check is needed); a disputed one's stays, the evidence (issue 14).
import type { Clock } from "../runtime/clock.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import type { Transport } from "../runtime/network.ts";
import { INTERVAL_STATE } from "../protocol/billing.ts";
import { decodeWireOr, encodeWire } from "../protocol/wire/index.ts";
import type { UserBatchSlot } from "../protocol/user-batch.ts";
import type { UserChainClient } from "./chain-client.ts";
import type { User, UserIntervalCheck } from "./user.ts";

export interface UserAgentInit {
  /** The meter's address: only its user batches are taken ("meter-<i>"). */
  readonly meterAddress: string;
  /** Intervals to verify: `firstInterval … firstInterval + intervals − 1`. */
  readonly intervals: number;
  /** Default 1. */
  readonly firstInterval?: number;
  /** Chain polling period on the clock (ms), default 1000. */
  readonly pollMs?: number;
  /**
   * How long after an interval is final on-chain the user still waits for its meter's batch
   * (ms); then it records the interval as disputed ("no batch from the meter") and goes on.
   * Default: waits for ever (a service keeps waiting for its meter).
   */
  readonly batchTimeoutMs?: number;
}

export interface UserAgentComponents {
  readonly user: User;
  readonly chain: UserChainClient;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger?: Logger;
}

export interface UserAgentStatus {
  /** The last interval checked (0 before the first). */
  readonly interval: number;
  readonly billsVerified: number;
  readonly billsDisputed: number;
  readonly batchesReceived: number;
  readonly refused: number;
}

export class UserAgentError extends Error {
  override name = "UserAgentError";
}

export class UserAgent {
  readonly #init: UserAgentInit;
  readonly #c: UserAgentComponents;
  readonly #logger: Logger;
  /**
   * Intervals whose batch arrived, in arrival order (the batch itself is kept, compact, by
   * `User`): an exact array (`concat`), not a Set (issue 14: a Set's table was ≈ 0.1 kB per household).
   */
  #batches: readonly number[] = [];
  readonly #checks: UserIntervalCheck[] = [];
  #interval = 0;
  #refused = 0;
  #running = false;
  #done?: Promise<void>;
  #settle?: { readonly resolve: () => void; readonly reject: (err: unknown) => void };
  /** The interval being checked, and since when (clock ms) it has been seen final. */
  #j = 0;
  #finalSince?: number;
  /** Called with every batch as it arrives (the simulator's pseudonym file hook). */
  onBatch?: (interval: number, slots: readonly UserBatchSlot[]) => void;

  constructor(init: UserAgentInit, components: UserAgentComponents) {
    if (!Number.isInteger(init.intervals) || init.intervals < 1) {
      throw new UserAgentError("UserAgent: intervals must be ≥ 1");
    }
    this.#init = init;
    this.#c = components;
    this.#logger = components.logger ?? silentLogger;
  }

  /** The checks so far, one per interval in order. */
  get checks(): readonly UserIntervalCheck[] {
    return this.#checks;
  }

  /** Resolves when every interval is checked. */
  get done(): Promise<void> {
    if (!this.#done) throw new UserAgentError("UserAgent: not started");
    return this.#done;
  }

  /**
   * Starts receiving and polling the chain: the first poll now, or `firstPollInMs` later on the
   * clock (a household built after the run's start — the simulator's households made on their
   * first batch, issue 14 — joins the polls of the households that have polled since the start,
   * on the same instants). Everything it does runs before the first `await`: when this returns
   * its promise, the agent is started. Throws UserAgentError for a negative or non-finite delay.
   */
  async start(options: { readonly firstPollInMs?: number } = {}): Promise<void> {
    const delay = options.firstPollInMs ?? 0;
    if (!Number.isFinite(delay) || delay < 0) {
      throw new UserAgentError("UserAgent: firstPollInMs must be a finite number ≥ 0");
    }
    if (this.#running) return;
    this.#running = true;
    const { transport } = this.#c;
    transport.handle((from, bytes) => this.#onMessage(from, bytes));
    transport.start();
    this.#j = this.#init.firstInterval ?? 1;
    this.#done = new Promise<void>((resolve, reject) => (this.#settle = { resolve, reject }));
    this.#done.catch(() => {});
    if (delay === 0) void this.#poll();
    else this.#c.clock.setTimeout(() => void this.#poll(), delay);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#c.transport.stop();
  }

  status(): UserAgentStatus {
    return {
      interval: this.#interval,
      billsVerified: this.#checks.filter((c) => c.verified).length,
      billsDisputed: this.#checks.filter((c) => !c.verified).length,
      batchesReceived: this.#batches.length,
      refused: this.#refused,
    };
  }

  /**
   * A batch this household received before a restart (its service's store): kept as if it had
   * just arrived from the meter (no receipt is sent). Ignored if the interval already has one.
   */
  restoreBatch(interval: number, slots: readonly UserBatchSlot[]): void {
    if (this.#batches.includes(interval)) return;
    this.#batches = this.#batches.concat([interval]);
    this.#c.user.receiveBatch(interval, slots);
  }

  #onMessage(from: string, bytes: Uint8Array): void {
    const message = decodeWireOr(bytes, () => this.#refused++);
    if (message === undefined) return;
    // The pairing channel: only this household's meter, only user batches.
    if (from !== this.#init.meterAddress || message.type !== "userBatch") {
      this.#refused++;
      return;
    }
    // Confirmed every time (the previous confirmation may have been lost); kept once.
    this.#c.transport.send(
      from,
      encodeWire({ type: "userBatchReceipt", interval: message.interval }),
    );
    if (this.#batches.includes(message.interval)) return;
    this.#batches = this.#batches.concat([message.interval]);
    this.#c.user.receiveBatch(message.interval, message.slots);
    this.onBatch?.(message.interval, message.slots);
  }

  /** Keeps interval `j`'s check; without a batch the interval is disputed, never verified. */
  #record(j: number, check: UserIntervalCheck, noBatch: boolean): void {
    const kept: UserIntervalCheck = noBatch
      ? {
          ...check,
          verified: false,
          disputes: [...check.disputes, `no batch from the meter for interval ${j}`],
        }
      : check;
    this.#checks.push(kept);
    this.#interval = j;
    if (!kept.verified) {
      this.#logger.warn("bill disputed", { interval: j, disputes: kept.disputes });
      return;
    }
    // Verified: only the check is needed now; a disputed interval keeps its batch, the evidence
    // (DESIGN §7; issue 14, `User.releaseBatch`).
    this.#c.user.releaseBatch(j);
  }

  /**
   * Polls the chain for the interval being checked, verifies it once it is final and its batch
   * has arrived (or the batch wait ran out), and goes on with the next interval at once; else
   * polls again `pollMs` later on the clock. Between polls a household holds one timer, not a
   * suspended async loop (issue 14: a generator, its registers, a sleep promise and their
   * reactions, ≈ 0.3 kB per household while a city's bills are posted). Settles `done`: resolved
   * after the last interval or once stopped, rejected with a chain or check error.
   */
  async #poll(): Promise<void> {
    const { chain, clock, user } = this.#c;
    const last = (this.#init.firstInterval ?? 1) + this.#init.intervals - 1;
    const timeoutMs = this.#init.batchTimeoutMs;
    try {
      for (;;) {
        if (!this.#running || this.#j > last) return this.#settle!.resolve();
        const j = this.#j;
        const waitedOut =
          timeoutMs !== undefined &&
          this.#finalSince !== undefined &&
          clock.now() - this.#finalSince >= timeoutMs;
        if (
          this.#batches.includes(j) ||
          waitedOut ||
          (timeoutMs !== undefined && this.#finalSince === undefined)
        ) {
          // A storage read while the interval is not final (when the client has it); the interval
          // in full once it is.
          const state = chain.intervalState && (await chain.intervalState(j));
          const report =
            state === undefined || state === INTERVAL_STATE.Final
              ? await chain.readInterval(j)
              : undefined;
          if (report?.state === INTERVAL_STATE.Final) {
            this.#finalSince ??= clock.now();
            if (this.#batches.includes(j) || waitedOut) {
              this.#record(j, user.verifyInterval(report), !this.#batches.includes(j));
              this.#j = j + 1;
              this.#finalSince = undefined;
              continue;
            }
          }
        }
        clock.setTimeout(() => void this.#poll(), this.#init.pollMs ?? 1_000);
        return;
      }
    } catch (err) {
      this.#settle!.reject(err);
    }
  }
}
