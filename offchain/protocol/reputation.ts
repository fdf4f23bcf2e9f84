// Subjective-logic reputation model of BBNP (Bao et al., §IV-D.3), DESIGN §5.3.
//
// Pure and deterministic: a state (Γ^(κ) plus the windowed interaction counts every observer holds
// about every other node) and one round of evidence go in, the next state comes out. The consensus
// layer feeds what each node saw of every other node in the PBFT phases of round κ (a correct
// signature in time or late, a wrong signature, no signature in time) and records the returned
// reputation vector on-chain through `toFixed18`.
//
// Pipeline per target CN_j (paper Fig. 6):
//   local opinion  (b, d, u)_{i:j}   from weighted counts α_{i:j}, β_{i:j} and quality s
//   recommended    (b, d, u)^r_{i:j} = τ-weighted mean over t ≠ i, j, τ_{t:j} = Γ_t · IF_{t:j}
//   synthesis      (b, d, u)^f_{i:j} = Jøsang consensus of local and recommended opinion
//   T^f_{i:j}      = b^f + Γ_j^(κ−1) · u^f
//   Γ_j^(κ)        = Σ_{i≠j} Γ_i^(κ−1) T^f_{i:j} / Σ_{i≠j} Γ_i^(κ−1)           (eq. 2)

/** What an observer CN_i saw of a target CN_j in one interaction (paper Table II). */
export type InteractionKind = "fastCorrect" | "slowCorrect" | "wrong" | "untimely";

export const INTERACTION_KINDS: readonly InteractionKind[] = [
  "fastCorrect",
  "slowCorrect",
  "wrong",
  "untimely",
];

/** One observation reported for a round: `observer` (CN_i) saw `target` (CN_j) do `kind`. */
export type Observation = {
  readonly observer: number;
  readonly target: number;
  readonly kind: InteractionKind;
};

/** All observations of consensus round `round` (must be the state's round + 1). */
export type RoundEvidence = {
  readonly round: number;
  readonly observations: readonly Observation[];
};

/**
 * Model parameters. Each pair is (first, second) with first + second = 1; the paper's defaults are
 * P/N 0.4/0.6 (ι/ς), F/S 0.6/0.4 (δ/ε), W/U 0.6/0.4 (ϑ/μ), R/P 0.7/0.3 (ρ/χ).
 */
export type ReputationParams = {
  /** ι: weight of positive interactions (N = ς = 1 − ι; the paper requires ς > ι). */
  readonly positiveWeight: number;
  /** δ: weight of a fast correct response among positives (ε = 1 − δ). */
  readonly fastWeight: number;
  /** ϑ: weight of a wrong signature among negatives (μ = 1 − ϑ for an untimely one). */
  readonly wrongWeight: number;
  /** ρ: weight of recent interactions (χ = 1 − ρ for past ones). */
  readonly recentWeight: number;
  /**
   * The paper's T_recent, in rounds: an interaction of round r is "recent" at round κ iff
   * r > κ − recentWindow, otherwise "past". The paper leaves it open ("e.g., one day").
   */
  readonly recentWindow: number;
  /**
   * s_{i:j}, the probability that CN_i receives CN_j's messages; u_{i:j} = 1 − s. The paper gives no
   * value; one value for all pairs (our transport is reliable up to the faults counted as evidence).
   */
  readonly communicationQuality: number;
};

/** Defaults: the paper's recommended weights (§VI-C) and our choices for what it leaves open. */
export const DEFAULT_REPUTATION_PARAMS: ReputationParams = Object.freeze({
  positiveWeight: 0.4,
  fastWeight: 0.6,
  wrongWeight: 0.6,
  recentWeight: 0.7,
  recentWindow: 20,
  communicationQuality: 0.9,
});

/** Initial reputation T_j used in the paper's Fig. 9 (all curves start at 0.53). */
export const DEFAULT_INITIAL_REPUTATION = 0.53;

