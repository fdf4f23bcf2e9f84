// BBNP gateway (DESIGN §4.7; Bao et al. §IV-C with the §6 fixes): checks each report's tag under
// the session key k_{g,i}(t), rejects replays and names the user and reason, accumulates Σ C_i and
// Σ k_{g,i}, runs dropout recovery in passes (a neighbour silent in one pass is dropped and the next
// pass asks its own neighbours), aborts cleanly below `minReporters` or past the last pass,
// unmasks the sum and has it signed by the injected signer.
// Hot path: per report one session-key tagged hash (2 compressions, tag prefix cached) and one
// HMAC (4 compressions) over word arrays; sums are accumulated per 32-bit word in float64 (exact:
// N ≤ 2^20 reports of < 2^32 per word stay below 2^53) and turned into one BigInt per round.
// Rejections are counted by reason with a bounded sample (a flood of bad tags costs no memory).
import { BbnpInputError, BbnpStateError } from "../protocol/bbnp/errors.ts";
import { FastHasher, wordsBelowOrder } from "../protocol/bbnp/fast.ts";
import { roundGraph, type RoundGraph } from "../protocol/bbnp/graph.ts";
import { revealTag, roundSeed, unmaskSum } from "../protocol/bbnp/masking.ts";
import {
  BBNP_ORDER,
  checkSecretScalar,
  dhPoint,
  G1_BYTES,
  mod,
  validateParams,
  type BbnpPublicParams,
} from "../protocol/bbnp/params.ts";
import { recoveryPlan, type RecoveryPlan } from "../protocol/bbnp/recovery.ts";
import type { BbnpReport, MaskReveal } from "../protocol/bbnp/report.ts";
import { equalBytes } from "../crypto/bytes.ts";
import { bytesToWords, wordsToBytes } from "../crypto/sha256-words.ts";
import {
  RecoveryIncompleteError,
  REJECTION_REASONS,
  ReportRejectedError,
  RevealRejectedError,
  RoundAbortedError,
  SumOutOfRangeError,
  TooFewReportersError,
  type AbortReason,
  type RejectionCounts,
  type RejectionReason,
  type ReportRejection,
} from "./errors.ts";
import { counted } from "../runtime/log.ts";

/**
 * Default number of recovery passes (DESIGN §4.7 threshold). Pass 1 asks the neighbours of the
 * users missing at report time; pass k + 1 the neighbours of those silent in pass k. With each
 * requested neighbour silent with probability q the cascade dies out quickly: 3–5 passes at
 * N = 1,000, h = 8, 10 % missing, q = 0.1; 8 leaves margin (docs/BBNP.md "Recovery").
 */
export const DEFAULT_MAX_RECOVERY_PASSES = 8;
/** Default number of rejections kept per round as a sample (the rest are only counted). */
export const DEFAULT_REJECTION_SAMPLE = 32;

export interface BbnpGatewayInit {
  readonly params: BbnpPublicParams;
  /** s_g for this epoch (DH secret of the session keys; also GW's BLS key, DESIGN §4.7). */
  readonly secret: bigint;
  /**
   * Optional precomputed `enc(s_g·S_i)` by user id (e.g. restored from encrypted storage, or a
   * benchmark's set-up); default: N G1 multiplications at construction, once per epoch.
   */
  readonly dhPoints?: readonly Uint8Array[];
  /** Recovery passes before a clean abort (≥ 1; default {@link DEFAULT_MAX_RECOVERY_PASSES}). */
  readonly maxRecoveryPasses?: number;
  /** Rejections kept per round as a sample (≥ 0; default {@link DEFAULT_REJECTION_SAMPLE}). */
  readonly rejectionSample?: number;
}

export interface BbnpGatewayComponents {
  /**
   * Signs (t, sum, reporters); e.g. `bbnpSignRound(s_g, domain, t, sum, reporters)` (DESIGN §4.8;
   * the count is signed so that the ledger can enforce `minReporters` in consensus mode too).
   */
  readonly signRound: (round: bigint, sum: bigint, reporters: number) => Uint8Array;
  /**
   * The TA's `β_g(t) = −Σ_i β_i(t)` for a round (`TrustedAuthority.gatewayBlinding`), asked once
   * per round at {@link BbnpGateway.openRound}; a sum of round-t PRF outputs, fetched ahead of time.
   */
  readonly roundBlinding: (round: bigint) => bigint;
}

