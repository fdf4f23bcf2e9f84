// Dropout recovery plan (DESIGN §4.7 "Dropouts", §6 "dropouts break cancellation").
// With R the reporting users and D the missing ones,
//   Σ_{i∈R} C_i = Σ_R m_i + Σ_R k_{i,g} + Σ_{i∈R} Σ_{d∈N(i)∩D} AUI_{i,d} + Σ_R s_i,
// since masks between two reporting users cancel. The gateway asks every reporting neighbour i of
// each missing d for AUI_{i,d}(t) (that round's mask only, never k_id) and the TA for Σ_D s_d.
import type { RoundGraph } from "./graph.ts";

export interface RecoveryPlan {
  readonly round: bigint;
  /** Missing users D, ascending. */
  readonly missing: readonly number[];
  /** Reporting user i → the missing neighbours d whose mask AUI_{i,d}(t) it must reveal. */
  readonly requests: ReadonlyMap<number, readonly number[]>;
}

export function recoveryPlan(
  graph: RoundGraph,
  round: bigint,
  missing: readonly number[],
  hasReported: (user: number) => boolean,
): RecoveryPlan {
  const sorted = [...new Set(missing)].sort((a, b) => a - b);
  const requests = new Map<number, number[]>();
  for (const d of sorted) {
    if (hasReported(d)) throw new Error(`recoveryPlan: user ${d} is listed missing but reported`);
    for (const i of graph.neighboursOf(d)) {
      if (!hasReported(i)) continue;
      const list = requests.get(i);
      if (list) list.push(d);
      else requests.set(i, [d]);
    }
  }
  return { round, missing: sorted, requests };
}
