// The registry in the genesis alloc (offchain/besu/registry-genesis.ts, storage-layout.ts) loaded
// into the embedded Hardhat chain with hardhat_setCode / hardhat_setStorageAt / hardhat_setNonce:
// `getValidators()` returns exactly the kit's validators in Besu's order, and the state is word for
// word what the constructor and one `addNode` per validator leave (a registry built by
// transactions, every slot any of its transactions wrote), so the regulator can go on from it.
import { expect } from "chai";
import { Contract, getAddress, Wallet, type InterfaceAbi } from "ethers";
import { network } from "hardhat";

import { REGULATOR_ROLE, DEFAULT_ADMIN_ROLE } from "../../offchain/besu/registry-genesis.ts";
import { REGISTRY_ADDRESS, GENESIS_REPUTATION } from "../../offchain/besu/kit.ts";
import {
  CONSOLIDATION_REQUEST_CONTRACT_ADDRESS,
  WITHDRAWAL_REQUEST_CONTRACT_ADDRESS,
} from "../../offchain/besu/genesis.ts";
import { readRegistryBuild } from "../../offchain/besu/artifacts.ts";
import { readArtifact } from "../../offchain/chain/deploy.ts";
import { packReputations } from "../../offchain/consensus/block.ts";
import {
  blsProvePossession,
  blsPublicKey,
  g1ToEip2537,
  g2ToEip2537,
  blsAggregatePublicKeys,
} from "../../offchain/crypto/bls.ts";
import { bytesToHex, hexToBytes } from "../../offchain/crypto/bytes.ts";
import { keccak256 } from "../../offchain/crypto/keccak.ts";
import type { GenesisAccount } from "../../offchain/besu/registry-genesis.ts";
import { loadGenesisAlloc, testKit, type RpcSend, type TestKit } from "./kit-fixture.ts";

const { ethers, provider } = await network.create();
const hex = (b: Uint8Array) => "0x" + bytesToHex(b);

const send: RpcSend = (method, params) => provider.request({ method, params });
const loadAlloc = (alloc: Readonly<Record<string, GenesisAccount>>) =>
  loadGenesisAlloc(send, alloc);

const registryAbi = readArtifact("consensus/ReputationRegistry.sol", "ReputationRegistry")
  .abi as InterfaceAbi;

function blsSecrets(kit: TestKit): bigint[] {
  return kit.manifest.validators.map((_, j) => BigInt(kit.file(`validator-${j}/bls.key`).trim()));
}

