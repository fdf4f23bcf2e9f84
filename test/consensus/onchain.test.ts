// On-chain consensus (DESIGN §2, §5.4): a certified block on the aggregation ledger, the
// registry's validator list, and a reconciliation of the off-chain round driver's blocks with what
// the chain stores. The attacks (forged certificate, too few signers, rogue key, grinding, replay)
// are in test/attacks/consensus-*.test.ts.
import { expect } from "chai";
import { network } from "hardhat";

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
} from "../../offchain/consensus/block.ts";
import { aggregationDomain, bbnpSignRound } from "../../offchain/protocol/aggregation.ts";
import { behaviours } from "../../offchain/consensus/driver.ts";
import { toFixed18 } from "../../offchain/protocol/reputation.ts";
import { consensusFixture, deployConsensus, h } from "./chain-setup.ts";
import { GATEWAY_SK, initialFloats, makeNetwork, nodeSecretKeys } from "./setup.ts";

const { ethers } = await network.create();

describe("consensus on-chain", () => {
  it("a certified block is accepted; digest, head, reputations and event match off-chain", async () => {
    const s = await consensusFixture(ethers, 4);
    const b = s.block(1n, new Uint8Array(32), 2);
    const cert = s.certify(b, [0, 1, 2, 3]);
    const args = commitBlockArgs(b, cert, s.keys);
    expect(await s.ledger.blockDigest(args.block)).to.equal(h(blockDigest(s.domain, b)));
    await expect(s.ledger.connect(s.submitterOf(2)).commitBlock(args.block, args.certificate))
      .to.emit(s.ledger, "BlockCommitted")
      .withArgs(
        1n,
        h(blockDigest(s.domain, b)),
        h(b.previousDigest),
        b.sum,
        h(b.gatewaySignature), // compressed (96 bytes), as off-chain
        2n,
        args.block.reputations,
        cert.signers,
        h(cert.signature),
        b.reporters,
      );
    expect(await s.ledger.headDigest()).to.equal(h(blockDigest(s.domain, b)));
    expect(await s.registry.reputationsHash()).to.equal(ethers.keccak256(args.block.reputations));
  });

  it("getValidators: Γ ≥ mean, never fewer than 4 when ≥ 4 nodes exist; removal reindexes", async () => {
    // One high node and many low ones: only one is ≥ the mean, so three are filled in.
    const sks = nodeSecretKeys(6, "val");
    const reps = [9n, 1n, 2n, 3n, 2n, 1n].map((x) => x * 10n ** 17n);
    const d = await deployConsensus(ethers, { sks, reputations: reps, gatewaySk: GATEWAY_SK });
    const validators = await d.registry.getValidators();
    expect(validators).to.deep.equal([d.accounts[0], d.accounts[2], d.accounts[3], d.accounts[4]]);
    await d.registry.removeNode(d.accounts[0], h(packReputations(reps)));
    const after = [reps[5], ...reps.slice(1, 5)];
    expect(await d.registry.reputationsHash()).to.equal(
      ethers.keccak256(h(packReputations(after))),
    );
    expect((await d.registry.getValidators()).length).to.equal(4);
    expect(await d.registry.indexOf(d.accounts[5])).to.equal(0n);
  });

  it("round config: membership changes reach the ledger's blob; rotation keeps the members part", async () => {
    const s = await consensusFixture(ethers, 5);
    // A removal is reported to the ledger: the block of the old membership no longer commits.
    const b = s.block(1n, new Uint8Array(32), 0);
    await s.registry.removeNode(s.accounts[4], h(packReputations(s.reputations)));
    expect(await s.ledger.reputationsHash()).to.equal(
      ethers.keccak256(h(packReputations(s.reputations.slice(0, 4)))),
    );
    await expect(s.commit(b, s.certify(b, [0, 1, 2, 3])))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerMembershipEpochMismatch")
      .withArgs(6n, 5n);
    // A gateway-key rotation rewrites the blob with the new key and the same members part.
    const before = await ethers.provider.getCode(await s.ledger.roundConfig());
    const newKey = h(g1ToEip2537(blsPublicKey(GATEWAY_SK + 1n)));
    await s.ledger.rotateGatewayKey(newKey);
    const after = await ethers.provider.getCode(await s.ledger.roundConfig());
    expect(after.slice(4 + 256)).to.equal(before.slice(4 + 256));
    expect(await s.ledger.gatewayKey()).to.equal(newKey);
  });

  it("binding: only the bound registry may set members; a ledger binds only a registry bound to it", async () => {
    const s = await consensusFixture(ethers, 4);
    await expect(s.ledger.setMembers("0x", ethers.ZeroHash, 0n)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerNotRegistry",
    );
    const other = await ethers.deployContract("AggregationLedger", [
      s.admin.address,
      h(g1ToEip2537(blsPublicKey(GATEWAY_SK))),
    ]);
    await expect(other.bindRegistry(await s.registry.getAddress()))
      .to.be.revertedWithCustomError(other, "AggregationLedgerRegistryNotBoundToLedger")
      .withArgs(await s.registry.getAddress());
  });

  it("gateway-mode history and nodes added before the ledger binds carry over to consensus mode", async () => {
    const [admin, node0, node1, node2, node3] = await ethers.getSigners();
    const accounts = [node0, node1, node2, node3];
    const sks = nodeSecretKeys(4, "late-bind");
    const reps = initialFloats(4).map((x) => quantizeReputation(toFixed18(x)));
    const ledger = await ethers.deployContract("AggregationLedger", [
      admin.address,
      h(g1ToEip2537(blsPublicKey(GATEWAY_SK))),
    ]);
    const { chainId } = await ethers.provider.getNetwork();
    const domain = aggregationDomain(chainId, await ledger.getAddress());
    // Gateway-only history: round 5.
    await ledger.grantRole(await ledger.GATEWAY_ROLE(), admin.address);
    await ledger.recordRound(
      5n,
      9n,
      10,
      h(g2ToEip2537(bbnpSignRound(GATEWAY_SK, domain, 5n, 9n, 10))),
    );
    // The registry is bound to the ledger and fills up BEFORE the ledger binds it (pull path).
    const registry = await ethers.deployContract("ReputationRegistry", [admin.address]);
    await registry.bindLedger(await ledger.getAddress());
    for (let j = 0; j < 4; j++) {
      await registry.addNode(
        accounts[j].address,
        h(g1ToEip2537(blsPublicKey(sks[j]))),
        h(g2ToEip2537(blsProvePossession(sks[j]))),
        reps[j],
        h(packReputations(reps.slice(0, j))),
      );
    }
    const block = (round: bigint): ConsensusBlock => ({
      round,
      previousDigest: new Uint8Array(32),
      sum: 3n,
      gatewaySignature: bbnpSignRound(GATEWAY_SK, domain, round, 3n, 10),
      primary: 1,
      reputations: reps,
      epoch: 4,
      reporters: 10,
    });
    const args = (b: ConsensusBlock) => {
      const digest = blockDigest(domain, b);
      const cert = aggregateCertificate(new Map(sks.map((sk, j) => [j, blsSign(sk, digest)])));
      return commitBlockArgs(b, cert, sks.map(blsPublicKey));
    };
    const a5 = args(block(5n));
    await expect(
      ledger.connect(node1).commitBlock(a5.block, a5.certificate),
    ).to.be.revertedWithCustomError(ledger, "AggregationLedgerNoRegistry");
    await ledger.bindRegistry(await registry.getAddress());
    expect(await registry.reputationsHash()).to.equal(ethers.keccak256(h(packReputations(reps))));
    await expect(ledger.connect(node1).commitBlock(a5.block, a5.certificate))
      .to.be.revertedWithCustomError(ledger, "AggregationLedgerRoundNotIncreasing")
      .withArgs(5n, 5n);
    const a6 = args(block(6n));
    await expect(ledger.connect(node1).commitBlock(a6.block, a6.certificate)).to.emit(
      ledger,
      "BlockCommitted",
    );
    expect(await ledger.lastRound()).to.deep.equal([6n, true]);
    expect((await registry.getValidators()).length).to.equal(4);
  });

  it("reconciliation: the off-chain driver's blocks are exactly what the chain stores", async () => {
    const m = 4;
    const sks = nodeSecretKeys(m);
    const reputations = initialFloats(m).map(toFixed18);
    const d = await deployConsensus(ethers, { sks, reputations, gatewaySk: GATEWAY_SK });
    const keys = sks.map(blsPublicKey);
    const net = makeNetwork({
      m,
      behaviours: behaviours(m, new Map([[3, "slow"]])),
      domain: d.domain,
      epoch: await d.epoch(),
      chain: () => ({
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
    const produced: ConsensusBlock[] = [];
    for (let t = 1n; t <= 3n; t++) {
      const o = await net.runRound(t, 500n + t, 10);
      expect(o.committed).to.not.equal(undefined);
      produced.push(o.committed!.block);
    }
    const events = await d.ledger.queryFilter(d.ledger.filters.BlockCommitted());
    expect(events.length).to.equal(3);
    events.forEach((e, i) => {
      const b = produced[i];
      expect(e.args.round).to.equal(b.round);
      expect(e.args.digest).to.equal(h(blockDigest(d.domain, b)));
      expect(e.args.reputations).to.equal(h(packReputations(b.reputations)));
      expect(e.args.gatewaySignature).to.equal(h(b.gatewaySignature));
      expect(Number(e.args.primary)).to.equal(b.primary);
    });
    expect(await d.ledger.headDigest()).to.equal(h(blockDigest(d.domain, produced[2])));
    expect(await d.registry.reputationsHash()).to.equal(
      ethers.keccak256(h(packReputations(produced[2].reputations))),
    );
    // The slow node (never primary here) lost reputation relative to round 1.
    expect(produced.every((b) => b.primary !== 3)).to.equal(true);
    expect(produced[2].reputations[3] < produced[0].reputations[3]).to.equal(true);
  });
});
