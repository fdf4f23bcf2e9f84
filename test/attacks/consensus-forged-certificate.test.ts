// Threat: a forged quorum certificate. A Byzantine primary (or anyone holding the primary's chain
// account) submits a block with a certificate that the claimed signers did not produce: a bitmap
// that claims a node which did not sign, a certificate of one block attached to another block
// (other sum, other reputation vector), a signature that is the sum of fewer votes, or a GW
// signature that does not match the sum. The ledger forms the signers' key from the registry's
// key table and checks GW's signature and the certificate in one multi-pairing
// (docs/CONSENSUS.md "One multi-pairing"); each forgery must be refused and leave the head as is.
import { expect } from "chai";
import { network } from "hardhat";

import { blsSign } from "../../offchain/crypto/bls.ts";
import { blockDigest } from "../../offchain/consensus/block.ts";
import { bbnpSignRound } from "../../offchain/protocol/aggregation.ts";
import { consensusFixture } from "../consensus/chain-setup.ts";
import { GATEWAY_SK } from "../consensus/setup.ts";

const { ethers } = await network.create();
const ZERO = new Uint8Array(32);

describe("attack: forged consensus certificate", () => {
  it("a bitmap claiming a node that did not sign is refused", async () => {
    const s = await consensusFixture(ethers, 4);
    const b = s.block(1n, ZERO, 0);
    const cert = s.certify(b, [0, 1, 2]);
    await expect(s.commit(b, { ...cert, signers: 0b1111n }))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerInvalidCertificate")
      .withArgs(1n);
    expect(await s.ledger.headDigest()).to.equal(ethers.ZeroHash);
    await s.commit(b, cert); // the honest certificate of the same block passes
  });

  it("a certificate of one block attached to another block (sum, reputations) is refused", async () => {
    const s = await consensusFixture(ethers, 4);
    const b = s.block(1n, ZERO, 0);
    const cert = s.certify(b, [0, 1, 2, 3]);
    const otherSum = s.block(1n, ZERO, 0, 78n); // GW really signed 78 too: only the cert is wrong
    await expect(s.commit(otherSum, cert)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerInvalidCertificate",
    );
    const otherReputations = { ...b, reputations: [...b.reputations].reverse() };
    await expect(s.commit(otherReputations, cert)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerInvalidCertificate",
    );
  });

  it("a GW signature on another sum, or a vote missing from the sum, is refused", async () => {
    const s = await consensusFixture(ethers, 4);
    const b = s.block(1n, ZERO, 0);
    const wrongGw = { ...b, gatewaySignature: bbnpSignRound(GATEWAY_SK, s.domain, 1n, 78n, 10) };
    await expect(s.commit(wrongGw, s.certify(wrongGw, [0, 1, 2, 3]))).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerInvalidCertificate",
    );
    // Bitmap of four signers, signature of three.
    const three = s.certify(b, [0, 1, 2]);
    await expect(s.commit(b, { signers: 0b1111n, signature: three.signature }))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerInvalidCertificate")
      .withArgs(1n);
    // A node's vote on another digest substituted for its vote on this block.
    const digest = blockDigest(s.domain, b);
    const votes = new Map([0, 1, 2].map((j) => [j, blsSign(s.sks[j], digest)]));
    votes.set(3, blsSign(s.sks[3], blockDigest(s.domain, s.block(1n, ZERO, 0, 5n))));
    const { aggregateCertificate } = await import("../../offchain/consensus/block.ts");
    await expect(s.commit(b, aggregateCertificate(votes))).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerInvalidCertificate",
    );
  });

  it("a bitmap naming a node index that does not exist is refused before any pairing", async () => {
    const s = await consensusFixture(ethers, 4);
    const b = s.block(1n, ZERO, 0);
    const cert = s.certify(b, [0, 1, 2]);
    await expect(s.commit(b, { ...cert, signers: 0b10111n }))
      .to.be.revertedWithCustomError(s.registry, "ReputationRegistryInsufficientSigners")
      .withArgs(4n, 3n);
  });

  it("a valid certificate submitted by an account other than the primary's is refused", async () => {
    const s = await consensusFixture(ethers, 4);
    const b = s.block(1n, ZERO, 0);
    await expect(s.commit(b, s.certify(b, [0, 1, 2, 3]), 1)).to.be.revertedWithCustomError(
      s.registry,
      "ReputationRegistryWrongPrimary",
    );
  });
});
