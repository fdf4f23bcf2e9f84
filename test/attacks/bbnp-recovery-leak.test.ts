// Attack: an honest-but-curious gateway keeps every transcript of a key epoch (every report, every
// mask reveal, each round's β_g(t) and every TA correction) and tries to learn an individual
// reading (issue 12 §1; DESIGN §4.7 "Recovery material must be round-specific").
//
// Threat model: GW follows the protocol, knows s_g, its session keys k_{g,i}(t) and the public
// graphs, and never colludes with users or the TA. Before the fix, the TA's correction for a
// single dropout d was s_d itself, which keys every mask of d for the whole epoch: from a past
// report C_d(t') and s_d the gateway computed d's reading of every earlier round.
//
// The test plays that gateway twice: (1) the exact case and computation, with its figure
// (user 3's round-1 reading 3596); (2) an epoch with dropouts at report time and during recovery,
// where every linear relation GW holds is written as an equation over the values it does not
// know (readings, β_i(t), one AUI per graph edge and round: PRF outputs under keys GW lacks), and
// Gaussian elimination mod r decides what GW can compute. It must be able to compute each round's
// aggregate (power check: the model sees what GW learns) and no counted user's reading.
import { expect } from "chai";

import {
  auiMask,
  blindingKey,
  blindingTerm,
  pairKey,
  roundSeed,
  sessionKeyBytes,
  sessionScalar,
} from "../../offchain/protocol/bbnp/masking.ts";
import { roundGraph } from "../../offchain/protocol/bbnp/graph.ts";
import {
  BBNP_ORDER,
  bytesToBigInt,
  dhPointFromScalars,
  mod,
} from "../../offchain/protocol/bbnp/params.ts";
import type { RecoveryPlan } from "../../offchain/protocol/bbnp/recovery.ts";
import type { MaskReveal } from "../../offchain/protocol/bbnp/report.ts";
import { buildSystem, readingsFor, type BbnpSystem } from "../bbnp/fixtures.ts";

/** Everything the gateway saw in one round. */
interface RoundTranscript {
  readonly round: bigint;
  /** Accepted reports: user → C_i. */
  readonly reports: Map<number, bigint>;
  readonly reveals: MaskReveal[];
  readonly gatewayBlinding: bigint;
  /** The TA's correction and the set it was issued for (undefined: no dropout, or aborted). */
  readonly correction?: { readonly dropped: readonly number[]; readonly value: bigint };
  /** Users counted in the signed sum (empty if the round aborted). */
  readonly counted: readonly number[];
  readonly readings: readonly bigint[];
}

/** Run one round like an honest deployment and keep the gateway's view of it. */
function recordRound(
  sys: BbnpSystem,
  round: bigint,
  readings: readonly bigint[],
  absent: ReadonlySet<number>,
  silent: ReadonlySet<number>,
): RoundTranscript {
  const { gateway, users, ta, keys } = sys;
  const reports = new Map<number, bigint>();
  const reveals: MaskReveal[] = [];
  gateway.openRound(round);
  for (const u of users) {
    if (absent.has(u.userId)) continue;
    const r = u.report(round, readings[u.userId]);
    gateway.submit(r);
    reports.set(u.userId, bytesToBigInt(r.masked));
  }
  const gatewayBlinding = ta.gatewayBlinding(keys.params.epoch, round);
  let correction: RoundTranscript["correction"];
  let counted: number[] = [];
  if (absent.size === 0) {
    gateway.finalize();
    counted = users.map((u) => u.userId);
  } else {
    let plan: RecoveryPlan | undefined = gateway.beginRecovery();
    while (plan) {
      for (const [i, peers] of plan.requests) {
        if (silent.has(i)) continue;
        for (const r of users[i].revealMasks(round, peers)) {
          gateway.acceptReveal(r);
          reveals.push(r);
        }
      }
      plan = gateway.closeRecoveryPass();
    }
    const dropped = gateway.dropped;
    const value = ta.dropoutCorrection(keys.params.epoch, round, dropped);
    correction = { dropped, value };
    const dropSet = new Set(dropped);
    counted = users.map((u) => u.userId).filter((i) => !dropSet.has(i));
    const signed = gateway.finalize(value);
    let expected = 0n;
    for (const i of counted) expected += readings[i];
    expect(signed.sum).to.equal(expected);
  }
  return { round, reports, reveals, gatewayBlinding, correction, counted, readings };
}

/** Row-echelon basis over Z_r; `inSpan(v)` decides whether v is a combination of the rows. */
class ModSpan {
  readonly #rows: { pivot: number; row: bigint[] }[] = [];
  readonly width: number;
  constructor(width: number) {
    this.width = width;
  }

  add(row: readonly bigint[]): void {
    const r = this.#reduce(row);
    const pivot = r.findIndex((x) => x !== 0n);
    if (pivot < 0) return;
    const inv = modInverse(r[pivot]);
    this.#rows.push({ pivot, row: r.map((x) => mod(x * inv)) });
  }

  inSpan(v: readonly bigint[]): boolean {
    return this.#reduce(v).every((x) => x === 0n);
  }