describe("besu: the registry in the genesis alloc", () => {
  const kit = testKit({ validators: 6 }, "registry-genesis");
  const m = kit.manifest;
  let registry: Contract;

  before(async () => {
    await loadAlloc(kit.genesis.alloc);
    registry = new Contract(REGISTRY_ADDRESS, registryAbi, ethers.provider);
  });

  it("getValidators() returns exactly the kit's validators, ascending as Besu sorts them", async () => {
    const validators: string[] = await registry.getValidators();
    expect(validators).to.deep.equal(m.validators);
    const sorted = [...validators].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    expect(validators).to.deep.equal(sorted);
  });

  it("maps every validator to its BLS key; aggregate, reputations hash and roles are the constructor's and addNode's", async () => {
    expect(await registry.nodeCount()).to.equal(6n);
    const keys = blsSecrets(kit).map((sk) => blsPublicKey(sk));
    for (let j = 0; j < 6; j++) {
      const [account, blsKey] = await registry.node(j);
      expect(account).to.equal(m.validators[j]);
      expect(blsKey).to.equal(hex(g1ToEip2537(keys[j])));
      expect(hex(keys[j])).to.equal(m.nodes[j].blsPublicKey);
      expect(await registry.indexOf(account)).to.equal(BigInt(j));
    }
    expect(await registry.aggregateKey()).to.equal(hex(g1ToEip2537(blsAggregatePublicKeys(keys))));
    expect(await registry.reputationsHash()).to.equal(
      hex(keccak256(packReputations(keys.map(() => GENESIS_REPUTATION)))),
    );
    expect(await registry.REGULATOR_ROLE()).to.equal(REGULATOR_ROLE);
    expect(await registry.hasRole(DEFAULT_ADMIN_ROLE, m.accounts.deployer)).to.equal(true);
    expect(await registry.hasRole(REGULATOR_ROLE, m.accounts.deployer)).to.equal(true);
    expect(await registry.hasRole(REGULATOR_ROLE, m.validators[0])).to.equal(false);
    expect(await registry.ledger()).to.equal("0x" + "00".repeat(20));
  });

  it("equals, slot for slot, a registry built by the constructor and addNode transactions", async () => {
    // The reference: the same admin (the kit's deployer, funded by the genesis alloc), nodes, keys
    // and reputations, added by transactions.
    const deployer = new Wallet(kit.file("accounts/deployer.key").trim(), ethers.provider);
    const reference = await ethers.deployContract("ReputationRegistry", [m.accounts.deployer]);
    const txs = [reference.deploymentTransaction()!.hash];
    const secrets = blsSecrets(kit);
    for (let j = 0; j < secrets.length; j++) {
      const tx = await reference
        .connect(deployer)
        .addNode(
          m.validators[j],
          hex(g1ToEip2537(blsPublicKey(secrets[j]))),
          hex(g2ToEip2537(blsProvePossession(secrets[j]))),
          GENESIS_REPUTATION,
          hex(packReputations(secrets.slice(0, j).map(() => GENESIS_REPUTATION))),
        );
      txs.push(tx.hash);
      await tx.wait();
    }
    const referenceAddress = (await reference.getAddress()).toLowerCase();
    // Every slot the reference's transactions wrote (struct-log SSTOREs in its own frame) and
    // every slot of the genesis storage.
    const slots = new Set(
      Object.keys(kit.genesis.alloc[getAddress(REGISTRY_ADDRESS)].storage!).map((s) => BigInt(s)),
    );
    for (const hash of txs) {
      const trace = (await provider.request({
        method: "debug_traceTransaction",
        params: [hash],
      })) as {
        structLogs: { op: string; depth: number; stack?: string[] }[];
      };
      for (const log of trace.structLogs) {
        if (log.op === "SSTORE" && log.depth === 1 && log.stack)
          slots.add(BigInt("0x" + log.stack[log.stack.length - 1].replace(/^0x/, "")));
      }
    }
    expect(slots.size).to.be.greaterThan(6 * 4);
    // _keyTables holds code-store addresses, which differ (CREATE nonces): compared by code.
    const layout = readRegistryBuild().storageLayout;
    const keyTables = layout.storage.find((v) => v.label === "_keyTables")!;
    const chunks = Number(/\[(\d+)\]$/.exec(layout.types![keyTables.type].label)![1]);
    const keyTableSlots = new Set(
      Array.from({ length: chunks }, (_, c) => BigInt(keyTables.slot) + BigInt(c)),
    );
    let compared = 0;
    for (const slot of slots) {
      const a = await provider.request({
        method: "eth_getStorageAt",
        params: [REGISTRY_ADDRESS, "0x" + slot.toString(16), "latest"],
      });
      const b = await provider.request({
        method: "eth_getStorageAt",
        params: [referenceAddress, "0x" + slot.toString(16), "latest"],
      });
      if (keyTableSlots.has(slot)) {
        const codeA =
          BigInt(a as string) === 0n
            ? "0x"
            : await ethers.provider.getCode("0x" + (a as string).slice(-40));
        const codeB =
          BigInt(b as string) === 0n
            ? "0x"
            : await ethers.provider.getCode("0x" + (b as string).slice(-40));
        expect(codeA, `key table at slot ${slot}`).to.equal(codeB);
      } else {
        expect(BigInt(a as string), `slot 0x${slot.toString(16)}`).to.equal(BigInt(b as string));
      }
      compared++;
    }
    expect(compared).to.equal(slots.size);
  });

  it("the regulator (the kit's deployer) can add a node to the genesis registry", async () => {
    const deployer = new Wallet(kit.file("accounts/deployer.key").trim(), ethers.provider);
    const sk = 12345678901234567890n;
    const newcomer = Wallet.createRandom().address;
    const tx = await (registry.connect(deployer) as Contract).addNode(
      newcomer,
      hex(g1ToEip2537(blsPublicKey(sk))),
      hex(g2ToEip2537(blsProvePossession(sk))),
      GENESIS_REPUTATION,
      hex(packReputations(m.validators.map(() => GENESIS_REPUTATION))),
    );
    await tx.wait();
    expect(await registry.getValidators()).to.deep.equal([...m.validators, newcomer]);
    const keys = [...blsSecrets(kit), sk].map((s) => blsPublicKey(s));
    expect(await registry.aggregateKey()).to.equal(hex(g1ToEip2537(blsAggregatePublicKeys(keys))));
  });

  it("25.x genesis: the EIP-7002/7251 code answers like the predeploys (fee 1 wei at zero excess)", async () => {
    const g = testKit({ besuVersion: "25.10.0" }, "system-contracts").genesis;
    await loadAlloc({
      [WITHDRAWAL_REQUEST_CONTRACT_ADDRESS]: g.alloc[WITHDRAWAL_REQUEST_CONTRACT_ADDRESS],
      [CONSOLIDATION_REQUEST_CONTRACT_ADDRESS]: g.alloc[CONSOLIDATION_REQUEST_CONTRACT_ADDRESS],
    });
    for (const address of [
      WITHDRAWAL_REQUEST_CONTRACT_ADDRESS,
      CONSOLIDATION_REQUEST_CONTRACT_ADDRESS,
    ]) {
      expect(BigInt(await ethers.provider.call({ to: address, data: "0x" }))).to.equal(1n);
    }
    expect(hexToBytes(g.alloc[WITHDRAWAL_REQUEST_CONTRACT_ADDRESS].code!).length).to.be.greaterThan(
      100,
    );
  });
});