export interface SignedRoundSum {
  readonly round: bigint;
  /** Σ m_i over the counted users. */
  readonly sum: bigint;
  /** Number of counted users (≥ minReporters). */
  readonly reporters: number;
  /** Users not counted (missing at report time or silent during recovery), ascending. */
  readonly missing: readonly number[];
  /** Users whose report was accepted and then dropped for silence in recovery, ascending. */
  readonly excluded: readonly number[];
  /** Recovery passes run (0 without dropouts). */
  readonly passes: number;
  readonly signature: Uint8Array;
}

/**
 * `collecting` → (`finalize` | `beginRecovery` → `recovery` ⇄ `closeRecoveryPass` → `ready` →
 * `finalize`) → `idle`; an abort from any non-idle phase → `idle`.
 */
export type GatewayPhase = "idle" | "collecting" | "recovery" | "ready";

/** Per-user state in the open round. */
const NONE = 0;
const COUNTED = 1;
const EXCLUDED = 2;

export class BbnpGateway {
  readonly params: BbnpPublicParams;
  readonly maxRecoveryPasses: number;
  readonly #signRound: (round: bigint, sum: bigint, reporters: number) => Uint8Array;
  readonly #roundBlinding: (round: bigint) => bigint;
  /** enc(s_g·S_i) as 12 words per user. */
  readonly #dh: Int32Array;
  readonly #hasher = new FastHasher();
  /** NONE / COUNTED / EXCLUDED per user. */
  readonly #state: Uint8Array;
  /** C_i as 8 words per user (kept to take an excluded user's report back out of the sums). */
  readonly #maskedWords: Int32Array;
  readonly #sumMasked = new Float64Array(8);
  readonly #sumKeys = new Float64Array(8);
  readonly #cw = new Int32Array(8);
  readonly #kw = new Int32Array(8);
  readonly #tw = new Int32Array(8);
  readonly #rw = new Int32Array(8);
  #phase: GatewayPhase = "idle";
  #round = -1n;
  #roundHi = 0;
  #roundLo = 0;
  #lastRound = -1n;
  #counted = 0;
  #blinding = 0n;
  #plan: RecoveryPlan | undefined;
  #graph: RoundGraph | undefined;
  /** Revealer i → (peer d → AUI_{i,d}(t)), counted revealers only. */
  readonly #reveals = new Map<number, Map<number, bigint>>();
  readonly #rejectionSample: ReportRejection[] = [];
  readonly #sampleSize: number;
  #rejectionCounts: RejectionCounts = zeroCounts();

