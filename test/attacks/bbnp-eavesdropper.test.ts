// Threat model: a passive network eavesdropper (Bao et al. §V "eavesdropping attack") records
// every report <C_i, tag> of every user in every round and knows all public parameters (S_i, S_g,
// IDs, graph seed, so the whole neighbour graph). It holds no secret: no s_i, no s_g, no pairwise
// DH secret. Goal: learn a reading m_i, or the masks AUI. In the paper AUI = ±PRF(r2) with r2
// public, so anyone could compute it (DESIGN §6); here AUI is keyed by the pairwise DH secret.
import { sha256 } from "@noble/hashes/sha2.js";
import { expect } from "chai";

import { roundGraph } from "../../offchain/protocol/bbnp/graph.ts";
import { auiMask, pairKey, roundSeed } from "../../offchain/protocol/bbnp/masking.ts";
import {
  bytesToBigInt,
  concatBytes,
  dhPointFromScalars,
  G1_BYTES,
  mod,
} from "../../offchain/protocol/bbnp/params.ts";
import { buildSystem, chiSquareTwoSample } from "../bbnp/fixtures.ts";

const CHI2_15_P001 = 37.7;

describe("attack: BBNP eavesdropper", () => {
  const n = 6;
  const sys = buildSystem(n, 2, "eavesdropper");
  const { params, userSecrets } = sys.keys;

  it("intercepted reports look the same for readings 0 and 999 999 (χ² over 400 + 400 rounds)", () => {
    const a: number[] = [];
    const b: number[] = [];
    for (let t = 1; t <= 800; t++) {
      const report = sys.users[1].report(BigInt(t), t % 2 === 0 ? 0n : 999_999n);
      (t % 2 === 0 ? a : b).push(Number(bytesToBigInt(report.masked) % 16n));
    }
    expect(chiSquareTwoSample(a, b, 16)).to.be.below(CHI2_15_P001);
  });

  it("the masks cannot be derived from public data (the paper's PRF(r2) gap is closed)", () => {
    const round = 900n;
    const graph = roundGraph(n, 2, roundSeed(params.graphSeed, params.epoch, round));
    const [peer] = graph.neighboursOf(0);
    const real = auiMask(
      pairKey(dhPointFromScalars(userSecrets[0], userSecrets[peer]), 0, peer),
      0,
      peer,
      round,
    );
    // Candidate keys an eavesdropper can form from public values: the public keys themselves,
    // their concatenation hashed, the round seed (the paper's public r2).
    const publicCandidates = [
      params.userPublicKeys[0],
      params.userPublicKeys[peer],
      sha256(concatBytes(params.userPublicKeys[0], params.userPublicKeys[peer])).subarray(0, 32),
      roundSeed(params.graphSeed, params.epoch, round),
    ].map((k) => (k.length === G1_BYTES ? k : concatBytes(k, new Uint8Array(16))));
    for (const candidate of publicCandidates) {
      expect(auiMask(pairKey(candidate, 0, peer), 0, peer, round)).to.not.equal(real);
    }
  });

  it("the sum of all intercepted reports of a round does not reveal the aggregate", () => {
    const round = 1000n;
    const readings = Array.from({ length: n }, (_, i) => BigInt(100 + i));
    const reports = sys.users.map((u) => u.report(round, readings[u.userId]));
    const total = mod(reports.reduce((acc, r) => acc + bytesToBigInt(r.masked), 0n));
    // Σ C_i = Σ m_i + Σ k_{i,g} − s_g: still masked by the session keys only GW can derive.
    expect(total).to.not.equal(readings.reduce((x, y) => x + y, 0n));
    expect(total > 1n << 200n).to.equal(true);
  });
});
