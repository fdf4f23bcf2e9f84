// On-chain consensus (DESIGN §2, §5.4): certified blocks on the aggregation ledger, the
// reputation registry (PoP at registration, getValidators), primary-selection verification, and a
// reconciliation of the off-chain round driver's blocks with what the chain stores.
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
  type ConsensusBlock,
} from "../../offchain/consensus/block.ts";
import { behaviours } from "../../offchain/consensus/driver.ts";
import { bbnpSignRound } from "../../offchain/protocol/aggregation.ts";
import {
  preselect,
  roundRandomMessage,
  selectPrimary,
  randomFromSignature,
} from "../../offchain/protocol/primary-selection.ts";
import { toFixed18 } from "../../offchain/protocol/reputation.ts";
import { deployConsensus, h } from "./chain-setup.ts";
import { GATEWAY_SK, initialFloats, makeNetwork, nodeSecretKeys } from "./setup.ts";

const { ethers } = await network.create();

async function setup(m: number) {
  const sks = nodeSecretKeys(m);
  const reputations = initialFloats(m).map(toFixed18);
  const d = await deployConsensus(ethers, { sks, reputations, gatewaySk: GATEWAY_SK });
  const keys = sks.map(blsPublicKey);
  const block = (
    round: bigint,
    previousDigest: Uint8Array,
    primary: number,
    sum = 77n,
  ): ConsensusBlock => ({
    round,
    previousDigest,
    sum,
    gatewaySignature: bbnpSignRound(GATEWAY_SK, d.domain, round, sum),
    primary,
    reputations,
  });
  const certify = (b: ConsensusBlock, signerIdx: number[]) => {
    const digest = blockDigest(d.domain, b);
    return aggregateCertificate(new Map(signerIdx.map((j) => [j, blsSign(sks[j], digest)])));
  };
  return { ...d, sks, keys, reputations, block, certify };
}

