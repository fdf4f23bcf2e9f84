// Dropouts at report time and during recovery (DESIGN §4.7 "Dropouts"; issue 12 §2, §3). The
// threshold under test: a round commits iff the silent neighbours settle within the gateway's
// `maxRecoveryPasses` passes and at least `minReporters` users stay counted at every step;
// otherwise it aborts cleanly (nothing signed, no TA correction asked, the next round opens).
import { expect } from "chai";
import fc from "fast-check";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import {
  RoundAbortedError,
  TooFewReportersError,
  type ReportRejection,
} from "../../offchain/gateway/errors.ts";
import { roundGraph } from "../../offchain/protocol/bbnp/graph.ts";
import { roundSeed } from "../../offchain/protocol/bbnp/masking.ts";
import { CorrectionRefusedError } from "../../offchain/ta/authority.ts";
import { buildSystem, readingsFor, runRound, type BbnpSystem } from "./fixtures.ts";

/**
 * Independent model of the threshold rule: the cascade of silent neighbours over the round's
 * public graph. Returns the counted set on success, or the abort reason.
 */
function predict(
  sys: BbnpSystem,
  round: bigint,
  absent: ReadonlySet<number>,
  silent: ReadonlySet<number>,
  maxPasses: number,
): { counted: Set<number> } | { abort: "too-few-reporters" | "recovery-exhausted" } {
  const { userCount: n, neighbours, graphSeed, epoch, minReporters } = sys.keys.params;
  const graph = roundGraph(n, neighbours, roundSeed(graphSeed, epoch, round));
  const counted = new Set([...Array(n).keys()].filter((i) => !absent.has(i)));
  if (absent.size === 0) return { counted };
  if (counted.size < minReporters) return { abort: "too-few-reporters" };
  let frontier = [...absent];
  for (let pass = 1; ; pass++) {
    const requested = new Set(
      frontier.flatMap((d) => graph.neighboursOf(d)).filter((i) => counted.has(i)),
    );
    const quiet = [...requested].filter((i) => silent.has(i));
    if (quiet.length === 0) return { counted };
    for (const i of quiet) counted.delete(i);
    if (counted.size < minReporters) return { abort: "too-few-reporters" };
    const next = quiet.flatMap((d) => graph.neighboursOf(d)).filter((i) => counted.has(i));
    if (next.length === 0) return { counted };
    if (pass >= maxPasses) return { abort: "recovery-exhausted" };
    frontier = quiet;
  }
}

