// Pure drivers for the reputation experiments of BBNP §VI-C (Tables VI–VII, Fig. 9) and the
// primary-selection experiment of §VI-D (Table VIII, Fig. 10). Deterministic: all randomness comes
// from a SHA-256 counter-mode stream keyed by a seed. Every scenario parameter the paper leaves open
// is a field of the scenario objects below, with the value we chose documented in docs/REPRODUCTION.md.

import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import {
  DEFAULT_INITIAL_REPUTATION,
  DEFAULT_REPUTATION_PARAMS,
  INTERACTION_KINDS,
  initialReputationState,
  toFixed18,
  updateReputations,
} from "../protocol/reputation.ts";
import type {
  InteractionCounts,
  InteractionKind,
  Observation,
  ReputationParams,
  ReputationState,
} from "../protocol/reputation.ts";
import { selectPrimary } from "../protocol/primary-selection.ts";

// ---------------------------------------------------------------------------------------------
// Seeded randomness

export type Prng = {
  /** Uniform 32-bit unsigned integer. */
  readonly nextUint32: () => number;
  /** Uniform float in [0, 1) with 53 random bits. */
  readonly nextFloat: () => number;
  /** Uniform 256-bit bigint. */
  readonly nextUint256: () => bigint;
};

/** SHA-256 counter mode: block_k = SHA-256(seed ‖ uint64_be(k)); words consumed in order. */
export function createPrng(seed: Uint8Array): Prng {
  if (!(seed instanceof Uint8Array)) throw new TypeError("createPrng: seed must be a Uint8Array");
  const key = Uint8Array.from(seed);
  let counter = 0n;
  let block = new Uint8Array(0);
  let offset = 0;
  const refill = () => {
    const ctr = new Uint8Array(8);
    new DataView(ctr.buffer).setBigUint64(0, counter, false);
    counter += 1n;
    block = sha256(concatBytes(key, ctr));
    offset = 0;
  };
  const nextUint32 = () => {
    if (offset + 4 > block.length) refill();
    const v = new DataView(block.buffer, block.byteOffset).getUint32(offset, false);
    offset += 4;
    return v;
  };
  const nextFloat = () => {
    const hi = nextUint32() >>> 5; // 27 bits
    const lo = nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  };
  const nextUint256 = () => {
    let x = 0n;
    for (let k = 0; k < 8; k++) x = (x << 32n) | BigInt(nextUint32());
    return x;
  };
  return Object.freeze({ nextUint32, nextFloat, nextUint256 });
}

/** A seed from a label, so each experiment has its own independent stream. */
export function seedFromLabel(label: string): Uint8Array {
  return sha256(utf8ToBytes(`GridLedger/reproduce/${label}`));
}

// ---------------------------------------------------------------------------------------------
// Behaviour of simulated nodes

/** Probability of each interaction outcome a node produces toward an observer (sums to 1). */
export type BehaviourProfile = { readonly [K in InteractionKind]: number };

function drawKind(profile: BehaviourProfile, prng: Prng): InteractionKind {
  const x = prng.nextFloat();
  let acc = 0;
  for (const kind of INTERACTION_KINDS) {
    acc += profile[kind];
    if (x < acc) return kind;
  }
  return "untimely"; // x ≥ Σ p only by float rounding; last bucket
}

/**
 * One PBFT round's evidence: each node i sees `interactionsPerPair` messages (one per phase) of
 * every other node j, each with an outcome drawn from j's profile.
 */
