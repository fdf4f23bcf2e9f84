// Dress rehearsal of a kit's deployment (DESIGN §2 "Besu"; docs/BESU.md "How each part was
// checked"): Besu cannot run here, so a `hardhat node` child process stands in for the network — the
// kit's chain id, Prague and a 30M gas limit (hardhat.config.ts `default` network), the kit's genesis
// alloc loaded with hardhat_setCode / hardhat_setStorageAt / hardhat_setNonce, zero base fee. The
// kit's deployer key deploys GridLedger with `gridledger deploy --kit` (Ignition), which binds the
// aggregation ledger to the genesis registry, and the validator set survives it; the Oksuz demo
// then attaches to that deployment with the kit's role keys, and the BBNP demo (gateway mode, its
// own ledger: consensus on the genesis registry needs the validators' consensus-node services)
// runs with the kit's deployer and gateway keys.
import { expect } from "chai";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Contract, JsonRpcProvider, getAddress, type InterfaceAbi } from "ethers";

import { REGISTRY_ADDRESS } from "../../offchain/besu/kit.ts";
import { writeKit } from "../../offchain/besu/kit-writer.ts";
import { connectBillingLedger } from "../../offchain/chain/billing.ts";
import { readArtifact } from "../../offchain/chain/deploy.ts";
import { freePort } from "../helpers/hardhat-node.ts";
import { loadGenesisAlloc, testKit } from "./kit-fixture.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HARDHAT_CLI = fileURLToPath(
  new URL("../../node_modules/hardhat/dist/src/cli.js", import.meta.url),
);
const CHAIN_ID = 31_999;

