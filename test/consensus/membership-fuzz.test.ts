// Fuzz: membership changes interleaved with commits (issue 15). Random sequences of honest rounds,
// node additions and removals, where the regulator's transaction may carry the vector it read one
// commit ago (a raced change). Properties: no honest step reverts (a raced change is deferred and
// then applied, never refused); after every change, a certificate made under the previous
// membership is refused (`AggregationLedgerMembershipEpochMismatch`); the chain's epoch, node
// count, vector commitment and validator count follow the model; getValidators() never has fewer
// than 4 entries.
import { expect } from "chai";
import fc from "fast-check";
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
import { bbnpSignRound } from "../../offchain/protocol/aggregation.ts";
import { consensusFixture, h } from "./chain-setup.ts";
import { GATEWAY_SK, nodeSecretKeys } from "./setup.ts";

const { ethers } = await network.create();

type Step =
  | { kind: "commit"; primarySeed: number; bump: number }
  | { kind: "add"; raced: boolean; reputation: number }
  | { kind: "remove"; raced: boolean; victimSeed: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("commit" as const),
    primarySeed: fc.nat(1000),
    bump: fc.integer({ min: 1, max: 9 }),
  }),
  fc.record({
    kind: fc.constant("add" as const),
    raced: fc.boolean(),
    reputation: fc.integer({ min: 0, max: 100 }),
  }),
  fc.record({
    kind: fc.constant("remove" as const),
    raced: fc.boolean(),
    victimSeed: fc.nat(1000),
  }),
);

describe("fuzz: membership changes interleaved with commits", () => {
  it("honest interleavings never revert; old-membership certificates never commit", async () => {
    const signers = await ethers.getSigners();
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 7 }), async (steps) => {
        const s = await consensusFixture(ethers, 5);
        // The model, in registry order: secret key and the Hardhat signer of each node.
        const nodes = s.sks.map((sk, j) => ({ sk, signer: s.submitterOf(j) }));
        let reps = [...s.reputations];
        let epoch = await s.epoch();
        let head: Uint8Array = new Uint8Array(32);
        let round = 0n;
        let freshSigner = 10; // Hardhat signers 10… for newcomers (each used once)
        let freshKey = 0; // newcomer key labels (a fresh registry per run)

        const buildAndCertify = (primary: number, vector: bigint[]) => {
          const b: ConsensusBlock = {
            round: round + 1n,
            previousDigest: head,
            sum: 1000n + round,
            gatewaySignature: bbnpSignRound(GATEWAY_SK, s.domain, round + 1n, 1000n + round, 10),
            primary,
            reputations: vector,
            epoch,
            reporters: 10,
          };
          const digest = blockDigest(s.domain, b);
          const votes = new Map(nodes.map((n, j) => [j, blsSign(n.sk, digest)]));
          return {
            b,
            args: commitBlockArgs(
              b,
              aggregateCertificate(votes),
              nodes.map((n) => blsPublicKey(n.sk)),
            ),
          };
        };
        const commit = async (primary: number, vector: bigint[]) => {
          const { b, args } = buildAndCertify(primary, vector);
          await (
            await s.ledger.connect(nodes[primary].signer).commitBlock(args.block, args.certificate)
          ).wait();
          head = blockDigest(s.domain, b);
          round += 1n;
          reps = vector;
        };
        // Apply a change; `raced`: a commit lands between the regulator's read and its transaction.
        const change = async (raced: boolean, send: (vector: string) => Promise<unknown>) => {
          const stale = [...reps];
          const old = buildAndCertify(0, reps); // certified under the membership before the change
          if (raced)
            await commit(
              0,
              reps.map((r) => quantizeReputation((r * 9n) / 10n)),
            );
          await send(h(packReputations(stale)));
          if (raced) {
            expect(await s.ledger.membershipChangePending()).to.equal(true);
            await (await s.registry.applyMembershipChange(h(packReputations(reps)))).wait();
          }
          expect(await s.ledger.membershipChangePending()).to.equal(false);
          epoch += 1;
          // The certificate of the previous membership (for the next round) is refused.
          const stillNext = old.b.round === round + 1n;
          const attempt = s.ledger
            .connect(nodes[0].signer)
            .commitBlock(old.args.block, old.args.certificate);
          if (stillNext) {
            await expect(attempt).to.be.revertedWithCustomError(
              s.ledger,
              "AggregationLedgerMembershipEpochMismatch",
            );
          } else {
            await expect(attempt).to.be.revertedWithCustomError(
              s.ledger,
              "AggregationLedgerRoundNotIncreasing",
            );
          }
        };

        for (const st of steps) {
          if (st.kind === "commit") {
            const next = reps.map((r, j) =>
              quantizeReputation(
                r + ((BigInt(st.bump * (j + 1)) * 10n ** 16n) % (10n ** 18n - r + 1n)),
              ),
            );
            await commit(st.primarySeed % nodes.length, next);
          } else if (st.kind === "add") {
            if (freshSigner >= signers.length) continue;
            const sk = nodeSecretKeys(1, `fuzz/${freshKey++}`)[0];
            const signer = signers[freshSigner++];
            const initial = BigInt(st.reputation) * 10n ** 16n;
            await change(st.raced, async (vector) =>
              (
                await s.registry.addNode(
                  signer.address,
                  h(g1ToEip2537(blsPublicKey(sk))),
                  h(g2ToEip2537(blsProvePossession(sk))),
                  initial,
                  vector,
                )
              ).wait(),
            );
            nodes.push({ sk, signer });
            reps = [...reps, initial];
          } else {
            if (nodes.length <= 4) {
              await expect(
                s.registry.removeNode(nodes[0].signer.address, h(packReputations(reps))),
              ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryTooFewNodes");
              continue;
            }
            const victim = st.victimSeed % nodes.length;
            const address = nodes[victim].signer.address;
            await change(st.raced, async (vector) =>
              (await s.registry.removeNode(address, vector)).wait(),
            );
            const last = nodes.length - 1;
            nodes[victim] = nodes[last];
            reps[victim] = reps[last];
            nodes.pop();
            reps = reps.slice(0, last);
          }
          expect(await s.epoch()).to.equal(epoch);
          expect(await s.registry.nodeCount()).to.equal(BigInt(nodes.length));
          expect(await s.ledger.reputationsHash()).to.equal(
            ethers.keccak256(h(packReputations(reps))),
          );
          expect((await s.registry.getValidators()).length).to.be.at.least(4);
        }
        // The chain still accepts a round of the final membership.
        await commit(0, reps);
      }),
      { numRuns: 5 },
    );
  });
});
