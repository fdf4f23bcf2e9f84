// AggregationLedger (DESIGN §2 "Aggregation ledger"): unit tests of every path and error, key
// rotation, and a reconciliation of rounds signed off-chain against the chain's events.
import { expect } from "chai";
import { network } from "hardhat";

import { bls12_381 } from "@noble/curves/bls12-381.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

import {
  BLS_R,
  blsPublicKey,
  eip2537ToG2,
  g1ToEip2537,
  g2ToEip2537,
} from "../../offchain/crypto/bls.ts";
import {
  aggregationDomain,
  bbnpRoundMessage,
  bbnpSignRound,
  bbnpVerifyRound,
} from "../../offchain/protocol/aggregation.ts";

import { AggregationLedgerAdapter } from "../../offchain/chain/aggregation.ts";
import { ContractRevertError } from "../../offchain/chain/errors.ts";

const { ethers } = await network.create();
const h = (x: Uint8Array): string => "0x" + bytesToHex(x);

const GATEWAY_SK = 0x5eed_6a7e_3a7en;
const NEXT_GATEWAY_SK = 0x0ddba11n;

async function deployLedger(gatewaySk = GATEWAY_SK) {
  const [admin, gateway, stranger] = await ethers.getSigners();
  const ledger = await ethers.deployContract("AggregationLedger", [
    admin.address,
    h(g1ToEip2537(blsPublicKey(gatewaySk))),
  ]);
  await ledger.grantRole(await ledger.GATEWAY_ROLE(), gateway.address);
  const { chainId } = await ethers.provider.getNetwork();
  const domain = aggregationDomain(chainId, await ledger.getAddress());
  /** GW's signature (EIP-2537 hex) on (round, sum, reporters): 10 reporters unless given. */
  const sign = (round: bigint, sum: bigint, sk = gatewaySk, reporters = 10): string =>
    h(g2ToEip2537(bbnpSignRound(sk, domain, round, sum, reporters)));
  return { ledger, admin, gateway, stranger, domain, chainId, sign };
}