/** Per-kind interaction counts, in the order of INTERACTION_KINDS. */
export type InteractionCounts = {
  readonly fastCorrect: number;
  readonly slowCorrect: number;
  readonly wrong: number;
  readonly untimely: number;
};

/** What observer i knows about target j: counts older than the window, and per-round recent ones. */
export type PairHistory = {
  readonly past: InteractionCounts;
  /** Counts of rounds still inside the recent window, oldest first. */
  readonly recent: readonly { readonly round: number; readonly counts: InteractionCounts }[];
};

export type ReputationState = {
  /** κ: the last round whose evidence is included (0 = only initial values). */
  readonly round: number;
  /** Γ_j^(κ) for j = 0..M−1 (T_j when κ = 0). */
  readonly reputations: readonly number[];
  /** history[i][j]: observer i about target j (history[i][i] stays empty). */
  readonly history: readonly (readonly PairHistory[])[];
};

/** A subjective-logic opinion (b, d, u), b + d + u = 1. */
export type Opinion = {
  readonly belief: number;
  readonly disbelief: number;
  readonly uncertainty: number;
};

const ZERO_COUNTS: InteractionCounts = Object.freeze({
  fastCorrect: 0,
  slowCorrect: 0,
  wrong: 0,
  untimely: 0,
});

const VACUOUS: Opinion = Object.freeze({ belief: 0, disbelief: 0, uncertainty: 1 });

function checkUnit(fn: string, name: string, x: number): void {
  if (typeof x !== "number" || !Number.isFinite(x) || x < 0 || x > 1) {
    throw new RangeError(`${fn}: ${name} must be a number in [0, 1], got ${String(x)}`);
  }
}

/** Checks a parameter object; throws a RangeError naming `fn` and the bad field. */
export function validateReputationParams(
  params: ReputationParams,
  fn = "validateReputationParams",
): void {
  checkUnit(fn, "positiveWeight", params.positiveWeight);
  checkUnit(fn, "fastWeight", params.fastWeight);
  checkUnit(fn, "wrongWeight", params.wrongWeight);
  checkUnit(fn, "recentWeight", params.recentWeight);
  checkUnit(fn, "communicationQuality", params.communicationQuality);
  if (!Number.isSafeInteger(params.recentWindow) || params.recentWindow < 1) {
    throw new RangeError(
      `${fn}: recentWindow must be a positive integer, got ${params.recentWindow}`,
    );
  }
}

/**
 * The state before round 1: Γ^(0) = the initial reputations T_j (paper §IV-A.3, set "according to
 * the performance and status" of each node). `priorRecord`, if given, is an interaction record every
 * observer already holds about every other node (counted as past), e.g. from a probation period.
 */
export function initialReputationState(
  initial: readonly number[],
  priorRecord: InteractionCounts = ZERO_COUNTS,
): ReputationState {
  if (!Array.isArray(initial) || initial.length < 2) {
    throw new RangeError("initialReputationState: need initial reputations of at least 2 nodes");
  }
  initial.forEach((x, j) => checkUnit("initialReputationState", `initial[${j}]`, x));
  for (const kind of INTERACTION_KINDS) {
    const c = priorRecord[kind];
    if (!Number.isSafeInteger(c) || c < 0) {
      throw new RangeError(`initialReputationState: priorRecord.${kind} must be a count`);
    }
  }
  const m = initial.length;
  const prior: InteractionCounts = Object.freeze({ ...priorRecord });
  const withPrior: PairHistory = Object.freeze({ past: prior, recent: Object.freeze([]) });
  const empty: PairHistory = Object.freeze({ past: ZERO_COUNTS, recent: Object.freeze([]) });
  const history = Array.from({ length: m }, (_, i) =>
    Object.freeze(Array.from({ length: m }, (_, j) => (i === j ? empty : withPrior))),
  );
  return Object.freeze({
    round: 0,
    reputations: Object.freeze([...initial]),
    history: Object.freeze(history),
  });
}

