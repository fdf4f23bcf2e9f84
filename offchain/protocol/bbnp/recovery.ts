// Dropout recovery plan (DESIGN §4.7 "Dropouts", §6 "dropouts break cancellation").
// With R the counted users (reported, and answered every reveal request) and D = [0, N) \ R,
//   Σ_{i∈R} C_i = Σ_R m_i + Σ_R k_{i,g} + Σ_{i∈R} Σ_{d∈N(i)∩D} AUI_{i,d} + Σ_R β_i,
// since masks between two counted users cancel. The gateway asks every counted neighbour i of each
// non-counted d for AUI_{i,d}(t) (that round's mask only, never k_id) and, once the round can
// complete, the TA for Σ_D β_d(t) (a round-t value, never s_d). A requested neighbour that stays
// silent is moved from R to D and the next pass asks ITS counted neighbours (docs/BBNP.md
// "Recovery"): one plan per pass, each for the users that left R in the pass before.
import type { RoundGraph } from "./graph.ts";
import { BbnpInputError } from "./errors.ts";

export interface RecoveryPlan {
  readonly round: bigint;
  /** 1 for the users missing at report time, 2… for neighbours that were silent in a pass. */
  readonly pass: number;
  /** The users that left the counted set before this pass (ascending): masks with them are asked. */
  readonly missing: readonly number[];
  /** Counted user i → the non-counted neighbours d whose mask AUI_{i,d}(t) it must reveal. */
  readonly requests: ReadonlyMap<number, readonly number[]>;
}

/**
 * The requests of one recovery pass: for each user of `missing`, each neighbour of the round's
 * graph that is still counted. Throws {@link BbnpInputError} if a `missing` user is counted.
 */
export function recoveryPlan(
  graph: RoundGraph,
  round: bigint,
  missing: readonly number[],
  isCounted: (user: number) => boolean,
  pass = 1,
): RecoveryPlan {
  const sorted = [...new Set(missing)].sort((a, b) => a - b);
  const requests = new Map<number, number[]>();
  for (const d of sorted) {
    if (isCounted(d))
      throw new BbnpInputError(`recoveryPlan: user ${d} is listed missing but counted`);
    for (const i of graph.neighboursOf(d)) {
      if (!isCounted(i)) continue;
      const list = requests.get(i);
      if (list) list.push(d);
      else requests.set(i, [d]);
    }
  }
  return { round, pass, missing: sorted, requests };
}
