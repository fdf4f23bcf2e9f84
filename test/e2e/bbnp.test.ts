// BBNP end to end on the in-process chain: TA, meters, gateway and the aggregation ledger, in
// gateway mode (recordRound) and consensus mode (M = 4 nodes, one faulty, certified blocks),
// reconciled every round against the chain's events and storage; dropouts at report time and
// during recovery (no key refresh: recovery material is round-specific); clean aborts below the
// reporter minimum; attacks on the reports.
import { expect } from "chai";
import { network } from "hardhat";
import { Contract, type InterfaceAbi } from "ethers";

import { readArtifact } from "../../offchain/chain/deploy.ts";
import {
  runBbnp,
  type BbnpChainAccess,
  type BbnpRunReport,
  type BbnpScenario,
} from "../../offchain/sim/bbnp.ts";

describe("BBNP end to end", function () {
  this.timeout(600_000);
  let chain: BbnpChainAccess;
  let close: () => Promise<void>;

  before(async () => {
    const connection = await network.create();
    const [admin, gateway, ...nodes] = await connection.ethers.getSigners();
    chain = { admin, gateway, nodes };
    close = () => connection.close();
  });
  after(async () => close());

  const run = (s: Partial<BbnpScenario> = {}): Promise<BbnpRunReport> =>
    runBbnp({ users: 24, rounds: 3, seed: "e2e", mode: "gateway", ...s }, chain);

  async function expectRejection(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
    let error: unknown;
    try {
      await promise;
    } catch (err) {
      error = err;
    }
    expect(error, `expected a rejection matching ${pattern}`).to.be.instanceOf(Error);
    expect((error as Error).message).to.match(pattern);
  }

  function ledgerAt(address: string): Contract {
    const { abi } = readArtifact("ledger/AggregationLedger.sol", "AggregationLedger");
    return new Contract(address, abi as InterfaceAbi, chain.admin);
  }

  /**
   * Every round: the chain's sum (event, and storage in gateway mode) = the gateway's sum = Σ of
   * the readings of the users that reported (the runner's ground truth, summed independently of
   * the gateway), and the reporters plus the missing users are all N users.
   */
  async function reconcile(report: BbnpRunReport): Promise<void> {
    const ledger = ledgerAt(report.ledger);
    expect(report.perRound.length).to.equal(report.rounds);
    const eventName = report.mode === "gateway" ? "RoundRecorded" : "BlockCommitted";
    const events = await ledger.queryFilter(ledger.filters[eventName]());
    const committed = report.perRound.filter((s) => s.aborted === undefined);
    expect(events.length, "one event per committed round").to.equal(committed.length);
    for (const [k, s] of committed.entries()) {
      expect(s.match, `round ${s.round} match flag`).to.equal(true);
      expect(BigInt(s.onChainSum)).to.equal(BigInt(s.readingsSumWh));
      expect(BigInt(s.gatewaySum)).to.equal(BigInt(s.readingsSumWh));
      expect(s.reporters + s.missing.length + s.excluded.length).to.equal(report.users);
      const args = (events[k] as unknown as { args: { round: bigint; sum: bigint } }).args;
      expect(args.round).to.equal(BigInt(s.round));
      expect(args.sum).to.equal(BigInt(s.readingsSumWh));
      if (report.mode === "gateway") {
        const record = await ledger.roundRecord(s.round);
        expect(record.sum).to.equal(BigInt(s.readingsSumWh));
      }
      expect(BigInt(s.gasUsed) > 0n).to.equal(true);
    }
    if (committed.length === report.rounds) {
      expect(report.totals.allMatch).to.equal(true);
      expect(BigInt(report.totals.onChainSum)).to.equal(BigInt(report.totals.readingsSumWh));
    }
  }

  it("gateway mode: every round's on-chain sum is Σ readings of all users", async () => {
    const report = await run();
    await reconcile(report);
    for (const s of report.perRound) {
      expect(s.reporters).to.equal(24);
      expect(s.missing).to.deep.equal([]);
      expect(s.rejections).to.deep.equal([]);
      expect(s.primary).to.equal(undefined);
    }
    // Realistic readings: a 15-minute household interval is tens to hundreds of Wh.
    const perUser = Number(report.perRound[0].readingsSumWh) / 24;
    expect(perUser).to.be.greaterThan(10).and.lessThan(2_000);
    expect(report.totals.aborted).to.equal(0);
  });

  it("is deterministic given the seed and changes with it", async () => {
    const a = await run({ rounds: 2 });
    const b = await run({ rounds: 2 });
    const c = await run({ rounds: 2, seed: "other" });
    expect(a.perRound.map((s) => s.readingsSumWh)).to.deep.equal(
      b.perRound.map((s) => s.readingsSumWh),
    );
    expect(a.perRound.map((s) => s.readingsSumWh)).to.not.deep.equal(
      c.perRound.map((s) => s.readingsSumWh),
    );
  });

  for (const [label, dropout, count] of [
    ["one user", { count: 1 }, 1],
    ["10 %", 0.1, 2],
    ["30 %", 0.3, 7],
  ] as const) {
    it(`gateway mode with dropouts (${label}): recovery and the TA's round-t correction, no rekey`, async () => {
      const report = await run({ dropout });
      await reconcile(report);
      for (const s of report.perRound) {
        expect(s.missing.length).to.equal(count);
        expect(s.reporters).to.equal(24 - count);
        expect(s.revealedMasks).to.be.greaterThan(0);
        expect(s.epoch).to.equal(0); // recovery opens round t only: the keys carry on
      }
      const ledger = ledgerAt(report.ledger);
      expect(await ledger.gatewayKeyEpoch()).to.equal(0n);
      // Different users drop out in different rounds.
      expect(report.perRound[0].missing).to.not.deep.equal(report.perRound[1].missing);
    });
  }

  it("consensus mode (M = 4, one faulty node): certified blocks carry Σ readings", async () => {
    const report = await run({
      mode: "consensus",
      consensusNodes: 4,
      faulty: 1,
      faultyBehaviours: ["wrongSignature"],
    });
    await reconcile(report);
    expect(report.consensus?.nodes).to.equal(4);
    expect(report.consensus?.faulty.length).to.equal(1);
    const bad = report.consensus!.faulty[0].node;
    for (const s of report.perRound) {
      expect(s.primary).to.be.a("number");
      expect(s.signers!.length).to.be.at.least(3); // quorum 2f + 1
      // Its invalid votes never enter a certificate (its own vote as primary is valid).
      if (s.primary !== bad) expect(s.signers).to.not.include(bad);
    }
  });

  it("gateway mode with dropouts during recovery: silent neighbours are dropped in further passes", async () => {
    const report = await run({
      users: 40,
      rounds: 3,
      dropout: 0.2,
      recoveryDropout: 0.3,
      minReporters: 10,
    });
    await reconcile(report);
    expect(report.totals.aborted).to.equal(0);
    const silent = report.perRound.reduce((a, s) => a + s.excluded.length, 0);
    expect(silent).to.be.greaterThan(0);
    expect(Math.max(...report.perRound.map((s) => s.passes))).to.be.at.least(2);
  });

  it("issue 12 §3: a round below the reporter minimum publishes nothing, the next rounds commit", async () => {
    // An exact dropout count that leaves 9 of 24 reporters (< 10, the default minimum).
    const report = await run({ rounds: 2, dropout: { count: 15 } });
    await reconcile(report);
    expect(report.perRound.map((s) => s.aborted)).to.deep.equal([
      "too-few-reporters",
      "too-few-reporters",
    ]);
    for (const s of report.perRound) {
      expect(s.onChainSum).to.equal("");
      expect(s.match).to.equal(false);
    }
    expect(report.totals.aborted).to.equal(2);
    expect(report.totals.allMatch).to.equal(false);
    const ledger = ledgerAt(report.ledger);
    const [, any] = await ledger.lastRound();
    expect(any).to.equal(false);
    const ok = await run({ rounds: 1, dropout: { count: 14 } });
    await reconcile(ok);
    expect(ok.perRound[0].reporters).to.equal(10);
  });

  it("consensus mode with a crashed node and 10 % dropouts: one gateway key throughout", async () => {
    const report = await run({
      mode: "consensus",
      consensusNodes: 4,
      faulty: 1,
      faultyBehaviours: ["crashed"],
      dropout: 0.1,
    });
    await reconcile(report);
    expect(report.totals.aborted).to.equal(0);
    const crashed = report.consensus!.faulty[0].node;
    for (const s of report.perRound) expect(s.primary).to.not.equal(crashed);
    const ledger = ledgerAt(report.ledger);
    expect(await ledger.gatewayKeyEpoch()).to.equal(0n);
  });

  it("attack: a forged report (bad tag) is rejected and named; the honest sum is recorded", async () => {
    const report = await run({ attack: { kind: "forged-tag", round: 2, user: 5 } });
    await reconcile(report);
    const attacked = report.perRound[1];
    expect(attacked.rejections).to.deep.equal([{ userId: 5, reason: "bad-tag" }]);
    expect(attacked.rejected["bad-tag"]).to.equal(1);
    expect(attacked.reporters).to.equal(24); // the genuine report of user 5 still counts
    expect(report.attack).to.deep.include({ kind: "forged-tag", round: 2, victim: 5 });
    expect(report.attack?.detected).to.equal(true);
    expect(report.attack?.honestSum).to.equal(true);
    expect(report.perRound[0].rejections).to.deep.equal([]);
  });

  it("attack: a tampered report is rejected, its sender recovered around as missing", async () => {
    const report = await run({
      mode: "consensus",
      faulty: 1,
      faultyBehaviours: ["slow"],
      attack: { kind: "tampered", round: 1 },
    });
    await reconcile(report);
    const s = report.perRound[0];
    const victim = report.attack!.victim;
    expect(s.rejections).to.deep.equal([{ userId: victim, reason: "bad-tag" }]);
    expect(s.missing).to.deep.equal([victim]);
    expect(s.reporters).to.equal(23);
    expect(report.attack?.detected).to.equal(true);
    expect(report.attack?.honestSum).to.equal(true);
    expect(report.perRound[1].reporters).to.equal(24);
  });

  it("attack: replays of an old and of the current report are rejected and named", async () => {
    const report = await run({ attack: { kind: "replay", round: 3, user: 0 } });
    await reconcile(report);
    expect(report.perRound[2].rejections).to.deep.equal([
      { userId: 0, reason: "wrong-round" },
      { userId: 0, reason: "duplicate" },
    ]);
    expect(report.attack?.detected).to.equal(true);
  });

  it("refuses bad scenarios with clear errors", async () => {
    await expectRejection(run({ users: 1 }), /users must be/);
    await expectRejection(
      run({ mode: "consensus", consensusNodes: 4, faulty: 2 }),
      /faulty must be an integer in \[0, 1\]/,
    );
    await expectRejection(run({ dropout: 1 }), /dropout fraction/);
    await expectRejection(run({ attack: { kind: "replay", round: 1 } }), /replay/);
  });

  it("the gateway's first key is the deployed ledger key (S_g of epoch 0)", async () => {
    const report = await run({ rounds: 1 });
    const ledger = ledgerAt(report.ledger);
    expect(await ledger.gatewayKeyEpoch()).to.equal(0n);
    // Not S_g of some fixed key: a different seed deploys a different key.
    const other = await run({ rounds: 1, seed: "other" });
    expect(await ledger.gatewayKey()).to.not.equal(await ledgerAt(other.ledger).gatewayKey());
  });
});
