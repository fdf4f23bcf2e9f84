// A crashing control center (issue 11 "Fault injection … lives beside the agents as adversary
// wrappers"; DESIGN §3 "Persistence"): wraps the CC service of a composition root and kills it as
// a process exit would — the service stops where it is, its store handle is closed, nothing is
// flushed — then starts a fresh one from the same store file. Two moments (`--crash J:PHASE`):
//   - admission: after `afterReports` onion packets reached CC in interval J (counted on CC's
//     transport, outside the agent);
//   - posting: after CC's first OCD batch of interval J, or before the seal when J has one batch
//     (`ControlCenterAgent.crashAfterBatches`).
// The restarted CC resumes from its store (meters, K_i, admitted reports) and the chain (opened,
// posted, sealed): the final ledgers equal those of the same seed without the crash.
import { ControlCenterCrash, type ControlCenterAgent } from "../cc/agent.ts";
import type { ControlCenterService, ControlCenterStatus } from "../cc/service.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Transport } from "../runtime/network.ts";
import { TransportTap } from "../runtime/transport-tap.ts";
import { WIRE_TYPE } from "../protocol/wire/index.ts";
import { WIRE_HEADER_BYTES } from "../protocol/wire/codec.ts";

/** One incarnation of CC, as the composition root builds it (store opened, agent restored). */
export interface ControlCenterIncarnation {
  readonly agent: ControlCenterAgent;
  readonly service: ControlCenterService;
  /** Closes the store handle (what a process exit does); must not throw. */
  close(): void;
}

export interface CrashPlan {
  readonly interval: number;
  readonly phase: "admission" | "posting";
  /** Admission: onion packets CC receives in `interval` before it dies, default 1. */
  readonly afterReports?: number;
}

/**
 * Runs CC incarnations from `open` (each over the tapped transport it is given) and kills the
 * current one once, as `plan` says. `done` resolves when the last incarnation has sealed every
 * interval; `restarted` says whether the crash fired.
 */
export class CrashingControlCenter {
  readonly #open: (transport: Transport) => ControlCenterIncarnation;
  readonly #plan: CrashPlan;
  /** CC's link with a tap counting the onion packets CC handled (outside the agent). */
  readonly #transport: TransportTap;
  readonly #clock: Clock;
  #current: ControlCenterIncarnation;
  #packets = 0;
  #fired = false;
  #finished!: Promise<void>;
  #resolve!: () => void;
  #reject!: (err: unknown) => void;

  constructor(
    open: (transport: Transport) => ControlCenterIncarnation,
    plan: CrashPlan,
    components: { readonly transport: Transport; readonly clock: Clock },
  ) {
    this.#open = open;
    this.#plan = plan;
    this.#clock = components.clock;
    this.#transport = new TransportTap(components.transport, {
      afterHandle: (_from, bytes) => {
        if (isOnionMessage(bytes)) this.#onPacket();
      },
    });
    this.#current = open(this.#transport);
    this.#finished = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#finished.catch(() => {});
  }

  /** True once the crash fired and CC restarted from its store. */
  get restarted(): boolean {
    return this.#fired;
  }

  /** The CC running now. */
  get current(): ControlCenterIncarnation {
    return this.#current;
  }

  get done(): Promise<void> {
    return this.#finished;
  }

  async start(): Promise<void> {
    await this.#startCurrent();
  }

  async stop(): Promise<void> {
    await this.#current.service.stop();
    this.#current.close();
  }

  status(): ControlCenterStatus & { readonly restarted: boolean } {
    return { ...this.#current.service.status(), restarted: this.#fired };
  }

  async #startCurrent(): Promise<void> {
    const { service, agent } = this.#current;
    if (!this.#fired && this.#plan.phase === "posting") {
      // Armed once interval J is under way (not earlier: it would fire in J − 1's posting); the
      // agent checks the crash point before each batch and before the seal.
      const arm = (): void => {
        const s = service.status();
        if (
          s.interval === this.#plan.interval &&
          (s.phase === "admission" || s.phase === "posting")
        ) {
          agent.crashAfterBatches(1);
          return;
        }
        if (s.interval > this.#plan.interval || ["done", "failed", "stopped"].includes(s.phase))
          return;
        this.#clock.setTimeout(arm, 50);
      };
      arm();
    }
    await service.start();
    service.done.then(
      () => this.#resolve(),
      (err: unknown) => {
        if (err instanceof ControlCenterCrash && !this.#fired) void this.#restart();
        else this.#reject(err);
      },
    );
  }

  #onPacket(): void {
    const plan = this.#plan;
    if (this.#fired || plan.phase !== "admission") return;
    const s = this.#current.service.status();
    if (s.interval !== plan.interval || s.phase !== "admission") return;
    this.#packets++;
    // Killed between two messages, as a process is.
    if (this.#packets === (plan.afterReports ?? 1)) {
      this.#clock.setTimeout(() => void this.#restart(), 0);
    }
  }

  async #restart(): Promise<void> {
    if (this.#fired) return;
    this.#fired = true;
    try {
      await this.#current.service.stop();
      this.#current.close();
      this.#current = this.#open(this.#transport);
      await this.#startCurrent();
    } catch (err) {
      this.#reject(err);
    }
  }
}

/** A wire message carrying an onion packet (type byte only; its body is the relay's business). */
function isOnionMessage(bytes: Uint8Array): boolean {
  return bytes.length > WIRE_HEADER_BYTES && bytes[1] === WIRE_TYPE.onionPacket;
}
