// BBNP user agent (DESIGN §4.7; issue 11 "One agent per role"): one smart meter of the BBNP
// protocol on a `Transport`. Holds only its own s_i (inside `BbnpUser`). On the gateway's round
// announcement (`bbnpRoundOpen`) it reads the interval's energy from its injected reading source,
// masks and tags it and sends the `bbnpReport`; on a `bbnpRevealRequest` (recovery, DESIGN §4.7
// "Dropouts") it reveals AUI_{i,d}(t) for the named missing neighbours, each in its own
// `bbnpReveal`. Every message is a wire codec (offchain/protocol/wire/). No clock is needed: the
// user only answers.
import { BbnpUser, type BbnpUserComponents } from "./user.ts";
import type { BbnpPublicParams } from "../protocol/bbnp/params.ts";
import type { BbnpReport, MaskReveal } from "../protocol/bbnp/report.ts";
import { decodeWireOr, encodeWire, type WireMessage } from "../protocol/wire/index.ts";
import { stopTransport, type Transport } from "../runtime/network.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";

export interface BbnpUserAgentInit {
  readonly params: BbnpPublicParams;
  readonly userId: number;
  /** s_i from the trusted authority's set-up, for this key epoch. */
  readonly secret: bigint;
  /** The gateway's transport address (default "gateway"). */
  readonly gateway?: string;
}

export interface BbnpUserAgentComponents {
  readonly transport: Transport;
  /**
   * The interval's consumption in Wh for round t (1-based), in [0, maxReading]; undefined: no
   * reading this round (the meter sends nothing). E.g. the synthetic load model.
   */
  readonly reading: (round: bigint) => bigint | undefined;
  /** Precomputed DH points (set-up tool shortcut, see `BbnpUserComponents`); default G1 muls. */
  readonly dhPoint?: BbnpUserComponents["dhPoint"];
  readonly logger?: Logger;
  /** Wall-clock milliseconds for the agent's own timings (default: none, all zero). */
  readonly stopwatch?: () => number;
}

/** Per-round counters and timings (ms of the injected stopwatch). */
export interface BbnpUserRoundStats {
  readonly round: bigint;
  /** Key material for the round's neighbours (`BbnpUser.prepare`). */
  prepareMs: number;
  /** Masking and tagging. */
  reportMs: number;
  reported: boolean;
  revealed: number;
}

export class BbnpUserAgent {
  readonly userId: number;
  readonly address: string;
  readonly #user: BbnpUser;
  readonly #components: BbnpUserAgentComponents;
  readonly #gateway: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  #stats: BbnpUserRoundStats | undefined;
  /** The last round's report, resent as is when the gateway announces that round again. */
  #lastReport: BbnpReport | undefined;
  /** The last round's reveals by peer, resent as is when asked again (a restarted gateway). */
  #sentReveals = new Map<number, MaskReveal>();
  #running = false;
  /** Messages that failed to decode or that this role does not take. */
  refused = 0;

  constructor(init: BbnpUserAgentInit, components: BbnpUserAgentComponents) {
    this.#user = new BbnpUser(
      { params: init.params, userId: init.userId, secret: init.secret },
      { dhPoint: components.dhPoint },
    );
    this.userId = init.userId;
    this.#components = components;
    this.address = components.transport.address;
    this.#gateway = init.gateway ?? "gateway";
    this.#logger = (components.logger ?? silentLogger).child(`bbnp-user-${init.userId}`);
    this.#now = components.stopwatch ?? (() => 0);
  }

  /** Starts answering the gateway. */
  async start(): Promise<void> {
    if (this.#running) return;
    const t = this.#components.transport;
    t.handle((from, bytes) => this.#onMessage(from, bytes));
    t.start();
    this.#running = true;
  }

  /** Stops the transport; idempotent. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await stopTransport(this.#components.transport);
  }

  /** The last round's counters (undefined before the first announcement). */
  get lastRound(): Readonly<BbnpUserRoundStats> | undefined {
    return this.#stats;
  }

  status(): Readonly<Record<string, unknown>> {
    return {
      userId: this.userId,
      round: this.#stats ? Number(this.#stats.round) : 0,
      reported: this.#stats?.reported ?? false,
      revealed: this.#stats?.revealed ?? 0,
    };
  }

  #send(message: WireMessage): void {
    this.#components.transport.send(this.#gateway, encodeWire(message));
  }

  #onMessage(from: string, bytes: Uint8Array): void {
    const m = decodeWireOr(bytes, (e) => {
      this.refused++;
      this.#logger.warn("undecodable message", { from, error: e.message });
    });
    if (m === undefined) return;
    // Only the gateway speaks to users; anything else is dropped.
    if (from !== this.#gateway) {
      this.refused++;
      return;
    }
    if (m.type === "bbnpRoundOpen") this.#onRoundOpen(m.open.round);
    else if (m.type === "bbnpRevealRequest") this.#onRevealRequest(m.request);
    else this.refused++;
  }

  #onRoundOpen(round: bigint): void {
    // Rounds strictly increase (BbnpUser refuses a second report for a round). The same round
    // announced again (a gateway restarted before it closed collection: offchain/gateway/
    // journal.ts) gets the SAME report again, byte for byte: it tells the gateway nothing new,
    // whereas a second report under the same masks would hand it m − m'.
    if (round === this.#user.lastRound && this.#lastReport) {
      this.#send({ type: "bbnpReport", report: this.#lastReport });
      return;
    }
    if (round <= this.#user.lastRound) return;
    const stats: BbnpUserRoundStats = {
      round,
      prepareMs: 0,
      reportMs: 0,
      reported: false,
      revealed: 0,
    };
    this.#stats = stats;
    const reading = this.#components.reading(round);
    if (reading === undefined) return;
    let mark = this.#now();
    this.#user.prepare(round);
    stats.prepareMs = this.#now() - mark;
    mark = this.#now();
    const report = this.#user.report(round, reading);
    this.#lastReport = report;
    this.#sentReveals = new Map();
    stats.reportMs = this.#now() - mark;
    stats.reported = true;
    this.#send({ type: "bbnpReport", report });
  }

  #onRevealRequest(request: { round: bigint; userId: number; peers: readonly number[] }): void {
    if (request.userId !== this.userId) {
      this.refused++;
      return;
    }
    // A mask already revealed for this round is resent as it was (a restarted gateway asking its
    // open recovery pass again): the same value reveals nothing new. Only new peers go to BbnpUser,
    // whose checks (last reported round, neighbours only, each once) stay in force.
    const again: MaskReveal[] = [];
    const fresh: number[] = [];
    for (const d of request.peers) {
      const sent = request.round === this.#user.lastRound ? this.#sentReveals.get(d) : undefined;
      if (sent) again.push(sent);
      else fresh.push(d);
    }
    for (const reveal of again) this.#send({ type: "bbnpReveal", reveal });
    if (fresh.length === 0) return;
    let reveals;
    try {
      reveals = this.#user.revealMasks(request.round, fresh);
    } catch (e) {
      // Not our round, a peer that is not our neighbour, or a second request for the same mask:
      // refused by BbnpUser (its checks keep a recovery from opening another round).
      this.refused++;
      this.#logger.warn("reveal request refused", {
        round: Number(request.round),
        error: e instanceof Error ? e.message : String(e),
      });
      return;
    }
    for (const reveal of reveals) {
      this.#sentReveals.set(reveal.peer, reveal);
      this.#send({ type: "bbnpReveal", reveal });
    }
    if (this.#stats && this.#stats.round === request.round) this.#stats.revealed += reveals.length;
  }
}
