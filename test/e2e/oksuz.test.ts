// Oksuz end to end on the in-process chain: meters, onion relays, CC, SP and users, reconciled
// against what the chain holds; every adversary of paper §3.1; CC crashes.
import { expect } from "chai";

import {
  ATTACKS,
  runOksuz,
  type OksuzReport,
  type OksuzScenario,
} from "../../offchain/sim/oksuz.ts";
import { connectBillingLedger } from "../../offchain/chain/billing.ts";
import { readInterval } from "../../offchain/chain/ledgerReader.ts";
import { useSimChain } from "../helpers/sim-chain.ts";

describe("Oksuz end to end", function () {
  this.timeout(300_000);
  const chain = useSimChain();

  const run = (s: Partial<OksuzScenario> = {}): Promise<OksuzReport> =>
    runOksuz({ meters: 8, intervals: 2, seed: "e2e", ...s }, chain);

  /** What users verified = what the chain holds = what meters measured, up to carry. */
  async function reconcile(report: OksuzReport): Promise<void> {
    const ledger = connectBillingLedger(report.ledger, chain.admin);
    for (const summary of report.perInterval) {
      const j = summary.interval;
      const onChain = await readInterval(ledger, j);
      expect(onChain.mismatches, `interval ${j} ledger mismatches`).to.deep.equal([]);
      expect(onChain.state, "interval final").to.equal(5);
      const figures = report.meterFigures.filter((f) => f.interval === j);
      const checks = report.userChecks.filter((c) => c.interval === j);
      // Meter: measured + carry-in = reported + carry-out (DESIGN §7).
      for (const f of figures) {
        expect(BigInt(f.measuredWh) + BigInt(f.carryInWh)).to.equal(
          BigInt(f.reportedWh) + BigInt(f.carryOutWh),
        );
      }
      // User: the consumption it verified is exactly what its meter reported; bill = p·c.
      for (const c of checks) {
        const f = figures.find((x) => x.meter === c.meterIndex)!;
        expect(c.verified, `user ${c.meterIndex}: ${c.disputes.join("; ")}`).to.equal(true);
        expect(c.consumptionWh).to.equal(BigInt(f.reportedWh));
        expect(c.postedBill).to.equal(onChain.price! * c.consumptionWh);
      }
      // Chain: Σc = Σ of what meters reported = Σ of what users verified; Σ bills = p·Σc.
      const reported = figures.reduce((s, f) => s + BigInt(f.reportedWh), 0n);
      expect(onChain.sumWh).to.equal(reported);
      expect(checks.reduce((s, c) => s + c.consumptionWh, 0n)).to.equal(onChain.sumWh);
      expect(onChain.billedTotal).to.equal(onChain.price! * onChain.sumWh);
      expect(onChain.ocd.length).to.equal(figures.reduce((s, f) => s + f.chunks, 0));
      expect(String(onChain.price)).to.equal(summary.price);
    }
    expect(report.totals.conserved).to.equal(true);
    expect(report.network.packetSizes).to.deep.equal([1366]);
  }

  it("reconciles meters, users and the chain (relayed mode)", async () => {
    const report = await run();
    await reconcile(report);
    expect(report.perInterval.every((s) => s.minAnonymitySet >= 1)).to.equal(true);
  });

  it("admits with CC's admission pool (ccWorkers 2): the same ledgers and report as inline admission", async () => {
    const inline = await run();
    const pooled = await run({ ccWorkers: 2 });
    await reconcile(pooled);
    const figures = (r: OksuzReport) =>
      r.perInterval.map((s) => [s.ocdDigest, s.price, s.billedTotal, s.rejected]);
    expect(figures(pooled)).to.deep.equal(figures(inline));
    expect(pooled.network).to.deep.equal(inline.network);
    expect(pooled.linkage).to.deep.equal(inline.linkage);
  });

  it("reconciles in direct mode (paper §6: SP publishes per-user prices and bills)", async () => {
    const report = await run({ direct: true });
    expect(report.mode).to.equal("direct");
    await reconcile(report);
  });

  it("loses nothing over a lossy, reordering network (receipts and resends)", async () => {
    const report = await run({ network: { loss: 0.1, reorder: 0.2 } });
    await reconcile(report);
    const lost = report.network.dropped.lost ?? 0;
    expect(lost, "the network did drop packets").to.be.greaterThan(0);
  });

  it("at 5 % and 20 % loss every report arrives (resends until the receipt, within the window)", async () => {
    for (const loss of [0.05, 0.2]) {
      const report = await run({ seed: `loss-${loss}`, network: { loss } });
      expect(report.delivery, `loss ${loss}`).to.deep.equal({ complete: true, lost: [] });
      expect(report.perInterval.every((s) => s.absenceMarkers === 0)).to.equal(true);
      expect(report.network.dropped.lost, "the network did lose packets").to.be.greaterThan(0);
      await reconcile(report);
    }
  });

  it("a run that loses data says so and why (regression: lost reports were silent)", async () => {
    const report = await run({ intervals: 1, network: { loss: 0.9 } });
    expect(report.delivery.complete).to.equal(false);
    expect(report.delivery.lost.length).to.be.greaterThan(0);
    expect(report.delivery.reason).to.match(/did not reach CC within .* packets lost on links/);
  });

  it("with cover traffic: same ledgers, same packet size, loops come back", async () => {
    const plain = await run();
    const covered = await run({ cover: { loopsPerRound: 2 } });
    await reconcile(covered);
    // Cover loops change what is on the wire, never what is admitted or billed.
    const ledgers = (r: OksuzReport) =>
      r.perInterval.map((s) => [s.entries, s.ocdDigest, s.aggregateWh, s.price, s.billedTotal]);
    expect(ledgers(covered)).to.deep.equal(ledgers(plain));
    const { coverSent, loopsReturned, forwarded } = covered.relays;
    expect(coverSent % (8 * 2), "2 loops per relay per round").to.equal(0);
    expect(coverSent).to.be.greaterThan(0);
    expect(plain.relays.coverSent).to.equal(0);
    // Every loop returns unless the run ended while it was in flight (≤ pathLength + 1 rounds).
    expect(loopsReturned).to.be.at.least(coverSent - 8 * 2 * 4);
    expect(forwarded).to.be.greaterThan(plain.relays.forwarded);
    const dropped = Object.entries(covered.relays).filter(
      ([k, v]) => k.startsWith("dropped.") && v > 0,
    );
    expect(dropped).to.deep.equal([]);
  });

  describe("adversaries (paper §3.1)", () => {
    for (const attack of ATTACKS) {
      it(`${attack}: detected or prevented, honest bills unaffected`, async () => {
        const report = await run({ attack });
        expect(report.attack?.name).to.equal(attack);
        const expected = attack.startsWith("sp-") ? "prevented" : "detected";
        expect(report.attack?.outcome, report.attack?.evidence).to.equal(expected);
        expect(report.attack?.honestBillsUnaffected).to.equal(true);
        // Whatever the adversary did, the chain holds only valid, consistent ledgers.
        const ledger = connectBillingLedger(report.ledger, chain.admin);
        for (const s of report.perInterval) {
          expect((await readInterval(ledger, s.interval)).mismatches).to.deep.equal([]);
        }
      });
    }
  });

  describe("control-center crash", () => {
    const digests = (r: OksuzReport) =>
      r.perInterval.map((s) => [s.ocdDigest, s.price, s.billedTotal]);
    let baseline: OksuzReport;
    before(async () => {
      baseline = await run({ meters: 10, intervals: 3, batchSize: 5 });
    });

    it("killed mid-admission and restarted: final ledgers identical to a run without the crash", async () => {
      const crashed = await run({
        meters: 10,
        intervals: 3,
        batchSize: 5,
        crash: { interval: 1, phase: "admission" },
      });
      expect(crashed.crash?.restarted).to.equal(true);
      expect(digests(crashed)).to.deep.equal(digests(baseline));
      await reconcile(crashed);
    });

    it("--crash J:posting fires at the default batch size too (one batch: crash before the seal)", async () => {
      const plain = await run({ meters: 8, intervals: 2 });
      const crashed = await run({
        meters: 8,
        intervals: 2,
        crash: { interval: 1, phase: "posting" },
      });
      expect(crashed.crash?.restarted, "the crash fired").to.equal(true);
      expect(digests(crashed)).to.deep.equal(digests(plain));
      await reconcile(crashed);
    });

    it("killed mid-posting and restarted: resumes after the chain's last entry, posts nothing twice", async () => {
      const crashed = await run({
        meters: 10,
        intervals: 3,
        batchSize: 5,
        crash: { interval: 1, phase: "posting" },
      });
      expect(crashed.crash?.restarted).to.equal(true);
      expect(digests(crashed)).to.deep.equal(digests(baseline));
      await reconcile(crashed);
    });
  });

  describe("OCD posting at chain speed (issue 14)", () => {
    const ledgers = (r: OksuzReport) =>
      r.perInterval.map((s) => [s.ocdDigest, s.price, s.billedTotal, s.entries, s.zeroSlots]);

    it("gives the ledgers of fixed batches, in fewer transactions, and survives a crash mid-posting", async () => {
      const fixed = await run({ meters: 10, intervals: 2, batchSize: 5 });
      const fast = await run({ meters: 10, intervals: 2, posting: "chain-speed" });
      expect(ledgers(fast)).to.deep.equal(ledgers(fixed));
      for (const s of fast.perInterval) {
        // Sized from the block: the whole interval (80 slots) in one postOcdAfter transaction.
        expect(Object.keys(s.gasByOperation)).to.include("postOcdAfter");
        expect(Object.keys(s.gasByOperation)).to.not.include("postOcd");
      }
      await reconcile(fast);
      const crashed = await run({
        meters: 10,
        intervals: 2,
        posting: "chain-speed",
        crash: { interval: 1, phase: "posting" },
      });
      expect(crashed.crash?.restarted, "the crash fired").to.equal(true);
      expect(ledgers(crashed)).to.deep.equal(ledgers(fixed));
      await reconcile(crashed);
    });
  });

  it("refuses impossible scenarios with clear errors", async () => {
    const failure = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error("expected the scenario to be refused");
    };
    expect(await failure(run({ meters: 3 }))).to.match(/meters must be an integer ≥ 5/);
    expect(await failure(run({ ccWorkers: 0 }))).to.match(
      /ccWorkers must be an integer in \[1, 64\]/,
    );
    expect(await failure(run({ intervals: 0 }))).to.match(/intervals must be a positive integer/);
    expect(
      await failure(run({ posting: "bogus" as unknown as OksuzScenario["posting"] })),
    ).to.match(/posting must be "fixed" or "chain-speed"/);
    expect(await failure(run({ posting: "chain-speed", batchSize: 5 }))).to.match(
      /batchSize sets fixed posting/,
    );
    expect(await failure(run({ cover: { loopsPerRound: -1 } }))).to.match(
      /cover.loopsPerRound must be an integer in \[0, 1000\]/,
    );
  });
});
