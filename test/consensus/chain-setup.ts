// Deploys AggregationLedger + ReputationRegistry bound together, with M nodes (exports only).
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { bytesToHex } from "@noble/hashes/utils.js";

import {
  blsProvePossession,
  blsPublicKey,
  blsSign,
  g1ToEip2537,
  g2ToEip2537,
} from "../../offchain/crypto/bls.ts";
import {
  aggregateCertificate,
  blockDigest,
  commitBlockArgs,
  packReputations,
  quantizeReputation,
  type ConsensusBlock,
  type QuorumCertificate,
} from "../../offchain/consensus/block.ts";
import { aggregationDomain, bbnpSignRound } from "../../offchain/protocol/aggregation.ts";
import { toFixed18 } from "../../offchain/protocol/reputation.ts";
import { GATEWAY_SK, initialFloats, nodeSecretKeys } from "./setup.ts";

export const h = (x: Uint8Array): string => "0x" + bytesToHex(x);

export async function deployConsensus(
  ethers: HardhatEthers,
  opts: { sks: readonly bigint[]; reputations: readonly bigint[]; gatewaySk: bigint },
) {
  const signers = await ethers.getSigners();
  const admin = signers[0];
  // Node j's account: a Hardhat signer when available (it may submit), else a derived address.
  const accounts = opts.sks.map((_, j) =>
    j + 1 < signers.length
      ? signers[j + 1].address
      : ethers.getAddress("0x" + (j + 1).toString(16).padStart(40, "7")),
  );
  const ledger = await ethers.deployContract("AggregationLedger", [
    admin.address,
    h(g1ToEip2537(blsPublicKey(opts.gatewaySk))),
  ]);
  const registry = await ethers.deployContract("ReputationRegistry", [admin.address]);
  await (await registry.bindLedger(await ledger.getAddress())).wait();
  await (await ledger.bindRegistry(await registry.getAddress())).wait();
  for (let j = 0; j < opts.sks.length; j++) {
    await (
      await registry.addNode(
        accounts[j],
        h(g1ToEip2537(blsPublicKey(opts.sks[j]))),
        h(g2ToEip2537(blsProvePossession(opts.sks[j]))),
        opts.reputations[j],
        h(packReputations(opts.reputations.slice(0, j))),
      )
    ).wait();
  }
  const { chainId } = await ethers.provider.getNetwork();
  const domain = aggregationDomain(chainId, await ledger.getAddress());
  const submitterOf = (j: number) => signers[j + 1];
  /** The registry's current membership epoch (what blocks must carry). */
  const epoch = async () => Number(await registry.membershipEpoch());
  return { ledger, registry, admin, accounts, domain, submitterOf, signers, epoch };
}

/**
 * M nodes deployed on-chain (deterministic keys, initial reputations of test/consensus/setup.ts)
 * with helpers to build a round's block (GW-signed) and certify it by chosen signers.
 */
export async function consensusFixture(ethers: HardhatEthers, m: number) {
  const sks = nodeSecretKeys(m);
  const reputations = initialFloats(m).map((x) => quantizeReputation(toFixed18(x)));
  const d = await deployConsensus(ethers, { sks, reputations, gatewaySk: GATEWAY_SK });
  const keys = sks.map(blsPublicKey);
  const epoch0 = await d.epoch();
  /**
   * A GW-signed block of the current (fixture) membership; `epoch` overrides the epoch,
   * `reporters` the count GW signs (default 10, the ledger's default minimum).
   */
  const block = (
    round: bigint,
    previousDigest: Uint8Array,
    primary: number,
    sum = 77n,
    epoch = epoch0,
    reporters = 10,
  ): ConsensusBlock => ({
    round,
    previousDigest,
    sum,
    gatewaySignature: bbnpSignRound(GATEWAY_SK, d.domain, round, sum, reporters),
    primary,
    reputations,
    epoch,
    reporters,
  });
  const certify = (b: ConsensusBlock, signerIdx: readonly number[]) => {
    const digest = blockDigest(d.domain, b);
    return aggregateCertificate(new Map(signerIdx.map((j) => [j, blsSign(sks[j], digest)])));
  };
  /**
   * commitBlock by the primary's account (or `submitter`'s). The bitmap goes to the contract as
   * given, even with bits above M that the honest encoder refuses: attackers do not use it.
   */
  const commit = (b: ConsensusBlock, c: QuorumCertificate, submitter = b.primary) => {
    const inRange = c.signers & ((1n << BigInt(m)) - 1n);
    const args = commitBlockArgs(b, { ...c, signers: inRange }, keys);
    return d.ledger
      .connect(d.submitterOf(submitter))
      .commitBlock(args.block, { ...args.certificate, signers: c.signers });
  };
  return { ...d, sks, keys, reputations, block, certify, commit };
}
