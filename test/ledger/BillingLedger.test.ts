// Unit tests of BillingLedger: one block per function, each error named by the test.
import { expect } from "chai";
import { network } from "hardhat";

import {
  DELIVERY_MODE,
  ENTRY_PROBLEM,
  INTERVAL_STATE,
  publicKeyStruct,
  toDapEntryStruct,
  encodeBillsPacked,
  toOcdEntryStruct,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { decodeBillRecords } from "../../offchain/chain/ledgerReader.ts";
import { concatBytes, toHex0x } from "../../offchain/crypto/bytes.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import {
  fillAndSeal,
  fillSlots,
  registerFixtureMeters,
  CATEGORY_VALUES,
  TARIFF,
  WINDOW_END,
  WINDOW_START,
  billsFor,
  deployBillingLedger,
  expectedPrice,
  loggedBillItems,
  makeDap,
  makeOcdEntries,
  signBatches,
  testKey,
} from "./fixtures.ts";

const { ethers } = await network.create();

async function openAndFill(d: Awaited<ReturnType<typeof deployBillingLedger>>, j = 1, n = 10) {
  const cc = d.ledger.connect(d.cc) as BillingLedger;
  await (await cc.openInterval(j, WINDOW_START, WINDOW_END)).wait();
  const ocd = makeOcdEntries(d.domain, j, n);
  if (n > 0) await (await cc.postOcdBatch(j, ocd.map(toOcdEntryStruct))).wait();
  return { cc, ocd };
}

