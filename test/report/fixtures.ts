// Small runs of both schemes for the report tests, each run once per test process (the runner loads
// every test file into one process) on its own in-process chain, and returned in JSON form.
import { network } from "hardhat";

import { runFromReport, type BbnpRun, type OksuzRun } from "../../offchain/report/run.ts";
import { runBbnp } from "../../offchain/sim/bbnp.ts";
import { runOksuz } from "../../offchain/sim/oksuz.ts";

let oksuz: Promise<OksuzRun> | undefined;
let bbnp: Promise<BbnpRun> | undefined;

/** 6 meters × 2 intervals, relayed mode, seed "report". */
export function smallOksuzRun(): Promise<OksuzRun> {
  oksuz ??= (async () => {
    const connection = await network.create();
    try {
      const [admin, controlCenter, serviceProvider] = await connection.ethers.getSigners();
      const report = await runOksuz(
        { meters: 6, intervals: 2, seed: "report" },
        { admin, controlCenter, serviceProvider },
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
