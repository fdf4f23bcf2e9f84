// Gateway agent (DESIGN §4.7, §4.8, §5; issue 11 "One agent per role"): the `BbnpGateway` state
// machine on a `Transport`, with its clock, its ledger client and the trusted authority's round
// material injected. It drives the BBNP rounds: for round t it announces the round to its users
// (`bbnpRoundOpen`), admits masked reports for `windowMs`, runs the recovery passes
// (`bbnpRevealRequest` → `bbnpReveal`, each pass closed when every requested mask is in or after
// `revealWindowMs`), asks the TA's round-t correction when users are missing, unmasks Σ m_i and
// BLS-signs (t, Σ, |R|) with ITS OWN key s_g: nobody else holds s_g. Then either
//   - gateway mode: `recordRound` on the ledger with its own chain signer, or
//   - consensus mode: opens the primary selection's reveal phase (`selectionOpen`, Θ = its
//     signature on roundRandomMessage(domain, t, head digest), DESIGN §5.4) and sends its signed
//     statement (`consensus gateway`) to every node; the round ends when a node forwards the block
//     the chain accepted (`consensus committed`) or after `commitTimeoutMs`.
// Timeouts are on the injected clock (virtual in the simulator, wall time as a service).
import { blsSign } from "../crypto/bls.ts";
import { equalBytes } from "../crypto/bytes.ts";
import { bbnpSignRound } from "../protocol/aggregation.ts";
import type { BbnpPublicParams } from "../protocol/bbnp/params.ts";
import type { RecoveryPlan } from "../protocol/bbnp/recovery.ts";
import { roundRandomMessage } from "../protocol/primary-selection.ts";
import { decodeWireOr, encodeWire, type WireMessage } from "../protocol/wire/index.ts";
import {
  blockDigest,
  verifyCertificate,
  type ConsensusBlock,
  type QuorumCertificate,
} from "../consensus/block.ts";
import type { Clock, TimerHandle } from "../runtime/clock.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import { stopTransport, type Transport } from "../runtime/network.ts";
import {
  RevealRejectedError,
  RoundAbortedError,
  type AbortReason,
  type RejectionCounts,
  type ReportRejection,
} from "./errors.ts";
import { BbnpGateway, type SignedRoundSum } from "./gateway.ts";
import {
  GatewayJournalError,
  type GatewayJournalEntry,
  type GatewayRoundJournal,
} from "./journal.ts";
import type { BbnpReport, MaskReveal } from "../protocol/bbnp/report.ts";

/** The ledger as the gateway sees it (implemented in chain/aggregation.ts, injected). */
export interface GatewayLedgerClient {
  /**
   * Gateway mode: `recordRound(t, sum, reporters, σ_GW)` with the gateway's own chain signer;
   * resolves with the sum read back from the ledger's `RoundRecorded` event and the gas used.
   */
  recordRound(
    round: bigint,
    sum: bigint,
    reporters: number,
    signature: Uint8Array,
  ): Promise<{ readonly sum: bigint; readonly gasUsed: bigint }>;
  /** Consensus mode: the ledger's head digest (32 bytes; zero before the first block). */
  headDigest(): Promise<Uint8Array>;
}

/**
 * The trusted authority's round material (DESIGN §4.7): β_g(t), a sum of round-t PRF outputs that
 * may be handed out ahead for a window of rounds, and after a recovery the correction Σ_D β_d(t)
 * (at most once per round; throws `CorrectionRefusedError` when refused).
 */
export interface GatewayTaClient {
  blinding(round: bigint): bigint;
  correction(round: bigint, dropped: readonly number[]): bigint | Promise<bigint>;
}

