// Both schemes over HTTP JSON-RPC, the way a user runs them (README "Run on `hardhat node`"):
// `npx hardhat node` as a child process on a free loopback port, the demos as separate processes
// with `--rpc`, `gridledger deploy` (Ignition) and demos attached to that deployment. After each
// run the ledgers are rebuilt from events alone, over HTTP, and reconciled with what the agents
// reported. Also: the stale-read regression (a read right after a write sees it, 100 times) and
// the node's chain rules (prague, 30M block gas limit).
import { execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";
import { Contract, HDNodeWallet, type InterfaceAbi } from "ethers";

import { connectBillingLedger, openInterval } from "../../offchain/chain/billing.ts";
import { deployBillingLedger, readArtifact } from "../../offchain/chain/deploy.ts";
import { ContractRevertError, toChainError } from "../../offchain/chain/errors.ts";
import { readIntervalFromUrl } from "../../offchain/chain/ledgerReader.ts";
import { connectJsonRpc, readHead } from "../../offchain/chain/provider.ts";
import type { BbnpRunReport } from "../../offchain/sim/bbnp.ts";
import { ATTACKS, type OksuzReport } from "../../offchain/sim/oksuz.ts";
import { ROOT, freePort, startHardhatNode, stopHardhatNode } from "../helpers/hardhat-node.ts";

const DEV_MNEMONIC = "test test test test test test test test test test test junk";
const run = promisify(execFile);

/** Runs a CLI script with Node (the project's), returns stdout; throws with stderr on failure. */
async function cli(script: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", join(ROOT, script), ...args],
      { cwd: ROOT, maxBuffer: 16 << 20, timeout: 300_000 },
    );
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    throw new Error(`${script} ${args.join(" ")} exited ${e.code}:\n${e.stderr}\n${e.stdout}`);
  }
}

