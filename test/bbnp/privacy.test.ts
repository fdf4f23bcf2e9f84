import { expect } from "chai";

import { roundGraph } from "../../offchain/protocol/bbnp/graph.ts";
import {
  auiMask,
  blindingKey,
  blindingTerm,
  pairKey,
  roundSeed,
  sessionKeyBytes,
  sessionScalar,
} from "../../offchain/protocol/bbnp/masking.ts";
import { bytesToBigInt, dhPointFromScalars, mod } from "../../offchain/protocol/bbnp/params.ts";
import { buildSystem, chiSquareTwoSample } from "./fixtures.ts";

// χ²(15) critical value at p = 0.001.
const CHI2_15_P001 = 37.7;

describe("bbnp privacy against the gateway (DESIGN §4.7, §6)", () => {
  // GW knows s_g, β_g(t), every k_{g,i}(t) and the public graph, but not s_i, b_i or any
  // pairwise key.
  const n = 8;
  const sys = buildSystem(n, 2, "privacy", 1_000_000n);
  const { params, userSecrets, gatewaySecret } = sys.keys;
  const target = 0;
  const dhGw = dhPointFromScalars(userSecrets[target], gatewaySecret);
  const rounds = 400;
  const low: number[] = [];
  const high: number[] = [];
  const lowUnmasked: number[] = [];
  const highUnmasked: number[] = [];
  const offsets = new Set<bigint>();
  const offsetsWithoutMasks = new Set<bigint>();
  const offsetsWithoutAnyMask = new Set<bigint>();
  const blindKey = blindingKey(userSecrets[target]);
  before(() => {
    for (let t = 1; t <= 2 * rounds; t++) {
      const round = BigInt(t);
      const reading = t % 2 === 0 ? 0n : 999_999n;
      const report = sys.users[target].report(round, reading);
      // GW's view of one report: everything it can strip off, C − k_{g,i}(t) mod r.
      const k = sessionScalar(sessionKeyBytes(dhGw, target, params.gatewayId, round));
      const view = mod(bytesToBigInt(report.masked) - k);
      // What only the user knows (used for the power check): the masks and β_i(t).
      const graph = roundGraph(n, 2, roundSeed(params.graphSeed, params.epoch, round));
      let masks = 0n;
      for (const b of graph.neighboursOf(target)) {
        masks += auiMask(
          pairKey(dhPointFromScalars(userSecrets[target], userSecrets[b]), target, b),
          target,
          b,
          round,
        );
      }
      const blinding = blindingTerm(blindKey, round);
      const unmasked = mod(view - masks - blinding);
      offsets.add(mod(view - reading));
      offsetsWithoutMasks.add(mod(view - masks - reading));
      offsetsWithoutAnyMask.add(mod(view - masks - blinding - reading));
      (t % 2 === 0 ? low : high).push(Number(view % 16n));
      (t % 2 === 0 ? lowUnmasked : highUnmasked).push(Number(unmasked % 16n));
    }
  });

  it("GW's view of a report has the same distribution for readings 0 and 999 999 (χ², p = 0.001)", () => {
    expect(chiSquareTwoSample(low, high, 16)).to.be.below(CHI2_15_P001);
  });

  it("the same test does detect the readings once the masks the GW lacks are removed (power check)", () => {
    // Without AUI and β_i(t) the view is m_i itself (0 vs 999 999 ≡ 15 mod 16): the test must fire.
    expect(chiSquareTwoSample(lowUnmasked, highUnmasked, 16)).to.be.above(CHI2_15_P001 * 10);
  });

  it("GW alone cannot recover a report: no fixed offset links its view to the reading", () => {
    // With no neighbour (the paper's gap, DESIGN §6) and the paper's constant s_i, view − m would
    // be constant, so one known reading would reveal all others; per-round AUI masks and the
    // per-round blinding β_i(t) make every offset fresh, each on its own.
    expect(offsets.size).to.equal(2 * rounds);
    expect(offsetsWithoutMasks.size).to.equal(2 * rounds);
    expect(offsetsWithoutMasks.has(userSecrets[target])).to.equal(false);
    // Power check: strip the AUI masks and β_i(t) (which GW cannot compute): the offset is 0.
    expect([...offsetsWithoutAnyMask]).to.deep.equal([0n]);
  });
});
