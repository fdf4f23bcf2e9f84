// Threat: a malicious consensus node stays a chain validator. DESIGN §2: reputation governs who
// validates the chain itself (Besu QBFT calls the registry's getValidators() in contract mode).
// Model: one of 5 nodes signs wrong digests as a voter and proposes wrong blocks as primary; the
// honest quorum keeps committing and records its lost reputation. Once its reputation is below the
// mean it must leave getValidators(), while the set keeps at least 4 validators.
import { expect } from "chai";
import { network } from "hardhat";

import { commitBlockArgs } from "../../offchain/consensus/block.ts";
import { behaviours } from "../../offchain/consensus/driver.ts";
import { toFixed18 } from "../../offchain/protocol/reputation.ts";
import { deployConsensus } from "../consensus/chain-setup.ts";
import { GATEWAY_SK, makeNetwork, nodeSecretKeys } from "../consensus/setup.ts";

const { ethers } = await network.create();

describe("attack: a malicious node remains a validator", () => {
  it("a node that signs wrong digests drops out of getValidators(); 4 validators remain", async () => {
    const m = 5;
    const malicious = 2;
    const floats = Array.from({ length: m }, () => 0.5);
    const sks = nodeSecretKeys(m, "validators");
    const d = await deployConsensus(ethers, {
      sks,
      reputations: floats.map(toFixed18),
      gatewaySk: GATEWAY_SK,
    });
    // Equal reputations: every node is at the mean, all five validate.
    expect(await d.registry.getValidators()).to.include(d.accounts[malicious]);
    const net = makeNetwork({
      m,
      sks,
      initialFloats: floats,
      behaviours: behaviours(m, new Map([[malicious, "wrongBlock"]])),
      domain: d.domain,
      epoch: await d.epoch(),
      chain: (keys) => ({
        async submit(block, certificate, submitter) {
          const args = commitBlockArgs(block, certificate, keys);
          try {
            await (
              await d.ledger
                .connect(d.submitterOf(submitter))
                .commitBlock(args.block, args.certificate)
            ).wait();
            return true;
          } catch {
            return false;
          }
        },
      }),
    });
    for (let t = 1n; t <= 3n; t++) {
      expect((await net.runRound(t, 100n + t, 10)).committed).to.not.equal(undefined);
    }
    const validators = await d.registry.getValidators();
    expect(validators).to.not.include(d.accounts[malicious]);
    expect(validators).to.have.length(4);
    expect(await d.registry.nodeCount()).to.equal(BigInt(m)); // still a node, no longer a validator
  });
});