describe("bbnp dropouts during recovery and the reporter minimum (DESIGN §4.7)", () => {
  it("issue 12 §2 regression: a neighbour silent during recovery no longer stalls the gateway", () => {
    // 12 users, 4 neighbours, round 1: user 0 does not report; of the requested neighbours
    // 3, 4, 6, 10 user 3 stays silent. Before the fix: RecoveryIncompleteError ("still needs
    // masks 3→0"), then openRound(2) failed with "round 1 is still open".
    const sys = buildSystem(12, 4, "stall", 1_000_000n, undefined, { minReporters: 8 });
    const readings = readingsFor(12, 1n, "stall");
    sys.gateway.openRound(1n);
    for (const u of sys.users)
      if (u.userId !== 0) sys.gateway.submit(u.report(1n, readings[u.userId]));
    const plan = sys.gateway.beginRecovery();
    expect([...plan.requests]).to.deep.equal([
      [3, [0]],
      [4, [0]],
      [6, [0]],
      [10, [0]],
    ]);
    for (const [i, peers] of plan.requests) {
      if (i === 3) continue; // silent
      for (const r of sys.users[i].revealMasks(1n, peers)) sys.gateway.acceptReveal(r);
    }
    // Pass 2: user 3 is dropped, its counted neighbours reveal their masks with it.
    const second = sys.gateway.closeRecoveryPass();
    expect(second?.pass).to.equal(2);
    expect(second?.missing).to.deep.equal([3]);
    for (const [i, peers] of second!.requests)
      for (const r of sys.users[i].revealMasks(1n, peers)) sys.gateway.acceptReveal(r);
    expect(sys.gateway.closeRecoveryPass()).to.equal(undefined);
    expect(sys.gateway.phase).to.equal("ready");
    // Only now is the TA asked, for round 1's β over the two non-counted users.
    expect(sys.gateway.dropped).to.deep.equal([0, 3]);
    const result = sys.gateway.finalize(sys.ta.dropoutCorrection(0, 1n, sys.gateway.dropped));
    const expected = readings.reduce((a, b) => a + b, 0n) - readings[0] - readings[3];
    expect(result.sum).to.equal(expected);
    expect(result.reporters).to.equal(10);
    expect(result.excluded).to.deep.equal([3]);
    expect(result.passes).to.equal(2);
    // The gateway is not stuck: the next round opens and commits.
    const next = runRound(sys, 2n, readingsFor(12, 2n, "stall"));
    expect(next.sum).to.equal(next.expected);
  });

  it("beyond the pass threshold the round aborts cleanly and the next round opens", () => {
    const sys = buildSystem(12, 4, "stall", 1_000_000n, undefined, {
      minReporters: 8,
      maxRecoveryPasses: 1,
    });
    const readings = readingsFor(12, 1n, "stall");
    expect(() => runRound(sys, 1n, readings, new Set([0]), new Set([3])))
      .to.throw(RoundAbortedError)
      .with.property("reason", "recovery-exhausted");
    expect(sys.gateway.phase).to.equal("idle");
    expect(sys.signed).to.deep.equal([]);
    // No correction was issued for round 1: the TA would still issue one (it never saw round 1).
    expect(() =>
      sys.gateway.acceptReveal({
        userId: 4,
        round: 1n,
        peer: 0,
        mask: 1n,
        tag: new Uint8Array(32),
      }),
    ).to.throw(/no recovery pass/);
    const next = runRound(sys, 2n, readingsFor(12, 2n, "stall"), new Set([5]));
    expect(next.sum).to.equal(next.expected);
    expect(sys.signed.map((s) => s.round)).to.deep.equal([2n]);
  });

  it("issue 12 §3 regression: too few reporters publish nothing (was: one reading as the aggregate)", () => {
    // `--dropout 0.99` left one reporter, whose reading was published as the aggregate.
    const sys = buildSystem(12, 4, "few");
    expect(sys.keys.params.minReporters).to.equal(10);
    const readings = readingsFor(12, 1n, "few");
    sys.gateway.openRound(1n);
    sys.gateway.submit(sys.users[7].report(1n, readings[7]));
    let err: unknown;
    try {
      sys.gateway.beginRecovery();
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(TooFewReportersError);
    expect((err as TooFewReportersError).counted).to.equal(1);
    expect((err as TooFewReportersError).minReporters).to.equal(10);
    expect(sys.gateway.phase).to.equal("idle");
    expect(sys.signed).to.deep.equal([]);
    // The TA refuses the correction on its own as well (both sides check).
    expect(() =>
      sys.ta.dropoutCorrection(
        0,
        1n,
        [...Array(12).keys()].filter((i) => i !== 7),
      ),
    )
      .to.throw(CorrectionRefusedError)
      .with.property("reason", "too-few-reporters");
    // Silence during recovery that takes the count below the minimum aborts as well.
    expect(() =>
      runRound(
        sys,
        2n,
        readingsFor(12, 2n, "few"),
        new Set([0, 1]),
        new Set([...Array(12).keys()]),
      ),
    ).to.throw(TooFewReportersError);
    const next = runRound(sys, 3n, readingsFor(12, 3n, "few"), new Set([0]));
    expect(next.sum).to.equal(next.expected);
  });

  it("the TA issues one correction per round, for the current epoch, over distinct known users", () => {
    const sys = buildSystem(12, 4, "ta-once", 1_000_000n, undefined, { minReporters: 5 });
    const c = sys.ta.dropoutCorrection(0, 4n, [1, 2]);
    expect(c).to.be.a("bigint");
    for (const [args, reason] of [
      [[0, 4n, [1, 3]], "already-issued"],
      [[0, 3n, [1]], "already-issued"],
      [[1, 5n, [1]], "wrong-epoch"],
      [[0, 5n, [1, 1]], "bad-set"],
      [[0, 5n, [12]], "bad-set"],
      [[0, 5n, []], "bad-set"],
    ] as const) {
      expect(() => sys.ta.dropoutCorrection(args[0], args[1], [...args[2]]))
        .to.throw(CorrectionRefusedError)
        .with.property("reason", reason);
    }
  });

  it("property: any dropout pattern commits Σ counted readings within the threshold, else aborts cleanly", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 6, max: 30 }),
        fc.integer({ min: 1, max: 3 }).map((x) => 2 * x),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        fc.integer({ min: 0, max: 1000 }),
        (n, h, minRep, maxPasses, absentBits, silentBits, seed) => {
          const minReporters = Math.min(minRep, n);
          const sys = buildSystem(n, h, `prop-drop-${n}-${h}`, 1_000_000n, undefined, {
            minReporters,
            maxRecoveryPasses: maxPasses,
          });
          const round = BigInt(seed + 1);
          const absent = new Set([...Array(n).keys()].filter((i) => absentBits[i]));
          if (absent.size === n) absent.delete(0);
          const silent = new Set(
            [...Array(n).keys()].filter((i) => silentBits[i] && !absent.has(i)),
          );
          const readings = readingsFor(n, round, `prop-${seed}`);
          const model = predict(sys, round, absent, silent, maxPasses);
          if ("counted" in model) {
            const r = runRound(sys, round, readings, absent, silent);
            let expected = 0n;
            for (const i of model.counted) expected += readings[i];
            expect(r.sum).to.equal(expected);
            expect(r.expected).to.equal(expected);
            expect(r.reporters).to.equal(model.counted.size);
            expect(r.reporters).to.be.at.least(minReporters);
          } else {
            expect(() => runRound(sys, round, readings, absent, silent))
              .to.throw(RoundAbortedError)
              .with.property("reason", model.abort);
            expect(sys.gateway.phase).to.equal("idle");
            expect(sys.signed).to.deep.equal([]);
            // Nothing more is released for the aborted round, and the next round commits.
            const next = runRound(sys, round + 1n, readingsFor(n, round + 1n));
            expect(next.sum).to.equal(next.expected);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it("issue 16 §5 regression: 100,000 bad tags are counted by reason, only a bounded sample is kept", () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const sys = buildSystem(50, 4, "flood");
    sys.gateway.openRound(1n);
    const genuine = sys.users.map((u) => u.report(1n, 1n));
    const bad = genuine.map((r) => {
      const tag = r.tag.slice();
      tag[5] ^= 0x80;
      return { ...r, tag };
    });
    gc();
    const before = process.memoryUsage().heapUsed;
    let returned: ReportRejection[] = [];
    for (let k = 0; k < 100_000 / bad.length; k++) returned = sys.gateway.submitBatch(bad);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(returned).to.have.length(bad.length);
    returned = [];
    expect(sys.gateway.rejectionCounts["bad-tag"]).to.equal(100_000);
    expect(sys.gateway.rejections).to.have.length(32);
    expect(sys.gateway.rejections[0]).to.deep.equal({ userId: 0, round: 1n, reason: "bad-tag" });
    // Before: ≈ 58 bytes per rejection kept until the next round (≈ 5.8 MB here).
    expect(grown).to.be.below(1_000_000);
    // The flood blocked nobody: every genuine report is still accepted and the sum is exact.
    expect(sys.gateway.submitBatch(genuine)).to.deep.equal([]);
    expect(sys.gateway.finalize().sum).to.equal(50n);
  });
});
