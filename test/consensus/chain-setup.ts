// Deploys AggregationLedger + ReputationRegistry bound together, with M nodes (exports only).
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { bytesToHex } from "@noble/hashes/utils.js";

import {
  blsProvePossession,
  blsPublicKey,
  g1ToEip2537,
  g2ToEip2537,
} from "../../offchain/crypto/bls.ts";
import { packReputations } from "../../offchain/consensus/block.ts";
import { aggregationDomain } from "../../offchain/protocol/aggregation.ts";

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
  return { ledger, registry, admin, accounts, domain, submitterOf, signers };
}
