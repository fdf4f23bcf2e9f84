// Threat: replaying a certified block. Anyone who saw a committed block and its certificate (they
// are in calldata) submits it again: for the same round, after the chain moved on, or to another
// ledger deployment. Rounds are strictly increasing, each block names the head it extends, and the
// digest every node signs is bound to the ledger's domain (chain id, address; DESIGN §5.3), so each
// replay must be refused and leave the head where it was.
import { expect } from "chai";
import { network } from "hardhat";

import { blockDigest } from "../../offchain/consensus/block.ts";
import { bbnpSignRound } from "../../offchain/protocol/aggregation.ts";
import { g2ToEip2537 } from "../../offchain/crypto/bls.ts";
import { consensusFixture, h } from "../consensus/chain-setup.ts";
import { GATEWAY_SK } from "../consensus/setup.ts";

const { ethers } = await network.create();
const ZERO = new Uint8Array(32);

describe("attack: replayed consensus round", () => {
  it("the same certified block again, and an old round after the chain moved on, are refused", async () => {
    const s = await consensusFixture(ethers, 4);
    const b1 = s.block(1n, ZERO, 0);
    const c1 = s.certify(b1, [0, 1, 2, 3]);
    await s.commit(b1, c1);
    await expect(s.commit(b1, c1))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerRoundNotIncreasing")
      .withArgs(1n, 1n);
    const d1 = blockDigest(s.domain, b1);
    const b2 = s.block(2n, d1, 1);
    await s.commit(b2, s.certify(b2, [0, 1, 2]));
    await expect(s.commit(b1, c1))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerRoundNotIncreasing")
      .withArgs(2n, 1n); // (lastRound, round)
    expect(await s.ledger.headDigest()).to.equal(h(blockDigest(s.domain, b2)));
  });

  it("a certified block that does not extend the head (fork from an older digest) is refused", async () => {
    const s = await consensusFixture(ethers, 4);
    const b1 = s.block(1n, ZERO, 0);
    await s.commit(b1, s.certify(b1, [0, 1, 2, 3]));
    // A quorum-signed round 2 that extends the empty chain instead of block 1.
    const fork = s.block(2n, ZERO, 0);
    await expect(s.commit(fork, s.certify(fork, [0, 1, 2, 3]))).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerPreviousDigestMismatch",
    );
    expect(await s.ledger.headDigest()).to.equal(h(blockDigest(s.domain, b1)));
  });

  it("a block certified for one ledger deployment is refused by another (domain separation)", async () => {
    const a = await consensusFixture(ethers, 4);
    const b = await consensusFixture(ethers, 4); // same node keys, same GW key, other address
    const blockA = a.block(1n, ZERO, 0);
    const certA = a.certify(blockA, [0, 1, 2, 3]);
    // Submitted to ledger B: GW signature and certificate are both over ledger A's domain.
    await expect(b.commit(blockA, certA)).to.be.revertedWithCustomError(
      b.ledger,
      "AggregationLedgerInvalidCertificate",
    );
    await a.commit(blockA, certA);
  });

  it("once the registry is bound, the gateway-only path cannot record a round without a certificate", async () => {
    const s = await consensusFixture(ethers, 4);
    await s.ledger.grantRole(await s.ledger.GATEWAY_ROLE(), s.admin.address);
    const sig = h(g2ToEip2537(bbnpSignRound(GATEWAY_SK, s.domain, 5n, 1n, 10)));
    await expect(s.ledger.recordRound(5n, 1n, 10, sig)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerCertificateRequired",
    );
  });
});
