// Threat: racing or replaying across a membership change (issue 15, findings 1 and 2; issue 18).
// Model: the regulator adds and removes consensus nodes while rounds keep committing; a Byzantine
// primary holds a certificate made before the change, or commits first to make the regulator's
// transaction fail (e.g. to escape its own removal). Every certificate is bound to the membership
// epoch it was made under (digest and `ConsensusBlock.epoch`), and a change whose vector a commit
// superseded is deferred (commits pause) instead of reverting. Besu needs ≥ 4 validators: the
// registry never goes below 4 nodes and `getValidators()` never answers with fewer.
import { expect } from "chai";
import { network } from "hardhat";

import {
  blsProvePossession,
  blsPublicKey,
  g1ToEip2537,
  g2ToEip2537,
} from "../../offchain/crypto/bls.ts";
import { blockDigest, packReputations } from "../../offchain/consensus/block.ts";
import { consensusFixture, h } from "../consensus/chain-setup.ts";
import { nodeSecretKeys } from "../consensus/setup.ts";

const { ethers } = await network.create();
const ZERO = new Uint8Array(32);

async function newcomer(label = "newcomer") {
  const sk = nodeSecretKeys(1, label)[0];
  return {
    key: h(g1ToEip2537(blsPublicKey(sk))),
    pop: h(g2ToEip2537(blsProvePossession(sk))),
  };
}