  #reduce(v: readonly bigint[]): bigint[] {
    const r = v.map(mod);
    for (const { pivot, row } of this.#rows) {
      const f = r[pivot];
      if (f === 0n) continue;
      for (let j = 0; j < this.width; j++) if (row[j] !== 0n) r[j] = mod(r[j] - f * row[j]);
    }
    return r;
  }
}

function modInverse(a: bigint): bigint {
  let [r0, r1, t0, t1] = [BBNP_ORDER, mod(a), 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0);
}

/**
 * The gateway's linear knowledge of one round. Unknowns: m_i (0..N−1), β_i(t) (N..2N−1), and
 * AUI_{a,b}(t) for each edge a < b of the round's graph (AUI_{b,a} = −AUI_{a,b}). Returns the span
 * of what GW can compute and a checker that the equations hold for the true values (so the model
 * is the protocol's, not an invention of the test).
 */
function gatewayKnowledge(
  sys: BbnpSystem,
  t: RoundTranscript,
  extraCorrections: RoundTranscript["correction"][] = [],
) {
  const { params, userSecrets, gatewaySecret } = sys.keys;
  const n = params.userCount;
  const graph = roundGraph(
    n,
    params.neighbours,
    roundSeed(params.graphSeed, params.epoch, t.round),
  );
  const edges = new Map<string, number>();
  for (let a = 0; a < n; a++)
    for (const b of graph.neighboursOf(a)) if (a < b) edges.set(`${a}:${b}`, 2 * n + edges.size);
  const width = 2 * n + edges.size;
  const edge = (a: number, b: number): { col: number; sign: bigint } => ({
    col: edges.get(a < b ? `${a}:${b}` : `${b}:${a}`) as number,
    sign: a < b ? 1n : -1n,
  });
  // Ground truth, for the consistency check only (GW never has these).
  const truth = new Array<bigint>(width).fill(0n);
  for (let i = 0; i < n; i++) {
    truth[i] = t.readings[i];
    truth[n + i] = blindingTerm(blindingKey(userSecrets[i]), t.round);
  }
  for (const [key, col] of edges) {
    const [a, b] = key.split(":").map(Number);
    truth[col] = auiMask(
      pairKey(dhPointFromScalars(userSecrets[a], userSecrets[b]), a, b),
      a,
      b,
      t.round,
    );
  }
  const span = new ModSpan(width);
  const equations: { row: bigint[]; rhs: bigint }[] = [];
  for (const [i, c] of t.reports) {
    const k = sessionScalar(
      sessionKeyBytes(
        dhPointFromScalars(gatewaySecret, userSecrets[i]),
        i,
        params.gatewayId,
        t.round,
      ),
    );
    const row = new Array<bigint>(width).fill(0n);
    row[i] = 1n;
    row[n + i] = 1n;
    for (const b of graph.neighboursOf(i)) {
      const e = edge(i, b);
      row[e.col] = mod(row[e.col] + e.sign);
    }
    equations.push({ row, rhs: mod(c - k) });
  }
  for (const r of t.reveals) {
    const row = new Array<bigint>(width).fill(0n);
    const e = edge(r.userId, r.peer);
    row[e.col] = e.sign;
    equations.push({ row, rhs: r.mask });
  }
  const blindRow = new Array<bigint>(width).fill(0n);
  for (let i = 0; i < n; i++) blindRow[n + i] = 1n;
  equations.push({ row: blindRow, rhs: mod(-t.gatewayBlinding) });
  for (const c of [t.correction, ...extraCorrections]) {
    if (!c) continue;
    const row = new Array<bigint>(width).fill(0n);
    for (const d of c.dropped) row[n + d] = 1n;
    equations.push({ row, rhs: c.value });
  }
  for (const { row, rhs } of equations) {
    let lhs = 0n;
    for (let j = 0; j < width; j++) lhs += row[j] * truth[j];
    expect(mod(lhs)).to.equal(rhs, "the model's equation must hold for the protocol's values");
    span.add(row);
  }
  const unit = (j: number): bigint[] =>
    Array.from({ length: width }, (_, x) => (x === j ? 1n : 0n));
  return { span, unit, width, n };
}