export function simulateRoundObservations(
  profiles: readonly BehaviourProfile[],
  interactionsPerPair: number,
  prng: Prng,
): Observation[] {
  const m = profiles.length;
  const out: Observation[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i === j) continue;
      for (let k = 0; k < interactionsPerPair; k++) {
        out.push({ observer: i, target: j, kind: drawKind(profiles[j], prng) });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fig. 9 / Tables VI–VII

/** A weight setting of Tables VI–VII: P/N, F/S, W/U, R/P as their first components. */
export type WeightSetting = {
  readonly positiveWeight: number;
  readonly fastWeight: number;
  readonly wrongWeight: number;
  readonly recentWeight: number;
};

/** The seven settings E1–E7 of Tables VI and VII, in the paper's order. */
export const PAPER_WEIGHT_SETTINGS: Readonly<Record<string, WeightSetting>> = Object.freeze({
  E1: { positiveWeight: 0.4, fastWeight: 0.6, wrongWeight: 0.6, recentWeight: 0.7 },
  E2: { positiveWeight: 0.3, fastWeight: 0.6, wrongWeight: 0.6, recentWeight: 0.7 },
  E3: { positiveWeight: 0.2, fastWeight: 0.6, wrongWeight: 0.6, recentWeight: 0.7 },
  E4: { positiveWeight: 0.1, fastWeight: 0.6, wrongWeight: 0.6, recentWeight: 0.7 },
  E5: { positiveWeight: 0.4, fastWeight: 0.6, wrongWeight: 0.6, recentWeight: 0.6 },
  E6: { positiveWeight: 0.4, fastWeight: 0.6, wrongWeight: 0.6, recentWeight: 0.8 },
  E7: { positiveWeight: 0.4, fastWeight: 0.6, wrongWeight: 0.6, recentWeight: 0.9 },
});

export const EXPERIMENT_NAMES = ["E1", "E2", "E3", "E4", "E5", "E6", "E7"] as const;

export type NodeType = "friendly" | "intermediate" | "malicious";

export const NODE_TYPES: readonly NodeType[] = ["friendly", "intermediate", "malicious"];

/** Everything the paper leaves open about the Fig. 9 experiment. */
export type ReputationScenario = {
  /** Consensus rounds simulated after the initial state. */
  readonly rounds: number;
  /** Nodes in the network: one of each NodeType plus (nodes − 3) friendly background nodes. */
  readonly nodes: number;
  /** Messages each node receives from each other node per round (pre-prepare/prepare/commit). */
  readonly interactionsPerPair: number;
  /** Initial reputation T_j of every node (0.53 in Fig. 9). */
  readonly initialReputation: number;
  /** Record every observer holds about every node before round 1 (consistent with T_j). */
  readonly priorRecord: InteractionCounts;
  readonly profiles: { readonly [T in NodeType]: BehaviourProfile };
  /** The paper's T_recent in rounds. */
  readonly recentWindow: number;
  /** s_{i:j}. */
  readonly communicationQuality: number;
};

export const DEFAULT_REPUTATION_SCENARIO: ReputationScenario = Object.freeze({
  rounds: 40,
  nodes: 10,
  interactionsPerPair: 3,
  initialReputation: DEFAULT_INITIAL_REPUTATION,
  // 53 successes and 47 late signatures: under the default weights (δι = 0.24 = μς) this record
  // alone implies b/(b + d) = 0.53, the initial reputation of Fig. 9.
  priorRecord: Object.freeze({ fastCorrect: 53, slowCorrect: 0, wrong: 0, untimely: 47 }),
  profiles: Object.freeze({
    friendly: Object.freeze({ fastCorrect: 0.8, slowCorrect: 0.2, wrong: 0, untimely: 0 }),
    intermediate: Object.freeze({
      fastCorrect: 0.25,
      slowCorrect: 0.25,
      wrong: 0.1,
      untimely: 0.4,
    }),
    malicious: Object.freeze({ fastCorrect: 0, slowCorrect: 0, wrong: 0.5, untimely: 0.5 }),
  }),
  recentWindow: DEFAULT_REPUTATION_PARAMS.recentWindow,
  communicationQuality: DEFAULT_REPUTATION_PARAMS.communicationQuality,
});

/** Γ per round (index 0 = initial value) of the three tracked nodes. */
export type ReputationTrace = { readonly [T in NodeType]: readonly number[] };

function checkScenario(fn: string, s: ReputationScenario): void {
  if (!Number.isSafeInteger(s.rounds) || s.rounds < 1)
    throw new RangeError(`${fn}: rounds must be ≥ 1`);
  if (!Number.isSafeInteger(s.nodes) || s.nodes < 3)
    throw new RangeError(`${fn}: nodes must be ≥ 3`);
  if (!Number.isSafeInteger(s.interactionsPerPair) || s.interactionsPerPair < 1) {
    throw new RangeError(`${fn}: interactionsPerPair must be ≥ 1`);
  }
  for (const t of NODE_TYPES) {
    const p = s.profiles[t];
    const sum = INTERACTION_KINDS.reduce((a, k) => a + p[k], 0);
    if (INTERACTION_KINDS.some((k) => !(p[k] >= 0)) || Math.abs(sum - 1) > 1e-9) {
      throw new RangeError(`${fn}: profile ${t} must be probabilities summing to 1`);
    }
  }
}

/** Runs one weight setting: node 0 friendly, 1 intermediate, 2 malicious, the rest friendly. */
export function runReputationExperiment(
  weights: WeightSetting,
  scenario: ReputationScenario,
  seed: Uint8Array,
): ReputationTrace {
  checkScenario("runReputationExperiment", scenario);
  const params: ReputationParams = {
    ...weights,
    recentWindow: scenario.recentWindow,
    communicationQuality: scenario.communicationQuality,
  };
  const profiles = Array.from({ length: scenario.nodes }, (_, j) =>
    j < 3 ? scenario.profiles[NODE_TYPES[j]] : scenario.profiles.friendly,
  );
  const prng = createPrng(seed);
  let state: ReputationState = initialReputationState(
    new Array<number>(scenario.nodes).fill(scenario.initialReputation),
    scenario.priorRecord,
  );
  const traces: number[][] = [[], [], []];
  const record = () => traces.forEach((tr, j) => tr.push(state.reputations[j]));
  record();
  for (let round = 1; round <= scenario.rounds; round++) {
    const observations = simulateRoundObservations(profiles, scenario.interactionsPerPair, prng);
    state = updateReputations(state, { round, observations }, params);
    record();
  }
  return { friendly: traces[0], intermediate: traces[1], malicious: traces[2] };
}

/** All seven settings, each with its own stream derived from `seed` and the setting's name. */
export function runAllReputationExperiments(
  scenario: ReputationScenario = DEFAULT_REPUTATION_SCENARIO,
  seedLabel = "fig9",
): Record<string, ReputationTrace> {
  const out: Record<string, ReputationTrace> = {};
  for (const name of EXPERIMENT_NAMES) {
    out[name] = runReputationExperiment(
      PAPER_WEIGHT_SETTINGS[name],
      scenario,
      seedFromLabel(`${seedLabel}/${name}`),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fig. 10 / Table VIII

export const RANK_BUCKETS = ["1-3", "4-10", "11-20", "21-30", "31+"] as const;
export type RankBucket = (typeof RANK_BUCKETS)[number];
export type RankHistogram = { readonly [B in RankBucket]: number };

/** Bucket of a 1-based reputation rank, as in Table VIII. */
export function rankBucket(rank: number): RankBucket {
  if (!Number.isSafeInteger(rank) || rank < 1) throw new RangeError(`rankBucket: bad rank ${rank}`);
  if (rank <= 3) return "1-3";
  if (rank <= 10) return "4-10";
  if (rank <= 20) return "11-20";
  if (rank <= 30) return "21-30";
  return "31+";
}

/** Everything the paper leaves open about the Table VIII experiment. */
export type SelectionScenario = {
  /** Consensus nodes (100 in the paper). */
  readonly nodes: number;
  /** Primary selections per experiment (50 in the paper). */
  readonly selections: number;
  /** Rounds of reputation history before the first selection, so reputations are spread out. */
  readonly warmupRounds: number;
  /** Each node's probability of a correct interaction is drawn uniformly from this range. */
  readonly successRange: readonly [number, number];
  readonly interactionsPerPair: number;
  readonly initialReputation: number;
  readonly params: ReputationParams;
};

export const DEFAULT_SELECTION_SCENARIO: SelectionScenario = Object.freeze({
  nodes: 100,
  selections: 50,
  warmupRounds: 10,
  successRange: Object.freeze([0.3, 1]) as readonly [number, number],
  interactionsPerPair: 3,
  initialReputation: DEFAULT_INITIAL_REPUTATION,
  params: DEFAULT_REPUTATION_PARAMS,
});

/** Profile of a node that succeeds with probability p (fast 3:2 slow) and otherwise fails (late 3:1 wrong). */
export function profileWithSuccess(p: number): BehaviourProfile {
  return {
    fastCorrect: 0.6 * p,
    slowCorrect: 0.4 * p,
    wrong: 0.25 * (1 - p),
    untimely: 0.75 * (1 - p),
  };
}

/** 1-based rank of node `j` by reputation (descending; equal reputations by index). */
export function reputationRank(reputations: readonly bigint[], j: number): number {
  let rank = 1;
  for (let k = 0; k < reputations.length; k++) {
    if (k === j) continue;
    if (reputations[k] > reputations[j] || (reputations[k] === reputations[j] && k < j)) rank++;
  }
  return rank;
}

export type SelectionRun = {
  readonly histogram: RankHistogram;
  /** Rank of the selected primary, per selection. */
  readonly ranks: readonly number[];
  /** How often P was empty. */
  readonly fallbacks: number;
};

/**
 * One experiment of Table VIII: nodes with random reliability build reputations, then in each of
 * `selections` rounds the primary is selected (uniform 256-bit X_q and Θ, standing for hashes of
 * unique BLS signatures) and the round's evidence updates the reputations.
 */
export function runPrimarySelectionExperiment(
  scenario: SelectionScenario,
  seed: Uint8Array,
): SelectionRun {
  const fn = "runPrimarySelectionExperiment";
  if (!Number.isSafeInteger(scenario.nodes) || scenario.nodes < 2)
    throw new RangeError(`${fn}: nodes ≥ 2`);
  if (!Number.isSafeInteger(scenario.selections) || scenario.selections < 1) {
    throw new RangeError(`${fn}: selections ≥ 1`);
  }
  const [lo, hi] = scenario.successRange;
  if (!(lo >= 0 && hi <= 1 && lo <= hi)) throw new RangeError(`${fn}: bad successRange`);
  const prng = createPrng(seed);
  const profiles = Array.from({ length: scenario.nodes }, () =>
    profileWithSuccess(lo + (hi - lo) * prng.nextFloat()),
  );
  let state = initialReputationState(
    new Array<number>(scenario.nodes).fill(scenario.initialReputation),
  );
  const step = () => {
    const observations = simulateRoundObservations(profiles, scenario.interactionsPerPair, prng);
    state = updateReputations(state, { round: state.round + 1, observations }, scenario.params);
  };
  for (let r = 0; r < scenario.warmupRounds; r++) step();
  const counts: Record<RankBucket, number> = {
    "1-3": 0,
    "4-10": 0,
    "11-20": 0,
    "21-30": 0,
    "31+": 0,
  };
  const ranks: number[] = [];
  let fallbacks = 0;
  for (let k = 0; k < scenario.selections; k++) {
    const reputations = state.reputations.map(toFixed18);
    const randoms = new Map<number, bigint>();
    for (let q = 0; q < scenario.nodes; q++) randoms.set(q, prng.nextUint256());
    const threshold = prng.nextUint256();
    const sel = selectPrimary({ reputations, randoms, threshold });
    const rank = reputationRank(reputations, sel.primary);
    ranks.push(rank);
    counts[rankBucket(rank)] += 1;
    if (sel.fallback) fallbacks++;
    step();
  }
  return { histogram: counts, ranks, fallbacks };
}

// ---------------------------------------------------------------------------------------------
// The whole reproduction

export type ReproductionResult = {
  readonly reputation: Record<string, ReputationTrace>;
  readonly primarySelection: Record<string, RankHistogram>;
};

export type ReproductionOptions = {
  readonly reputationScenario?: ReputationScenario;
  readonly selectionScenario?: SelectionScenario;
};

/** Everything `npm run reproduce` writes to reports/reproduction.json (fixed seeds). */
export function runReproduction(options: ReproductionOptions = {}): ReproductionResult {
  const reputation = runAllReputationExperiments(
    options.reputationScenario ?? DEFAULT_REPUTATION_SCENARIO,
  );
  const primarySelection: Record<string, RankHistogram> = {};
  for (const name of ["S1", "S2", "S3"]) {
    primarySelection[name] = runPrimarySelectionExperiment(
      options.selectionScenario ?? DEFAULT_SELECTION_SCENARIO,
      seedFromLabel(`fig10/${name}`),
    ).histogram;
  }
  return { reputation, primarySelection };
}

/** Paper values quoted in §VI-C (final Γ after the experiment) and Table VIII. */
export const PAPER_VALUES = Object.freeze({
  reputationStart: 0.53,
  reputationFinal: Object.freeze({
    E1: Object.freeze({ friendly: 0.89, intermediate: 0.47, malicious: 0.16 }),
    E5: Object.freeze({ malicious: 0.2 }),
    E6: Object.freeze({ malicious: 0.11 }),
    E7: Object.freeze({ malicious: 0.06 }),
  }),
  primarySelection: Object.freeze({
    S1: Object.freeze({ "1-3": 23, "4-10": 15, "11-20": 5, "21-30": 2, "31+": 5 }),
    S2: Object.freeze({ "1-3": 26, "4-10": 12, "11-20": 4, "21-30": 5, "31+": 3 }),
    S3: Object.freeze({ "1-3": 25, "4-10": 10, "11-20": 9, "21-30": 3, "31+": 3 }),
  }),
});
