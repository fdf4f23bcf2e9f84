// Typed gateway errors: callers branch on the rejected user and the reason (STYLE: typed errors).
import { BbnpError } from "../protocol/bbnp/errors.ts";

export type RejectionReason =
  /** The user id is not in [0, N). */
  | "unknown-user"
  /** The report's round is not the open round (a replay from another round, or early). */
  | "wrong-round"
  /** A report from this user was already accepted in this round (a replay within the round). */
  | "duplicate"
  /** The masked value is not a canonical u256 below r. */
  | "malformed"
  /** The HMAC tag does not verify under k_{g,i}(t) (forged, altered or another user's report). */
  | "bad-tag"
  /** The round is closed or in recovery: a late report would expose m_d once masks are revealed. */
  | "round-closed";

/** Every rejection reason, in a fixed order (the keys of {@link RejectionCounts}). */
export const REJECTION_REASONS: readonly RejectionReason[] = [
  "unknown-user",
  "wrong-round",
  "duplicate",
  "malformed",
  "bad-tag",
  "round-closed",
];

/** Rejections of one round counted by reason. */
export type RejectionCounts = Record<RejectionReason, number>;

export interface ReportRejection {
  readonly userId: number;
  readonly round: bigint;
  readonly reason: RejectionReason;
}

export class ReportRejectedError extends BbnpError {
  override name = "ReportRejectedError";
  readonly userId: number;
  readonly round: bigint;
  readonly reason: RejectionReason;

  constructor(rejection: ReportRejection) {
    super(
      `BbnpGateway.submit: report of user ${rejection.userId} for round ${rejection.round} rejected: ${rejection.reason}`,
    );
    this.userId = rejection.userId;
    this.round = rejection.round;
    this.reason = rejection.reason;
  }
}

/**
 * `finalize()` was called while a recovery pass still waits for reveals: close the pass first
 * (`closeRecoveryPass()`), which treats the silent neighbours as dropped.
 */
export class RecoveryIncompleteError extends BbnpError {
  override name = "RecoveryIncompleteError";
  readonly round: bigint;
  /** Pairs (reporter, non-counted peer) whose mask is still needed in the open pass. */
  readonly outstanding: readonly (readonly [number, number])[];

  constructor(round: bigint, outstanding: readonly (readonly [number, number])[]) {
    const list = outstanding.map(([i, d]) => `${i}→${d}`).join(", ");
    super(
      `BbnpGateway.finalize: round ${round} still needs masks ${list}; call closeRecoveryPass()`,
    );
    this.round = round;
    this.outstanding = outstanding;
  }
}

/** A mask reveal was refused (not requested in the open pass, bad tag, duplicate, other round). */
export class RevealRejectedError extends BbnpError {
  override name = "RevealRejectedError";
  readonly userId: number;
  readonly peer: number;
  readonly reason: "not-requested" | "bad-tag" | "duplicate" | "wrong-round";

  constructor(userId: number, peer: number, reason: RevealRejectedError["reason"]) {
    super(
      `BbnpGateway.acceptReveal: reveal of user ${userId} for peer ${peer} rejected: ${reason}`,
    );
    this.userId = userId;
    this.peer = peer;
    this.reason = reason;
  }
}

/** The unmasked sum exceeds counted · maxReading: some accepted input was wrong (e.g. a bad correction). */
export class SumOutOfRangeError extends BbnpError {
  override name = "SumOutOfRangeError";
  readonly round: bigint;

  constructor(round: bigint) {
    super(
      `BbnpGateway.finalize: round ${round} sum is out of range; recovery inputs are inconsistent`,
    );
    this.round = round;
  }
}

export type AbortReason =
  /** Fewer than `minReporters` users would be counted (DESIGN §4.7). */
  | "too-few-reporters"
  /** Neighbours were still silent after `maxRecoveryPasses` passes. */
  | "recovery-exhausted"
  /** The caller aborted (e.g. the TA refused the correction, or a deadline passed). */
  | "caller";

/**
 * The round was aborted cleanly (DESIGN §4.7): nothing was signed, no correction is requested, no
 * further reveal is accepted, and the gateway is idle: the next round opens.
 */
export class RoundAbortedError extends BbnpError {
  override name = "RoundAbortedError";
  readonly round: bigint;
  readonly reason: AbortReason;
  /** Users still counted when the round was aborted. */
  readonly counted: number;

  constructor(round: bigint, reason: AbortReason, counted: number, detail: string) {
    super(`BbnpGateway: round ${round} aborted (${reason}): ${detail}`);
    this.round = round;
    this.reason = reason;
    this.counted = counted;
  }
}

/** The round aborted because fewer than `minReporters` users would be counted. */
export class TooFewReportersError extends RoundAbortedError {
  override name = "TooFewReportersError";
  readonly minReporters: number;

  constructor(round: bigint, counted: number, minReporters: number) {
    super(
      round,
      "too-few-reporters",
      counted,
      `${counted} counted reporters < minReporters ${minReporters}`,
    );
    this.minReporters = minReporters;
  }
}