describe("attack: BBNP honest-but-curious gateway keeping an epoch's transcripts (issue 12 §1)", () => {
  it("issue case: the correction for user 3's dropout in round 2 no longer opens its round-1 reading (3596)", () => {
    const sys = buildSystem(8, 2, "bbnp-test", 1_000_000n, undefined, { minReporters: 5 });
    const r1 = readingsFor(8, 1n, "past");
    expect(r1[3]).to.equal(3596n);
    const t1 = recordRound(sys, 1n, r1, new Set(), new Set());
    const t2 = recordRound(sys, 2n, readingsFor(8, 2n, "past"), new Set([3]), new Set());
    expect(t2.correction?.dropped).to.deep.equal([3]);
    const correction = t2.correction!.value;
    const { params, userSecrets, gatewaySecret } = sys.keys;
    // The correction is β_3(2), a round-2 PRF output: not s_3, not β_3(1).
    const b3 = blindingKey(userSecrets[3]);
    expect(correction).to.equal(blindingTerm(b3, 2n));
    expect(correction).to.not.equal(userSecrets[3]);
    expect(correction).to.not.equal(blindingTerm(b3, 1n));
    // The computation, with what GW now holds: C_3(1) − k_{3,g}(1) − correction.
    const k31 = sessionScalar(
      sessionKeyBytes(dhPointFromScalars(gatewaySecret, userSecrets[3]), 3, params.gatewayId, 1n),
    );
    const c31 = t1.reports.get(3)!;
    expect(mod(c31 - k31 - correction)).to.not.equal(3596n);
    // Power check: with the round-1 values only user 3 and its neighbours hold, the same
    // computation does give 3596, so a leak of round-1 material would show here.
    const graph = roundGraph(8, 2, roundSeed(params.graphSeed, params.epoch, 1n));
    let aui = 0n;
    for (const b of graph.neighboursOf(3))
      aui += auiMask(pairKey(dhPointFromScalars(userSecrets[3], userSecrets[b]), 3, b), 3, b, 1n);
    expect(mod(c31 - k31 - aui - blindingTerm(b3, 1n))).to.equal(3596n);
    // And the linear model finds no way to m_3(1) from both rounds' transcripts.
    for (const t of [t1, t2]) {
      const { span, unit, width } = gatewayKnowledge(sys, t);
      expect(width).to.be.greaterThan(0);
      for (const i of t.counted) expect(span.inSpan(unit(i)), `m_${i}(${t.round})`).to.equal(false);
    }
  });

  it("over an epoch with dropouts at report time and during recovery, GW learns each round's aggregate and no counted reading", () => {
    const n = 12;
    const sys = buildSystem(n, 4, "hbc-epoch", 1_000_000n, undefined, { minReporters: 4 });
    const patterns: [number[], number[]][] = [
      [[], []],
      [[3], []],
      [[0, 5], [1]], // user 1 (a requested neighbour, if asked) stays silent in recovery
      [
        [2, 7, 9],
        [4, 8],
      ],
      [[6], [5, 7]],
      [[1, 2, 3, 4], [0]], // a cluster of dropouts: some counted users lose most neighbours
    ];
    const transcripts = patterns.map(([absent, silent], k) =>
      recordRound(
        sys,
        BigInt(k + 1),
        readingsFor(n, BigInt(k + 1), "hbc"),
        new Set(absent),
        new Set(silent),
      ),
    );
    let excludedSeen = 0;
    for (const t of transcripts) {
      const { span, unit, width } = gatewayKnowledge(sys, t);
      // Power check: the round's aggregate over the counted users IS computable.
      const aggregate = new Array<bigint>(width).fill(0n);
      for (const i of t.counted) aggregate[i] = 1n;
      expect(span.inSpan(aggregate), `aggregate of round ${t.round}`).to.equal(true);
      // No individual reading of a counted user (nor of a reporter dropped for silence).
      for (const i of t.reports.keys()) {
        expect(span.inSpan(unit(i)), `m_${i}(${t.round})`).to.equal(false);
      }
      excludedSeen += t.reports.size - t.counted.length;
    }
    expect(excludedSeen, "the epoch exercised silent neighbours").to.be.greaterThan(0);
    // Nothing links rounds: every unknown above is a round-t PRF output or a round-t reading, and
    // the correction of round t names only round t's β (checked against the TA's own values).
    for (const t of transcripts) {
      if (!t.correction) continue;
      let expected = 0n;
      for (const d of t.correction.dropped)
        expected += blindingTerm(blindingKey(sys.keys.userSecrets[d]), t.round);
      expect(t.correction.value).to.equal(mod(expected));
    }
  });

  it("power check: a second correction for the same round (which the TA refuses) would expose an isolated reporter", () => {
    // Why the TA issues one correction per round: two sets differing by one counted user i give
    // GW β_i(t); if every neighbour of i dropped, GW then holds m_i = C_i − k_i − revealed − β_i.
    const n = 10;
    const sys = buildSystem(n, 2, "two-corrections", 1_000_000n, undefined, { minReporters: 3 });
    const { params } = sys.keys;
    const graph = roundGraph(n, 2, roundSeed(params.graphSeed, params.epoch, 1n));
    const target = 0;
    const absent = new Set(graph.neighboursOf(target));
    const t = recordRound(sys, 1n, readingsFor(n, 1n, "iso"), absent, new Set());
    expect(t.counted).to.include(target);
    const honest = gatewayKnowledge(sys, t);
    expect(honest.span.inSpan(honest.unit(target))).to.equal(false);
    const dropped = [...t.correction!.dropped, target].sort((a, b) => a - b);
    let value = 0n;
    for (const d of dropped) value += blindingTerm(blindingKey(sys.keys.userSecrets[d]), 1n);
    const leaky = gatewayKnowledge(sys, t, [{ dropped, value: mod(value) }]);
    expect(leaky.span.inSpan(leaky.unit(target))).to.equal(true);
  });
});