export interface GatewayAgentInit {
  readonly params: BbnpPublicParams;
  /** s_g of this key epoch: the gateway's DH secret and BLS key (DESIGN §4.7). */
  readonly secret: bigint;
  /** aggregationDomain(chainId, ledger). */
  readonly domain: Uint8Array;
  readonly mode: "gateway" | "consensus";
  /** Precomputed enc(s_g·S_i) by user (the TA's set-up); default N G1 multiplications. */
  readonly dhPoints?: readonly Uint8Array[];
  readonly maxRecoveryPasses?: number;
  /** Transport address of user i (default `bbnp-user-${i}`). */
  readonly userAddress?: (user: number) => string;
  /** Consensus mode: the nodes' addresses in registry order (default `node-${j}`, M given). */
  readonly nodes?: readonly string[];
  /**
   * Consensus mode: the nodes' BLS keys (registry order). When given, a forwarded committed block
   * ends the round only if its certificate verifies (quorum, one aggregate check), as the ledger
   * checked it: a node cannot make the gateway believe a round was committed.
   */
  readonly nodeKeys?: readonly Uint8Array[];
  /** Report admission window (ms, default 1,000). */
  readonly windowMs?: number;
  /** Longest wait for one recovery pass's reveals (ms, default 1,000). */
  readonly revealWindowMs?: number;
  /** Consensus mode: longest wait for the committed block (ms, default 60,000). */
  readonly commitTimeoutMs?: number;
}

export interface GatewayAgentComponents {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly ledger: GatewayLedgerClient;
  readonly ta: GatewayTaClient;
  readonly logger?: Logger;
  /** Wall-clock milliseconds for the round timings (default: none, all zero). */
  readonly stopwatch?: () => number;
  /**
   * Where the round's decisions are made durable before they are acted on (offchain/gateway/
   * journal.ts), so that a restarted gateway resumes the open round ({@link GatewayAgent.runRound}
   * with the entries) instead of redoing it. Default: none (the simulator's in-memory gateway).
   */
  readonly journal?: GatewayRoundJournal;
}

/** Wall-clock time spent in the gateway's own work in one round (ms of the stopwatch). */
export interface GatewayRoundTimings {
  /** Opening the round and admitting reports (tag checks, accumulation). */
  gatewayMs: number;
  /** Every recovery pass: plans, reveal checks, the TA's correction. */
  recoveryMs: number;
  /** Unmask and BLS signature. */
  finalizeMs: number;
  /** From the signed statement to the recorded round (gateway mode) or the committed block. */
  chainMs: number;
}

/** What one round came to, from the gateway's side. */
export interface GatewayRoundOutcome {
  readonly round: bigint;
  /** The signed statement (undefined if the round aborted). */
  readonly signed?: SignedRoundSum;
  readonly aborted?: AbortReason;
  /** This round's rejected reports, in arrival order. */
  readonly rejections: readonly ReportRejection[];
  readonly rejected: RejectionCounts;
  /** Masks revealed and accepted in recovery. */
  readonly revealedMasks: number;
  /** Gateway mode: the round as recorded on-chain. */
  readonly recorded?: { readonly sum: bigint; readonly gasUsed: bigint };
  /** Consensus mode: the block the chain accepted, as forwarded by a node. */
  readonly committed?: {
    readonly block: ConsensusBlock;
    readonly certificate: QuorumCertificate;
    readonly order: readonly number[];
  };
  readonly timings: GatewayRoundTimings;
}

export type GatewayAgentPhase = "idle" | "collecting" | "recovery" | "signing" | "committing";

/** A promise that resolves when signalled or when its timeout passes on the injected clock. */
class Wait {
  readonly promise: Promise<void>;
  #resolve!: () => void;
  #timer: TimerHandle | undefined;
  #clock: Clock;

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.promise = new Promise((resolve) => (this.#resolve = resolve));
    this.#timer = clock.setTimeout(() => this.#done(), timeoutMs);
  }

  signal(): void {
    this.#done();
  }

  #done(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#resolve();
  }
}