function addCounts(a: InteractionCounts, b: InteractionCounts): InteractionCounts {
  return {
    fastCorrect: a.fastCorrect + b.fastCorrect,
    slowCorrect: a.slowCorrect + b.slowCorrect,
    wrong: a.wrong + b.wrong,
    untimely: a.untimely + b.untimely,
  };
}

/**
 * Weighted evidence of one pair (paper §IV-D.3.a):
 *   α = ι[ρ(δα11 + εα12) + χ(δα21 + εα22)],  β = ς[ρ(ϑβ11 + μβ12) + χ(ϑβ21 + μβ22)]
 * with index 1 = recent, 2 = past.
 */
export function weightedEvidence(
  recent: InteractionCounts,
  past: InteractionCounts,
  params: ReputationParams,
): { readonly positive: number; readonly negative: number } {
  const iota = params.positiveWeight;
  const delta = params.fastWeight;
  const theta = params.wrongWeight;
  const rho = params.recentWeight;
  const pos = (c: InteractionCounts) => delta * c.fastCorrect + (1 - delta) * c.slowCorrect;
  const neg = (c: InteractionCounts) => theta * c.wrong + (1 - theta) * c.untimely;
  return {
    positive: iota * (rho * pos(recent) + (1 - rho) * pos(past)),
    negative: (1 - iota) * (rho * neg(recent) + (1 - rho) * neg(past)),
  };
}

/**
 * Opinion from weighted evidence (paper §IV-D.3.a): b = s·α/(α+β), d = s·β/(α+β), u = 1 − s.
 * Without any evidence the opinion is vacuous (0, 0, 1), the limit of §III's b = r/(r+s+C) with
 * r = s = 0: T = b + Γ·u then keeps the previous reputation.
 */
export function opinionFromEvidence(positive: number, negative: number, quality: number): Opinion {
  const n = positive + negative;
  if (!(n > 0)) return VACUOUS;
  return {
    belief: (quality * positive) / n,
    disbelief: (quality * negative) / n,
    uncertainty: 1 - quality,
  };
}

/**
 * Jøsang's consensus (fusion) operator, the paper's "Synthesis" (§IV-D.3.c):
 *   b^f = (b·u^r + b^r·u)/K, d^f = (d·u^r + d^r·u)/K, u^f = u·u^r/K, K = u + u^r − u·u^r.
 * (The paper's printed d^f drops a parenthesis and u^f prints u·u; we use the operator of [25].)
 * Two dogmatic opinions (K = 0, only when s = 1) fuse to their average, Jøsang's limit with γ = 1.
 */
export function fuseOpinions(local: Opinion, recommended: Opinion): Opinion {
  const u = local.uncertainty;
  const ur = recommended.uncertainty;
  const k = u + ur - u * ur;
  if (k <= 1e-15) {
    return {
      belief: (local.belief + recommended.belief) / 2,
      disbelief: (local.disbelief + recommended.disbelief) / 2,
      uncertainty: 0,
    };
  }
  return {
    belief: (local.belief * ur + recommended.belief * u) / k,
    disbelief: (local.disbelief * ur + recommended.disbelief * u) / k,
    uncertainty: (u * ur) / k,
  };
}