describe("consensus on-chain", () => {
  it("a certified block is accepted; digest, head, reputations and event match off-chain", async () => {
    const s = await setup(4);
    const b = s.block(1n, new Uint8Array(32), 2);
    const cert = s.certify(b, [0, 1, 2, 3]);
    const args = commitBlockArgs(b, cert, s.keys);
    expect(await s.ledger.blockDigest(args.block)).to.equal(h(blockDigest(s.domain, b)));
    await expect(
      s.ledger.connect(s.submitterOf(2)).commitBlock(args.block, args.certificate),
    ).to.emit(s.ledger, "BlockCommitted");
    expect(await s.ledger.headDigest()).to.equal(h(blockDigest(s.domain, b)));
    expect(await s.registry.reputationsHash()).to.equal(ethers.keccak256(args.block.reputations));
  });

  it("a certificate with 2f+1 signers (non-signers' keys subtracted) is accepted; 2f is rejected", async () => {
    const s = await setup(7);
    const b = s.block(1n, new Uint8Array(32), 0);
    const few = commitBlockArgs(b, s.certify(b, [0, 1, 2, 3]), s.keys);
    await expect(s.ledger.connect(s.submitterOf(0)).commitBlock(few.block, few.certificate))
      .to.be.revertedWithCustomError(s.registry, "ReputationRegistryInsufficientSigners")
      .withArgs(4n, 5n);
    const ok = commitBlockArgs(b, s.certify(b, [0, 2, 3, 5, 6]), s.keys);
    await s.ledger.connect(s.submitterOf(0)).commitBlock(ok.block, ok.certificate);
  });

  it("forged certificates are rejected (bitmap claims a non-signer, wrong block, bitmap names a non-node)", async () => {
    const s = await setup(4);
    const b = s.block(1n, new Uint8Array(32), 0);
    const cert = s.certify(b, [0, 1, 2]);
    // Claim node 3 signed too: the aggregate key then includes its key.
    const claimed = commitBlockArgs(b, { ...cert, signers: 0b1111n }, s.keys);
    await expect(
      s.ledger.connect(s.submitterOf(0)).commitBlock(claimed.block, claimed.certificate),
    ).to.be.revertedWithCustomError(s.ledger, "AggregationLedgerInvalidCertificate");
    // Certificate of one block, submitted with another sum (GW signature also for that sum).
    const other = s.block(1n, new Uint8Array(32), 0, 78n);
    const swapped = commitBlockArgs(other, cert, s.keys);
    await expect(
      s.ledger.connect(s.submitterOf(0)).commitBlock(swapped.block, swapped.certificate),
    ).to.be.revertedWithCustomError(s.ledger, "AggregationLedgerInvalidCertificate");
    // A bitmap naming a node that does not exist (bit 4 of M = 4) is refused before any pairing.
    const args = commitBlockArgs(b, cert, s.keys);
    const ghost = { ...args.certificate, signers: 0b10111n };
    await expect(s.ledger.connect(s.submitterOf(0)).commitBlock(args.block, ghost))
      .to.be.revertedWithCustomError(s.registry, "ReputationRegistryInsufficientSigners")
      .withArgs(4n, 3n);
    // Not the primary's account.
    await expect(
      s.ledger.connect(s.submitterOf(1)).commitBlock(args.block, args.certificate),
    ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryWrongPrimary");
  });

  it("replaying an old round, or a block not extending the head, is rejected", async () => {
    const s = await setup(4);
    const b1 = s.block(1n, new Uint8Array(32), 0);
    const a1 = commitBlockArgs(b1, s.certify(b1, [0, 1, 2, 3]), s.keys);
    await s.ledger.connect(s.submitterOf(0)).commitBlock(a1.block, a1.certificate);
    await expect(s.ledger.connect(s.submitterOf(0)).commitBlock(a1.block, a1.certificate))
      .to.be.revertedWithCustomError(s.ledger, "AggregationLedgerRoundNotIncreasing")
      .withArgs(1n, 1n);
    const b2 = s.block(2n, new Uint8Array(32), 0);
    const a2 = commitBlockArgs(b2, s.certify(b2, [0, 1, 2, 3]), s.keys);
    await expect(
      s.ledger.connect(s.submitterOf(0)).commitBlock(a2.block, a2.certificate),
    ).to.be.revertedWithCustomError(s.ledger, "AggregationLedgerPreviousDigestMismatch");
    // Gateway-only recording is closed once the registry is bound.
    await s.ledger.grantRole(await s.ledger.GATEWAY_ROLE(), s.admin.address);
    await expect(
      s.ledger.recordRound(5n, 1n, h(g2ToEip2537(bbnpSignRound(GATEWAY_SK, s.domain, 5n, 1n)))),
    ).to.be.revertedWithCustomError(s.ledger, "AggregationLedgerCertificateRequired");
  });

  it("registration: a key without a valid proof of possession (rogue key) is rejected", async () => {
    const s = await setup(4);
    const rep = s.reputations;
    const current = h(packReputations(rep));
    // Rogue key: a key whose PoP is the PoP of another key / of a different secret.
    const rogueSk = 0xbadn;
    const rogue = h(g1ToEip2537(blsPublicKey(rogueSk)));
    const wrongPop = h(g2ToEip2537(blsProvePossession(0xbeefn)));
    await expect(
      s.registry.addNode(s.signers[10].address, rogue, wrongPop, 10n ** 17n, current),
    ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryInvalidKey");
    // A message signature is not a PoP (different DSTs).
    const msgSig = h(g2ToEip2537(blsSign(rogueSk, blsPublicKey(rogueSk))));
    await expect(
      s.registry.addNode(s.signers[10].address, rogue, msgSig, 10n ** 17n, current),
    ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryInvalidKey");
    // An existing key cannot be registered twice.
    await expect(
      s.registry.addNode(
        s.signers[10].address,
        h(g1ToEip2537(s.keys[0])),
        h(g2ToEip2537(blsProvePossession(s.sks[0]))),
        10n ** 17n,
        current,
      ),
    ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryInvalidKey");
    expect(await s.registry.nodeCount()).to.equal(4n);
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

  it("primary selection is verified from the revealed signatures; a different signature (grinding) is rejected", async () => {
    const s = await setup(7);
    const round = 1n;
    const msg = roundRandomMessage(round, new Uint8Array(32));
    const pre = preselect(s.reputations);
    const sigs = new Map(pre.map((q) => [q, blsSign(s.sks[q], msg)]));
    const gw = blsSign(GATEWAY_SK, msg);
    const sel = selectPrimary({
      reputations: s.reputations,
      randoms: new Map([...sigs].map(([q, sig]) => [q, randomFromSignature(sig)])),
      threshold: randomFromSignature(gw),
    });
    let bitmap = 0n;
    for (const q of pre) bitmap |= 1n << BigInt(q);
    const keysHex = h(Buffer.concat(pre.map((q) => g1ToEip2537(s.keys[q]))));
    const sigsOf = (m: Map<number, Uint8Array>) =>
      h(Buffer.concat(pre.map((q) => g2ToEip2537(m.get(q)!))));
    const reps = h(packReputations(s.reputations));
    const verify = (sigHex: string, primary: number) =>
      s.registry.verifyPrimarySelection(
        round,
        reps,
        bitmap,
        keysHex,
        sigHex,
        h(g2ToEip2537(gw)),
        primary,
      );
    expect(await verify(sigsOf(sigs), sel.primary)).to.equal(true);
    for (const other of pre.filter((q) => q !== sel.primary)) {
      expect(await verify(sigsOf(sigs), other)).to.equal(false);
    }
    // Grinding: node q presents another signature (its signature on another message, or its
    // signature plus another node's) to move its X_q: the batch check refuses it.
    const q = pre[0];
    const ground1 = new Map(sigs).set(q, blsSign(s.sks[q], new Uint8Array([...msg, 1])));
    expect(await verify(sigsOf(ground1), sel.primary)).to.equal(false);
    // Two signatures swapped between nodes (their sum unchanged): a plain sum would accept it.
    if (pre.length >= 2) {
      const [a, b] = pre;
      const swapped = new Map(sigs).set(a, sigs.get(b)!).set(b, sigs.get(a)!);
      expect(await verify(sigsOf(swapped), sel.primary)).to.equal(false);
    }
  });

  it("reconciliation: the off-chain driver's blocks are exactly what the chain stores", async () => {
    const m = 4;
    const sks = nodeSecretKeys(m);
    const reputations = initialFloats(m).map(toFixed18);
    const d = await deployConsensus(ethers, { sks, reputations, gatewaySk: GATEWAY_SK });
    const keys = sks.map(blsPublicKey);
    const net = makeNetwork({
      m,
      behaviours: behaviours(m, new Map([[1, "slow"]])),
      domain: d.domain,
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
      const o = await net.driver.runRound(t, 500n + t);
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
      expect(Number(e.args.primary)).to.equal(b.primary);
    });
    expect(await d.ledger.headDigest()).to.equal(h(blockDigest(d.domain, produced[2])));
    expect(await d.registry.reputationsHash()).to.equal(
      ethers.keccak256(h(packReputations(produced[2].reputations))),
    );
    // The slow node lost reputation relative to round 1.
    expect(produced[2].reputations[1] < produced[0].reputations[1]).to.equal(true);
  });
});
