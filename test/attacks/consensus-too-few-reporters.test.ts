// Threat: a round over too few reporters published in consensus mode (issue 12, item 3). The
// gateway aborts such a round itself, but the ledger must not rely on it: the count of reporters
// is part of GW's signed round message (`domain ‖ u64 round ‖ u256 sum ‖ u32 reporters`), every
// block carries it (and its digest binds it), and `commitBlock` refuses a block below
// `minReporters()` with `AggregationLedgerTooFewReporters`. A primary (or a colluding quorum) that
// restates the count to clear the minimum breaks σ_GW: the ledger's one multi-pairing fails.
import { expect } from "chai";
import { network } from "hardhat";

import { blockDigest } from "../../offchain/consensus/block.ts";
import { blsPublicKey } from "../../offchain/crypto/bls.ts";
import { bbnpVerifyRound } from "../../offchain/protocol/aggregation.ts";
import { consensusFixture } from "../consensus/chain-setup.ts";
import { GATEWAY_SK } from "../consensus/setup.ts";

const { ethers } = await network.create();
const ZERO = new Uint8Array(32);

describe("attack: consensus round below the minimum of counted reporters", () => {
  it("a fully certified block whose GW-signed count is below minReporters is refused", async () => {
    const s = await consensusFixture(ethers, 4);
    expect(await s.ledger.minReporters()).to.equal(10n);
    // GW really counted 9 and signed 9; all four nodes certify the block.
    const b = s.block(1n, ZERO, 0, 77n, undefined, 9);
    await expect(s.commit(b, s.certify(b, [0, 1, 2, 3])))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerTooFewReporters")
      .withArgs(1n, 9n, 10n);
    expect(await s.ledger.headDigest()).to.equal(ethers.ZeroHash);
    // At the minimum it commits; the event carries the signed count.
    const ok = s.block(1n, ZERO, 0, 77n, undefined, 10);
    await expect(s.commit(ok, s.certify(ok, [0, 1, 2, 3])))
      .to.emit(s.ledger, "BlockCommitted")
      .withArgs(
        1n,
        ethers.hexlify(blockDigest(s.domain, ok)),
        ethers.ZeroHash,
        77n,
        ethers.hexlify(ok.gatewaySignature),
        0n,
        (x: string) => typeof x === "string",
        0b1111n,
        (x: string) => typeof x === "string",
        10n,
      );
  });

  it("the minimum set by the admin applies to commitBlock (round-config trailer), also after a key rotation", async () => {
    const s = await consensusFixture(ethers, 4);
    await s.ledger.connect(s.admin).setMinReporters(50);
    const b = s.block(1n, ZERO, 0, 77n, undefined, 49);
    await expect(s.commit(b, s.certify(b, [0, 1, 2, 3])))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerTooFewReporters")
      .withArgs(1n, 49n, 50n);
    // The members part survived the rewrite: the same membership epoch and keys still commit.
    const ok = s.block(1n, ZERO, 0, 77n, undefined, 50);
    await s.commit(ok, s.certify(ok, [0, 1, 2, 3]));
    await s.ledger.connect(s.admin).setMinReporters(2);
    const low = s.block(2n, blockDigest(s.domain, ok), 1, 78n, undefined, 2);
    await s.commit(low, s.certify(low, [0, 1, 2]));
    expect(await s.ledger.lastRound()).to.deep.equal([2n, true]);
  });

  it("a primary that restates the reporter count breaks σ_GW, even with a full certificate", async () => {
    const s = await consensusFixture(ethers, 4);
    const signed = s.block(1n, ZERO, 0, 77n, undefined, 9); // GW signed 9 reporters
    for (const restated of [10, 11, 1_000]) {
      const forged = { ...signed, reporters: restated };
      // Off-chain, σ_GW does not verify for the restated count (honest nodes refuse the block).
      expect(
        bbnpVerifyRound(
          blsPublicKey(GATEWAY_SK),
          s.domain,
          1n,
          77n,
          restated,
          forged.gatewaySignature,
        ),
      ).to.equal(false);
      // Every node signs the forged block's digest (a colluding quorum): the pairing still fails.
      await expect(s.commit(forged, s.certify(forged, [0, 1, 2, 3])))
        .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerInvalidCertificate")
        .withArgs(1n);
    }
    // Restating an honest count downwards breaks σ_GW just the same.
    const honest = s.block(1n, ZERO, 0, 77n, undefined, 12);
    const lowered = { ...honest, reporters: 10 };
    await expect(s.commit(lowered, s.certify(lowered, [0, 1, 2, 3]))).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerInvalidCertificate",
    );
    expect(await s.ledger.headDigest()).to.equal(ethers.ZeroHash);
  });

  it("a certificate of one count does not certify the same block with another count", async () => {
    const s = await consensusFixture(ethers, 4);
    const b = s.block(1n, ZERO, 0, 77n, undefined, 12);
    const other = s.block(1n, ZERO, 0, 77n, undefined, 13); // GW signed 13 too
    expect(blockDigest(s.domain, b)).to.not.deep.equal(blockDigest(s.domain, other));
    await expect(s.commit(other, s.certify(b, [0, 1, 2, 3]))).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerInvalidCertificate",
    );
    await s.commit(other, s.certify(other, [0, 1, 2, 3]));
  });
});
