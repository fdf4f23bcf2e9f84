// Threat: a rogue-key attack on the aggregated certificate. With same-message aggregation, a node
// that registers pk_rogue = g^x − Σ pk_honest could alone produce a signature valid for the sum of
// keys, i.e. a "certificate" of everyone. The registry admits a key only with a proof of
// possession of its secret (DESIGN §5.2, docs/BLS.md, separate DST), so such a key is refused; a
// message signature is not a PoP, a PoP of another key is not either, and a key enters only once.
import { expect } from "chai";
import { network } from "hardhat";

import { bls12_381 } from "@noble/curves/bls12-381.js";

import {
  blsProvePossession,
  blsPublicKey,
  blsSign,
  blsVerifyAggregateSameMessage,
  g1ToEip2537,
  g2ToEip2537,
} from "../../offchain/crypto/bls.ts";
import { packReputations } from "../../offchain/consensus/block.ts";
import { consensusFixture, h } from "../consensus/chain-setup.ts";

const { ethers } = await network.create();
const REP = 10n ** 17n;

describe("attack: rogue key without proof of possession", () => {
  it("the rogue key g^x − Σ pk_honest is refused without a PoP of its secret", async () => {
    const s = await consensusFixture(ethers, 4);
    const G1 = bls12_381.G1.Point;
    const x = 0x5eedn;
    let rogue = G1.BASE.multiply(x);
    for (const k of s.keys) rogue = rogue.subtract(G1.fromBytes(k));
    const rogueKey = rogue.toBytes(true);
    // The attack is real: the attacker's lone signature verifies for all five keys together.
    const digest = new Uint8Array(32).fill(7);
    expect(
      blsVerifyAggregateSameMessage([...s.keys, rogueKey], digest, blsSign(x, digest)),
    ).to.equal(true);
    const current = h(packReputations(s.reputations));
    // The attacker knows x but not the rogue key's secret; the best it can offer is a PoP for g^x.
    await expect(
      s.registry.addNode(
        s.signers[10].address,
        h(g1ToEip2537(rogueKey)),
        h(g2ToEip2537(blsProvePossession(x))),
        REP,
        current,
      ),
    ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryInvalidKey");
    expect(await s.registry.nodeCount()).to.equal(4n);
  });

  it("a message signature offered as PoP (other DST) and a PoP of another key are refused", async () => {
    const s = await consensusFixture(ethers, 4);
    const sk = 0xbadn;
    const key = h(g1ToEip2537(blsPublicKey(sk)));
    const current = h(packReputations(s.reputations));
    const msgSig = h(g2ToEip2537(blsSign(sk, blsPublicKey(sk))));
    await expect(
      s.registry.addNode(s.signers[10].address, key, msgSig, REP, current),
    ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryInvalidKey");
    const otherPop = h(g2ToEip2537(blsProvePossession(0xbeefn)));
    await expect(
      s.registry.addNode(s.signers[10].address, key, otherPop, REP, current),
    ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryInvalidKey");
    // The genuine PoP is accepted: the refusals above are about the proof, not the key.
    await s.registry.addNode(
      s.signers[10].address,
      key,
      h(g2ToEip2537(blsProvePossession(sk))),
      REP,
      current,
    );
    expect(await s.registry.nodeCount()).to.equal(5n);
  });

  it("a registered key cannot be registered again under another account", async () => {
    const s = await consensusFixture(ethers, 4);
    await expect(
      s.registry.addNode(
        s.signers[10].address,
        h(g1ToEip2537(s.keys[0])),
        h(g2ToEip2537(blsProvePossession(s.sks[0]))),
        REP,
        h(packReputations(s.reputations)),
      ),
    ).to.be.revertedWithCustomError(s.registry, "ReputationRegistryInvalidKey");
  });
});
