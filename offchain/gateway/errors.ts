// Typed gateway errors: callers branch on the rejected user and the reason (STYLE: typed errors).

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

export interface ReportRejection {
  readonly userId: number;
  readonly round: bigint;
  readonly reason: RejectionReason;
}

export class ReportRejectedError extends Error {
  readonly userId: number;
  readonly round: bigint;
  readonly reason: RejectionReason;

  constructor(rejection: ReportRejection) {
    super(
      `BbnpGateway.submit: report of user ${rejection.userId} for round ${rejection.round} rejected: ${rejection.reason}`,
    );
    this.name = "ReportRejectedError";
    this.userId = rejection.userId;
    this.round = rejection.round;
    this.reason = rejection.reason;
  }
}

/** Recovery cannot complete: some reporting neighbours did not reveal their masks (named). */
export class RecoveryIncompleteError extends Error {
  readonly round: bigint;
  /** Pairs (reporter, missing peer) whose mask is still needed. */
  readonly outstanding: readonly (readonly [number, number])[];

  constructor(round: bigint, outstanding: readonly (readonly [number, number])[]) {
    const list = outstanding.map(([i, d]) => `${i}→${d}`).join(", ");
    super(`BbnpGateway.finalize: round ${round} still needs masks ${list}`);
    this.name = "RecoveryIncompleteError";
    this.round = round;
    this.outstanding = outstanding;
  }
}

/** A mask reveal was refused (not requested, bad tag, duplicate). */
export class RevealRejectedError extends Error {
  readonly userId: number;
  readonly peer: number;
  readonly reason: "not-requested" | "bad-tag" | "duplicate" | "wrong-round";

  constructor(userId: number, peer: number, reason: RevealRejectedError["reason"]) {
    super(
      `BbnpGateway.acceptReveal: reveal of user ${userId} for peer ${peer} rejected: ${reason}`,
    );
    this.name = "RevealRejectedError";
    this.userId = userId;
    this.peer = peer;
    this.reason = reason;
  }
}

/** The unmasked sum exceeds N · maxReading: some accepted input was wrong (e.g. a bad correction). */
export class SumOutOfRangeError extends Error {
  readonly round: bigint;

  constructor(round: bigint) {
    super(
      `BbnpGateway.finalize: round ${round} sum is out of range; recovery inputs are inconsistent`,
    );
    this.name = "SumOutOfRangeError";
    this.round = round;
  }
}