  constructor(init: BbnpGatewayInit, components: BbnpGatewayComponents) {
    const fn = "BbnpGateway";
    validateParams(init.params);
    checkSecretScalar(fn, init.secret);
    const n = init.params.userCount;
    this.params = init.params;
    this.maxRecoveryPasses = init.maxRecoveryPasses ?? DEFAULT_MAX_RECOVERY_PASSES;
    if (!Number.isSafeInteger(this.maxRecoveryPasses) || this.maxRecoveryPasses < 1) {
      throw new BbnpInputError(`${fn}: maxRecoveryPasses must be an integer ≥ 1`);
    }
    this.#sampleSize = init.rejectionSample ?? DEFAULT_REJECTION_SAMPLE;
    if (!Number.isSafeInteger(this.#sampleSize) || this.#sampleSize < 0) {
      throw new BbnpInputError(`${fn}: rejectionSample must be an integer ≥ 0`);
    }
    this.#signRound = components.signRound;
    this.#roundBlinding = components.roundBlinding;
    this.#state = new Uint8Array(n);
    this.#maskedWords = new Int32Array(8 * n);
    this.#dh = new Int32Array(12 * n);
    if (init.dhPoints && init.dhPoints.length !== n) {
      throw new BbnpInputError(`${fn}: expected ${n} DH points, got ${init.dhPoints.length}`);
    }
    for (let i = 0; i < n; i++) {
      const point = init.dhPoints?.[i] ?? dhPoint(init.secret, init.params.userPublicKeys[i]);
      if (point.length !== G1_BYTES)
        throw new BbnpInputError(`${fn}: DH point ${i} is not ${G1_BYTES} bytes`);
      bytesToWords(point, this.#dh, 12 * i);
    }
  }

  get phase(): GatewayPhase {
    return this.#phase;
  }

  get round(): bigint {
    return this.#round;
  }

  /** Number of users counted so far in the current round. */
  get counted(): number {
    return this.#counted;
  }

  /**
   * A sample of the current round's rejections, in arrival order: the first `rejectionSample`
   * (default 32). Every rejection is counted in {@link rejectionCounts}; memory stays bounded under
   * a flood (issue 16: ≈ 58 bytes were kept per bad report until the next round).
   */
  get rejections(): readonly ReportRejection[] {
    return this.#rejectionSample;
  }

  /** The current round's rejections by reason (a copy). */
  get rejectionCounts(): RejectionCounts {
    return { ...this.#rejectionCounts };
  }

  /** Users without an accepted report in the current round, ascending. */
  get missing(): number[] {
    return this.#usersIn(NONE);
  }

  /**
   * Users not counted in the current round (missing at report time, or dropped for silence in a
   * recovery pass), ascending: the set for the TA's correction once {@link phase} is `ready`.
   */
  get dropped(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#state.length; i++) if (this.#state[i] !== COUNTED) out.push(i);
    return out;
  }

  /** The open recovery pass (undefined outside `recovery`). */
  get plan(): RecoveryPlan | undefined {
    return this.#phase === "recovery" ? this.#plan : undefined;
  }

  /**
   * Open round `t`; rounds strictly increase (an old round's reports can never be reused). Asks
   * the injected `roundBlinding(t)` for the TA's β_g(t). Throws {@link BbnpStateError} while a
   * round is open or for a round not after the last one.
   */
  openRound(round: bigint): void {
    const fn = "BbnpGateway.openRound";
    if (this.#phase !== "idle")
      throw new BbnpStateError(`${fn}: round ${this.#round} is still open`);
    if (typeof round !== "bigint" || round < 0n || round >= 1n << 64n)
      throw new BbnpInputError(`${fn}: round must be a u64`);
    if (round <= this.#lastRound) {
      throw new BbnpStateError(
        `${fn}: round ${round} is not after the last round ${this.#lastRound}`,
      );
    }
    const blinding = this.#roundBlinding(round);
    if (typeof blinding !== "bigint" || blinding < 0n || blinding >= BBNP_ORDER) {
      throw new BbnpInputError(`${fn}: roundBlinding(${round}) must be a scalar in [0, r)`);
    }
    this.#blinding = blinding;
    this.#round = round;
    this.#roundHi = Number(round >> 32n);
    this.#roundLo = Number(round & 0xffffffffn);
    this.#state.fill(NONE);
    this.#sumMasked.fill(0);
    this.#sumKeys.fill(0);
    this.#counted = 0;
    this.#plan = undefined;
    this.#graph = undefined;
    this.#reveals.clear();
    this.#rejectionSample.length = 0;
    this.#rejectionCounts = zeroCounts();
    this.#phase = "collecting";
  }

  /** Accept one report or throw {@link ReportRejectedError} naming the user and the reason. */
  submit(report: BbnpReport): void {
    const reason = this.#admit(report);
    if (reason !== undefined) throw new ReportRejectedError(this.#reject(report, reason));
  }

  /** Accept many reports; returns this batch's rejections (counted in {@link rejectionCounts}). */
  submitBatch(reports: readonly BbnpReport[]): ReportRejection[] {
    const out: ReportRejection[] = [];
    for (let i = 0; i < reports.length; i++) {
      const report = reports[i];
      const reason = this.#admit(report);
      if (reason !== undefined) out.push(this.#reject(report, reason));
    }
    return out;
  }

  /**
   * Close collection with users missing: from now on late reports are refused (a late C_d after
   * its neighbours revealed their masks would expose m_d). Returns pass 1: which counted
   * neighbour must reveal which mask (DESIGN §4.7 "Dropouts"). Aborts cleanly with
   * {@link TooFewReportersError} (before asking anything) if fewer than `minReporters` reported.
   */
  beginRecovery(): RecoveryPlan {
    const fn = "BbnpGateway.beginRecovery";
    if (this.#phase !== "collecting") throw new BbnpStateError(`${fn}: no round is collecting`);
    const missing = this.missing;
    if (missing.length === 0) throw new BbnpStateError(`${fn}: nobody is missing; call finalize()`);
    this.#checkEnoughReporters();
    this.#graph = roundGraph(
      this.params.userCount,
      this.params.neighbours,
      roundSeed(this.params.graphSeed, this.params.epoch, this.#round),
    );
    this.#plan = recoveryPlan(this.#graph, this.#round, missing, (u) => this.#isCounted(u), 1);
    this.#phase = "recovery";
    return this.#plan;
  }

  /**
   * Accept a reveal requested in the open pass whose tag verifies under the revealer's session
   * key; throws {@link RevealRejectedError} otherwise (or {@link BbnpStateError} outside recovery).
   */
  acceptReveal(reveal: MaskReveal): void {
    const plan = this.#plan;
    if (this.#phase !== "recovery" || !plan) {
      throw new BbnpStateError("BbnpGateway.acceptReveal: no recovery pass is open");
    }
    if (reveal.round !== this.#round)
      throw new RevealRejectedError(reveal.userId, reveal.peer, "wrong-round");
    const requested = plan.requests.get(reveal.userId);
    if (!requested || !requested.includes(reveal.peer) || !this.#isCounted(reveal.userId)) {
      throw new RevealRejectedError(reveal.userId, reveal.peer, "not-requested");
    }
    let byPeer = this.#reveals.get(reveal.userId);
    if (byPeer?.has(reveal.peer))
      throw new RevealRejectedError(reveal.userId, reveal.peer, "duplicate");
    if (reveal.mask < 0n || reveal.mask >= BBNP_ORDER) {
      throw new RevealRejectedError(reveal.userId, reveal.peer, "bad-tag");
    }
    this.#sessionKeyWords(reveal.userId, this.#kw);
    const expected = revealTag(wordsToBytes(this.#kw, 0, 8), this.#round, reveal.peer, reveal.mask);
    if (!equalBytes(expected, reveal.tag))
      throw new RevealRejectedError(reveal.userId, reveal.peer, "bad-tag");
    if (!byPeer) {
      byPeer = new Map();
      this.#reveals.set(reveal.userId, byPeer);
    }
    byPeer.set(reveal.peer, reveal.mask);
  }

  /**
   * End the open pass (its deadline passed, or every reveal arrived). Every requested user that
   * did not reveal all its requested masks is dropped: its report leaves the sums and its reveals
   * are discarded (the masks it withheld keep its reading hidden). Returns the next pass's plan
   * (the counted neighbours of the users just dropped), or `undefined` when nothing is
   * outstanding: the round is `ready` and {@link dropped} is the set for the TA's correction.
   * Aborts cleanly (throws {@link RoundAbortedError}, the gateway idle, nothing signed) when fewer
   * than `minReporters` stay counted ({@link TooFewReportersError}) or silent neighbours remain
   * after `maxRecoveryPasses` passes (`recovery-exhausted`).
   */
  closeRecoveryPass(): RecoveryPlan | undefined {
    const fn = "BbnpGateway.closeRecoveryPass";
    const plan = this.#plan;
    if (this.#phase !== "recovery" || !plan || !this.#graph) {
      throw new BbnpStateError(`${fn}: no recovery pass is open`);
    }
    const silent: number[] = [];
    for (const [i, peers] of plan.requests) {
      const got = this.#reveals.get(i);
      if (!got || peers.some((d) => !got.has(d))) silent.push(i);
    }
    if (silent.length === 0) {
      this.#phase = "ready";
      return undefined;
    }
    for (const x of silent) this.#exclude(x);
    this.#checkEnoughReporters();
    const next = recoveryPlan(
      this.#graph,
      this.#round,
      silent,
      (u) => this.#isCounted(u),
      plan.pass + 1,
    );
    if (next.requests.size === 0) {
      this.#phase = "ready";
      return undefined;
    }
    if (plan.pass >= this.maxRecoveryPasses) {
      this.#abort();
      throw new RoundAbortedError(
        this.#round,
        "recovery-exhausted",
        this.#counted,
        `${silent.length} neighbours silent in pass ${plan.pass} of ${this.maxRecoveryPasses}`,
      );
    }
    this.#plan = next;
    return next;
  }

  /**
   * Abort the open round cleanly (e.g. the TA refused the correction, or an operator deadline):
   * nothing is signed, the reveals are discarded, the next round may open. Throws
   * {@link RoundAbortedError} (reason `caller`) after closing the round, so that callers handle
   * every abort in one place.
   */
  abortRound(detail: string): never {
    if (this.#phase === "idle")
      throw new BbnpStateError("BbnpGateway.abortRound: no round is open");
    const counted = this.#counted;
    this.#abort();
    throw new RoundAbortedError(this.#round, "caller", counted, detail);
  }

  /**
   * Unmask and sign: `sum = Σ_R C_i − Σ_R k_{g,i} − Σ revealed AUI + β_g(t) + Σ_D β_d(t) mod r`
   * over the counted users R, checked to be an integer in [0, |R| · maxReading]. The TA's
   * correction `Σ_D β_d(t)` (D = {@link dropped}) is required iff some user is not counted, and
   * is asked only once the round is `ready`. Throws {@link RecoveryIncompleteError} while a pass
   * is open, {@link SumOutOfRangeError} on an inconsistent input.
   */
  finalize(dropoutCorrection?: bigint): SignedRoundSum {
    const fn = "BbnpGateway.finalize";
    if (this.#phase === "idle") throw new BbnpStateError(`${fn}: no round is open`);
    const missing = this.dropped;
    let revealed = 0n;
    if (missing.length > 0) {
      if (this.#phase === "collecting") {
        throw new BbnpStateError(
          `${fn}: ${counted(missing.length, "user")} missing; call beginRecovery() first`,
        );
      }
      if (this.#phase === "recovery") {
        const outstanding: [number, number][] = [];
        for (const [i, peers] of this.#plan?.requests ?? []) {
          const got = this.#reveals.get(i);
          for (const d of peers) if (!got?.has(d)) outstanding.push([i, d]);
        }
        if (outstanding.length > 0) throw new RecoveryIncompleteError(this.#round, outstanding);
        throw new BbnpStateError(`${fn}: call closeRecoveryPass() first`);
      }
      if (dropoutCorrection === undefined)
        throw new BbnpStateError(`${fn}: dropped users need the TA's correction`);
      for (const byPeer of this.#reveals.values())
        for (const mask of byPeer.values()) revealed += mask;
    } else if (dropoutCorrection !== undefined) {
      throw new BbnpStateError(`${fn}: every user is counted; no correction expected`);
    }
    this.#checkEnoughReporters();
    let sumMasked = 0n;
    for (let j = 0; j < 8; j++) {
      const diff = this.#sumMasked[j] - this.#sumKeys[j];
      if (diff !== 0) sumMasked += BigInt(diff) << BigInt(32 * (7 - j));
    }
    const sum = unmaskSum({
      sumMasked,
      sumSessionScalars: 0n,
      gatewayBlinding: this.#blinding,
      revealedMasks: revealed,
      dropoutCorrection: dropoutCorrection === undefined ? 0n : mod(dropoutCorrection),
    });
    if (sum > BigInt(this.#counted) * this.params.maxReading)
      throw new SumOutOfRangeError(this.#round);
    const signature = this.#signRound(this.#round, sum, this.#counted);
    const result: SignedRoundSum = {
      round: this.#round,
      sum,
      reporters: this.#counted,
      missing,
      excluded: this.#usersIn(EXCLUDED),
      passes: this.#plan?.pass ?? 0,
      signature,
    };
    this.#close();
    return result;
  }

  #isCounted(user: number): boolean {
    return this.#state[user] === COUNTED;
  }

  #usersIn(state: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#state.length; i++) if (this.#state[i] === state) out.push(i);
    return out;
  }

  /** Abort with TooFewReportersError if fewer than minReporters users are counted. */
  #checkEnoughReporters(): void {
    const min = this.params.minReporters;
    if (this.#counted < min) {
      const counted = this.#counted;
      this.#abort();
      throw new TooFewReportersError(this.#round, counted, min);
    }
  }

  /** Take a counted user's report back out of the sums and discard its reveals. */
  #exclude(user: number): void {
    this.#state[user] = EXCLUDED;
    this.#counted--;
    this.#sessionKeyWords(user, this.#kw);
    const mw = this.#maskedWords;
    for (let j = 0; j < 8; j++) {
      this.#sumMasked[j] -= mw[8 * user + j] >>> 0;
      this.#sumKeys[j] -= this.#kw[j] >>> 0;
    }
    this.#reveals.delete(user);
  }

  #abort(): void {
    this.#close();
  }

  /** End the round (signed or aborted): idle, its reveals and reports forgotten. */
  #close(): void {
    this.#reveals.clear();
    this.#maskedWords.fill(0);
    this.#plan = undefined;
    this.#graph = undefined;
    this.#lastRound = this.#round;
    this.#phase = "idle";
  }

  #reject(report: BbnpReport, reason: RejectionReason): ReportRejection {
    this.#rejectionCounts[reason]++;
    const rejection = { userId: report.userId, round: report.round, reason };
    if (this.#rejectionSample.length < this.#sampleSize) this.#rejectionSample.push(rejection);
    return rejection;
  }

  #sessionKeyWords(user: number, out: Int32Array): void {
    this.#hasher.sessionKey(
      this.#dh,
      12 * user,
      user,
      this.params.gatewayId,
      this.#roundHi,
      this.#roundLo,
      out,
      0,
    );
  }

  #admit(report: BbnpReport): RejectionReason | undefined {
    const id = report.userId;
    if (!Number.isInteger(id) || id < 0 || id >= this.#state.length) return "unknown-user";
    if (this.#phase !== "collecting") return "round-closed";
    if (report.round !== this.#round) return "wrong-round";
    if (this.#state[id] !== NONE) return "duplicate";
    const masked = report.masked;
    const tag = report.tag;
    if (!(masked instanceof Uint8Array) || !(tag instanceof Uint8Array)) return "malformed";
    if (masked.length !== 32 || tag.length !== 32) return "malformed";
    const cw = this.#cw;
    bytesToWords(masked, cw, 0);
    if (!wordsBelowOrder(cw, 0)) return "malformed";
    const kw = this.#kw;
    const tw = this.#tw;
    this.#sessionKeyWords(id, kw);
    this.#hasher.reportTag(kw, 0, cw, 0, this.#roundHi, this.#roundLo, tw, 0);
    const rw = this.#rw;
    bytesToWords(tag, rw, 0);
    let diff = 0;
    for (let j = 0; j < 8; j++) diff |= tw[j] ^ rw[j];
    if (diff !== 0) return "bad-tag";
    this.#state[id] = COUNTED;
    this.#counted++;
    const sc = this.#sumMasked;
    const sk = this.#sumKeys;
    const mw = this.#maskedWords;
    const base = 8 * id;
    for (let j = 0; j < 8; j++) {
      mw[base + j] = cw[j];
      sc[j] += cw[j] >>> 0;
      sk[j] += kw[j] >>> 0;
    }
    return undefined;
  }
}

function zeroCounts(): RejectionCounts {
  const out = {} as RejectionCounts;
  for (const r of REJECTION_REASONS) out[r] = 0;
  return out;
}
