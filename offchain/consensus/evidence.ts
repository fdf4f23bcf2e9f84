// Reputation evidence of a committed round (DESIGN §5.2–5.3, docs/CONSENSUS.md "Evidence").
// Derived ONLY from what every node sees identically: the committed block (its primary), the
// certificate's signer bitmap, and the round's selection order (computed from verifiable reveals).
// So every honest node feeds the same observations to `updateReputations` and the next block's
// reputation vector is deterministic.
import type { Observation } from "../protocol/reputation.ts";

export type CommittedRound = {
  /** Registry index of the primary whose block was committed. */
  readonly primary: number;
  /** The certificate's signer bitmap. */
  readonly signers: bigint;
  /** The round's selection order (`selectPrimary(...).order`). */
  readonly order: readonly number[];
  readonly nodeCount: number;
};

/**
 * Observations of one committed round:
 * - the primary about every other node: a signer "fastCorrect", a non-signer "untimely" (its vote
 *   was missing, late or invalid when the primary submitted);
 * - every signer about the primary: "fastCorrect" (it delivered a valid block in time);
 * - every signer about each primary skipped before it in the order: "untimely" (stalled, or its
 *   block was refused, so the view timed out).
 */
export function roundObservations(round: CommittedRound): Observation[] {
  const { primary, signers, order, nodeCount } = round;
  const signed = (j: number) => ((signers >> BigInt(j)) & 1n) === 1n;
  const out: Observation[] = [];
  for (let j = 0; j < nodeCount; j++) {
    if (j === primary) continue;
    out.push({ observer: primary, target: j, kind: signed(j) ? "fastCorrect" : "untimely" });
  }
  const skipped = order.slice(0, Math.max(0, order.indexOf(primary)));
  for (let s = 0; s < nodeCount; s++) {
    if (s === primary || !signed(s)) continue;
    out.push({ observer: s, target: primary, kind: "fastCorrect" });
    for (const q of skipped) if (q !== s) out.push({ observer: s, target: q, kind: "untimely" });
  }
  return out;
}