describe("AggregationLedger", () => {
  describe("deployment", () => {
    it("stores the gateway key, epoch 0, no rounds, and emits the initial key", async () => {
      const { ledger, admin } = await deployLedger();
      const key = h(g1ToEip2537(blsPublicKey(GATEWAY_SK)));
      expect(await ledger.gatewayKey()).to.equal(key);
      expect(await ledger.gatewayKeyEpoch()).to.equal(0n);
      expect(await ledger.lastRound()).to.deep.equal([0n, false]);
      expect(await ledger.hasRole(await ledger.DEFAULT_ADMIN_ROLE(), admin.address)).to.equal(true);
      await expect(ledger.deploymentTransaction())
        .to.emit(ledger, "GatewayKeyRotated")
        .withArgs(0, key);
    });

    it("refuses an invalid gateway key (length, identity, off-curve, outside the subgroup)", async () => {
      const [admin] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("AggregationLedger");
      const good = g1ToEip2537(blsPublicKey(GATEWAY_SK));
      const offCurve = good.slice();
      offCurve[127] ^= 1;
      // On the curve but outside the prime-order subgroup (G1's cofactor is not 1): G1MSM refuses it.
      const Fp = bls12_381.fields.Fp;
      const outside = new Uint8Array(128);
      for (let x = 1n; ; x++) {
        const rhs = Fp.add(Fp.pow(x, 3n), 4n);
        if (!Fp.eql(Fp.pow(rhs, (Fp.ORDER - 1n) / 2n), Fp.ONE)) continue;
        const y = Fp.sqrt(rhs);
        if (bls12_381.G1.Point.fromAffine({ x, y }).isTorsionFree()) continue;
        outside.set(hexToBytes(x.toString(16).padStart(96, "0")), 16);
        outside.set(hexToBytes(y.toString(16).padStart(96, "0")), 80);
        break;
      }
      for (const bad of [good.slice(0, 127), new Uint8Array(128), offCurve, outside]) {
        await expect(factory.deploy(admin.address, h(bad))).to.be.revertedWithCustomError(
          factory,
          "AggregationLedgerInvalidGatewayKey",
        );
      }
    });

    it("exposes the domain and round message exactly as offchain/protocol/aggregation.ts", async () => {
      const { ledger, domain } = await deployLedger();
      expect(await ledger.domainSeparator()).to.equal(h(domain));
      const round = (1n << 64n) - 1n;
      const sum = BLS_R - 1n;
      for (const reporters of [0, 10, 0xffffffff]) {
        expect(await ledger.roundMessage(round, sum, reporters)).to.equal(
          h(bbnpRoundMessage(domain, round, sum, reporters)),
        );
      }
    });
  });

  describe("recordRound", () => {
    it("records a signed round: storage, event, views", async () => {
      const { ledger, gateway, sign } = await deployLedger();
      const sig = sign(7n, 123_456n);
      await expect(ledger.connect(gateway).recordRound(7n, 123_456n, 10, sig))
        .to.emit(ledger, "RoundRecorded")
        .withArgs(7n, 123_456n, sig);
      expect(await ledger.lastRound()).to.deep.equal([7n, true]);
      const record = await ledger.roundRecord(7n);
      expect(record.sum).to.equal(123_456n);
      expect(record.gatewaySignatureHash).to.equal(ethers.keccak256(sig));
      expect((await ledger.roundRecord(8n)).gatewaySignatureHash).to.equal(ethers.ZeroHash);
    });

    it("accepts round 0 as the first round and sum 0 and r − 1", async () => {
      const { ledger, gateway, sign } = await deployLedger();
      await ledger.connect(gateway).recordRound(0n, 0n, 10, sign(0n, 0n));
      await ledger.connect(gateway).recordRound(1n, BLS_R - 1n, 10, sign(1n, BLS_R - 1n));
      expect(await ledger.lastRound()).to.deep.equal([1n, true]);
    });

    it("AggregationLedgerRoundNotIncreasing for a repeated or earlier round", async () => {
      const { ledger, gateway, sign } = await deployLedger();
      await ledger.connect(gateway).recordRound(5n, 1n, 10, sign(5n, 1n));
      for (const round of [5n, 4n, 0n]) {
        await expect(ledger.connect(gateway).recordRound(round, 1n, 10, sign(round, 1n)))
          .to.be.revertedWithCustomError(ledger, "AggregationLedgerRoundNotIncreasing")
          .withArgs(5n, round);
      }
      // Gaps are allowed (a round that failed consensus is simply skipped).
      await ledger.connect(gateway).recordRound(9n, 1n, 10, sign(9n, 1n));
    });

    it("AggregationLedgerSumOutOfRange for sum ≥ r", async () => {
      const { ledger, gateway, sign } = await deployLedger();
      const sig = sign(1n, 1n);
      for (const sum of [BLS_R, (1n << 256n) - 1n]) {
        await expect(ledger.connect(gateway).recordRound(1n, sum, 10, sig))
          .to.be.revertedWithCustomError(ledger, "AggregationLedgerSumOutOfRange")
          .withArgs(sum);
      }
    });

    it("AggregationLedgerSignatureLength for a signature that is not 256 bytes", async () => {
      const { ledger, gateway, sign } = await deployLedger();
      const sig = hexToBytes(sign(1n, 1n).slice(2));
      for (const bad of [sig.slice(0, 255), new Uint8Array(0), new Uint8Array([...sig, 0])]) {
        await expect(ledger.connect(gateway).recordRound(1n, 1n, 10, h(bad)))
          .to.be.revertedWithCustomError(ledger, "AggregationLedgerSignatureLength")
          .withArgs(bad.length);
      }
    });

    it("AggregationLedgerInvalidSignature for a malformed G2 point (no library error leaks)", async () => {
      const { ledger, gateway, sign } = await deployLedger();
      const sig = hexToBytes(sign(1n, 1n).slice(2));
      sig[255] ^= 1;
      await expect(ledger.connect(gateway).recordRound(1n, 1n, 10, h(sig)))
        .to.be.revertedWithCustomError(ledger, "AggregationLedgerInvalidSignature")
        .withArgs(1n, 1n);
      await expect(ledger.connect(gateway).recordRound(1n, 1n, 10, h(new Uint8Array(256))))
        .to.be.revertedWithCustomError(ledger, "AggregationLedgerInvalidSignature")
        .withArgs(1n, 1n);
    });

    it("AccessControlUnauthorizedAccount for a caller without GATEWAY_ROLE", async () => {
      const { ledger, admin, sign } = await deployLedger();
      await expect(ledger.connect(admin).recordRound(1n, 1n, 10, sign(1n, 1n)))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(admin.address, await ledger.GATEWAY_ROLE());
    });

    it("AggregationLedgerTooFewReporters below minReporters (default 10), checked before the signature", async () => {
      // Issue 12 §3: a "sum" over one reporter is that reporter's reading.
      const { ledger, gateway, sign } = await deployLedger();
      expect(await ledger.minReporters()).to.equal(10n);
      await expect(ledger.connect(gateway).recordRound(1n, 3596n, 1, sign(1n, 3596n)))
        .to.be.revertedWithCustomError(ledger, "AggregationLedgerTooFewReporters")
        .withArgs(1n, 1, 10);
      await expect(ledger.connect(gateway).recordRound(1n, 3596n, 9, "0x"))
        .to.be.revertedWithCustomError(ledger, "AggregationLedgerTooFewReporters")
        .withArgs(1n, 9, 10);
      expect(await ledger.lastRound()).to.deep.equal([0n, false]);
      await ledger.connect(gateway).recordRound(1n, 3596n, 10, sign(1n, 3596n));
    });

    it("setMinReporters: admin only, at least 2, emits MinReportersSet and takes effect", async () => {
      const { ledger, admin, gateway, sign } = await deployLedger();
      await expect(ledger.connect(gateway).setMinReporters(3))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(gateway.address, await ledger.DEFAULT_ADMIN_ROLE());
      for (const bad of [0, 1]) {
        await expect(ledger.connect(admin).setMinReporters(bad))
          .to.be.revertedWithCustomError(ledger, "AggregationLedgerMinReportersTooLow")
          .withArgs(bad);
      }
      await expect(ledger.connect(admin).setMinReporters(3))
        .to.emit(ledger, "MinReportersSet")
        .withArgs(3);
      await expect(ledger.connect(gateway).recordRound(1n, 5n, 2, sign(1n, 5n, undefined, 2)))
        .to.be.revertedWithCustomError(ledger, "AggregationLedgerTooFewReporters")
        .withArgs(1n, 2, 3);
      await ledger.connect(gateway).recordRound(1n, 5n, 3, sign(1n, 5n, undefined, 3));
    });
  });

  describe("rotateGatewayKey", () => {
    it("admin rotates; later rounds verify under the new key only", async () => {
      const { ledger, gateway, sign } = await deployLedger();
      await ledger.connect(gateway).recordRound(1n, 10n, 10, sign(1n, 10n));
      const newKey = h(g1ToEip2537(blsPublicKey(NEXT_GATEWAY_SK)));
      await expect(ledger.rotateGatewayKey(newKey))
        .to.emit(ledger, "GatewayKeyRotated")
        .withArgs(1, newKey);
      expect(await ledger.gatewayKey()).to.equal(newKey);
      expect(await ledger.gatewayKeyEpoch()).to.equal(1n);
      await expect(ledger.connect(gateway).recordRound(2n, 20n, 10, sign(2n, 20n)))
        .to.be.revertedWithCustomError(ledger, "AggregationLedgerInvalidSignature")
        .withArgs(2n, 20n);
      await ledger.connect(gateway).recordRound(2n, 20n, 10, sign(2n, 20n, NEXT_GATEWAY_SK));
    });

    it("is admin-only and refuses invalid keys", async () => {
      const { ledger, gateway } = await deployLedger();
      const newKey = h(g1ToEip2537(blsPublicKey(NEXT_GATEWAY_SK)));
      await expect(ledger.connect(gateway).rotateGatewayKey(newKey))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(gateway.address, await ledger.DEFAULT_ADMIN_ROLE());
      await expect(ledger.rotateGatewayKey(h(new Uint8Array(128)))).to.be.revertedWithCustomError(
        ledger,
        "AggregationLedgerInvalidGatewayKey",
      );
    });
  });

  describe("reconciliation", () => {
    it("rounds signed in TypeScript are rebuilt from events and re-verified off-chain", async () => {
      const { ledger, gateway, sign, domain } = await deployLedger();
      const rounds = [
        { round: 1n, sum: 1_000n },
        { round: 2n, sum: 0n },
        { round: 4n, sum: BLS_R - 5n },
        { round: 10n, sum: 987_654_321n },
      ];
      const signatures = new Map<bigint, string>();
      for (const { round, sum } of rounds) {
        const sig = sign(round, sum);
        signatures.set(round, sig);
        await ledger.connect(gateway).recordRound(round, sum, 10, sig);
      }
      const events = await ledger.queryFilter(ledger.filters.RoundRecorded());
      const rebuilt = events.map((e) => ({
        round: e.args.round,
        sum: e.args.sum,
        sig: e.args.gatewaySignature,
      }));
      expect(rebuilt.map(({ round, sum }) => ({ round, sum }))).to.deep.equal(rounds);
      const gatewayPk = blsPublicKey(GATEWAY_SK);
      for (const r of rebuilt) {
        expect(r.sig).to.equal(signatures.get(r.round));
        const sig = eip2537ToG2(hexToBytes(r.sig.slice(2)));
        expect(bbnpVerifyRound(gatewayPk, domain, r.round, r.sum, 10, sig)).to.equal(true);
        const stored = await ledger.roundRecord(r.round);
        expect(stored.sum).to.equal(r.sum);
        expect(stored.gatewaySignatureHash).to.equal(ethers.keccak256(r.sig));
      }
    });
  });

  describe("a gateway restarted after sending recordRound (AggregationLedgerAdapter)", () => {
    const statement = (sk: bigint, domain: Uint8Array, round: bigint, sum: bigint) =>
      bbnpSignRound(sk, domain, round, sum, 10);

    it("replaying the same statement returns the recorded round without a second transaction", async () => {
      const { ledger, gateway, domain } = await deployLedger();
      const adapter = await AggregationLedgerAdapter.connect(gateway, await ledger.getAddress());
      const sig = statement(GATEWAY_SK, domain, 1n, 42n);
      const first = await adapter.recordRound(gateway, 1n, 42n, 10, sig);
      expect(first.sum).to.equal(42n);
      expect(first.gasUsed > 0n).to.equal(true);
      const nonce = await ethers.provider.getTransactionCount(gateway.address);
      // The restarted gateway signs the same statement again (BLS is deterministic).
      expect(await adapter.recordRound(gateway, 1n, 42n, 10, sig)).to.deep.equal(first);
      expect(await ethers.provider.getTransactionCount(gateway.address)).to.equal(nonce);
    });

    it("a transaction of the killed gateway still in the pool is mined, not sent twice or refused", async () => {
      const { ledger, gateway, domain } = await deployLedger();
      const adapter = await AggregationLedgerAdapter.connect(gateway, await ledger.getAddress());
      const sig = statement(GATEWAY_SK, domain, 2n, 77n);
      const before = await ethers.provider.getTransactionCount(gateway.address);
      await ethers.provider.send("evm_setAutomine", [false]);
      try {
        // The killed process's transaction: sent, not mined.
        await ledger.connect(gateway).recordRound(2n, 77n, 10, h(g2ToEip2537(sig)));
        const replay = adapter.recordRound(gateway, 2n, 77n, 10, sig);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await ethers.provider.send("evm_mine", []);
        const recorded = await replay;
        expect(recorded.sum).to.equal(77n);
        expect(recorded.gasUsed > 0n).to.equal(true);
      } finally {
        await ethers.provider.send("evm_setAutomine", [true]);
      }
      // One transaction only: the replay waited for it and sent nothing.
      expect(await ethers.provider.getTransactionCount(gateway.address)).to.equal(before + 1);
      expect((await ledger.roundRecord(2n)).sum).to.equal(77n);
    });

    it("another statement for a recorded round is still refused (named revert)", async () => {
      const { ledger, gateway, domain } = await deployLedger();
      const adapter = await AggregationLedgerAdapter.connect(gateway, await ledger.getAddress());
      await adapter.recordRound(gateway, 3n, 5n, 10, statement(GATEWAY_SK, domain, 3n, 5n));
      let refused: unknown;
      try {
        await adapter.recordRound(gateway, 3n, 6n, 10, statement(GATEWAY_SK, domain, 3n, 6n));
      } catch (err) {
        refused = err;
      }
      expect(refused).to.be.instanceOf(ContractRevertError);
      expect((refused as ContractRevertError).message).to.match(/RoundNotIncreasing/);
      expect((await ledger.roundRecord(3n)).sum).to.equal(5n);
    });
  });
});
