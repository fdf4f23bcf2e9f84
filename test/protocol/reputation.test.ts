import { expect } from "chai";
import fc from "fast-check";

import { expectClose } from "../helpers/approx.ts";
import {
  DEFAULT_REPUTATION_PARAMS,
  INTERACTION_KINDS,
  aggregateReputation,
  expectation,
  fromFixed18,
  fuseOpinions,
  initialReputationState,
  opinionFromEvidence,
  synthesizedOpinions,
  toFixed18,
  updateReputations,
  weightedEvidence,
} from "../../offchain/protocol/reputation.ts";
import type {
  InteractionKind,
  Observation,
  ReputationParams,
  ReputationState,
} from "../../offchain/protocol/reputation.ts";
import {
  DEFAULT_REPUTATION_SCENARIO,
  PAPER_WEIGHT_SETTINGS,
  runReputationExperiment,
  seedFromLabel,
} from "../../offchain/sim/reputation-experiments.ts";

const EPS = 1e-12;

const obs = (observer: number, target: number, kind: InteractionKind): Observation => ({
  observer,
  target,
  kind,
});

describe("reputation (BBNP §IV-D.3)", () => {
  describe("weightedEvidence", () => {
    it("applies ι/ς, δ/ε, ϑ/μ and ρ/χ as in §IV-D.3.a (hand-computed)", () => {
      // α = 0.4·(0.7·(0.6·2 + 0.4·1) + 0.3·(0.6·1)) = 0.52
      // β = 0.6·(0.7·(0.6·1) + 0.3·(0.4·2)) = 0.396
      const e = weightedEvidence(
        { fastCorrect: 2, slowCorrect: 1, wrong: 1, untimely: 0 },
        { fastCorrect: 1, slowCorrect: 0, wrong: 0, untimely: 2 },
        DEFAULT_REPUTATION_PARAMS,
      );
      expectClose(e.positive, 0.52, EPS);
      expectClose(e.negative, 0.396, EPS);
    });
  });

  describe("opinionFromEvidence", () => {
    it("gives b = sα/(α+β), d = sβ/(α+β), u = 1 − s", () => {
      const o = opinionFromEvidence(0.52, 0.396, 0.9);
      expectClose(o.belief, 0.468 / 0.916, EPS);
      expectClose(o.disbelief, 0.3564 / 0.916, EPS);
      expectClose(o.uncertainty, 0.1, EPS);
    });
    it("is vacuous without evidence, so the expectation keeps the prior", () => {
      const o = opinionFromEvidence(0, 0, 0.9);
      expect(o).to.deep.equal({ belief: 0, disbelief: 0, uncertainty: 1 });
      expect(expectation(o, 0.37)).to.equal(0.37);
    });
  });

  describe("fuseOpinions", () => {
    it("is Jøsang's consensus operator (hand-computed)", () => {
      // K = 0.2 + 0.2 − 0.04 = 0.36; b = 0.18/0.36, d = 0.14/0.36, u = 0.04/0.36
      const f = fuseOpinions(
        { belief: 0.6, disbelief: 0.2, uncertainty: 0.2 },
        { belief: 0.3, disbelief: 0.5, uncertainty: 0.2 },
      );
      expectClose(f.belief, 0.5, EPS);
      expectClose(f.disbelief, 0.14 / 0.36, EPS);
      expectClose(f.uncertainty, 0.04 / 0.36, EPS);
    });
    it("fuses with a vacuous opinion as the identity", () => {
      const local = { belief: 0.45, disbelief: 0.35, uncertainty: 0.2 };
      const f = fuseOpinions(local, { belief: 0, disbelief: 0, uncertainty: 1 });
      expectClose(f.belief, 0.45, EPS);
      expectClose(f.disbelief, 0.35, EPS);
      expectClose(f.uncertainty, 0.2, EPS);
    });
    it("averages two dogmatic opinions (s = 1) instead of dividing by zero", () => {
      const f = fuseOpinions(
        { belief: 1, disbelief: 0, uncertainty: 0 },
        { belief: 0, disbelief: 1, uncertainty: 0 },
      );
      expect(f).to.deep.equal({ belief: 0.5, disbelief: 0.5, uncertainty: 0 });
    });
  });

  describe("aggregateReputation (eq. 2)", () => {
    it("is the Γ-weighted mean of the other nodes' opinions (hand-computed)", () => {
      const previous = [0.8, 0.2, 0.5];
      const opinions = [
        [0, 0.3, 0.9],
        [0.5, 0, 0.1],
        [1, 0.6, 0],
      ];
      const g = aggregateReputation(opinions, previous);
      expectClose(g[0], (0.2 * 0.5 + 0.5 * 1) / 0.7, EPS);
      expectClose(g[1], (0.8 * 0.3 + 0.5 * 0.6) / 1.3, EPS);
      expectClose(g[2], (0.8 * 0.9 + 0.2 * 0.1) / 1.0, EPS);
    });
    it("falls back to the plain mean when every other node has Γ = 0", () => {
      const g = aggregateReputation(
        [
          [0, 0.4],
          [0.8, 0],
        ],
        [0, 0],
      );
      expect(g).to.deep.equal([0.8, 0.4]);
    });
  });

  describe("updateReputations", () => {
    const half: ReputationParams = { ...DEFAULT_REPUTATION_PARAMS, communicationQuality: 0.5 };

    it("computes one full round for three nodes (hand-computed)", () => {
      // Everyone sees nodes 0 and 1 answer fast and correctly; node 2 sends a wrong signature.
      // Target 0: local and recommended opinions are (0.5, 0, 0.5); fused (2/3, 0, 1/3);
      // T = 2/3 + 0.5·1/3 = 5/6 from both observers. Target 2: (0, 0.5, 0.5) fuse to
      // (0, 2/3, 1/3); T = 0.5·1/3 = 1/6.
      const state = initialReputationState([0.5, 0.5, 0.5]);
      const next = updateReputations(
        state,
        {
          round: 1,
          observations: [
            obs(1, 0, "fastCorrect"),
            obs(2, 0, "fastCorrect"),
            obs(0, 1, "fastCorrect"),
            obs(2, 1, "fastCorrect"),
            obs(0, 2, "wrong"),
            obs(1, 2, "wrong"),
          ],
        },
        half,
      );
      expect(next.round).to.equal(1);
      expectClose(next.reputations[0], 5 / 6, EPS);
      expectClose(next.reputations[1], 5 / 6, EPS);
      expectClose(next.reputations[2], 1 / 6, EPS);
    });

    it("weights recommenders by τ = Γ_t·IF and the final mean by Γ_i (hand-computed)", () => {
      // Target 3 is seen fast-correct by 0 and 2 and wrong by 1; each observer saw only node 3,
      // so IF = 1 and τ_t = Γ_t. Γ = [0.5, 0.9, 0.1, 0.5], s = 0.5.
      // i=0: rec = (0.9·(0,.5,.5) + 0.1·(.5,0,.5))/1.0 = (0.05, 0.45, 0.5);
      //      fused b = (0.25 + 0.025)/0.75, u = 1/3 → T = 0.275/0.75 + 0.5/3.
      // i=1: rec = (0.5, 0, 0.5) → fused (1/3, 1/3, 1/3) → T = 1/3 + 0.5/3 = 0.5.
      // i=2: rec = (0.25/1.4, 0.45/1.4, 0.5) → b = (0.25 + 0.5·0.25/1.4)/0.75 → T = b + 0.5/3.
      const prev = [0.5, 0.9, 0.1, 0.5];
      const t0 = 0.275 / 0.75 + 0.5 / 3;
      const t1 = 0.5;
      const t2 = (0.25 + (0.5 * 0.25) / 1.4) / 0.75 + 0.5 / 3;
      const state = initialReputationState(prev);
      const next = updateReputations(
        state,
        {
          round: 1,
          observations: [obs(0, 3, "fastCorrect"), obs(1, 3, "wrong"), obs(2, 3, "fastCorrect")],
        },
        half,
      );
      expectClose(next.reputations[3], (0.5 * t0 + 0.9 * t1 + 0.1 * t2) / 1.5, EPS);
      // Nodes nobody observed keep their reputation (vacuous opinions: T = Γ_j).
      expectClose(next.reputations[0], 0.5, EPS);
      const matrix = synthesizedOpinions(next.history, prev, half);
      expectClose(matrix[0][3], t0, EPS);
      expect(matrix[3][3]).to.equal(0);
    });

    it("moves rounds older than the recent window into the past counts", () => {
      const params = { ...DEFAULT_REPUTATION_PARAMS, recentWindow: 2 };
      let s: ReputationState = initialReputationState([0.5, 0.5]);
      s = updateReputations(s, { round: 1, observations: [obs(0, 1, "wrong")] }, params);
      s = updateReputations(s, { round: 2, observations: [obs(0, 1, "fastCorrect")] }, params);
      expect(s.history[0][1].past.wrong).to.equal(0);
      expect(s.history[0][1].recent.map((r) => r.round)).to.deep.equal([1, 2]);
      s = updateReputations(s, { round: 3, observations: [] }, params);
      expect(s.history[0][1].past).to.deep.equal({
        fastCorrect: 0,
        slowCorrect: 0,
        wrong: 1,
        untimely: 0,
      });
      expect(s.history[0][1].recent.map((r) => r.round)).to.deep.equal([2]);
    });

    it("starts from a prior record counted as past", () => {
      const prior = { fastCorrect: 53, slowCorrect: 0, wrong: 0, untimely: 47 };
      const s = initialReputationState([0.53, 0.53, 0.53], prior);
      expect(s.history[0][1].past).to.deep.equal(prior);
      expect(s.history[1][1].past.fastCorrect).to.equal(0);
      // Under the default weights δι = μς, so the record alone implies b/(b+d) = 0.53.
      const e = weightedEvidence(
        s.history[0][1].past,
        s.history[0][1].past,
        DEFAULT_REPUTATION_PARAMS,
      );
      expectClose(e.positive / (e.positive + e.negative), 0.53, EPS);
    });

    it("rejects evidence of the wrong round, self-observations and unknown nodes", () => {
      const s = initialReputationState([0.5, 0.5]);
      expect(() => updateReputations(s, { round: 2, observations: [] })).to.throw(
        /^updateReputations: expected evidence of round 1/,
      );
      expect(() => updateReputations(s, { round: 1, observations: [obs(0, 0, "wrong")] })).to.throw(
        /updateReputations: observations\[0\] is a self-observation/,
      );
      expect(() => updateReputations(s, { round: 1, observations: [obs(0, 5, "wrong")] })).to.throw(
        /bad target/,
      );
      expect(() =>
        updateReputations(
          s,
          { round: 1, observations: [] },
          { ...DEFAULT_REPUTATION_PARAMS, recentWeight: 2 },
        ),
      ).to.throw(/^updateReputations: recentWeight/);
      expect(() => initialReputationState([0.5])).to.throw(/^initialReputationState:/);
      expect(() => initialReputationState([0.5, 1.5])).to.throw(/^initialReputationState:/);
    });

    it("does not mutate the input state", () => {
      const s = initialReputationState([0.5, 0.5, 0.5]);
      const copy = JSON.stringify(s);
      updateReputations(s, { round: 1, observations: [obs(0, 1, "wrong")] });
      expect(JSON.stringify(s)).to.equal(copy);
    });
  });

  describe("fixed point", () => {
    it("converts Γ to 18 decimals exactly at the ends and rounds in between", () => {
      expect(toFixed18(0)).to.equal(0n);
      expect(toFixed18(1)).to.equal(10n ** 18n);
      expect(toFixed18(0.5)).to.equal(5n * 10n ** 17n);
      expect(toFixed18(0.25)).to.equal(25n * 10n ** 16n);
      // 0.1 is 0.1000000000000000055511… in binary
      expect(toFixed18(0.1)).to.equal(100000000000000006n);
      expectClose(fromFixed18(toFixed18(0.53)), 0.53, 1e-15);
      expect(() => toFixed18(1.01)).to.throw(/^toFixed18:/);
      expect(() => toFixed18(Number.NaN)).to.throw(/^toFixed18:/);
      expect(() => fromFixed18(-1n)).to.throw(/^fromFixed18:/);
    });
    it("is monotone (property)", () => {
      fc.assert(
        fc.property(
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          (a, b) => {
            const [lo, hi] = a <= b ? [a, b] : [b, a];
            return toFixed18(lo) <= toFixed18(hi);
          },
        ),
      );
    });
  });

  describe("properties", () => {
    const kindArb = fc.constantFrom<InteractionKind>(...INTERACTION_KINDS);
    const unit = fc.double({ min: 0, max: 1, noNaN: true });
    const paramsArb = fc.record({
      positiveWeight: unit,
      fastWeight: unit,
      wrongWeight: unit,
      recentWeight: unit,
      recentWindow: fc.integer({ min: 1, max: 5 }),
      communicationQuality: unit,
    });

    it("keeps every reputation in [0, 1] for any evidence and parameters", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 2, max: 6 }).chain((m) =>
            fc.tuple(
              fc.array(unit, { minLength: m, maxLength: m }),
              fc.array(
                fc.array(
                  fc.tuple(fc.nat(m - 1), fc.nat(m - 1), kindArb).filter(([i, j]) => i !== j),
                  { maxLength: 20 },
                ),
                { minLength: 1, maxLength: 6 },
              ),
            ),
          ),
          paramsArb,
          ([initial, rounds], params) => {
            let s = initialReputationState(initial);
            for (const [k, round] of rounds.entries()) {
              s = updateReputations(
                s,
                { round: k + 1, observations: round.map(([i, j, kind]) => obs(i, j, kind)) },
                params,
              );
              for (const g of s.reputations) if (!(g >= 0 && g <= 1)) return false;
            }
            return true;
          },
        ),
        { numRuns: 150 },
      );
    });

    it("is monotone in positive evidence when all observers see the same counts", () => {
      // With identical counts at every observer, local and recommended opinions coincide and
      // τ only rescales equal opinions, so more positives can only raise Γ_j. (With unequal
      // counts more evidence also raises IF_{i:j}, i.e. the weight of i's opinion: no monotonicity.)
      fc.assert(
        fc.property(
          fc.integer({ min: 3, max: 6 }),
          fc.nat(5),
          fc.integer({ min: 1, max: 4 }),
          fc.nat(5),
          kindArb.filter((k) => k === "wrong" || k === "untimely"),
          fc.array(unit, { minLength: 6, maxLength: 6 }),
          paramsArb,
          (m, positives, extra, negatives, negKind, initial, params) => {
            const run = (pos: number) => {
              const observations: Observation[] = [];
              for (let i = 1; i < m; i++) {
                for (let k = 0; k < pos; k++) observations.push(obs(i, 0, "fastCorrect"));
                for (let k = 0; k < negatives; k++) observations.push(obs(i, 0, negKind));
              }
              const s = initialReputationState(initial.slice(0, m));
              return updateReputations(s, { round: 1, observations }, params).reputations[0];
            };
            return run(positives + extra) >= run(positives) - 1e-12;
          },
        ),
        { numRuns: 200 },
      );
    });

    it("orders friendly ≥ intermediate ≥ malicious after enough rounds, for every paper setting", () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...Object.keys(PAPER_WEIGHT_SETTINGS)),
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          (name, seed) => {
            const trace = runReputationExperiment(
              PAPER_WEIGHT_SETTINGS[name],
              { ...DEFAULT_REPUTATION_SCENARIO, nodes: 5, rounds: 25 },
              seed,
            );
            const f = trace.friendly[25];
            const i = trace.intermediate[25];
            const mal = trace.malicious[25];
            return f >= i && i >= mal;
          },
        ),
        { numRuns: 20 },
      );
    });

    it("raises the friendly node and lowers the malicious one from the initial value (E1)", () => {
      const trace = runReputationExperiment(
        PAPER_WEIGHT_SETTINGS.E1,
        DEFAULT_REPUTATION_SCENARIO,
        seedFromLabel("test/E1"),
      );
      expect(trace.friendly[0]).to.equal(0.53);
      expect(trace.friendly[40]).to.be.greaterThan(0.75);
      expect(trace.malicious[40]).to.be.lessThan(0.25);
    });
  });
});
