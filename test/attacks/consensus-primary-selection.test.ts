// Threat: a primary that the selection rule (DESIGN §5.4) did not name commits the round (issue 15,
// item 3). `verifyPrimarySelection` refuses a subset of reveals, but `commitBlock` used to check
// only that the submitter is the block's primary, so a pre-selected non-primary (with a colluding
// quorum) committed a certified block. Now a verified selection is recorded on-chain
// (`recordPrimarySelection`: all pre-selected reveals, or after the reveal timeout those that
// revealed) and `commitBlock` requires its primary during the primary window. Liveness: a crashed
// pre-selected node is excluded after the reveal timeout; a crashed selected primary is replaced
// after the primary window; with no selection recorded any member's certified block commits
// (docs/CONSENSUS.md "Primary selection at commit time").
import { expect } from "chai";
import { network } from "hardhat";

import { blsSign, g1ToEip2537, g2ToEip2537 } from "../../offchain/crypto/bls.ts";
import { blockDigest, packReputations } from "../../offchain/consensus/block.ts";
import {
  preselect,
  randomFromSignature,
  roundRandomMessage,
  selectPrimary,
} from "../../offchain/protocol/primary-selection.ts";
import { consensusFixture, h } from "../consensus/chain-setup.ts";
import { GATEWAY_SK } from "../consensus/setup.ts";

const { ethers } = await network.create();
const ZERO = new Uint8Array(32);

async function setup(m = 7) {
  const s = await consensusFixture(ethers, m);
  const round = 1n;
  const msg = roundRandomMessage(s.domain, round, ZERO);
  const pre = preselect(s.reputations);
  const sigs = new Map(pre.map((q) => [q, blsSign(s.sks[q], msg)]));
  const gw = blsSign(GATEWAY_SK, msg);
  /** The rule over the nodes in `revealed` (all pre-selected by default). */
  const rule = (revealed: readonly number[] = pre) =>
    selectPrimary({
      reputations: s.reputations,
      randoms: new Map(revealed.map((q) => [q, randomFromSignature(sigs.get(q)!)])),
      threshold: randomFromSignature(gw),
    });
  /** recordPrimarySelection with the reveals of `revealed` (ascending). */
  const record = (revealed: readonly number[] = pre) => {
    let revealers = 0n;
    for (const q of revealed) revealers |= 1n << BigInt(q);
    return s.ledger.recordPrimarySelection(round, h(packReputations(s.reputations)), {
      revealers,
      keys: h(Buffer.concat(revealed.map((q) => g1ToEip2537(s.keys[q])))),
      signatures: h(Buffer.concat(revealed.map((q) => g2ToEip2537(sigs.get(q)!)))),
      gatewaySignature: h(g2ToEip2537(gw)),
    });
  };
  /** A block of round 1 by `primary`, certified by every node (a colluding quorum included). */
  const certified = (primary: number) => {
    const b = s.block(round, ZERO, primary);
    return {
      b,
      cert: s.certify(
        b,
        Array.from({ length: m }, (_, j) => j),
      ),
    };
  };
  const mine = (blocks: number) =>
    ethers.provider.send("hardhat_mine", ["0x" + blocks.toString(16)]);
  return { s, pre, rule, record, certified, mine };
}

