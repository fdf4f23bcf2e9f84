// Attack regressions for the BBNP aggregation ledger (DESIGN §2, §4.7–4.8).
// Threat model: the chain account holding GATEWAY_ROLE (or whoever relays GW's output, later the
// consensus primary) is not trusted with the sum: it may alter the sum, replay an honest signature
// for another round, replay it on another deployment or chain, or an outsider may try to write.
// Only GW's BLS key `s_g` can produce an acceptable record. Each case must revert.
import { expect } from "chai";
import { network } from "hardhat";
import { bytesToHex } from "@noble/hashes/utils.js";

import { BLS_R, blsPublicKey, g1ToEip2537, g2ToEip2537 } from "../../offchain/crypto/bls.ts";
import { aggregationDomain, bbnpSignRound } from "../../offchain/protocol/aggregation.ts";

const { ethers } = await network.create();
const h = (x: Uint8Array): string => "0x" + bytesToHex(x);
const GATEWAY_SK = 0x1234_5678_9abc_def0n;

async function deploy() {
  const [admin, gateway, outsider] = await ethers.getSigners();
  const key = h(g1ToEip2537(blsPublicKey(GATEWAY_SK)));
  const ledger = await ethers.deployContract("AggregationLedger", [admin.address, key]);
  const other = await ethers.deployContract("AggregationLedger", [admin.address, key]);
  for (const l of [ledger, other]) await l.grantRole(await l.GATEWAY_ROLE(), gateway.address);
  const { chainId } = await ethers.provider.getNetwork();
  const domain = aggregationDomain(chainId, await ledger.getAddress());
  return { ledger, other, gateway, outsider, chainId, domain };
}

describe("attack: forged BBNP round records", () => {
  it("a relay that alters the signed sum is rejected (forged sum)", async () => {
    const { ledger, gateway, domain } = await deploy();
    const honest = h(g2ToEip2537(bbnpSignRound(GATEWAY_SK, domain, 1n, 5_000n, 10)));
    for (const forged of [5_001n, 4_999n, 0n, BLS_R - 1n]) {
      await expect(ledger.connect(gateway).recordRound(1n, forged, 10, honest))
        .to.be.revertedWithCustomError(ledger, "AggregationLedgerInvalidSignature")
        .withArgs(1n, forged);
    }
    // sum + r is the same residue but not a canonical element: refused before verification.
    await expect(ledger.connect(gateway).recordRound(1n, 5_000n + BLS_R, 10, honest))
      .to.be.revertedWithCustomError(ledger, "AggregationLedgerSumOutOfRange")
      .withArgs(5_000n + BLS_R);
    await ledger.connect(gateway).recordRound(1n, 5_000n, 10, honest);
  });

  it("a relay that restates the signed count of reporters is rejected (issue 12: count under σ_GW)", async () => {
    const { ledger, gateway, domain } = await deploy();
    // GW counted (and signed) 3 reporters: a relay stating 10 to clear the minimum is refused.
    const few = h(g2ToEip2537(bbnpSignRound(GATEWAY_SK, domain, 1n, 5_000n, 3)));
    await expect(ledger.connect(gateway).recordRound(1n, 5_000n, 10, few))
      .to.be.revertedWithCustomError(ledger, "AggregationLedgerInvalidSignature")
      .withArgs(1n, 5_000n);
    await expect(ledger.connect(gateway).recordRound(1n, 5_000n, 3, few))
      .to.be.revertedWithCustomError(ledger, "AggregationLedgerTooFewReporters")
      .withArgs(1n, 3n, 10n);
    const honest = h(g2ToEip2537(bbnpSignRound(GATEWAY_SK, domain, 1n, 5_000n, 12)));
    await expect(
      ledger.connect(gateway).recordRound(1n, 5_000n, 11, honest),
    ).to.be.revertedWithCustomError(ledger, "AggregationLedgerInvalidSignature");
    await ledger.connect(gateway).recordRound(1n, 5_000n, 12, honest);
  });

  it("a signature by another BLS key (not s_g) is rejected", async () => {
    const { ledger, gateway, domain } = await deploy();
    const forged = h(g2ToEip2537(bbnpSignRound(GATEWAY_SK + 1n, domain, 1n, 5_000n, 10)));
    await expect(
      ledger.connect(gateway).recordRound(1n, 5_000n, 10, forged),
    ).to.be.revertedWithCustomError(ledger, "AggregationLedgerInvalidSignature");
  });

  it("an honest signature replayed to another round is rejected", async () => {
    const { ledger, gateway, domain } = await deploy();
    const sig1 = h(g2ToEip2537(bbnpSignRound(GATEWAY_SK, domain, 1n, 777n, 10)));
    await ledger.connect(gateway).recordRound(1n, 777n, 10, sig1);
    await expect(ledger.connect(gateway).recordRound(2n, 777n, 10, sig1))
      .to.be.revertedWithCustomError(ledger, "AggregationLedgerInvalidSignature")
      .withArgs(2n, 777n);
    await expect(ledger.connect(gateway).recordRound(1n, 777n, 10, sig1))
      .to.be.revertedWithCustomError(ledger, "AggregationLedgerRoundNotIncreasing")
      .withArgs(1n, 1n);
  });

  it("an honest signature replayed on another deployment with the same key is rejected", async () => {
    const { ledger, other, gateway, domain } = await deploy();
    const sig = h(g2ToEip2537(bbnpSignRound(GATEWAY_SK, domain, 1n, 42n, 10)));
    await ledger.connect(gateway).recordRound(1n, 42n, 10, sig);
    await expect(
      other.connect(gateway).recordRound(1n, 42n, 10, sig),
    ).to.be.revertedWithCustomError(other, "AggregationLedgerInvalidSignature");
  });

  it("a signature made for the same ledger address on another chain is rejected", async () => {
    const { ledger, gateway, chainId } = await deploy();
    const foreignDomain = aggregationDomain(chainId + 1n, await ledger.getAddress());
    const sig = h(g2ToEip2537(bbnpSignRound(GATEWAY_SK, foreignDomain, 1n, 42n, 10)));
    await expect(
      ledger.connect(gateway).recordRound(1n, 42n, 10, sig),
    ).to.be.revertedWithCustomError(ledger, "AggregationLedgerInvalidSignature");
  });

  it("an outsider with a valid GW signature cannot write (role gate)", async () => {
    const { ledger, outsider, domain } = await deploy();
    const sig = h(g2ToEip2537(bbnpSignRound(GATEWAY_SK, domain, 1n, 42n, 10)));
    await expect(ledger.connect(outsider).recordRound(1n, 42n, 10, sig))
      .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
      .withArgs(outsider.address, await ledger.GATEWAY_ROLE());
  });

  it("the identity key cannot be installed (it would accept the identity signature everywhere)", async () => {
    const { ledger } = await deploy();
    await expect(ledger.rotateGatewayKey(h(new Uint8Array(128)))).to.be.revertedWithCustomError(
      ledger,
      "AggregationLedgerInvalidGatewayKey",
    );
  });
});