describe("attack: certificates and membership changes", () => {
  it("a certificate made before 'remove node 4, add a newcomer' is refused afterwards (epoch)", async () => {
    // Finding 1: same M before and after, the old signers 0–3 still registered: without the
    // epoch the old certificate verified and slot 4 of its vector went to the newcomer.
    const s = await consensusFixture(ethers, 5);
    const b = s.block(1n, ZERO, 0);
    const c = s.certify(b, [0, 1, 2, 3]);
    const epoch = await s.epoch();
    await s.registry.removeNode(s.accounts[4], h(packReputations(s.reputations)));
    const n = await newcomer();
    await s.registry.addNode(
      s.signers[9].address,
      n.key,
      n.pop,
      10n ** 17n,
      h(packReputations(s.reputations.slice(0, 4))),
    );
    expect(await s.epoch()).to.equal(epoch + 2);
    await expect(s.commit(b, c))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerMembershipEpochMismatch")
      .withArgs(epoch + 2, epoch);
    // Relabelling the old certificate with the new epoch breaks the digest it signed.
    const relabelled = { ...b, epoch: epoch + 2 };
    expect(blockDigest(s.domain, relabelled)).to.not.deep.equal(blockDigest(s.domain, b));
    await expect(s.commit(relabelled, c)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerInvalidCertificate",
    );
    // A block of the new membership, certified now, commits.
    const fresh = s.block(1n, ZERO, 0, 77n, epoch + 2);
    await expect(s.commit(fresh, s.certify(fresh, [0, 1, 2, 3]))).to.emit(
      s.ledger,
      "BlockCommitted",
    );
  });

  it("a removal raced by a commit is deferred, pauses commits and is applied, not reverted", async () => {
    // Finding 2: node 4, primary, commits first to change the vector under the regulator's
    // removal; the removal used to revert (ReputationsMismatch) and the node stayed.
    const s = await consensusFixture(ethers, 5);
    const before = h(packReputations(s.reputations));
    const raced = {
      ...s.block(1n, ZERO, 4),
      reputations: s.reputations.map((r, j) => (j === 4 ? r / 2n : r)),
    };
    await s.commit(raced, s.certify(raced, [0, 1, 2, 3, 4]));
    await expect(s.registry.removeNode(s.accounts[4], before))
      .to.emit(s.registry, "MembershipChangeDeferred")
      .withArgs(2n, s.accounts[4]);
    expect(await s.ledger.membershipChangePending()).to.equal(true);
    // The node cannot commit again meanwhile.
    const next = s.block(2n, blockDigest(s.domain, raced), 4);
    await expect(s.commit(next, s.certify(next, [0, 1, 2, 3, 4]))).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerMembershipChangePending",
    );
    // No second change while one is pending; the wrong vector is still refused at apply time.
    const n = await newcomer();
    await expect(
      s.registry.addNode(s.signers[9].address, n.key, n.pop, 10n ** 17n, before),
    ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryMembershipChangePending");
    await expect(s.registry.applyMembershipChange(before)).to.be.revertedWithCustomError(
      s.registry,
      "ReputationRegistryReputationsMismatch",
    );
    const epoch = await s.epoch();
    await expect(s.registry.applyMembershipChange(h(packReputations(raced.reputations))))
      .to.emit(s.registry, "NodeRemoved")
      .withArgs(4n, s.accounts[4], 4n);
    expect(await s.epoch()).to.equal(epoch + 1);
    expect(await s.ledger.membershipChangePending()).to.equal(false);
    expect(await s.registry.nodeCount()).to.equal(4n);
    expect(await s.ledger.reputationsHash()).to.equal(
      ethers.keccak256(h(packReputations(raced.reputations.slice(0, 4)))),
    );
    await expect(s.registry.applyMembershipChange("0x")).to.be.revertedWithCustomError(
      s.registry,
      "ReputationRegistryNoPendingChange",
    );
  });

  it("an addition raced by a commit is deferred and applied with the new vector", async () => {
    const s = await consensusFixture(ethers, 4);
    const before = h(packReputations(s.reputations));
    const b = { ...s.block(1n, ZERO, 0), reputations: s.reputations.map((r) => r / 2n) };
    await s.commit(b, s.certify(b, [0, 1, 2, 3]));
    const n = await newcomer();
    await s.registry.addNode(s.signers[9].address, n.key, n.pop, 3n * 10n ** 17n, before);
    expect(await s.registry.pendingMembershipChange()).to.deep.equal([
      1n,
      s.signers[9].address,
      3n * 10n ** 17n,
    ]);
    await s.registry.applyMembershipChange(h(packReputations(b.reputations)));
    expect(await s.registry.nodeCount()).to.equal(5n);
    expect(await s.registry.validatorOf(n.key)).to.equal(s.signers[9].address);
    expect(await s.ledger.reputationsHash()).to.equal(
      ethers.keccak256(h(packReputations([...b.reputations, 3n * 10n ** 17n]))),
    );
  });

  it("the registry never drops below 4 nodes, and getValidators never answers with fewer", async () => {
    const s = await consensusFixture(ethers, 4);
    await expect(s.registry.removeNode(s.accounts[3], h(packReputations(s.reputations))))
      .to.be.revertedWithCustomError(s.registry, "ReputationRegistryTooFewNodes")
      .withArgs(3n);
    expect((await s.registry.getValidators()).length).to.equal(4);
    const empty = await ethers.deployContract("ReputationRegistry", [s.admin.address]);
    await expect(empty.getValidators())
      .to.be.revertedWithCustomError(empty, "ReputationRegistryTooFewNodes")
      .withArgs(0n);
  });

  it("each node's BLS key maps to its validator account; unknown and removed keys are refused", async () => {
    const s = await consensusFixture(ethers, 5);
    for (let j = 0; j < 5; j++) {
      expect(await s.registry.validatorOf(h(g1ToEip2537(s.keys[j])))).to.equal(s.accounts[j]);
    }
    await s.registry.removeNode(s.accounts[1], h(packReputations(s.reputations)));
    await expect(s.registry.validatorOf(h(g1ToEip2537(s.keys[1])))).to.be.revertedWithCustomError(
      s.registry,
      "ReputationRegistryUnknownKey",
    );
    expect(await s.registry.validatorOf(h(g1ToEip2537(s.keys[4])))).to.equal(s.accounts[4]);
    expect(await s.registry.getValidators()).to.include(s.accounts[4]);
  });
});