describe("BillingLedger", () => {
  describe("roles and directory", () => {
    it("constructor grants admin, CC and SP roles", async () => {
      const d = await deployBillingLedger(ethers, { configure: false });
      expect(await d.ledger.hasRole(await d.ledger.DEFAULT_ADMIN_ROLE(), d.admin.address)).to.equal(
        true,
      );
      expect(await d.ledger.hasRole(await d.ledger.CC_ROLE(), d.cc.address)).to.equal(true);
      expect(await d.ledger.hasRole(await d.ledger.SP_ROLE(), d.sp.address)).to.equal(true);
      expect(await d.ledger.hasRole(await d.ledger.CC_ROLE(), d.sp.address)).to.equal(false);
    });

    it("setServiceProviderKeys stores keys and emits; rejects invalid keys and non-admins", async () => {
      const d = await deployBillingLedger(ethers, { configure: false });
      const pk = publicKeyStruct(secp.mulBase(testKey("a"), true));
      const sig = publicKeyStruct(secp.mulBase(testKey("b"), true));
      await expect(d.ledger.setServiceProviderKeys(pk, sig))
        .to.emit(d.ledger, "ServiceProviderKeysSet")
        .withArgs(pk.prefix, pk.x, sig.prefix, sig.x);
      const [storedPk, storedSig] = await d.ledger.serviceProviderKeys();
      expect([storedPk.prefix, storedPk.x, storedSig.x]).to.deep.equal([
        BigInt(pk.prefix),
        pk.x,
        sig.x,
      ]);
      await expect(d.ledger.setServiceProviderKeys({ prefix: 4, x: 1n }, sig))
        .to.be.revertedWithCustomError(d.ledger, "ParticipantDirectoryInvalidKey")
        .withArgs(4, 1n);
      await expect(d.ledger.setServiceProviderKeys(pk, { prefix: 2, x: 0n }))
        .to.be.revertedWithCustomError(d.ledger, "ParticipantDirectoryInvalidKey")
        .withArgs(2, 0n);
      await expect((d.ledger.connect(d.cc) as BillingLedger).setServiceProviderKeys(pk, sig))
        .to.be.revertedWithCustomError(d.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(d.cc.address, await d.ledger.DEFAULT_ADMIN_ROLE());
    });

    it("setControlCenterKeys stores keys (admin only)", async () => {
      const d = await deployBillingLedger(ethers, { configure: false });
      const pk = publicKeyStruct(secp.mulBase(testKey("c"), true));
      await expect(d.ledger.setControlCenterKeys(pk, pk)).to.emit(d.ledger, "ControlCenterKeysSet");
      const [storedPk] = await d.ledger.controlCenterKeys();
      expect(storedPk.x).to.equal(pk.x);
      await expect((d.ledger.connect(d.outsider) as BillingLedger).setControlCenterKeys(pk, pk))
        .to.be.revertedWithCustomError(d.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(d.outsider.address, await d.ledger.DEFAULT_ADMIN_ROLE());
    });

    it("registerMeters emits one event per meter, counts, looks up, refuses duplicates", async () => {
      const d = await deployBillingLedger(ethers, { configure: false });
      const cc = d.ledger.connect(d.cc) as BillingLedger;
      const keys = [1, 2, 3].map((i) => publicKeyStruct(secp.mulBase(testKey(`m${i}`), true)));
      const tx = cc.registerMeters(keys);
      await expect(tx).to.emit(cc, "MeterRegistered").withArgs(0, keys[0].prefix, keys[0].x);
      await expect(tx).to.emit(cc, "MeterRegistered").withArgs(2, keys[2].prefix, keys[2].x);
      expect(await cc.meterCount()).to.equal(3n);
      expect(await cc.meterIndexOf(keys[1])).to.deep.equal([true, 1n]);
      expect(await cc.meterIndexOf(keys[2])).to.deep.equal([true, 2n]);
      expect((await cc.meterIndexOf({ prefix: 2, x: 5n }))[0]).to.equal(false);
      // The negated point (same x, other prefix) is another key: not registered.
      const negated = { prefix: keys[1].prefix === 2 ? 3 : 2, x: keys[1].x };
      expect(await cc.meterIndexOf(negated)).to.deep.equal([false, 0n]);
      await expect(cc.registerMeters([keys[1]]))
        .to.be.revertedWithCustomError(cc, "ParticipantDirectoryMeterRegistered")
        .withArgs(keys[1].prefix, keys[1].x, 1);
      await expect((d.ledger.connect(d.admin) as BillingLedger).registerMeters(keys))
        .to.be.revertedWithCustomError(d.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(d.admin.address, await d.ledger.CC_ROLE());
    });

    it("registerMeters stores one slot per meter (the key is only in its event)", async () => {
      // What the in-process chain keeps grows with every storage write (≈ 2–3 kB each; docs/SCALE.md
      // "What the chain keeps per meter"): the directory writes keyHash → index + 1 and nothing else
      // per meter, plus the count once per call. It wrote 3 slots per meter before (index → key).
      const d = await deployBillingLedger(ethers, { configure: false });
      const cc = d.ledger.connect(d.cc) as BillingLedger;
      const n = 10;
      const keys = Array.from({ length: n }, (_, i) =>
        publicKeyStruct(secp.mulBase(testKey(`slots/${i}`), true)),
      );
      const receipt = await (await cc.registerMeters(keys)).wait();
      const trace = (await ethers.provider.send("debug_traceTransaction", [
        receipt!.hash,
        { disableStack: true, disableMemory: true, disableStorage: true },
      ])) as { structLogs: { op: string }[] };
      const stores = trace.structLogs.filter((l) => l.op === "SSTORE").length;
      expect(stores).to.equal(n + 1);
      // Registration gas follows: ≈ 25,600 per meter in calls of 200 keys (70,100 with 3 slots).
      expect((Number(receipt!.gasUsed) - 21_000) / n).to.be.below(30_000);
    });
  });

  describe("configuration", () => {
    it("setTariff versions tariffs and priceFor follows the latest", async () => {
      const d = await deployBillingLedger(ethers, { configure: false });
      await expect(d.ledger.priceFor(0)).to.be.revertedWithCustomError(
        d.ledger,
        "BillingLedgerNotConfigured",
      );
      await expect(d.ledger.setTariff([...TARIFF.breakpointsWh], [...TARIFF.values], TARIFF.cap))
        .to.emit(d.ledger, "TariffSet")
        .withArgs(1, [...TARIFF.breakpointsWh], [...TARIFF.values], TARIFF.cap);
      expect(await d.ledger.priceFor(0)).to.equal(10n);
      expect(await d.ledger.priceFor(50_000)).to.equal(15n);
      expect(await d.ledger.priceFor(550_000)).to.equal(30n);
      expect(await d.ledger.priceFor(10_000_000)).to.equal(35n); // capped
      await (await d.ledger.setTariff([0n], [7n], 100n)).wait();
      expect(await d.ledger.tariffVersion()).to.equal(2n);
      expect(await d.ledger.priceFor(550_000)).to.equal(7n);
      expect(await d.ledger.priceForVersion(1, 550_000)).to.equal(30n);
      await expect(d.ledger.priceForVersion(3, 0))
        .to.be.revertedWithCustomError(d.ledger, "BillingLedgerUnknownTariff")
        .withArgs(3);
      const [b, v, cap] = await d.ledger.tariff(1);
      expect([b, v, cap]).to.deep.equal([
        [...TARIFF.breakpointsWh],
        [...TARIFF.values],
        TARIFF.cap,
      ]);
    });

    it("setTariff rejects each invalid shape with its problem and index", async () => {
      const d = await deployBillingLedger(ethers, { configure: false });
      const cases: [bigint[], bigint[], bigint, number, number][] = [
        [[], [], 5n, 0, 0],
        [[0n, 1n], [1n], 5n, 0, 2],
        [[1n], [1n], 5n, 1, 0],
        [[0n, 10n, 10n], [1n, 2n, 3n], 5n, 2, 2],
        [[0n, 10n, 20n], [1n, 3n, 2n], 5n, 3, 2],
        [[0n], [1n], 0n, 4, 1],
        [[0n, 1n], [1n, 2n ** 32n], 5n, 4, 1],
      ];
      for (const [b, v, cap, problem, index] of cases) {
        await expect(d.ledger.setTariff(b, v, cap))
          .to.be.revertedWithCustomError(d.ledger, "BillingLedgerInvalidTariff")
          .withArgs(problem, index);
      }
      await expect((d.ledger.connect(d.sp) as BillingLedger).setTariff([0n], [1n], 1n))
        .to.be.revertedWithCustomError(d.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(d.sp.address, await d.ledger.DEFAULT_ADMIN_ROLE());
    });

    it("setCategoryValues requires 0 < c1 < … < c5", async () => {
      const d = await deployBillingLedger(ethers, { configure: false });
      await expect(d.ledger.setCategoryValues([...CATEGORY_VALUES])).to.emit(
        d.ledger,
        "CategoryValuesSet",
      );
      expect(await d.ledger.categoryValues()).to.deep.equal([...CATEGORY_VALUES]);
      for (const bad of [
        [0n, 1n, 2n, 3n, 4n],
        [1n, 2n, 2n, 3n, 4n],
        [5n, 4n, 6n, 7n, 8n],
      ]) {
        await expect(
          d.ledger.setCategoryValues(bad as [bigint, bigint, bigint, bigint, bigint]),
        ).to.be.revertedWithCustomError(d.ledger, "BillingLedgerInvalidCategoryValues");
      }
    });

    it("setDeliveryMode applies to intervals opened afterwards", async () => {
      const d = await deployBillingLedger(ethers);
      const cc = d.ledger.connect(d.cc) as BillingLedger;
      await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
      await expect(d.ledger.setDeliveryMode(DELIVERY_MODE.Direct))
        .to.emit(d.ledger, "DeliveryModeSet")
        .withArgs(1);
      await (await cc.openInterval(2, WINDOW_START, WINDOW_END)).wait();
      expect((await cc.intervalRecord(1)).mode).to.equal(0n);
      expect((await cc.intervalRecord(2)).mode).to.equal(1n);
    });
  });

  describe("openInterval", () => {
    it("opens any unused interval, snapshots configuration and emits", async () => {
      const d = await deployBillingLedger(ethers);
      const cc = d.ledger.connect(d.cc) as BillingLedger;
      await expect(cc.openInterval(7, WINDOW_START, WINDOW_END))
        .to.emit(cc, "IntervalOpened")
        .withArgs(7, WINDOW_START, WINDOW_END, 1, [...CATEGORY_VALUES], 0);
      await (await cc.openInterval(3, WINDOW_START, WINDOW_END)).wait();
      await (await d.ledger.setCategoryValues([1n, 2n, 3n, 4n, 5n])).wait();
      const rec = await cc.intervalRecord(7);
      expect(rec.state).to.equal(BigInt(INTERVAL_STATE.Open));
      expect(rec.categoryValues).to.deep.equal([...CATEGORY_VALUES]);
    });

    it("reverts when reopened, on an empty window, unconfigured, or not CC", async () => {
      const d = await deployBillingLedger(ethers);
      const cc = d.ledger.connect(d.cc) as BillingLedger;
      await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
      await expect(cc.openInterval(1, WINDOW_START, WINDOW_END))
        .to.be.revertedWithCustomError(cc, "BillingLedgerIntervalState")
        .withArgs(1, INTERVAL_STATE.Open);
      await expect(cc.openInterval(2, WINDOW_END, WINDOW_END))
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidWindow")
        .withArgs(WINDOW_END, WINDOW_END);
      await expect((d.ledger.connect(d.sp) as BillingLedger).openInterval(2, 0, 1))
        .to.be.revertedWithCustomError(cc, "AccessControlUnauthorizedAccount")
        .withArgs(d.sp.address, await cc.CC_ROLE());
      const bare = await deployBillingLedger(ethers, { configure: false });
      await expect(
        (bare.ledger.connect(bare.cc) as BillingLedger).openInterval(1, 0, 1),
      ).to.be.revertedWithCustomError(bare.ledger, "BillingLedgerNotConfigured");
    });
  });

  describe("postOcdBatch", () => {
    it("accepts valid entries, updates count, Σc and digest, emits packed entries", async () => {
      const d = await deployBillingLedger(ethers);
      const { cc, ocd } = await openAndFill(d, 1, 0);
      const entries = makeOcdEntries(d.domain, 1, 8);
      await expect(cc.postOcdBatch(1, entries.slice(0, 5).map(toOcdEntryStruct))).to.emit(
        cc,
        "OcdBatchPosted",
      );
      await expect(cc.postOcdBatch(1, entries.slice(5).map(toOcdEntryStruct))).to.emit(
        cc,
        "OcdBatchPosted",
      );
      const rec = await cc.intervalRecord(1);
      expect(rec.ocdCount).to.equal(8n);
      expect(rec.sumWh).to.equal(entries.reduce((s, e) => s + e.value, 0n));
      expect(rec.lastId).to.equal(toHex0x(entries[7].id));
      expect(ocd.length).to.equal(0);
    });

    it("names the index and problem of a bad entry", async () => {
      const d = await deployBillingLedger(ethers);
      const { cc } = await openAndFill(d, 1, 0);
      const good = makeOcdEntries(d.domain, 1, 3).map(toOcdEntryStruct);
      const cases: [typeof good, number][] = [
        [[good[0], { ...good[1], y: BigInt(good[1].y) ^ 1n }, good[2]], ENTRY_PROBLEM.BadSignature],
        [[good[0], { ...good[1], consumptionWh: 101n }, good[2]], ENTRY_PROBLEM.NotACategoryValue],
        [
          [good[0], { ...good[1], timestamp: WINDOW_END }, good[2]],
          ENTRY_PROBLEM.TimestampNotIntervalEnd,
        ],
        [[good[0], good[0], good[2]], ENTRY_PROBLEM.PseudonymNotIncreasing],
      ];
      for (const [batch, problem] of cases) {
        await expect(cc.postOcdBatch(1, batch))
          .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
          .withArgs(1, 1, problem);
      }
      await expect(cc.postOcdBatch(1, []))
        .to.be.revertedWithCustomError(cc, "BillingLedgerEmptyBatch")
        .withArgs(1);
      await expect(cc.postOcdBatch(2, good))
        .to.be.revertedWithCustomError(cc, "BillingLedgerIntervalState")
        .withArgs(2, INTERVAL_STATE.None);
    });
  });

  describe("sealInterval", () => {
    it("seals with the commitments and refuses further OCD", async () => {
      const d = await deployBillingLedger(ethers);
      const { cc, ocd } = await openAndFill(d, 1, 5);
      await fillSlots(cc, 1);
      const rec = await cc.intervalRecord(1);
      await expect(cc.sealInterval(1))
        .to.emit(cc, "OcdSealed")
        .withArgs(1, 5, rec.sumWh, rec.ocdDigest);
      await expect(
        cc.postOcdBatch(1, makeOcdEntries(d.domain, 1, 1, { firstRank: 9 }).map(toOcdEntryStruct)),
      )
        .to.be.revertedWithCustomError(cc, "BillingLedgerIntervalState")
        .withArgs(1, INTERVAL_STATE.OcdSealed);
      await expect(cc.sealInterval(1))
        .to.be.revertedWithCustomError(cc, "BillingLedgerIntervalState")
        .withArgs(1, INTERVAL_STATE.OcdSealed);
      expect(ocd.length).to.equal(5);
    });
  });

  describe("postDap", () => {
    it("relayed: CC posts one SP-signed entry at the tariff price → Priced", async () => {
      const d = await deployBillingLedger(ethers);
      const { cc, ocd } = await openAndFill(d, 1, 10);
      await fillAndSeal(cc, 1);
      const p = expectedPrice(ocd);
      const dap = makeDap(d.domain, 1, p);
      await expect(cc.postDap(1, [toDapEntryStruct(dap), toDapEntryStruct(dap)]))
        .to.be.revertedWithCustomError(cc, "BillingLedgerDapCount")
        .withArgs(1, 2);
      await expect(cc.postDap(1, [toDapEntryStruct(makeDap(d.domain, 1, p + 1n))]))
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
        .withArgs(1, 0, ENTRY_PROBLEM.PriceMismatch);
      await expect(cc.postDap(1, [{ ...toDapEntryStruct(dap), timestamp: dap.timestamp + 1n }]))
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
        .withArgs(1, 0, ENTRY_PROBLEM.BadSignature);
      await expect((d.ledger.connect(d.sp) as BillingLedger).postDap(1, [toDapEntryStruct(dap)]))
        .to.be.revertedWithCustomError(cc, "AccessControlUnauthorizedAccount")
        .withArgs(d.sp.address, await cc.CC_ROLE());
      const sum = ocd.reduce((s, e) => s + e.value, 0n);
      await expect(cc.postDap(1, [toDapEntryStruct(dap)]))
        .to.emit(cc, "IntervalPriced")
        .withArgs(1, p, sum, 1);
      expect((await cc.intervalRecord(1)).price).to.equal(p);
      await expect(cc.postDap(1, [toDapEntryStruct(dap)]))
        .to.be.revertedWithCustomError(cc, "BillingLedgerIntervalState")
        .withArgs(1, INTERVAL_STATE.Priced);
    });

    it("direct: SP posts per-user entries in several batches with the same price", async () => {
      const d = await deployBillingLedger(ethers, { direct: true });
      const { cc, ocd } = await openAndFill(d, 1, 10);
      await fillAndSeal(cc, 1);
      const sp = d.ledger.connect(d.sp) as BillingLedger;
      const p = expectedPrice(ocd);
      // One entry per user pseudonym, ids increasing (DESIGN §2, docs/PROTOCOL.md).
      const users = [0, 1, 2]
        .map((u) => makeDap(d.domain, 1, p, `sp-to-user-${u}`))
        .sort((a, b) => Buffer.compare(a.id, b.id))
        .map(toDapEntryStruct);
      await expect(cc.postDap(1, users))
        .to.be.revertedWithCustomError(cc, "AccessControlUnauthorizedAccount")
        .withArgs(d.cc.address, await cc.SP_ROLE());
      await (await sp.postDap(1, users.slice(0, 2))).wait();
      await expect(sp.postDap(1, users.slice(2)))
        .to.emit(sp, "DapPosted")
        .and.not.to.emit(sp, "IntervalPriced");
      expect((await sp.intervalRecord(1)).dapCount).to.equal(3n);
      await expect(sp.postDap(1, [])).to.be.revertedWithCustomError(sp, "BillingLedgerEmptyBatch");
    });

    it("reverts when sigPk_SP is unset", async () => {
      const d = await deployBillingLedger(ethers, { configure: false });
      await (await d.ledger.setTariff([0n], [3n], 3n)).wait();
      await (await d.ledger.setCategoryValues([...CATEGORY_VALUES])).wait();
      await registerFixtureMeters(d.ledger.connect(d.cc) as BillingLedger, d.ledger);
      const { cc } = await openAndFill(d, 1, 2);
      await fillAndSeal(cc, 1);
      await expect(
        cc.postDap(1, [toDapEntryStruct(makeDap(d.domain, 1, 3n))]),
      ).to.be.revertedWithCustomError(cc, "BillingLedgerNotConfigured");
    });
  });

  describe("postBills, restartBilling, closeBilling", () => {
    async function priced(n = 10) {
      const d = await deployBillingLedger(ethers);
      const { cc, ocd } = await openAndFill(d, 1, n);
      await fillAndSeal(cc, 1);
      const p = expectedPrice(ocd);
      await (await cc.postDap(1, [toDapEntryStruct(makeDap(d.domain, 1, p))])).wait();
      return { d, cc, ocd, p };
    }

    it("accepts honest batches and finalizes with Σ bills = p × Σc", async () => {
      const { d, cc, ocd, p } = await priced(10);
      const batches = signBatches(d.domain, billsFor(ocd, p), 4);
      for (const b of batches) {
        await expect(
          cc.postBills(1, encodeBillsPacked(b.bills), toHex0x(b.signature.rAddr), b.signature.y),
        ).to.emit(cc, "BillBatchPosted");
      }
      const sum = ocd.reduce((s, e) => s + e.value, 0n);
      const rec = await cc.intervalRecord(1);
      await expect(cc.closeBilling(1))
        .to.emit(cc, "IntervalFinalized")
        .withArgs(1, 10, p * sum, rec.ocdDigest);
      expect((await cc.intervalRecord(1)).state).to.equal(BigInt(INTERVAL_STATE.Final));
    });

    it("refuses a wrong bill, a bad batch signature, too many bills and an empty batch", async () => {
      const { d, cc, ocd, p } = await priced(3);
      const [b] = signBatches(d.domain, billsFor(ocd, p), 3);
      const items = encodeBillsPacked(b.bills);
      const sig = [toHex0x(b.signature.rAddr), b.signature.y] as const;
      const [b0, b1, b2] = b.bills;
      await expect(
        cc.postBills(1, encodeBillsPacked([b0, { ...b1, bill: b1.bill + 1n }, b2]), ...sig),
      )
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
        .withArgs(1, 1, ENTRY_PROBLEM.BillMismatch);
      await expect(cc.postBills(1, items, sig[0], sig[1] ^ 1n))
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidBatchSignature")
        .withArgs(1, 0);
      await expect(cc.postBills(1, encodeBillsPacked([...b.bills, b0]), ...sig))
        .to.be.revertedWithCustomError(cc, "BillingLedgerTooManyBills")
        .withArgs(1, 4, 3);
      await expect(cc.postBills(1, "0x", ...sig)).to.be.revertedWithCustomError(
        cc,
        "BillingLedgerEmptyBatch",
      );
    });

    it("refuses packed bills that are not whole 56-byte bills, and logs the bytes it checked", async () => {
      const { d, cc, ocd, p } = await priced(3);
      const [b] = signBatches(d.domain, billsFor(ocd, p), 3);
      const items = encodeBillsPacked(b.bills);
      const sig = [toHex0x(b.signature.rAddr), b.signature.y] as const;
      // A truncated last bill, one trailing byte, less than one bill.
      for (const bad of [
        items.subarray(0, items.length - 1),
        concatBytes(items, Uint8Array.of(0)),
        items.subarray(0, 55),
      ]) {
        await expect(cc.postBills(1, bad, ...sig))
          .to.be.revertedWithCustomError(cc, "BillingLedgerPackedLength")
          .withArgs(1, bad.length);
      }
      const logged = loggedBillItems(cc, await (await cc.postBills(1, items, ...sig)).wait());
      expect(toHex0x(logged)).to.equal(toHex0x(items));
      expect(decodeBillRecords(1, logged)).to.deep.equal(b.bills);
    });

    it("closeBilling names incomplete and mismatched bills; restartBilling recovers", async () => {
      const { d, cc, ocd, p } = await priced(3);
      const bills = billsFor(ocd, p);
      const [partial] = signBatches(d.domain, bills.slice(0, 2), 2);
      await (
        await cc.postBills(
          1,
          encodeBillsPacked(partial.bills),
          toHex0x(partial.signature.rAddr),
          partial.signature.y,
        )
      ).wait();
      await expect(cc.closeBilling(1))
        .to.be.revertedWithCustomError(cc, "BillingLedgerBillsIncomplete")
        .withArgs(1, 2, 3);
      // The third bill duplicates the first one's (id, c): counts match, digests do not.
      const [dup] = signBatches(d.domain, [bills[0]], 1, 2);
      await (
        await cc.postBills(
          1,
          encodeBillsPacked(dup.bills),
          toHex0x(dup.signature.rAddr),
          dup.signature.y,
        )
      ).wait();
      await expect(cc.closeBilling(1)).to.be.revertedWithCustomError(
        cc,
        "BillingLedgerBillDigestMismatch",
      );
      await expect(cc.restartBilling(1)).to.emit(cc, "BillingRestarted").withArgs(1, 3);
      await expect(cc.restartBilling(1))
        .to.be.revertedWithCustomError(cc, "BillingLedgerIntervalState")
        .withArgs(1, INTERVAL_STATE.Priced);
      const [full] = signBatches(d.domain, bills, 3);
      await (
        await cc.postBills(
          1,
          encodeBillsPacked(full.bills),
          toHex0x(full.signature.rAddr),
          full.signature.y,
        )
      ).wait();
      await expect(cc.closeBilling(1)).to.emit(cc, "IntervalFinalized");
      await expect(cc.closeBilling(1))
        .to.be.revertedWithCustomError(cc, "BillingLedgerIntervalState")
        .withArgs(1, INTERVAL_STATE.Final);
    });

    it("an empty interval is priced at tariff(0) and closes without bills", async () => {
      const d = await deployBillingLedger(ethers);
      const cc = d.ledger.connect(d.cc) as BillingLedger;
      await (await cc.openInterval(4, WINDOW_START, WINDOW_END)).wait();
      await fillAndSeal(cc, 4);
      await (await cc.postDap(4, [toDapEntryStruct(makeDap(d.domain, 4, 10n))])).wait();
      await expect(cc.closeBilling(4))
        .to.emit(cc, "IntervalFinalized")
        .withArgs(4, 0, 0, ethers.ZeroHash);
    });
  });

  it("domainSeparator is keccak256(chainId ‖ address)", async () => {
    const d = await deployBillingLedger(ethers, { configure: false });
    const { chainId } = await ethers.provider.getNetwork();
    expect(await d.ledger.domainSeparator()).to.equal(
      ethers.solidityPackedKeccak256(["uint256", "address"], [chainId, d.address]),
    );
  });
});
