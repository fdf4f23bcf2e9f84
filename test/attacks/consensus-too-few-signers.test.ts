// Threat: a certificate with fewer than a quorum of signers. Up to f Byzantine nodes (with or
// without a few honest ones) sign a block the others would refuse; with fewer than
// q = ⌊(M + f)/2⌋ + 1 signatures (2f + 1 for M = 3f + 1) two such blocks could both be "certified".
// The registry counts the bitmap's bits (names of real nodes only) before any pairing; a genuine
// signature of 2f nodes must be refused, 2f + 1 accepted, whatever the non-signers' positions.
import { expect } from "chai";
import { network } from "hardhat";

import { consensusFixture } from "../consensus/chain-setup.ts";

const { ethers } = await network.create();
const ZERO = new Uint8Array(32);

describe("attack: too few signers", () => {
  it("M = 7 (f = 2): 4 genuine signatures are refused, 5 are accepted", async () => {
    const s = await consensusFixture(ethers, 7);
    const b = s.block(1n, ZERO, 0);
    await expect(s.commit(b, s.certify(b, [0, 1, 2, 3])))
      .to.be.revertedWithCustomError(s.registry, "ReputationRegistryInsufficientSigners")
      .withArgs(4n, 5n);
    await expect(s.commit(b, s.certify(b, [0, 2, 3, 5, 6]))).to.emit(s.ledger, "BlockCommitted");
  });

  it("M = 10 (f = 3): 6 signers refused, 7 at the high indices accepted (non-signers subtracted)", async () => {
    const s = await consensusFixture(ethers, 10);
    const b = s.block(1n, ZERO, 9);
    expect(await s.registry.quorum()).to.equal(7n);
    await expect(s.commit(b, s.certify(b, [4, 5, 6, 7, 8, 9])))
      .to.be.revertedWithCustomError(s.registry, "ReputationRegistryInsufficientSigners")
      .withArgs(6n, 7n);
    await expect(s.commit(b, s.certify(b, [3, 4, 5, 6, 7, 8, 9]))).to.emit(
      s.ledger,
      "BlockCommitted",
    );
  });

  it("padding the bitmap with bits above M does not count towards the quorum", async () => {
    const s = await consensusFixture(ethers, 4);
    const b = s.block(1n, ZERO, 0);
    const two = s.certify(b, [0, 1]);
    await expect(
      s.commit(b, { ...two, signers: two.signers | (1n << 4n) | (1n << 255n) }),
    ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryInsufficientSigners");
  });
});