describe("attack: a primary other than the verified selection commits", () => {
  it("regression: a pre-selected non-primary's certified block is refused once the selection is recorded", async () => {
    const { s, pre, rule, record, certified } = await setup();
    const honest = rule();
    await expect(record())
      .to.emit(s.ledger, "PrimarySelectionRecorded")
      .withArgs(
        1n,
        honest.primary,
        (x: bigint) => x > 0n,
        false,
        (x: bigint) => x > 0n,
      );
    const others = pre.filter((q) => q !== honest.primary);
    expect(others.length).to.be.greaterThan(0);
    for (const q of others) {
      const { b, cert } = certified(q);
      await expect(s.commit(b, cert))
        .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerNotSelectedPrimary")
        .withArgs(1n, honest.primary, 1n, q);
    }
    // Skipping to another round does not dodge the selection either.
    const skip = s.block(2n, ZERO, honest.primary);
    await expect(s.commit(skip, s.certify(skip, [0, 1, 2, 3, 4, 5, 6])))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerNotSelectedPrimary")
      .withArgs(1n, honest.primary, 2n, honest.primary);
    const { b, cert } = certified(honest.primary);
    await expect(s.commit(b, cert)).to.emit(s.ledger, "BlockCommitted");
  });

  it("a subset of the reveals is refused before the reveal timeout and accepted after it (a crashed pre-selected node cannot halt the chain)", async () => {
    const { s, pre, rule, record, certified, mine } = await setup();
    const [, revealTimeout] = [0, Number((await s.ledger.selectionTimeouts())[0])];
    const crashed = rule().primary; // the honest primary crashes before revealing
    const alive = pre.filter((q) => q !== crashed);
    await expect(record(alive))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerInvalidPrimarySelection")
      .withArgs(1n);
    await s.ledger.openPrimarySelection(1n);
    await expect(s.ledger.openPrimarySelection(1n)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerSelectionAlreadyOpen",
    );
    // Opened in block O; a reverted call mines no block, so the next transaction lands in O + 4.
    await mine(revealTimeout - 2);
    await expect(record(alive)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerInvalidPrimarySelection",
    );
    await mine(1); // the next transaction lands in O + 5 = O + revealTimeout
    await expect(record(alive))
      .to.emit(s.ledger, "PrimarySelectionRecorded")
      .withArgs(
        1n,
        rule(alive).primary,
        (x: bigint) => x > 0n,
        true,
        (x: bigint) => x > 0n,
      );
    // A node that is not pre-selected can never be among the revealers.
    await expect(record(pre)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerSelectionAlreadyRecorded",
    );
    const wrong = certified(crashed);
    await expect(s.commit(wrong.b, wrong.cert)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerNotSelectedPrimary",
    );
    const ok = certified(rule(alive).primary);
    await expect(s.commit(ok.b, ok.cert)).to.emit(s.ledger, "BlockCommitted");
  });

  it("after the primary window a takeover primary commits (a crashed selected primary cannot halt the chain)", async () => {
    const { s, pre, rule, record, certified, mine } = await setup();
    await s.ledger.connect(s.admin).setSelectionTimeouts(3, 4);
    await record();
    const takeover = rule().order[1];
    const early = certified(takeover);
    await expect(s.commit(early.b, early.cert)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerNotSelectedPrimary",
    );
    // Recorded in block R, window [R, R + 4); reverted calls mine nothing: this commit lands in R + 4.
    await mine(3);
    await expect(s.commit(early.b, early.cert)).to.emit(s.ledger, "BlockCommitted");
    expect(pre.length).to.be.greaterThan(0);
  });

  it("no selection recorded: any member's certified block commits (the documented liveness choice)", async () => {
    const { s, pre, rule, certified } = await setup();
    const q = pre.find((x) => x !== rule().primary)!;
    const { b, cert } = certified(q);
    await expect(s.commit(b, cert)).to.emit(s.ledger, "BlockCommitted");
    const [, , , recorded] = await s.ledger.primarySelection();
    expect(recorded).to.equal(false);
  });

  it("a recorded selection binds only its round under its head; the timeouts are admin-set, ≥ 1", async () => {
    const { s, rule, record, certified } = await setup();
    await record();
    expect(await s.ledger.primarySelection()).to.deep.include.members([1n, BigInt(rule().primary)]);
    const { b, cert } = certified(rule().primary);
    await s.commit(b, cert);
    // The head moved: the round-1 selection no longer reports as recorded.
    expect((await s.ledger.primarySelection())[3]).to.equal(false);
    await expect(
      s.ledger.connect(s.admin).setSelectionTimeouts(0, 4),
    ).to.be.revertedWithCustomError(s.ledger, "AggregationLedgerSelectionTimeoutsInvalid");
    await expect(
      s.ledger.connect((await ethers.getSigners())[2]).setSelectionTimeouts(2, 4),
    ).to.be.revertedWithCustomError(s.ledger, "AccessControlUnauthorizedAccount");
    await expect(s.ledger.connect(s.admin).setSelectionTimeouts(2, 4))
      .to.emit(s.ledger, "SelectionTimeoutsSet")
      .withArgs(2, 4);
    // Round 1 is committed: a window cannot be opened for it any more.
    await expect(s.ledger.openPrimarySelection(1n)).to.be.revertedWithCustomError(
      s.ledger,
      "AggregationLedgerRoundNotIncreasing",
    );
  });

  it("gas: a commit with a pending selection costs ≈ 600 more than one without (the zeroed slot's refund)", async () => {
    const m = 7;
    const s = await consensusFixture(ethers, m);
    const all = Array.from({ length: m }, (_, j) => j);
    let head: Uint8Array = new Uint8Array(32);
    const gas: bigint[] = [];
    for (const t of [1n, 2n, 3n, 4n]) {
      let primary = 0;
      if (t === 3n) {
        const msg = roundRandomMessage(s.domain, t, head);
        const pre = preselect(s.reputations);
        const sigs = new Map(pre.map((q) => [q, blsSign(s.sks[q], msg)]));
        const gw = blsSign(GATEWAY_SK, msg);
        primary = selectPrimary({
          reputations: s.reputations,
          randoms: new Map([...sigs].map(([q, x]) => [q, randomFromSignature(x)])),
          threshold: randomFromSignature(gw),
        }).primary;
        let revealers = 0n;
        for (const q of pre) revealers |= 1n << BigInt(q);
        await s.ledger.recordPrimarySelection(t, h(packReputations(s.reputations)), {
          revealers,
          keys: h(Buffer.concat(pre.map((q) => g1ToEip2537(s.keys[q])))),
          signatures: h(Buffer.concat(pre.map((q) => g2ToEip2537(sigs.get(q)!)))),
          gatewaySignature: h(g2ToEip2537(gw)),
        });
      }
      const b = s.block(t, head, primary);
      const receipt = await (await s.commit(b, s.certify(b, all))).wait();
      gas.push(receipt!.gasUsed);
      head = blockDigest(s.domain, b);
    }
    // Rounds 2 and 4 without a selection, round 3 with one (same primary index is not required).
    const withSelection = gas[2] - (gas[1] > gas[3] ? gas[1] : gas[3]);
    expect(withSelection < 1_000n, `with a selection: +${withSelection} gas`).to.equal(true);
  });
});
