// Threat model: an active network attacker (or a faulty meter) that can record, delay, duplicate,
// reorder and re-label reports and mask reveals between users and the gateway, but holds no
// session key k_{i,g}. Goals: get an old report counted again (in the same or a later round),
// count one user's report as another's, alter a value undetected, or inject a late report after
// the gateway asked neighbours to reveal masks (which would expose m_d, docs/BBNP.md "Recovery").
// Every attempt must be rejected and named (user + reason), and the round sum stay exact.
import { expect } from "chai";

import { ReportRejectedError, RevealRejectedError } from "../../offchain/gateway/errors.ts";
import { buildSystem, readingsFor } from "../bbnp/fixtures.ts";

describe("attack: BBNP report replay and re-labelling", () => {
  it("rejects an old round's report replayed into a new round, as is or re-labelled", () => {
    const sys = buildSystem(8, 2, "replay-old");
    const readings = readingsFor(8, 1n);
    sys.gateway.openRound(1n);
    const old = sys.users.map((u) => u.report(1n, readings[u.userId]));
    expect(sys.gateway.submitBatch(old)).to.deep.equal([]);
    sys.gateway.finalize();

    sys.gateway.openRound(2n);
    expect(sys.gateway.submitBatch([old[3]])).to.deep.equal([
      { userId: 3, round: 1n, reason: "wrong-round" },
    ]);
    expect(sys.gateway.submitBatch([{ ...old[3], round: 2n }])).to.deep.equal([
      { userId: 3, round: 2n, reason: "bad-tag" },
    ]);
    const fresh = sys.users.map((u) => u.report(2n, 7n));
    expect(sys.gateway.submitBatch(fresh)).to.deep.equal([]);
    expect(sys.gateway.finalize().sum).to.equal(56n);
  });

  it("rejects a duplicate of an accepted report within the round and counts it once", () => {
    const sys = buildSystem(5, 2, "replay-dup");
    sys.gateway.openRound(4n);
    const reports = sys.users.map((u) => u.report(4n, 10n));
    sys.gateway.submitBatch(reports);
    expect(() => sys.gateway.submit(reports[2])).to.throw(
      ReportRejectedError,
      /user 2 .* duplicate/,
    );
    expect(sys.gateway.finalize().sum).to.equal(50n);
  });

  it("rejects one user's report re-labelled as another user's, and altered values", () => {
    const sys = buildSystem(5, 2, "relabel");
    sys.gateway.openRound(1n);
    const r0 = sys.users[0].report(1n, 10n);
    const masked = r0.masked.slice();
    masked[31] ^= 1;
    expect(
      sys.gateway.submitBatch([
        { ...r0, userId: 1 },
        { ...r0, masked },
      ]),
    ).to.deep.equal([
      { userId: 1, round: 1n, reason: "bad-tag" },
      { userId: 0, round: 1n, reason: "bad-tag" },
    ]);
  });

  it("refuses a late report once recovery has started, and reports after the round closed", () => {
    const sys = buildSystem(10, 2, "late", 1_000_000n, undefined, { minReporters: 5 });
    sys.gateway.openRound(1n);
    sys.gateway.submitBatch(sys.users.slice(1).map((u) => u.report(1n, 3n)));
    const late = sys.users[0].report(1n, 3n);
    const plan = sys.gateway.beginRecovery();
    expect(() => sys.gateway.submit(late)).to.throw(ReportRejectedError, /round-closed/);
    const reveals = [...plan.requests].flatMap(([i, peers]) => sys.users[i].revealMasks(1n, peers));
    for (const r of reveals) sys.gateway.acceptReveal(r);
    // A replayed reveal is refused, as is a reveal with an altered mask.
    expect(() => sys.gateway.acceptReveal(reveals[0])).to.throw(RevealRejectedError, /duplicate/);
    expect(sys.gateway.closeRecoveryPass()).to.equal(undefined);
    const result = sys.gateway.finalize(sys.ta.dropoutCorrection(0, 1n, [0]));
    expect(result.sum).to.equal(27n);
    expect(result.missing).to.deep.equal([0]);
    expect(sys.gateway.submitBatch([late])[0].reason).to.equal("round-closed");
  });

  it("refuses forged or unrequested mask reveals", () => {
    const sys = buildSystem(10, 2, "reveal-forge", 1_000_000n, undefined, { minReporters: 5 });
    sys.gateway.openRound(1n);
    sys.gateway.submitBatch(sys.users.slice(1).map((u) => u.report(1n, 3n)));
    const plan = sys.gateway.beginRecovery();
    const [[i, peers]] = [...plan.requests];
    const [reveal] = sys.users[i].revealMasks(1n, peers);
    expect(() => sys.gateway.acceptReveal({ ...reveal, mask: reveal.mask ^ 1n })).to.throw(
      RevealRejectedError,
      /bad-tag/,
    );
    const outsider = [...Array(10).keys()].find((u) => u !== 0 && !plan.requests.has(u));
    if (outsider === undefined) throw new Error("test set-up: every user was asked to reveal");
    expect(() => sys.gateway.acceptReveal({ ...reveal, userId: outsider })).to.throw(
      RevealRejectedError,
      /not-requested/,
    );
    expect(() => sys.gateway.acceptReveal({ ...reveal, round: 2n })).to.throw(
      RevealRejectedError,
      /wrong-round/,
    );
    // A user never reveals the same mask twice nor masks with non-neighbours.
    expect(() => sys.users[i].revealMasks(1n, peers)).to.throw(/already revealed/);
    const nbrs = sys.users[i].graph(1n).neighboursOf(i);
    const stranger = [...Array(10).keys()].find((u) => u !== i && !nbrs.includes(u));
    if (stranger === undefined) throw new Error("test set-up: no non-neighbour");
    expect(() => sys.users[i].revealMasks(1n, [stranger])).to.throw(/not a neighbour/);
  });
});
