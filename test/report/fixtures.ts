// Small runs of both schemes for the report tests, each run once per test process (the runner loads
// every test file into one process) on its own in-process chain, and returned in JSON form.
import { network } from "hardhat";

import { runFromReport, type BbnpRun, type OksuzRun } from "../../offchain/report/run.ts";
import { runBbnp } from "../../offchain/sim/bbnp.ts";
import { runOksuz } from "../../offchain/sim/oksuz.ts";

let oksuz: Promise<OksuzRun> | undefined;
let bbnp: Promise<BbnpRun> | undefined;

/**
 * 8 meters × 3 intervals, relayed mode, seed "report", with a tariff scaled to 8 households (the
 * default one is for a 50-household feeder) so the price chart's points sit on its slopes.
 */
export function smallOksuzRun(): Promise<OksuzRun> {
  oksuz ??= (async () => {
    const connection = await network.create();
    try {
      const [admin, controlCenter, serviceProvider] = await connection.ethers.getSigners();
      const report = await runOksuz(
        {
          meters: 8,
          intervals: 3,
          seed: "report",
          tariff: { breakpointsWh: [0n, 1_500n, 4_000n], values: [2n, 4n, 9n], cap: 10n },
        },
        { admin, controlCenter, serviceProvider },
        { now: () => performance.now() },
      );
      const run = runFromReport(report);
      if (run.kind !== "oksuz") throw new Error("smallOksuzRun: not an Oksuz run");
      return run.run;
    } finally {
      await connection.close();
    }
  })();
  return oksuz;
}

/** 12 users × 3 rounds, 4 consensus nodes (1 faulty), 2 dropouts per round, seed "report". */
export function smallBbnpRun(): Promise<BbnpRun> {
  bbnp ??= (async () => {
    const connection = await network.create();
    try {
      const [admin, gateway, ...nodes] = await connection.ethers.getSigners();
      const report = await runBbnp(
        {
          users: 12,
          rounds: 3,
          seed: "report",
          mode: "consensus",
          consensusNodes: 4,
          faulty: 1,
          faultyBehaviours: ["wrongSignature"],
          dropout: { count: 2 },
        },
        { admin, gateway, nodes },
        { now: () => performance.now() },
      );
      const run = runFromReport(report);
      if (run.kind !== "bbnp") throw new Error("smallBbnpRun: not a BBNP run");
      return run.run;
    } finally {
      await connection.close();
    }
  })();
  return bbnp;
}