describe("real chains: both schemes over HTTP JSON-RPC on `hardhat node`", function () {
  this.timeout(900_000);
  let node: ChildProcess | undefined;
  let url: string;
  let dir: string;
  const deploymentId = `e2e-rpc-${process.pid}`;

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    dir = mkdtempSync(join(tmpdir(), "gridledger-rpc-"));
    node = await startHardhatNode(port);
  });
  after(async () => {
    await stopHardhatNode(node);
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true });
  });

  /** Rebuilds every interval from events over HTTP and compares with the demo's report. */
  async function reconcileOksuz(report: OksuzReport): Promise<void> {
    expect(report.perInterval.length).to.equal(report.intervals);
    for (const s of report.perInterval) {
      const chain = await readIntervalFromUrl(url, report.ledger, s.interval);
      expect(chain.mismatches, `interval ${s.interval}`).to.deep.equal([]);
      expect(chain.state, "final").to.equal(5);
      expect(chain.ocd.length).to.equal(s.entries);
      expect(chain.sumWh.toString()).to.equal(s.aggregateWh);
      expect(String(chain.price ?? 0n)).to.equal(s.price);
      expect(chain.billedTotal.toString()).to.equal(s.billedTotal);
      expect(Buffer.from(chain.ocdDigest).toString("hex")).to.equal(s.ocdDigest);
      expect(s.billsDisputed, "every user verified its bill").to.equal(0);
    }
  }

  async function oksuz(args: readonly string[]): Promise<OksuzReport> {
    const json = join(dir, `oksuz-${Date.now()}.json`);
    await cli("offchain/cli/demo.ts", ["--rpc", url, "--quiet", "--json", json, ...args]);
    return JSON.parse(readFileSync(json, "utf8")) as OksuzReport;
  }

  async function bbnp(args: readonly string[]): Promise<BbnpRunReport> {
    const json = join(dir, `bbnp-${Date.now()}.json`);
    await cli("offchain/cli/bbnp-demo.ts", ["--rpc", url, "--quiet", "--json", json, ...args]);
    return JSON.parse(readFileSync(json, "utf8")) as BbnpRunReport;
  }

  /** Every round's committed sum, read from the ledger's events over HTTP, = the readings' sum. */
  async function reconcileBbnp(report: BbnpRunReport): Promise<void> {
    const { provider } = await connectJsonRpc(url);
    try {
      const { abi } = readArtifact("ledger/AggregationLedger.sol", "AggregationLedger");
      const ledger = new Contract(report.ledger, abi as InterfaceAbi, provider);
      const name = report.mode === "gateway" ? "RoundRecorded" : "BlockCommitted";
      const events = await ledger.queryFilter(ledger.filters[name](), 0, await readHead(provider));
      expect(events.length, "one event per round").to.equal(report.rounds);
      for (const [k, s] of report.perRound.entries()) {
        const args = (events[k] as unknown as { args: { round: bigint; sum: bigint } }).args;
        expect(args.round).to.equal(BigInt(s.round));
        expect(args.sum.toString()).to.equal(s.onChainSum);
        expect(s.onChainSum).to.equal(s.readingsSumWh);
      }
    } finally {
      provider.destroy();
    }
  }

  it("the node serves the project's chain: prague rules and a 30M block gas limit", async () => {
    const { provider, chainId } = await connectJsonRpc(url);
    try {
      expect(chainId).to.equal(31337n);
      const block = await provider.getBlock("latest");
      expect(block!.gasLimit).to.equal(30_000_000n);
      // Osaka (EIP-7825) caps a transaction at 2^24 gas; prague accepts 20M.
      await provider.call({
        to: "0x0000000000000000000000000000000000000001",
        gasLimit: 20_000_000n,
      });
    } finally {
      provider.destroy();
    }
  });

  it("a read right after a write sees the write, 100 times in a row (stale-read regression)", async () => {
    const { provider } = await connectJsonRpc(url);
    try {
      const wallet = (i: number) =>
        HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider);
      const { address } = await deployBillingLedger(
        { admin: wallet(0), controlCenter: wallet(1), serviceProvider: wallet(2) },
        {
          tariff: { breakpointsWh: [0n], values: [1n], cap: 10n },
          categories: [100n, 200n, 300n, 400n, 500n],
          slotsPerMeter: 1,
        },
      );
      const cc = connectBillingLedger(address, wallet(1));
      for (let j = 0; j < 100; j++) {
        const receipt = await openInterval(cc, j, 1_000n + BigInt(j), 2_000n + BigInt(j));
        // The raw head (no client cache) and the fenced head both include the write.
        expect(await provider.getBlockNumber()).to.be.at.least(receipt.blockNumber);
        const head = await readHead(provider);
        expect(head).to.be.at.least(receipt.blockNumber);
        const record = await cc.intervalRecord(j, { blockTag: head });
        expect(Number(record.state), `interval ${j} open`).to.equal(1);
      }
    } finally {
      provider.destroy();
    }
  });

  it("a revert over HTTP is decoded by name from the revert data", async () => {
    const { provider } = await connectJsonRpc(url);
    try {
      const admin = HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, "m/44'/60'/0'/0/0").connect(
        provider,
      );
      const { ledger } = await deployBillingLedger({
        admin,
        controlCenter: admin,
        serviceProvider: admin,
      });
      let error: unknown;
      try {
        await ledger.setCategoryValues([0, 1, 2, 3, 4]);
      } catch (err) {
        error = toChainError(err);
      }
      expect(error).to.be.instanceOf(ContractRevertError);
      expect((error as ContractRevertError).errorName).to.equal(
        "BillingLedgerInvalidCategoryValues",
      );
    } finally {
      provider.destroy();
    }
  });

  it("Oksuz demo, relayed mode: every interval reconciles with the events", async () => {
    const report = await oksuz(["--meters", "8", "--intervals", "2"]);
    expect(report.mode).to.equal("relayed");
    await reconcileOksuz(report);
  });

  it("Oksuz demo, direct mode (Oksuz §6): every interval reconciles with the events", async () => {
    const report = await oksuz(["--meters", "8", "--intervals", "2", "--direct"]);
    expect(report.mode).to.equal("direct");
    await reconcileOksuz(report);
  });

  for (const attack of ATTACKS) {
    it(`Oksuz attack ${attack}: detected or prevented over HTTP, honest bills unaffected`, async () => {
      const report = await oksuz(["--meters", "8", "--intervals", "2", "--attack", attack]);
      expect(report.attack?.outcome).to.be.oneOf(["detected", "prevented"]);
      expect(report.attack?.honestBillsUnaffected).to.equal(true);
      for (const s of report.perInterval) {
        const chain = await readIntervalFromUrl(url, report.ledger, s.interval);
        expect(chain.mismatches).to.deep.equal([]);
        expect(chain.sumWh.toString()).to.equal(s.aggregateWh);
      }
    });
  }

  it("BBNP demo, 4 consensus nodes (1 faulty) with dropouts: every round reconciles", async () => {
    const report = await bbnp([
      "--users",
      "20",
      "--rounds",
      "2",
      "--consensus",
      "4",
      "--faulty",
      "1",
      "--dropout",
      "0.1",
    ]);
    expect(report.mode).to.equal("consensus");
    await reconcileBbnp(report);
  });

  it("gridledger deploy (Ignition, every module), then both demos attach to the deployment", async () => {
    await run(
      process.execPath,
      [
        "--disable-warning=ExperimentalWarning",
        join(ROOT, "offchain/cli/main.ts"),
        "deploy",
        "--rpc",
        url,
        "--deployment-id",
        deploymentId,
      ],
      { cwd: ROOT, timeout: 300_000, maxBuffer: 16 << 20 },
    );
    const journal = join(ROOT, "ignition", "deployments", deploymentId);
    expect(statSync(journal).isDirectory()).to.equal(true);
    expect(readdirSync(journal)).to.include("deployed_addresses.json");
    const addresses = JSON.parse(
      readFileSync(join(journal, "deployed_addresses.json"), "utf8"),
    ) as Record<string, string>;

    const oksuzReport = await oksuz([
      "--meters",
      "6",
      "--intervals",
      "2",
      "--deployment",
      deploymentId,
    ]);
    expect(oksuzReport.ledger.toLowerCase()).to.equal(
      addresses["BillingLedger#BillingLedger"].toLowerCase(),
    );
    await reconcileOksuz(oksuzReport);

    const bbnpReport = await bbnp([
      "--users",
      "12",
      "--rounds",
      "2",
      "--consensus",
      "4",
      "--deployment",
      deploymentId,
    ]);
    expect(bbnpReport.ledger.toLowerCase()).to.equal(
      addresses["Bbnp#AggregationLedger"].toLowerCase(),
    );
    await reconcileBbnp(bbnpReport);

    // A used deployment is refused by name, before any write.
    let refused = "";
    try {
      await cli("offchain/cli/demo.ts", ["--rpc", url, "--quiet", "--deployment", deploymentId]);
    } catch (err) {
      refused = (err as Error).message;
    }
    expect(refused).to.match(/DeploymentMismatchError: .*already holds interval 1/);
  });

  it("no module builds its own JsonRpcProvider (the cache-free one is chain/provider.ts)", () => {
    const offenders: string[] = [];
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith(".ts") && !p.endsWith(join("chain", "provider.ts"))) {
          if (/new JsonRpcProvider\(/.test(readFileSync(p, "utf8"))) offenders.push(p);
        }
      }
    };
    walk(join(ROOT, "offchain"));
    expect(offenders).to.deep.equal([]);
  });
});
