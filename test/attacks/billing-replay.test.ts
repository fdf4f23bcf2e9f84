// Threat: a signed entry is replayed: twice in the same interval (double counting a report), in
// another interval, or on another deployment / chain (a second ledger).
// Defence: strictly increasing pseudonyms per interval (O(1) uniqueness), the interval `j` and the
// domain `keccak256(chainId ‖ ledger)` inside every signed digest (DESIGN §4.4).
import { expect } from "chai";
import { network } from "hardhat";

import {
  ENTRY_PROBLEM,
  toDapEntryStruct,
  toOcdEntryStruct,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import {
  fillAndSeal,
  WINDOW_END,
  WINDOW_START,
  deployBillingLedger,
  expectedPrice,
  makeDap,
  makeOcdEntries,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

describe("attack: replayed entries", () => {
  it("same interval: a replay in a later batch is refused (pseudonym not increasing)", async () => {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    const entries = makeOcdEntries(d.domain, 1, 3).map(toOcdEntryStruct);
    await (await cc.postOcdBatch(1, entries)).wait();
    await expect(cc.postOcdBatch(1, [entries[1]]))
      .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
      .withArgs(1, 0, ENTRY_PROBLEM.PseudonymNotIncreasing);
    await expect(cc.postOcdBatch(1, [entries[2]]))
      .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
      .withArgs(1, 0, ENTRY_PROBLEM.PseudonymNotIncreasing);
  });

  it("other interval: the entry's j is signed, so it fails verification", async () => {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    await (await cc.openInterval(2, WINDOW_START, WINDOW_END)).wait();
    const entries = makeOcdEntries(d.domain, 1, 1).map(toOcdEntryStruct);
    await (await cc.postOcdBatch(1, entries)).wait();
    await expect(cc.postOcdBatch(2, entries))
      .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
      .withArgs(2, 0, ENTRY_PROBLEM.BadSignature);
  });

  it("other deployment: OCD and DAP entries of ledger A do not verify on ledger B", async () => {
    const a = await deployBillingLedger(ethers);
    const b = await deployBillingLedger(ethers);
    expect(a.domain).to.not.deep.equal(b.domain);
    const ccA = a.ledger.connect(a.cc) as BillingLedger;
    const ccB = b.ledger.connect(b.cc) as BillingLedger;
    for (const cc of [ccA, ccB]) await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    const entriesA = makeOcdEntries(a.domain, 1, 2);
    await (await ccA.postOcdBatch(1, entriesA.map(toOcdEntryStruct))).wait();
    await expect(ccB.postOcdBatch(1, entriesA.map(toOcdEntryStruct)))
      .to.be.revertedWithCustomError(ccB, "BillingLedgerInvalidEntry")
      .withArgs(1, 0, ENTRY_PROBLEM.BadSignature);
    // DAP: same price on both ledgers, signed for A only.
    const entriesB = makeOcdEntries(b.domain, 1, 2);
    await (await ccB.postOcdBatch(1, entriesB.map(toOcdEntryStruct))).wait();
    await fillAndSeal(ccB, 1);
    const dapA = makeDap(a.domain, 1, expectedPrice(entriesB));
    await expect(ccB.postDap(1, [toDapEntryStruct(dapA)]))
      .to.be.revertedWithCustomError(ccB, "BillingLedgerInvalidEntry")
      .withArgs(1, 0, ENTRY_PROBLEM.BadSignature);
  });

  it("other chain: the chain id is part of the domain", async () => {
    const d = await deployBillingLedger(ethers);
    const { chainId } = await ethers.provider.getNetwork();
    const otherChain = ethers.solidityPackedKeccak256(
      ["uint256", "address"],
      [chainId + 1n, d.address],
    );
    expect(await d.ledger.domainSeparator()).to.not.equal(otherChain);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    const foreign = makeOcdEntries(ethers.getBytes(otherChain), 1, 1);
    await expect(cc.postOcdBatch(1, foreign.map(toOcdEntryStruct)))
      .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
      .withArgs(1, 0, ENTRY_PROBLEM.BadSignature);
  });
});
