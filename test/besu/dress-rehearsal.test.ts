// Dress rehearsal of a kit's deployment (DESIGN §2 "Besu"; docs/BESU.md "How each part was
// checked"): Besu cannot run here, so a `hardhat node` child process stands in for the network — the
// kit's chain id, Prague and a 30M gas limit (hardhat.config.ts `default` network), the kit's genesis
// alloc loaded with hardhat_setCode / hardhat_setStorageAt / hardhat_setNonce, zero base fee. The
// kit's deployer key deploys GridLedger with plain ethers from the artifacts, binds the aggregation
// ledger to the genesis registry, and the validator set survives it; both demos then run on the
// same chain with the kit's role keys (each deploys its own ledgers: attaching them to the kit's
// deployment waits for `gridledger deploy`).
import { expect } from "chai";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

import { Contract, ContractFactory, JsonRpcProvider, Wallet, type InterfaceAbi } from "ethers";

import { REGISTRY_ADDRESS } from "../../offchain/besu/kit.ts";
import { deployBillingLedger, readArtifact } from "../../offchain/chain/deploy.ts";
import { blsPublicKey, g1ToEip2537 } from "../../offchain/crypto/bls.ts";
import { bytesToHex } from "../../offchain/crypto/bytes.ts";
import { loadGenesisAlloc, testKit } from "./kit-fixture.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HARDHAT_CLI = fileURLToPath(
  new URL("../../node_modules/hardhat/dist/src/cli.js", import.meta.url),
);
const CHAIN_ID = 31_999;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

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
    try {
      provider = await waitForRpc(url, node, () => output);
      expect(Number(await provider.send("eth_chainId", []))).to.equal(m.chainId);

      // The genesis alloc, as Besu would start from it.
      const rpc = provider;
      await loadGenesisAlloc((method, params) => rpc.send(method, params), kit.genesis.alloc);
      await provider.send("hardhat_setNextBlockBaseFeePerGas", ["0x0"]);
      const registryAbi = readArtifact("consensus/ReputationRegistry.sol", "ReputationRegistry")
        .abi as InterfaceAbi;
      const registry = new Contract(REGISTRY_ADDRESS, registryAbi, provider);
      expect(await registry.getValidators()).to.deep.equal(m.validators);

      const key = (role: string) => new Wallet(kit.file(`accounts/${role}.key`).trim(), provider);
      const deployer = key("deployer");

      // ---- DEPLOYMENT SPOT: replace with `gridledger deploy` / the Ignition modules (lead) ----
      // Plain ethers from the artifacts: the billing ledger with the kit's role accounts, and the
      // aggregation ledger bound to the genesis registry (not a new one).
      const { address: billing } = await deployBillingLedger({
        admin: deployer,
        controlCenter: key("control-center"),
        serviceProvider: key("service-provider"),
      });
      const aggregation = readArtifact("ledger/AggregationLedger.sol", "AggregationLedger");
      const gatewayBlsKey = "0x" + bytesToHex(g1ToEip2537(blsPublicKey(424242n)));
      const ledger = await new ContractFactory(
        aggregation.abi,
        aggregation.bytecode,
        deployer,
      ).deploy(m.accounts.deployer, gatewayBlsKey);
      await ledger.waitForDeployment();
      const ledgerAddress = await ledger.getAddress();
      // Zero-fee transactions: the deployer's balance does not move.
      const free = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n };
      const before = await provider.getBalance(m.accounts.deployer);
      await (await (registry.connect(deployer) as Contract).bindLedger(ledgerAddress, free)).wait();
      await (
        await (ledger.connect(deployer) as Contract).bindRegistry(REGISTRY_ADDRESS, free)
      ).wait();
      expect(await provider.getBalance(m.accounts.deployer)).to.equal(before);
      // ---- end of deployment spot ----

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
      provider?.destroy();
      if (node.exitCode === null) {
        const exited = new Promise((r) => node.once("exit", r));
        process.kill(node.pid!, "SIGTERM");
        await exited;
      }
    }
  });
});