async function waitForRpc(
  url: string,
  child: ChildProcess,
  log: () => string,
): Promise<JsonRpcProvider> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`hardhat node exited (${child.exitCode}):\n${log()}`);
    try {
      const r = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (r.ok)
        return new JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`hardhat node did not start:\n${log()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("besu: dress rehearsal on hardhat node", function () {
  this.timeout(300_000);

  it("the kit's genesis, chain id and deployer key deploy GridLedger; the registry keeps the validators", async () => {
    const kit = testKit({ chainId: CHAIN_ID }, "dress-rehearsal");
    const m = kit.manifest;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let output = "";
    const node = spawn(
      process.execPath,
      [
        HARDHAT_CLI,
        "--network",
        "default",
        "node",
        "--port",
        String(port),
        "--chain-id",
        String(CHAIN_ID),
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    node.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    node.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    let provider: JsonRpcProvider | undefined;
    let deployed: Record<string, string> = {};
    try {
      provider = await waitForRpc(url, node, () => output);
      expect(Number(await provider.send("eth_chainId", []))).to.equal(m.chainId);

      // The genesis alloc, as Besu would start from it.
      const rpc = provider;
      await loadGenesisAlloc((method, params) => rpc.send(method, params), kit.genesis.alloc);
      await provider.send("hardhat_setNextBlockBaseFeePerGas", ["0x0"]);
      // Besu's zeroBaseFee: the latest block's base fee is 0, which is what Ignition looks at to
      // send zero-fee transactions (blocks under the gas target keep it at 0).
      await provider.send("evm_mine", []);
      const registryAbi = readArtifact("consensus/ReputationRegistry.sol", "ReputationRegistry")
        .abi as InterfaceAbi;
      const registry = new Contract(REGISTRY_ADDRESS, registryAbi, provider);
      expect(await registry.getValidators()).to.deep.equal(m.validators);

      // `gridledger deploy --kit DIR`, as the kit's README says: Ignition with the kit's deployer key
      // and role accounts, the aggregation ledger bound to the genesis registry (not a new one),
      // zero-fee transactions. Only the URL differs: this rehearsal node instead of a Besu node.
      const kitDir = mkdtempSync(join(tmpdir(), "gridledger-kit-"));
      const deploymentId = `rehearsal-${process.pid}`;
      try {
        writeKit(kit.files, join(kitDir, "kit"), false);
        const before = await provider.getBalance(m.accounts.deployer);
        const deploy = spawnSync(
          process.execPath,
          [
            "--disable-warning=ExperimentalWarning",
            "offchain/cli/main.ts",
            "deploy",
            "--kit",
            join(kitDir, "kit"),
            "--deployment-id",
            deploymentId,
          ],
          {
            cwd: ROOT,
            encoding: "utf8",
            timeout: 240_000,
            // The kit's deployer key file is used when BESU_DEPLOYER_KEY is not set.
            env: { ...process.env, BESU_RPC_URL: url, BESU_DEPLOYER_KEY: undefined },
          },
        );
        expect(deploy.status, deploy.stdout + deploy.stderr).to.equal(0);
        expect(await provider.getBalance(m.accounts.deployer)).to.equal(before);
        deployed = JSON.parse(
          readFileSync(
            join(ROOT, "ignition", "deployments", deploymentId, "deployed_addresses.json"),
            "utf8",
          ),
        ) as Record<string, string>;
        expect(Object.keys(deployed).sort()).to.deep.equal([
          "BbnpOnRegistry#AggregationLedger",
          "BbnpOnRegistry#ReputationRegistry",
          "BillingLedger#BillingLedger",
        ]);
        expect(deployed["BbnpOnRegistry#ReputationRegistry"]).to.equal(
          getAddress(REGISTRY_ADDRESS),
        );
      } finally {
        rmSync(kitDir, { recursive: true, force: true });
      }
      const billing = deployed["BillingLedger#BillingLedger"];
      const ledgerAddress = deployed["BbnpOnRegistry#AggregationLedger"];
      const billingLedger = connectBillingLedger(billing, provider);
      expect(
        await billingLedger.hasRole(await billingLedger.CC_ROLE(), m.accounts["control-center"]),
      ).to.equal(true);
      // ---- end of deployment ----

      expect(await provider.getCode(billing)).to.not.equal("0x");
      expect(await registry.ledger()).to.equal(ledgerAddress);
      // From now on the ledger's bitmap decides; it took the registry's genesis state.
      expect(await registry.getValidators()).to.deep.equal(m.validators);
      const block = await provider.getBlock("latest");
      expect(block!.gasLimit).to.equal(30_000_000n);

      // A service attaches with the kit's role keys: the Oksuz demo on the same chain.
      const demo = spawnSync(
        process.execPath,
        [
          "--disable-warning=ExperimentalWarning",
          "offchain/cli/demo.ts",
          "--rpc",
          url,
          "--deployment",
          `rehearsal-${process.pid}`,
          "--meters",
          "5",
          "--intervals",
          "1",
        ],
        {
          cwd: ROOT,
          encoding: "utf8",
          timeout: 240_000,
          env: {
            ...process.env,
            GRIDLEDGER_ADMIN_KEY: kit.file("accounts/deployer.key").trim(),
            GRIDLEDGER_CC_KEY: kit.file("accounts/control-center.key").trim(),
            GRIDLEDGER_SP_KEY: kit.file("accounts/service-provider.key").trim(),
          },
        },
      );
      expect(demo.status, demo.stdout + demo.stderr).to.equal(0);
      expect(demo.stdout).to.match(/bills verified 5\/5/);

      // And BBNP with the kit's deployer (admin) and gateway keys.
      const bbnp = spawnSync(
        process.execPath,
        [
          "--disable-warning=ExperimentalWarning",
          "offchain/cli/bbnp-demo.ts",
          "--rpc",
          url,
          "--users",
          "10",
          "--rounds",
          "1",
          "--quiet",
        ],
        {
          cwd: ROOT,
          encoding: "utf8",
          timeout: 240_000,
          env: {
            ...process.env,
            GRIDLEDGER_ADMIN_KEY: kit.file("accounts/deployer.key").trim(),
            GRIDLEDGER_GATEWAY_KEY: kit.file("accounts/gateway.key").trim(),
          },
        },
      );
      expect(bbnp.status, bbnp.stdout + bbnp.stderr).to.equal(0);
      expect(bbnp.stdout).to.match(/Σ readings \d+ Wh = Σ on-chain \d+: yes/);
    } finally {
      rmSync(join(ROOT, "ignition", "deployments", `rehearsal-${process.pid}`), {
        recursive: true,
        force: true,
      });
      provider?.destroy();
      if (node.exitCode === null) {
        const exited = new Promise((r) => node.once("exit", r));
        process.kill(node.pid!, "SIGTERM");
        await exited;
      }
    }
  });
});
