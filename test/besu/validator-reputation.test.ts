// Reputation governs the kit's validators (DESIGN §2 "Besu", §5): on the genesis registry of a kit
// (embedded chain, genesis alloc loaded), bound to an aggregation ledger with the kit's deployer
// key, a BBNP block certified by the kit's validators' BLS keys that lowers one node's reputation
// below the mean drops that node from `getValidators()` — what Besu reads for the next block — but
// only while at least 4 validators remain.
// Threat: a misbehaving validator keeps validating the chain after its peers have lowered its
// reputation.
import { expect } from "chai";
import { ContractFactory, Wallet } from "ethers";
import { network } from "hardhat";

import { GENESIS_REPUTATION, REGISTRY_ADDRESS } from "../../offchain/besu/kit.ts";
import { readArtifact } from "../../offchain/chain/deploy.ts";
import {
  aggregateCertificate,
  blockDigest,
  commitBlockArgs,
  type ConsensusBlock,
} from "../../offchain/consensus/block.ts";
import { blsPublicKey, blsSign, g1ToEip2537 } from "../../offchain/crypto/bls.ts";
import { bytesToHex } from "../../offchain/crypto/bytes.ts";
import { aggregationDomain, bbnpSignRound } from "../../offchain/protocol/aggregation.ts";
import type { AggregationLedger, ReputationRegistry } from "../../types/ethers-contracts/index.ts";
import { loadGenesisAlloc, testKit } from "./kit-fixture.ts";

const hex = (b: Uint8Array) => "0x" + bytesToHex(b);
const GATEWAY_SK = 987654321n;

/** A kit of `validators` loaded into a fresh chain, its registry bound to a new ledger. */
async function boundKit(validators: number, seed: string) {
  const { ethers, provider } = await network.create();
  const kit = testKit({ validators }, seed);
  await loadGenesisAlloc(
    (method, params) => provider.request({ method, params }),
    kit.genesis.alloc,
  );
  const deployer = new Wallet(kit.file("accounts/deployer.key").trim(), ethers.provider);
  const artifact = readArtifact("ledger/AggregationLedger.sol", "AggregationLedger");
  const deployed = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy(
    deployer.address,
    hex(g1ToEip2537(blsPublicKey(GATEWAY_SK))),
  );
  await deployed.waitForDeployment();
  const ledgerAddress = await deployed.getAddress();
  const ledger = (await ethers.getContractAt(
    "AggregationLedger",
    ledgerAddress,
  )) as unknown as AggregationLedger;
  const registry = (await ethers.getContractAt(
    "ReputationRegistry",
    REGISTRY_ADDRESS,
  )) as unknown as ReputationRegistry;
  await (await registry.connect(deployer).bindLedger(ledgerAddress)).wait();
  await (await ledger.connect(deployer).bindRegistry(REGISTRY_ADDRESS)).wait();
  const { chainId } = await ethers.provider.getNetwork();
  const domain = aggregationDomain(chainId, ledgerAddress);
  const sks = kit.manifest.validators.map((_, j) =>
    BigInt(kit.file(`validator-${j}/bls.key`).trim()),
  );

  /** Commits round 1 with `reputations`, certified by every validator, sent by the primary (0). */
  async function commitRound1(reputations: bigint[]) {
    const block: ConsensusBlock = {
      round: 1n,
      previousDigest: new Uint8Array(32),
      sum: 1000n,
      gatewaySignature: bbnpSignRound(GATEWAY_SK, domain, 1n, 1000n, 10),
      primary: 0,
      reputations,
      epoch: Number(await registry.membershipEpoch()),
      reporters: 10,
    };
    const digest = blockDigest(domain, block);
    const cert = aggregateCertificate(new Map(sks.map((sk, j) => [j, blsSign(sk, digest)])));
    const args = commitBlockArgs(block, cert, sks.map(blsPublicKey));
    // The primary commits from its validator account: the kit's node key of validator-0.
    const primary = new Wallet(kit.file("validator-0/key").trim(), ethers.provider);
    await (await ledger.connect(primary).commitBlock(args.block, args.certificate)).wait();
  }
  return { kit, registry, commitRound1 };
}

describe("besu: reputation governs the kit's validators", () => {
  it("a node whose reputation falls below the mean leaves getValidators() while ≥ 4 remain", async () => {
    const { kit, registry, commitRound1 } = await boundKit(5, "malicious-5");
    const v = kit.manifest.validators;
    expect(await registry.getValidators()).to.deep.equal(v);
    // Validator 3 misbehaved: its peers lower its reputation to 0.1 (mean of the vector: 0.42).
    const low = [
      GENESIS_REPUTATION,
      GENESIS_REPUTATION,
      GENESIS_REPUTATION,
      10n ** 17n,
      GENESIS_REPUTATION,
    ];
    await commitRound1(low);
    expect(await registry.getValidators()).to.deep.equal([v[0], v[1], v[2], v[4]]);
  });

  it("with 4 validators the low node stays: the registry never returns fewer than 4", async () => {
    const { kit, registry, commitRound1 } = await boundKit(4, "malicious-4");
    await commitRound1([GENESIS_REPUTATION, GENESIS_REPUTATION, 10n ** 17n, GENESIS_REPUTATION]);
    expect(await registry.getValidators()).to.deep.equal(kit.manifest.validators);
  });
});