export class GatewayAgent {
  readonly #init: GatewayAgentInit;
  readonly #c: GatewayAgentComponents;
  readonly #gateway: BbnpGateway;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #users: readonly string[];
  readonly #nodes: readonly string[];
  #running = false;
  #phase: GatewayAgentPhase = "idle";
  #round = 0n;
  #committedRounds = 0;
  // Per-round state of the open round.
  #rejections: ReportRejection[] = [];
  #revealed = 0;
  #timings: GatewayRoundTimings = zeroTimings();
  #passWait: Wait | undefined;
  /** The open recovery pass and the reveals accepted in it. */
  #passOf: RecoveryPlan | undefined;
  #passRevealed = 0;
  #commitWait: Wait | undefined;
  #committed: GatewayRoundOutcome["committed"];
  #signed: SignedRoundSum | undefined;
  /** The open round's accepted reports (for the journal's `closed` entry). */
  #accepted: BbnpReport[] = [];
  /** The reveals accepted in the open recovery pass (for the journal's `pass` entry). */
  #passReveals: MaskReveal[] = [];
  /** Messages that failed to decode or that this role does not take. */
  refused = 0;

  constructor(init: GatewayAgentInit, components: GatewayAgentComponents) {
    this.#init = init;
    this.#c = components;
    this.#logger = (components.logger ?? silentLogger).child("gateway");
    this.#now = components.stopwatch ?? (() => 0);
    const { secret, domain } = init;
    this.#gateway = new BbnpGateway(
      {
        params: init.params,
        secret,
        dhPoints: init.dhPoints,
        maxRecoveryPasses: init.maxRecoveryPasses,
      },
      {
        signRound: (round, sum, reporters) => bbnpSignRound(secret, domain, round, sum, reporters),
        roundBlinding: (round) => components.ta.blinding(round),
      },
    );
    const userAddress = init.userAddress ?? ((i: number) => `bbnp-user-${i}`);
    this.#users = Array.from({ length: init.params.userCount }, (_, i) => userAddress(i));
    this.#nodes = init.mode === "consensus" ? [...(init.nodes ?? [])] : [];
    if (init.mode === "consensus" && this.#nodes.length === 0) {
      throw new RangeError("GatewayAgent: consensus mode needs the nodes' addresses");
    }
  }

  /** Starts receiving (reports, reveals, committed blocks). Rounds are run by {@link runRound}. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#c.transport.handle((from, bytes) => this.#onMessage(from, bytes));
    this.#c.transport.start();
    this.#running = true;
  }

  /** Stops the transport and ends any wait; idempotent. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#passWait?.signal();
    this.#commitWait?.signal();
    await stopTransport(this.#c.transport);
  }

  get phase(): GatewayAgentPhase {
    return this.#phase;
  }

  status(): Readonly<Record<string, unknown>> {
    return { round: Number(this.#round), phase: this.#phase, committed: this.#committedRounds };
  }

  /**
   * Runs round `round` (1-based, strictly increasing) to its end: committed/recorded, or aborted
   * cleanly (too few reporters, recovery exhausted, the TA's correction refused: nothing signed,
   * nothing published). Rejects only on an unexpected failure (e.g. the chain unreachable).
   *
   * `replay`: the round's journal entries from a previous process of this gateway (offchain/gateway/
   * journal.ts). They are applied first, in order, rebuilding exactly the decisions already taken
   * (counted reports, closed recovery passes, the TA's correction, the signed statement); the round
   * then continues from there: collection is re-announced only if it had not closed (to the users
   * whose reports are not in), an open recovery pass is asked again, a signed statement is
   * published again. No decision in the journal is ever taken differently, so one round never has
   * two different recoveries. Throws {@link GatewayJournalError} if the entries do not replay (a
   * corrupt journal, or one written under other keys).
   */
  async runRound(
    round: bigint,
    replay: readonly GatewayJournalEntry[] = [],
  ): Promise<GatewayRoundOutcome> {
    if (!this.#running) throw new Error("GatewayAgent.runRound: not started");
    if (this.#phase !== "idle") throw new Error(`GatewayAgent.runRound: round ${this.#round} open`);
    const { clock } = this.#c;
    const gw = this.#gateway;
    this.#round = round;
    this.#rejections = [];
    this.#revealed = 0;
    this.#timings = zeroTimings();
    this.#committed = undefined;
    this.#signed = undefined;
    this.#accepted = [];
    this.#passReveals = [];
    let mark = this.#now();
    gw.openRound(round);
    this.#timings.gatewayMs += this.#now() - mark;

    let aborted: AbortReason | undefined;
    let correction: bigint | undefined;
    let journalled: SignedRoundSum | undefined;
    let closed = false;
    let plan: RecoveryPlan | undefined;
    try {
      for (const e of replay) {
        if (e.kind === "closed") {
          for (const r of e.reports) {
            const rejected = gw.submitBatch([r]);
            if (rejected.length > 0) {
              throw new GatewayJournalError(
                `round ${round}: journalled report of user ${r.userId} refused (${rejected[0].reason})`,
              );
            }
            this.#accepted.push(r);
          }
          closed = true;
          if (gw.missing.length > 0) plan = gw.beginRecovery();
        } else if (e.kind === "pass") {
          if (!plan) throw new GatewayJournalError(`round ${round}: a pass without recovery`);
          for (const r of e.reveals) {
            try {
              gw.acceptReveal(r);
            } catch (err) {
              if (!(err instanceof RevealRejectedError)) throw err;
              throw new GatewayJournalError(
                `round ${round}: journalled reveal refused (${err.reason})`,
              );
            }
            this.#revealed++;
          }
          plan = gw.closeRecoveryPass();
        } else if (e.kind === "correction") correction = e.value;
        else if (e.kind === "signed") journalled = e.signed;
        else {
          if (gw.phase !== "idle") {
            try {
              gw.abortRound("aborted before the restart");
            } catch (err) {
              if (!(err instanceof RoundAbortedError)) throw err;
            }
          }
          aborted = e.reason;
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof RoundAbortedError)) {
        if (gw.phase !== "idle") {
          try {
            gw.abortRound("journal replay failed");
          } catch {
            // closed above; the journal error is what the caller needs
          }
        }
        this.#phase = "idle";
        throw e;
      }
      aborted = e.reason;
    }
    if (replay.length > 0) {
      this.#logger.info("round resumed from the journal", {
        round: Number(round),
        entries: replay.length,
        ...(aborted ? { aborted } : {}),
      });
    }

    try {
      if (aborted === undefined && !closed) {
        this.#phase = "collecting";
        this.#logger.info("round open", { round: Number(round) });
        const open = encodeWire({ type: "bbnpRoundOpen", open: { round } });
        for (const u of gw.missing) this.#c.transport.send(this.#users[u], open);
        // The whole window: a report repeated within the round is still seen (and refused).
        await new Wait(clock, this.#init.windowMs ?? 1_000).promise;
        this.#abortIfStopped();
        // Durable before any reveal is asked or anything signed: the counted set is now fixed.
        this.#journal({ kind: "closed", reports: this.#accepted });
        closed = true;
        if (gw.missing.length > 0) {
          mark = this.#now();
          this.#phase = "recovery";
          plan = gw.beginRecovery();
          this.#timings.recoveryMs += this.#now() - mark;
        }
      }
      if (aborted === undefined) {
        while (plan) {
          this.#phase = "recovery";
          await this.#recoveryPass(plan);
          this.#abortIfStopped();
          // The pass's reveals, durable before its close decides who is silent and the next
          // pass's requests go out.
          this.#journal({ kind: "pass", reveals: this.#passReveals });
          mark = this.#now();
          plan = gw.closeRecoveryPass();
          this.#timings.recoveryMs += this.#now() - mark;
        }
        if (gw.dropped.length > 0 && correction === undefined) {
          // Only now, with the round able to complete, is the TA asked (round t's β only).
          mark = this.#now();
          try {
            correction = await this.#c.ta.correction(round, gw.dropped);
          } catch (e) {
            this.#abortIfStopped();
            gw.abortRound(`the TA refused the correction: ${e instanceof Error ? e.message : e}`);
          }
          this.#abortIfStopped();
          this.#journal({ kind: "correction", value: correction! });
          this.#timings.recoveryMs += this.#now() - mark;
        }
      }
    } catch (e) {
      if (!(e instanceof RoundAbortedError)) throw e;
      aborted = e.reason;
      // A stop is not a decision: the journal keeps the round open for the next process.
      if (this.#running) this.#journal({ kind: "aborted", reason: e.reason });
      this.#logger.warn("round aborted", { round: Number(round), reason: e.reason });
    }
    let outcome: GatewayRoundOutcome;
    const base = {
      round,
      rejections: this.#rejections,
      rejected: gw.rejectionCounts,
      revealedMasks: this.#revealed,
    };
    if (aborted !== undefined) {
      outcome = { ...base, aborted, timings: this.#timings };
    } else {
      this.#phase = "signing";
      mark = this.#now();
      const signed = gw.finalize(correction);
      this.#timings.finalizeMs = this.#now() - mark;
      if (journalled) {
        // BLS signatures are deterministic: the same decisions give the same statement.
        if (
          journalled.sum !== signed.sum ||
          journalled.reporters !== signed.reporters ||
          !equalBytes(journalled.signature, signed.signature)
        ) {
          this.#phase = "idle";
          throw new GatewayJournalError(`round ${round}: replay signs another statement`);
        }
      } else {
        this.#journal({ kind: "signed", signed });
      }
      this.#signed = signed;
      this.#phase = "committing";
      mark = this.#now();
      if (this.#init.mode === "gateway") {
        const recorded = await this.#c.ledger.recordRound(
          round,
          signed.sum,
          signed.reporters,
          signed.signature,
        );
        this.#committedRounds++;
        this.#timings.chainMs = this.#now() - mark;
        outcome = { ...base, signed, recorded, timings: this.#timings };
      } else {
        const committed = await this.#consensusRound(round, signed);
        this.#timings.chainMs = this.#now() - mark;
        if (committed) this.#committedRounds++;
        outcome = { ...base, signed, committed, timings: this.#timings };
      }
    }
    this.#phase = "idle";
    return outcome;
  }

  /** Appends to the injected journal (if any); durable when it returns. */
  #journal(entry: GatewayJournalEntry): void {
    this.#c.journal?.append(this.#round, entry);
  }

  /** A stopped gateway signs nothing: the open round aborts cleanly (reason `caller`). */
  #abortIfStopped(): void {
    if (!this.#running) this.#gateway.abortRound("the gateway was stopped");
  }

  async #recoveryPass(plan: RecoveryPlan): Promise<void> {
    const wait = new Wait(this.#c.clock, this.#init.revealWindowMs ?? 1_000);
    this.#passWait = wait;
    this.#passOf = plan;
    this.#passRevealed = 0;
    this.#passReveals = [];
    for (const [userId, peers] of plan.requests) {
      this.#c.transport.send(
        this.#users[userId],
        encodeWire({
          type: "bbnpRevealRequest",
          request: { round: this.#round, userId, peers: [...peers] },
        }),
      );
    }
    this.#checkPassComplete();
    await wait.promise;
    this.#passWait = undefined;
  }

  /** Ends the pass early once every requested mask is in. */
  #checkPassComplete(): void {
    const plan = this.#passOf;
    if (!plan || !this.#passWait) return;
    let outstanding = 0;
    for (const peers of plan.requests.values()) outstanding += peers.length;
    if (this.#passRevealed >= outstanding) this.#passWait.signal();
  }

  async #consensusRound(
    round: bigint,
    signed: SignedRoundSum,
  ): Promise<GatewayRoundOutcome["committed"]> {
    const init = this.#init;
    const seed = await this.#c.ledger.headDigest();
    const theta = blsSign(init.secret, roundRandomMessage(init.domain, round, seed));
    const wait = new Wait(this.#c.clock, init.commitTimeoutMs ?? 60_000);
    this.#commitWait = wait;
    const open = encodeWire({
      type: "selectionOpen",
      open: { round, seed, gatewaySignature: theta },
    });
    const statement = encodeWire({
      type: "consensus",
      message: {
        type: "gateway",
        round,
        sum: signed.sum,
        reporters: signed.reporters,
        gatewaySignature: signed.signature,
      },
    });
    for (const node of this.#nodes) {
      this.#c.transport.send(node, open);
      this.#c.transport.send(node, statement);
    }
    await wait.promise;
    this.#commitWait = undefined;
    if (!this.#committed) {
      this.#logger.warn("no committed block", { round: Number(round) });
    }
    return this.#committed;
  }

  #onMessage(from: string, bytes: Uint8Array): void {
    const m = decodeWireOr(bytes, (e) => {
      this.refused++;
      this.#logger.warn("undecodable message", { from, error: e.message });
    });
    if (m === undefined) return;
    switch (m.type) {
      case "bbnpReport":
        return this.#onReport(m.report);
      case "bbnpReveal":
        return this.#onReveal(m.reveal);
      case "consensus":
        if (m.message.type === "committed") return this.#onCommitted(m.message);
        this.refused++;
        return;
      default:
        this.refused++;
    }
  }

  #onReport(report: Parameters<BbnpGateway["submit"]>[0]): void {
    // Reports are authenticated by their tag under k_{g,i}(t), not by the link they came over.
    if (this.#gateway.phase === "idle") {
      this.refused++;
      return;
    }
    const mark = this.#now();
    const rejections = this.#gateway.submitBatch([report]);
    this.#timings.gatewayMs += this.#now() - mark;
    if (rejections.length === 0) this.#accepted.push(report);
    for (const r of rejections) {
      this.#rejections.push(r);
      this.#logger.info("report rejected", { user: r.userId, reason: r.reason });
    }
  }

  #onReveal(reveal: Parameters<BbnpGateway["acceptReveal"]>[0]): void {
    const plan = this.#gateway.plan;
    if (!plan) {
      this.refused++;
      return;
    }
    const mark = this.#now();
    try {
      this.#gateway.acceptReveal(reveal);
      this.#passReveals.push(reveal);
      this.#revealed++;
      this.#passRevealed++;
    } catch (e) {
      if (!(e instanceof RevealRejectedError)) throw e;
      this.#logger.info("reveal rejected", { user: reveal.userId, reason: e.reason });
    } finally {
      this.#timings.recoveryMs += this.#now() - mark;
    }
    this.#checkPassComplete();
  }

  #onCommitted(m: {
    block: ConsensusBlock;
    certificate: QuorumCertificate;
    order: readonly number[];
  }): void {
    const signed = this.#signed;
    // The chain accepted it (the node forwards the ledger's decision); the gateway checks it is
    // its own statement for the open round before ending the round.
    if (!signed || this.#phase !== "committing" || m.block.round !== this.#round) return;
    if (
      m.block.sum !== signed.sum ||
      m.block.reporters !== signed.reporters ||
      !equalBytes(m.block.gatewaySignature, signed.signature)
    ) {
      this.#logger.warn("committed block is not our statement", { round: Number(this.#round) });
      return;
    }
    const keys = this.#init.nodeKeys;
    if (keys && !verifyCertificate(keys, blockDigest(this.#init.domain, m.block), m.certificate)) {
      this.#logger.warn("committed block without a valid certificate", {
        round: Number(this.#round),
      });
      return;
    }
    this.#committed ??= { block: m.block, certificate: m.certificate, order: m.order };
    this.#commitWait?.signal();
  }
}

function zeroTimings(): GatewayRoundTimings {
  return { gatewayMs: 0, recoveryMs: 0, finalizeMs: 0, chainMs: 0 };
}
