// The simulator records every round's primary selection on-chain (`recordPrimarySelection`) and the
// ledger enforces it at commit time (docs/CONSENSUS.md "Primary selection at commit time"); the
// liveness cases: a stalled selected primary (the takeover commits after the primary window) and
// crashed pre-selected nodes (the selection over those that revealed, after the reveal timeout).
import { expect } from "chai";
import { network } from "hardhat";
import { Contract, type InterfaceAbi } from "ethers";

import { AggregationLedgerAdapter } from "../../offchain/chain/aggregation.ts";
import { readArtifact } from "../../offchain/chain/deploy.ts";
import { randomFromSignature, selectPrimary } from "../../offchain/protocol/primary-selection.ts";
import { runBbnp, type BbnpChainAccess, type BbnpScenario } from "../../offchain/sim/bbnp.ts";

describe("consensus simulator: primary selection enforced on-chain", function () {
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

  // Seed "s1": the stalled node 3 is the selected primary of rounds 1 and 2 (node 0 takes over in
  // view 1); crashed node 3 is pre-selected in rounds 1 and 2 (selection after the reveal timeout).
  const run = (s: Partial<BbnpScenario>) =>
    runBbnp({ users: 20, rounds: 4, seed: "s1", mode: "consensus", ...s }, chain);

  /** The `afterTimeout` flags of the ledger's PrimarySelectionRecorded events, in order. */
  async function afterTimeoutFlags(ledger: string): Promise<boolean[]> {
    const { abi } = readArtifact("ledger/AggregationLedger.sol", "AggregationLedger");
    const l = new Contract(ledger, abi as InterfaceAbi, chain.admin);
    const events = await l.queryFilter(l.filters.PrimarySelectionRecorded());
    return events.map(
      (e) => (e as unknown as { args: { afterTimeout: boolean } }).args.afterTimeout,
    );
  }

  /** The selection order of each round as a node reads it from the chain (`recordedSelection`). */
  async function chainOrders(ledger: string, rounds: number): Promise<number[][]> {
    const adapter = await AggregationLedgerAdapter.connect(chain.admin, ledger);
    const orders: number[][] = [];
    for (let t = 1n; t <= BigInt(rounds); t++) {
      const recorded = await adapter.recordedSelection(t);
      if (recorded === null) throw new Error(`round ${t}: no selection recorded`);
      const randoms = new Map(
        [...recorded.signatures].map(([q, sig]) => [q, randomFromSignature(sig)] as const),
      );
      const { order } = selectPrimary({
        reputations: recorded.reputations,
        randoms,
        threshold: randomFromSignature(recorded.gatewaySignature),
      });
      orders.push([...order]);
    }
    return orders;
  }

  it("a stalled selected primary: the takeover commits after the primary window, every round", async () => {
    const report = await run({ consensusNodes: 4, faulty: 1, faultyBehaviours: ["stall"] });
    expect(report.perRound.every((s) => s.match && s.aborted === undefined)).to.equal(true);
    expect(report.consensus?.selectionsRecorded).to.equal(report.rounds);
    expect(report.perRound.map((s) => s.view)).to.deep.equal([1, 1, 0, 0]);
    expect(report.perRound.map((s) => s.primary)).to.deep.equal([0, 0, 0, 0]);
    expect(await afterTimeoutFlags(report.ledger)).to.deep.equal([false, false, false, false]);
    // The order the nodes weigh evidence by, read back from the chain's records (calldata of
    // recordPrimarySelection), is the order the agents ran the round with: the stalled node 3
    // first in rounds 1 and 2, the committing primary at the view the agents reported.
    const orders = await chainOrders(report.ledger, report.rounds);
    expect(orders.map((o) => o[0])).to.deep.equal([3, 3, 0, 0]);
    expect(report.perRound.map((s, i) => orders[i].indexOf(s.primary!))).to.deep.equal(
      report.perRound.map((s) => s.view),
    );
  });

  it("crashed pre-selected nodes: the selection over the revealers after the reveal timeout, every round", async () => {
    const report = await run({ consensusNodes: 7, faulty: 2, faultyBehaviours: ["crashed"] });
    expect(report.perRound.every((s) => s.match && s.aborted === undefined)).to.equal(true);
    expect(report.consensus?.selectionsRecorded).to.equal(report.rounds);
    expect(await afterTimeoutFlags(report.ledger)).to.deep.equal([true, true, false, false]);
  });
});
