import { expect } from "chai";
import {
  DEFAULT_REPUTATION_SCENARIO,
  DEFAULT_SELECTION_SCENARIO,
  EXPERIMENT_NAMES,
  RANK_BUCKETS,
  createPrng,
  rankBucket,
  reputationRank,
  runPrimarySelectionExperiment,
  runReproduction,
  seedFromLabel,
} from "../../offchain/sim/reputation-experiments.ts";

// A small version of the reproduction so the test stays fast; `npm run reproduce` runs the full one.
const small = {
  reputationScenario: { ...DEFAULT_REPUTATION_SCENARIO, nodes: 4, rounds: 6 },
  selectionScenario: { ...DEFAULT_SELECTION_SCENARIO, nodes: 12, selections: 8, warmupRounds: 2 },
};

describe("reputation experiments (BBNP §VI-C, §VI-D)", () => {
  it("createPrng is a deterministic SHA-256 counter stream in range", () => {
    const a = createPrng(seedFromLabel("x"));
    const b = createPrng(seedFromLabel("x"));
    const c = createPrng(seedFromLabel("y"));
    const xs = Array.from({ length: 50 }, () => a.nextFloat());
    expect(Array.from({ length: 50 }, () => b.nextFloat())).to.deep.equal(xs);
    expect(Array.from({ length: 50 }, () => c.nextFloat())).to.not.deep.equal(xs);
    for (const x of xs) expect(x >= 0 && x < 1).to.equal(true);
    const big = a.nextUint256();
    expect(big >= 0n && big < 1n << 256n).to.equal(true);
  });

  it("buckets ranks as Table VIII and ranks reputations descending, ties by index", () => {
    const cases: [number, string][] = [
      [1, "1-3"],
      [3, "1-3"],
      [4, "4-10"],
      [10, "4-10"],
      [11, "11-20"],
      [20, "11-20"],
      [21, "21-30"],
      [30, "21-30"],
      [31, "31+"],
      [100, "31+"],
    ];
    for (const [r, b] of cases) expect(rankBucket(r)).to.equal(b);
    expect(() => rankBucket(0)).to.throw(/^rankBucket:/);
    const reps = [5n, 9n, 5n, 1n];
    expect([0, 1, 2, 3].map((j) => reputationRank(reps, j))).to.deep.equal([2, 1, 3, 4]);
  });

  it("runReproduction is deterministic and has exactly the reproduction.json shape", () => {
    const a = runReproduction(small);
    const b = runReproduction(small);
    expect(JSON.stringify(a)).to.equal(JSON.stringify(b));
    const json = JSON.parse(JSON.stringify(a));
    expect(Object.keys(json)).to.deep.equal(["reputation", "primarySelection"]);
    expect(Object.keys(json.reputation)).to.deep.equal([...EXPERIMENT_NAMES]);
    for (const e of EXPERIMENT_NAMES) {
      expect(Object.keys(json.reputation[e])).to.deep.equal([
        "friendly",
        "intermediate",
        "malicious",
      ]);
      for (const t of ["friendly", "intermediate", "malicious"]) {
        const trace: number[] = json.reputation[e][t];
        expect(trace).to.have.length(7);
        expect(trace[0]).to.equal(0.53);
        for (const g of trace) expect(g >= 0 && g <= 1).to.equal(true);
      }
    }
    expect(Object.keys(json.primarySelection)).to.deep.equal(["S1", "S2", "S3"]);
    for (const s of ["S1", "S2", "S3"]) {
      expect(Object.keys(json.primarySelection[s])).to.deep.equal([...RANK_BUCKETS]);
      const total = RANK_BUCKETS.reduce((acc, k) => acc + json.primarySelection[s][k], 0);
      expect(total).to.equal(8);
    }
  });

  it("selects higher-ranked nodes more often, but not always the top one", () => {
    const run = runPrimarySelectionExperiment(
      { ...DEFAULT_SELECTION_SCENARIO, nodes: 30, selections: 40, warmupRounds: 3 },
      seedFromLabel("test/fairness"),
    );
    expect(run.ranks).to.have.length(40);
    expect(run.histogram["1-3"]).to.be.greaterThan(run.histogram["4-10"]);
    expect(run.ranks.filter((r) => r === 1).length).to.be.lessThan(40);
    expect(new Set(run.ranks).size).to.be.greaterThan(2);
  });
});