/** Expectation E = b + a·u with the prior a = Γ_j^(κ−1) (paper: T_{i:j} = b + Γ_j u). */
export function expectation(opinion: Opinion, prior: number): number {
  return opinion.belief + prior * opinion.uncertainty;
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** Applies one round's observations to the histories and rolls the recent window. */
function advanceHistory(
  state: ReputationState,
  evidence: RoundEvidence,
  params: ReputationParams,
): (readonly PairHistory[])[] {
  const m = state.reputations.length;
  const round = evidence.round;
  const fresh = new Map<
    number,
    { fastCorrect: number; slowCorrect: number; wrong: number; untimely: number }
  >();
  for (const [k, o] of evidence.observations.entries()) {
    const bad = (why: string) => new RangeError(`updateReputations: observations[${k}] ${why}`);
    if (!Number.isSafeInteger(o.observer) || o.observer < 0 || o.observer >= m)
      throw bad("has a bad observer");
    if (!Number.isSafeInteger(o.target) || o.target < 0 || o.target >= m)
      throw bad("has a bad target");
    if (o.observer === o.target) throw bad("is a self-observation");
    if (!INTERACTION_KINDS.includes(o.kind)) throw bad(`has unknown kind ${String(o.kind)}`);
    const key = o.observer * m + o.target;
    const c = fresh.get(key) ?? { fastCorrect: 0, slowCorrect: 0, wrong: 0, untimely: 0 };
    c[o.kind] += 1;
    fresh.set(key, c);
  }
  const oldest = round - params.recentWindow; // rounds ≤ oldest are "past" at round κ
  return state.history.map((row, i) =>
    row.map((h, j) => {
      const c = fresh.get(i * m + j);
      if (c === undefined && (h.recent.length === 0 || h.recent[0].round > oldest)) return h;
      let past = h.past;
      const recent: { round: number; counts: InteractionCounts }[] = [];
      for (const r of h.recent) {
        if (r.round <= oldest) past = addCounts(past, r.counts);
        else recent.push(r);
      }
      if (c !== undefined) recent.push({ round, counts: Object.freeze(c) });
      return Object.freeze({ past, recent: Object.freeze(recent) });
    }),
  );
}

function windowedEvidence(h: PairHistory, params: ReputationParams) {
  let recent = ZERO_COUNTS;
  for (const r of h.recent) recent = addCounts(recent, r.counts);
  return weightedEvidence(recent, h.past, params);
}

/**
 * The per-pair opinions T^f_{i:j} of round κ (paper eq. (1): column j of the matrix, T_{j:j} = 0),
 * from histories that already include round κ and the reputations Γ^(κ−1).
 */
export function synthesizedOpinions(
  history: readonly (readonly PairHistory[])[],
  previous: readonly number[],
  params: ReputationParams,
): number[][] {
  const m = previous.length;
  const s = params.communicationQuality;
  // Weighted evidence N_{t:j} = α_{t:j} + β_{t:j} and the opinion of every observer about every target.
  const opinions: Opinion[][] = [];
  const volume: number[][] = [];
  for (let t = 0; t < m; t++) {
    const ops: Opinion[] = [];
    const vol: number[] = [];
    for (let j = 0; j < m; j++) {
      if (t === j) {
        ops.push(VACUOUS);
        vol.push(0);
        continue;
      }
      const e = windowedEvidence(history[t][j], params);
      ops.push(opinionFromEvidence(e.positive, e.negative, s));
      vol.push(e.positive + e.negative);
    }
    opinions.push(ops);
    volume.push(vol);
  }
  // N̄_t: mean volume over the set S of nodes CN_t interacted with (§IV-D.3.b.i.B).
  const meanVolume = volume.map((vol) => {
    const seen = vol.filter((x) => x > 0);
    return seen.length === 0 ? 0 : seen.reduce((a, b) => a + b, 0) / seen.length;
  });
  const result: number[][] = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  for (let j = 0; j < m; j++) {
    // τ_{t:j} = Γ_t^(κ−1) · IF_{t:j}, IF_{t:j} = N_{t:j}/N̄_t; sums over all t, then each observer
    // i removes its own term (recommenders are t ≠ i, j; τ_{j:j} = 0 as N_{j:j} = 0).
    const tau = new Array<number>(m).fill(0);
    let sumTau = 0;
    let sumB = 0;
    let sumD = 0;
    let sumU = 0;
    for (let t = 0; t < m; t++) {
      if (t === j || volume[t][j] === 0) continue;
      tau[t] = previous[t] * (volume[t][j] / meanVolume[t]);
      sumTau += tau[t];
      sumB += tau[t] * opinions[t][j].belief;
      sumD += tau[t] * opinions[t][j].disbelief;
      sumU += tau[t] * opinions[t][j].uncertainty;
    }
    for (let i = 0; i < m; i++) {
      if (i === j) continue; // T^f_{j:j} = 0 (eq. (1))
      const wt = sumTau - tau[i];
      const recommended: Opinion =
        wt > 1e-12
          ? {
              belief: (sumB - tau[i] * opinions[i][j].belief) / wt,
              disbelief: (sumD - tau[i] * opinions[i][j].disbelief) / wt,
              uncertainty: (sumU - tau[i] * opinions[i][j].uncertainty) / wt,
            }
          : VACUOUS; // no weighted recommender: fusion with a vacuous opinion is the identity
      const fused = fuseOpinions(opinions[i][j], recommended);
      result[i][j] = clamp01(expectation(fused, previous[j]));
    }
  }
  return result;
}

/**
 * Final reputation, eq. (2): Γ_j = Σ_{i≠j} Γ_i T^f_{i:j} / Σ_{i≠j} Γ_i.
 * The paper's denominator is printed as Σ_{j=1}^M Γ_j; step (c) says i ≠ j and a node's own
 * T_{j:j} = 0, so we read eq. (2) as the Γ-weighted mean over the other nodes (otherwise a perfect
 * node could never exceed 1 − Γ_j/ΣΓ). If every other node has Γ = 0 the plain mean is used.
 */
export function aggregateReputation(
  opinions: readonly (readonly number[])[],
  previous: readonly number[],
): number[] {
  const m = previous.length;
  const total = previous.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  for (let j = 0; j < m; j++) {
    const weight = total - previous[j];
    let num = 0;
    let plain = 0;
    for (let i = 0; i < m; i++) {
      if (i === j) continue;
      num += previous[i] * opinions[i][j];
      plain += opinions[i][j];
    }
    out.push(clamp01(weight > 1e-12 ? num / weight : plain / (m - 1)));
  }
  return out;
}

/** One round of the model: Γ^(κ) from Γ^(κ−1) and the observations of round κ. */
export function updateReputations(
  state: ReputationState,
  evidence: RoundEvidence,
  params: ReputationParams = DEFAULT_REPUTATION_PARAMS,
): ReputationState {
  validateReputationParams(params, "updateReputations");
  if (!Number.isSafeInteger(evidence.round) || evidence.round !== state.round + 1) {
    throw new RangeError(
      `updateReputations: expected evidence of round ${state.round + 1}, got ${evidence.round}`,
    );
  }
  const history = advanceHistory(state, evidence, params);
  const opinions = synthesizedOpinions(history, state.reputations, params);
  const reputations = aggregateReputation(opinions, state.reputations);
  return Object.freeze({
    round: evidence.round,
    reputations: Object.freeze(reputations),
    history: Object.freeze(history.map((row) => Object.freeze(row))),
  });
}

const FIXED18_ONE = 10n ** 18n;

/** Γ ∈ [0, 1] as an 18-decimal fixed-point integer (on-chain form), rounded to nearest. */
export function toFixed18(reputation: number): bigint {
  checkUnit("toFixed18", "reputation", reputation);
  // toFixed(18) rounds the exact binary value in decimal, so the result is platform-independent.
  const [whole, frac] = reputation.toFixed(18).split(".");
  return BigInt(whole) * FIXED18_ONE + BigInt(frac);
}

/** Inverse of toFixed18 (up to float precision). */
export function fromFixed18(value: bigint): number {
  if (typeof value !== "bigint" || value < 0n || value > FIXED18_ONE) {
    throw new RangeError(`fromFixed18: value must be a bigint in [0, 1e18], got ${String(value)}`);
  }
  return Number(value) / 1e18;
}
