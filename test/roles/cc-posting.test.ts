// Posting at chain speed (issue 14, offchain/cc/posting.ts): OCD batches sized from the block gas
// limit with a gas model measured on the ledger, several transactions in flight with explicit
// nonces, each naming its predecessor pseudonym (`postOcdAfter`), and a CC that resumes from the
// chain after a crash with batches in flight or after a failed, replaced or refused batch — no
// slot posted twice, none skipped. The same agent runs on the in-process chain here and over
// HTTP JSON-RPC on `hardhat node` in test/e2e/cc-posting-rpc.test.ts.
import { expect } from "chai";
import fc from "fast-check";
import { network } from "hardhat";

import { ControlCenterAgent } from "../../offchain/cc/agent.ts";
import { IntervalReleasedError } from "../../offchain/cc/control-center.ts";
import type {
  ControlCenterChainClient,
  IntervalProgress,
  OcdBatchSender,
  PendingOcdBatch,
} from "../../offchain/cc/chain-client.ts";
import {
  OcdPipelineError,
  PostingConfigError,
  compareIds,
  ocdBatchGas,
  ocdTxGasBudget,
  planFixedBatches,
  planOcdBatches,
  postOcdPipeline,
  type PlannedOcdBatch,
} from "../../offchain/cc/posting.ts";
import {
  encodeOcdPacked,
  publicKeyStruct,
  readDomain,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { deployBillingLedger } from "../../offchain/chain/deploy.ts";
import { ContractRevertError } from "../../offchain/chain/errors.ts";
import { bytesToHex, toHex0x, u32 } from "../../offchain/crypto/bytes.ts";
import { keccak256 } from "../../offchain/crypto/hash.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import { INTERVAL_STATE } from "../../offchain/protocol/billing.ts";
import { ENTRY_KIND, signEntry, type LedgerEntry } from "../../offchain/protocol/entry.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { PackedPseudonyms } from "../../offchain/protocol/packed-pseudonyms.ts";
import { oksuzSetup, parseCcConfig } from "../../offchain/node/roles/oksuz-setup.ts";
import { ServiceConfigError } from "../../offchain/node/service.ts";
import { SecretStore } from "../../offchain/runtime/secret-box.ts";
import { Store } from "../../offchain/runtime/store.ts";
import { postingRig, SLOTS, T } from "./cc-posting-fixture.ts";
import { CATEGORIES, DOMAIN, WINDOW, ccKeys, makeMeter, seedScalar } from "./fixtures.ts";

/** A pseudonym whose first 4 bytes are `rank` (so ranks sort as ids do). */
function idOf(rank: number, salt: number): Uint8Array {
  const id = keccak256(new TextEncoder().encode(`id/${rank}/${salt}`));
  id.set(u32(rank), 0);
  return id;
}

/** Sorted real entries (only their ids matter to the planner) and zero slots, interleaved. */
function slots(real: number, zero: number, seed: number) {
  const ranks = Array.from({ length: real + zero }, (_, r) => r + 1);
  // A deterministic shuffle of which ranks are real.
  const isReal = ranks.map((r) => (r * 2_654_435_761 + seed) % (real + zero) < real);
  const entries = ranks
    .filter((_, k) => isReal[k])
    .map((r) => ({ id: idOf(r, seed) }) as unknown as LedgerEntry);
  // Packed in one buffer, as CC's zero slots are (issue 14, session 10).
  const zeroIds = PackedPseudonyms.fromIds(
    ranks.filter((_, k) => !isReal[k]).map((r) => idOf(r, seed)),
  );
  return { entries, zeroIds };
}

function flatten(batches: readonly PlannedOcdBatch[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of batches) {
    let i = 0;
    let k = 0;
    while (i < b.entries.length || k < b.zeroIds.count) {
      const takeReal =
        k === b.zeroIds.count ||
        (i < b.entries.length && compareIds(b.entries[i].id, b.zeroIds.at(k)) < 0);
      out.push(takeReal ? b.entries[i++].id : b.zeroIds.at(k++));
    }
  }
  return out;
}

describe("posting at chain speed (issue 14)", function () {
  describe("planning batches from the block gas limit", function () {
    it("never plans a batch whose rounded-up gas limit passes the budget (the property's counterexamples)", function () {
      // Found by the property below (seeds -372549043 and -1995984735): the fit was checked on the
      // unrounded gas × margin, and the batch then sent with its ceiling, up to 1 gas above.
      for (const [real, zero, block, maxSlots, seed] of [
        [139, 7133, 2_000_013, 1192, 0],
        [773, 8186, 2_000_025, 906, 33_493_777],
      ]) {
        const { entries, zeroIds } = slots(real, zero, seed);
        const limits = { blockGasLimit: BigInt(block), maxSlots };
        const budget = ocdTxGasBudget(limits);
        for (const b of planOcdBatches(entries, zeroIds, limits)) {
          expect(Number(b.gasLimit)).to.be.at.most(budget);
        }
      }
    });

    it("keeps every slot once in pseudonym order, each batch within its gas budget and maximal", function () {
      fc.assert(
        fc.property(
          fc.nat({ max: 4_000 }),
          fc.nat({ max: 12_000 }),
          fc.integer({ min: 2_000_000, max: 60_000_000 }),
          fc.integer({ min: 1, max: 12_000 }),
          fc.nat(),
          (real, zero, block, maxSlots, seed) => {
            const { entries, zeroIds } = slots(real, zero, seed);
            const limits = { blockGasLimit: BigInt(block), maxSlots };
            const budget = ocdTxGasBudget(limits);
            const batches = planOcdBatches(entries, zeroIds, limits);
            const all = flatten(batches);
            expect(all.length).to.equal(real + zero);
            for (let k = 1; k < all.length; k++)
              expect(compareIds(all[k - 1], all[k])).to.equal(-1);
            let at = 0;
            batches.forEach((b, n) => {
              const size = b.entries.length + b.zeroIds.count;
              expect(size).to.be.within(1, maxSlots);
              expect(Number(b.gasLimit)).to.be.at.most(budget);
              expect(bytesToHex(b.first)).to.equal(bytesToHex(all[at]));
              expect(bytesToHex(b.last)).to.equal(bytesToHex(all[at + size - 1]));
              at += size;
              if (n === batches.length - 1) return;
              // Maximal: the next slot would break the bound or the budget.
              const nextIsReal =
                batches[n + 1].entries.length > 0 &&
                compareIds(batches[n + 1].entries[0].id, batches[n + 1].first) === 0;
              const n1 = b.entries.length + (nextIsReal ? 1 : 0);
              const z1 = b.zeroIds.count + (nextIsReal ? 0 : 1);
              expect(
                size + 1 > maxSlots || ocdBatchGas(n1, z1) * 1.1 > budget,
                `batch ${n} could take one more slot`,
              ).to.equal(true);
            });
          },
        ),
        { numRuns: 60 },
      );
    });

    it("fills a 30M block: two transactions of ≈ 1,650 real entries under EIP-7825's 2^24 cap, one of ≈ 3,200 without it", function () {
      const { entries } = slots(10_000, 0, 1);
      const capped = planOcdBatches(entries, PackedPseudonyms.EMPTY, {
        blockGasLimit: 30_000_000n,
      });
      const uncapped = planOcdBatches(entries, PackedPseudonyms.EMPTY, {
        blockGasLimit: 30_000_000n,
        maxTxGas: 30_000_000,
      });
      expect(capped[0].entries.length).to.be.within(1_550, 1_750);
      expect(2 * Number(capped[0].gasLimit)).to.be.at.most(28_500_000);
      expect(Number(capped[0].gasLimit)).to.be.at.most(2 ** 24);
      expect(uncapped[0].entries.length).to.be.within(3_000, 3_400);
      expect(Number(uncapped[0].gasLimit)).to.be.at.most(28_500_000);
    });

    it("the fixed-count plan keeps the behaviour before issue 14: ≤ size entries and ≤ 10·size zero slots, maximal", function () {
      const { entries, zeroIds } = slots(250, 2_300, 5);
      const batches = planFixedBatches(entries, zeroIds, 100);
      expect(flatten(batches).length).to.equal(2_550);
      for (const [n, b] of batches.entries()) {
        expect(b.entries.length).to.be.at.most(100);
        expect(b.zeroIds.count).to.be.at.most(1_000);
        if (n < batches.length - 1) {
          expect(b.entries.length === 100 || b.zeroIds.count === 1_000).to.equal(true);
        }
      }
    });

    it("refuses options out of range with PostingConfigError", function () {
      const { entries } = slots(3, 0, 1);
      const bad = [
        { blockGasLimit: 30_000_000n, blockShare: 0 },
        { blockGasLimit: 30_000_000n, blockShare: 1.5 },
        { blockGasLimit: 30_000_000n, margin: 0.9 },
        { blockGasLimit: 30_000_000n, maxSlots: 0 },
        { blockGasLimit: 30_000_000n, maxTxGas: 0 },
        { blockGasLimit: 100_000n }, // not even one entry fits
      ];
      for (const limits of bad) {
        expect(
          () => planOcdBatches(entries, PackedPseudonyms.EMPTY, limits),
          JSON.stringify(limits, (_k, v) => (typeof v === "bigint" ? String(v) : v)),
        ).to.throw(PostingConfigError);
      }
      expect(() => planFixedBatches(entries, PackedPseudonyms.EMPTY, 0)).to.throw(
        PostingConfigError,
      );
    });
  });

  describe("the `gridledger cc` config", function () {
    it("takes postWindow, postMaxTxGas or postBatchSize, optional, and refuses bad values by name", function () {
      const base = JSON.parse(JSON.stringify(oksuzSetup("posting", 4).cc.config)) as Record<
        string,
        unknown
      >;
      expect(parseCcConfig(base)).to.not.have.property("postWindow");
      expect(parseCcConfig({ ...base, postWindow: 8, postMaxTxGas: 30_000_000 })).to.include({
        postWindow: 8,
        postMaxTxGas: 30_000_000,
      });
      expect(parseCcConfig({ ...base, postBatchSize: 100 })).to.include({ postBatchSize: 100 });
      for (const [bad, name] of [
        [{ postWindow: 0 }, /postWindow/],
        [{ postWindow: "4" }, /postWindow/],
        [{ postMaxTxGas: 1_000 }, /postMaxTxGas/],
        [{ postBatchSize: 1.5 }, /postBatchSize/],
        [{ postBatchSize: 100, postWindow: 2 }, /postBatchSize/],
      ] as const) {
        expect(() => parseCcConfig({ ...base, ...bad })).to.throw(ServiceConfigError, name);
      }
    });
  });

  describe("the pipeline (a scripted sender)", function () {
    /** A sender whose batches are mined when the test says, in nonce order. */
    function scriptedSender(failAt?: { batch: number; at: "send" | "mined" }) {
      const sent: { predecessor: string; last: string; settle: () => void; fail: () => void }[] =
        [];
      let inFlight = 0;
      let maxInFlight = 0;
      const sender: OcdBatchSender = {
        async send(_interval, predecessor, entries, zeroIds) {
          const n = sent.length;
          if (failAt?.at === "send" && failAt.batch === n) throw new Error("nonce too low");
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          let settle!: () => void;
          let fail!: () => void;
          const mined = new Promise<void>((resolve, reject) => {
            settle = () => (inFlight--, resolve());
            fail = () => (inFlight--, reject(new Error("reverted")));
          });
          mined.catch(() => {});
          const ids = [...entries.map((e) => e.id), ...zeroIds].sort(compareIds);
          sent.push({
            predecessor: bytesToHex(predecessor),
            last: bytesToHex(ids[ids.length - 1]),
            settle,
            fail,
          });
          // Mine in order on the next turns (a node mining one block per turn).
          setImmediate(() => (failAt?.at === "mined" && failAt.batch === n ? fail() : settle()));
          return { mined } satisfies PendingOcdBatch;
        },
      };
      return { sender, sent, maxInFlight: () => maxInFlight };
    }

    it("keeps at most W batches in flight, each naming the last pseudonym of the one before", async function () {
      const { entries, zeroIds } = slots(40, 60, 3);
      const batches = planFixedBatches(entries, zeroIds, 4);
      for (const window of [1, 2, 4, 7]) {
        const s = scriptedSender();
        const zero = new Uint8Array(32);
        await postOcdPipeline(9, zero, batches, s.sender, window);
        expect(s.sent.length).to.equal(batches.length);
        expect(s.maxInFlight()).to.equal(Math.min(window, batches.length));
        expect(s.sent[0].predecessor).to.equal(bytesToHex(zero));
        for (let k = 1; k < s.sent.length; k++) {
          expect(s.sent[k].predecessor).to.equal(s.sent[k - 1].last);
        }
      }
    });

    for (const at of ["send", "mined"] as const) {
      it(`stops at the first failure (${at}), lets the batches in flight settle, and says how many were confirmed`, async function () {
        const { entries, zeroIds } = slots(40, 60, 4);
        const batches = planFixedBatches(entries, zeroIds, 4);
        const s = scriptedSender({ batch: 3, at });
        const err = await postOcdPipeline(9, new Uint8Array(32), batches, s.sender, 4).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(OcdPipelineError);
        expect((err as OcdPipelineError).confirmed).to.equal(3);
        // Nothing is sent once the failure is seen; at most W − 1 were sent after batch 3.
        expect(s.sent.length).to.be.at.most(at === "send" ? 3 : 3 + 4);
        expect(s.maxInFlight()).to.be.at.most(4);
      });
    }

    it("refuses a window below 1", async function () {
      await postOcdPipeline(1, new Uint8Array(32), [], scriptedSender().sender, 0).then(
        () => expect.fail("accepted window 0"),
        (e: unknown) => expect(e).to.be.instanceOf(PostingConfigError),
      );
    });
  });

  describe("the agent against a model of the ledger (failures on purpose)", function () {
    const J = 3;
    const cc = ccKeys();
    const meters = [0, 1, 2, 3, 4, 5].map((i) => makeMeter(i, cc));
    const registrations = meters.map((m) => m.registration(seedScalar(`eph-${m.index}`)));
    const reports = meters.flatMap((m) =>
      m.reportInterval(J, BigInt(m.index * 300 + 100), T).entries.map(encodeMeterReport),
    );

    /**
     * The ledger's OCD rules (`postOcdAfter`): a batch applies iff its predecessor is the last
     * posted pseudonym and its slots increase after it; a `postOcdBatch` iff its slots increase.
     * Batches are mined in nonce order a turn after they are sent. `faults` decides per sent
     * batch (0-based over the whole test) whether the node refuses it at once ("send"), mines it
     * reverted ("revert", e.g. out of gas) or drops it ("drop", a replaced transaction).
     */
    function modelLedger(faults: (n: number) => "send" | "revert" | "drop" | undefined) {
      const posted: string[] = [];
      let lastId: Uint8Array = new Uint8Array(32);
      let state: number = INTERVAL_STATE.None;
      let sends = 0;
      let maxInFlight = 0;
      let inFlight = 0;
      const apply = (predecessor: Uint8Array | undefined, ids: Uint8Array[]): boolean => {
        if (predecessor && compareIds(predecessor, lastId) !== 0) return false;
        let prev = lastId;
        for (const id of ids)
          if (compareIds(id, prev) <= 0) return false;
          else prev = id;
        for (const id of ids) posted.push(bytesToHex(id));
        lastId = prev;
        return true;
      };
      const progress = async (): Promise<IntervalProgress> => ({
        state: state as never,
        lastId,
        ocdCount: 0,
        billCount: 0,
        dapCount: 0,
      });
      const chain: ControlCenterChainClient = {
        meterCount: async () => 0,
        registerMeters: async () => {},
        intervalProgress: progress,
        openInterval: async () => void (state = INTERVAL_STATE.Open),
        async postOcdBatch(_j, entries, zeroIds) {
          const ids = [...entries.map((e) => e.id), ...zeroIds].sort(compareIds);
          if (!apply(undefined, ids)) throw new Error("PseudonymNotIncreasing");
        },
        sealInterval: async () => void (state = INTERVAL_STATE.OcdSealed),
        postDap: async () => {},
        postBills: async () => {},
        closeBilling: async () => {},
        blockGasLimit: async () => 30_000_000n,
        async ocdSender() {
          return {
            async send(_j, predecessor, entries, zeroIds) {
              const fault = faults(sends++);
              if (fault === "send") throw new Error("nonce too low");
              const ids = [...entries.map((e) => e.id), ...zeroIds].sort(compareIds);
              inFlight++;
              maxInFlight = Math.max(maxInFlight, inFlight);
              const mined = new Promise<void>((resolve, reject) =>
                setImmediate(() => {
                  inFlight--;
                  if (fault === "drop") return reject(new Error("transaction replaced"));
                  if (fault === "revert" || !apply(predecessor, ids)) {
                    return reject(new Error("reverted"));
                  }
                  resolve();
                }),
              );
              mined.catch(() => {});
              return { mined };
            },
          };
        },
        settle: async () => true,
      };
      return { chain, posted, maxInFlight: () => maxInFlight, sends: () => sends };
    }

    async function agentWith(chain: ControlCenterChainClient, store: Store) {
      const secrets = SecretStore.open(store, { key: new Uint8Array(32).fill(9) });
      const agent = ControlCenterAgent.start(
        {
          keys: cc,
          domain: DOMAIN,
          maxMessagesPerMeter: SLOTS,
          posting: { window: 3, maxSlots: 5 },
        },
        { store, secrets, chain },
      );
      return agent;
    }

    async function admitted(chain: ControlCenterChainClient, store: Store) {
      const agent = await agentWith(chain, store);
      await agent.registerMeters(registrations);
      await agent.openInterval(J, WINDOW, CATEGORIES);
      for (const r of reports) expect(agent.onReport(r).accepted).to.equal(true);
      return agent;
    }

    /** Every one of the 48 slots posted exactly once, in increasing order. */
    function expectComplete(posted: readonly string[]): void {
      expect(posted.length).to.equal(meters.length * SLOTS);
      for (let k = 1; k < posted.length; k++) expect(posted[k - 1] < posted[k]).to.equal(true);
    }

    for (const [what, fault] of [
      ["refused at once (nonce too low)", "send"],
      ["mined reverted (out of gas)", "revert"],
      ["replaced or dropped", "drop"],
    ] as const) {
      it(`a batch ${what} in the middle of the window: CC reads the chain again and posts the rest, no slot twice, none skipped`, async function () {
        // Meters registered in a fresh store per case; batch 2 of the first round fails once.
        const model = modelLedger((n) => (n === 2 ? fault : undefined));
        const agent = await admitted(model.chain, Store.open({ path: ":memory:" }));
        await agent.postAndSeal(J);
        expectComplete(model.posted);
        expect(model.maxInFlight()).to.be.within(2, 3);
        // The batches sent behind the failed one reverted on their predecessor and were sent again.
        expect(model.sends()).to.be.greaterThan(Math.ceil(48 / 5));
      });
    }

    it("gives up after maxStalls rounds that moved nothing, with the failure as cause", async function () {
      const model = modelLedger((n) => (n >= 4 ? "revert" : undefined));
      const agent = await admitted(model.chain, Store.open({ path: ":memory:" }));
      const err = await agent.postAndSeal(J).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(OcdPipelineError);
      expect(String((err as Error).cause)).to.match(/reverted/);
      // Posted so far: a prefix, in order; no gap.
      expect(model.posted.length).to.be.greaterThan(0);
      for (let k = 1; k < model.posted.length; k++) {
        expect(model.posted[k - 1] < model.posted[k]).to.equal(true);
      }
    });

    it("without `posting`, posts fixed batches one at a time as before (postOcdBatch)", async function () {
      const model = modelLedger(() => undefined);
      const store = Store.open({ path: ":memory:" });
      const secrets = SecretStore.open(store, { key: new Uint8Array(32).fill(9) });
      const agent = ControlCenterAgent.start(
        { keys: cc, domain: DOMAIN, maxMessagesPerMeter: SLOTS, batchSize: 2 },
        { store, secrets, chain: model.chain },
      );
      await agent.registerMeters(registrations);
      await agent.openInterval(J, WINDOW, CATEGORIES);
      for (const r of reports) expect(agent.onReport(r).accepted).to.equal(true);
      await agent.postAndSeal(J);
      expectComplete(model.posted);
      expect(model.sends(), "no pipelined send").to.equal(0);
    });

    it("after the seal CC releases the interval's tables: K bytes per meter stay, and receipts, zero slots and statistics read the same (issue 14)", async function () {
      const model = modelLedger(() => undefined);
      const agent = await agentWith(model.chain, Store.open({ path: ":memory:" }));
      await agent.registerMeters(registrations);
      const directoryBytes = agent.center.stateBytes;
      await agent.openInterval(J, WINDOW, CATEGORIES);
      // Meter 5 sends nothing, meter 4 only its first 3 slots: absence markers and a missing meter.
      const sent = reports.filter((_, n) => n < 4 * SLOTS + 3);
      for (const r of sent) expect(agent.onReport(r).accepted).to.equal(true);
      const receipts = agent.receipts(J);
      const zeroSlots = agent.center.zeroSlots(J);
      const stats = agent.center.stats(J);
      const receiptOf = meters.map((m) => agent.receiptOf(J, m.index));
      const openBytes = agent.center.stateBytes - directoryBytes;
      expect(openBytes / meters.length, "the open interval's tables").to.be.above(1_000);

      await agent.postAndSeal(J);
      expectComplete(model.posted);
      expect(agent.center.isReleased(J)).to.equal(true);
      // One flag byte per slot is all CC keeps of the sealed interval (was ≈ 1.6 kB per meter).
      expect(agent.center.stateBytes - directoryBytes).to.equal(meters.length * SLOTS);
      expect(agent.receipts(J)).to.deep.equal(receipts);
      expect(receipts.get(4)).to.deep.equal(new Set([1, 2, 3]));
      expect(receipts.has(5)).to.equal(false);
      expect(agent.center.zeroSlots(J)).to.deep.equal(zeroSlots);
      expect(zeroSlots.missingMeters).to.equal(1);
      expect(zeroSlots.markers).to.equal(SLOTS + SLOTS - 3);
      expect(agent.center.stats(J)).to.deep.equal(stats);
      expect(meters.map((m) => agent.receiptOf(J, m.index))).to.deep.equal(receiptOf);
      expect(agent.center.completeMeters(J)).to.equal(4);
      // What needs the dropped tables says so; a late report is refused as for a closed interval.
      expect(() => agent.center.admittedEntries(J)).to.throw(IntervalReleasedError);
      expect(() => agent.center.originOf(J, new Uint8Array(32))).to.throw(IntervalReleasedError);
      const late = agent.onReport(reports[4 * SLOTS + 5]);
      expect(late.accepted).to.equal(false);
      expect(late.accepted ? undefined : late.reason).to.equal("interval-not-open");
      // A second call posts nothing and gives the same zero slots.
      const again = await agent.postAndSeal(J);
      expect(again.posted).to.equal(0);
      expect(again.zeroSlots).to.deep.equal(zeroSlots);
    });
  });

  describe("on the in-process chain", function () {
    this.timeout(300_000);

    it("the gas model is within −3 % … +15 % of postOcdAfter's measured gas (a first batch)", async function () {
      const { ethers } = await network.create();
      const [admin, cc, sp] = await ethers.getSigners();
      const spKey = secp.mulBase(seedScalar("sp"), true);
      const { ledger: asAdmin } = await deployBillingLedger(
        { admin, controlCenter: cc, serviceProvider: sp },
        {
          tariff: { breakpointsWh: [0n, 100_000n], values: [10n, 20n], cap: 35n },
          categories: CATEGORIES,
          serviceProvider: { publicKey: spKey, sigPublicKey: spKey },
          slotsPerMeter: 64,
        },
      );
      const ledger = asAdmin.connect(cc) as BillingLedger;
      for (let i = 0; i < 200; i += 200) {
        const keys = Array.from({ length: 200 }, (_, k) =>
          publicKeyStruct(secp.mulBase(seedScalar(`gas/meter/${i + k}`), true)),
        );
        await (await ledger.registerMeters(keys)).wait();
      }
      const domain = await readDomain(ledger);
      const end = WINDOW.end;
      let j = 100;
      // Shapes CC posts: real entries alone, zero slots alone, and mixes (K = 8, R ≈ 1.7).
      for (const [n, z] of [
        [1, 0],
        [150, 0],
        [1_500, 0],
        [0, 3_000],
        [400, 1_600],
        [1_200, 5_000],
      ]) {
        j++;
        await (await ledger.openInterval(j, WINDOW.start, end)).wait();
        const entries = Array.from({ length: n }, (_, r) =>
          signEntry(
            domain,
            {
              kind: ENTRY_KIND.OCD,
              interval: j,
              id: idOf(2 * r + 2, j),
              timestamp: end - 1n,
              value: CATEGORIES[r % 5],
            },
            seedScalar(`gas/msg/${j}/${r}`),
          ),
        );
        const zeroIds = Array.from({ length: z }, (_, r) => toHex0x(idOf(2 * r + 1, j)));
        const receipt = await (
          await ledger.postOcdAfter(
            j,
            toHex0x(new Uint8Array(32)),
            encodeOcdPacked(entries),
            zeroIds,
            {
              gasLimit: 30_000_000,
            },
          )
        ).wait();
        const used = Number(receipt!.gasUsed);
        const model = ocdBatchGas(n, z);
        expect(
          (model - used) / used,
          `${n} real + ${z} zero: model ${model}, used ${used}`,
        ).to.be.within(-0.03, 0.15);
      }
    });

    it("W = 4 on gas-sized batches, CC killed after 2 batches, restarted: every slot once, sealed; the ledger refuses a batch sent again", async function () {
      const { ethers } = await network.create();
      const [admin, controlCenter, serviceProvider] = await ethers.getSigners();
      const rig = await postingRig({ admin, controlCenter, serviceProvider }, 40);
      try {
        // maxSlots 30: ≈ 11 batches for 320 slots.
        const posting = { window: 4, maxSlots: 30 };
        const first = rig.start(posting);
        const real = await rig.admitAll(first, 1);
        first.crashAfterBatches(2);
        await first.postAndSeal(1).then(
          () => expect.fail("no crash"),
          (e: unknown) => expect((e as Error).name).to.equal("ControlCenterCrash"),
        );
        rig.kill();
        const mid = await rig.ledger.intervalRecord(1);
        expect(Number(mid.ocdCount) + Number(mid.zeroCount)).to.equal(60);

        const restarted = rig.start(posting);
        const { posted } = await restarted.postAndSeal(1);
        const rec = await rig.ledger.intervalRecord(1);
        expect(Number(rec.state)).to.equal(INTERVAL_STATE.OcdSealed);
        expect(Number(rec.ocdCount)).to.equal(real);
        expect(Number(rec.ocdCount) + Number(rec.zeroCount)).to.equal(40 * SLOTS);
        expect(posted).to.be.lessThan(real);

        // No double post: a batch sent again after its predecessor is refused by name.
        await rig.ledger.openInterval(2, WINDOW.start, WINDOW.end);
        const one = rig.meters[0].reportInterval(2, 150n, T).entries[0];
        await (
          await rig.ledger.postOcdAfter(2, toHex0x(new Uint8Array(32)), encodeOcdPacked([one]), [])
        ).wait();
        const again = rig.ledger.postOcdAfter(
          2,
          toHex0x(new Uint8Array(32)),
          encodeOcdPacked([one]),
          [],
        );
        await expect(again)
          .to.be.revertedWithCustomError(rig.ledger, "BillingLedgerPredecessorMismatch")
          .withArgs(2, toHex0x(new Uint8Array(32)), toHex0x(one.id));
        await expect(
          rig.ledger.postOcd(2, encodeOcdPacked([one]), []),
        ).to.be.revertedWithCustomError(rig.ledger, "BillingLedgerInvalidEntry");
      } finally {
        rig.dispose();
      }
    });

    it("property: postOcdAfter applies iff its predecessor is the ledger's lastId (random predecessors)", async function () {
      const { ethers } = await network.create();
      const [admin, controlCenter, serviceProvider] = await ethers.getSigners();
      const rig = await postingRig({ admin, controlCenter, serviceProvider }, 8);
      try {
        const ledger = rig.ledger;
        const keys = [1, 2].map((i) => publicKeyStruct(secp.mulBase(seedScalar(`p/${i}`), true)));
        await (await ledger.registerMeters(keys)).wait(); // K = 8: 16 slots per interval
        let j = 10;
        await fc.assert(
          fc.asyncProperty(
            fc.array(
              fc.record({
                pick: fc.constantFrom("last", "zero", "earlier", "random"),
                random: fc.uint8Array({ minLength: 32, maxLength: 32 }),
              }),
              { minLength: 1, maxLength: 6 },
            ),
            async (attempts) => {
              j++;
              await (await ledger.openInterval(j, WINDOW.start, WINDOW.end)).wait();
              const posted: Uint8Array[] = [];
              let rank = 0;
              for (const a of attempts) {
                const last = posted.at(-1) ?? new Uint8Array(32);
                const predecessor =
                  a.pick === "last"
                    ? last
                    : a.pick === "zero"
                      ? new Uint8Array(32)
                      : a.pick === "earlier" && posted.length > 1
                        ? posted[posted.length - 2]
                        : a.random;
                const id = idOf(++rank, j);
                const applies = compareIds(predecessor, last) === 0;
                const tx = ledger.postOcdAfter(j, toHex0x(predecessor), "0x", [toHex0x(id)]);
                if (applies) {
                  await (await tx).wait();
                  posted.push(id);
                } else {
                  await expect(tx)
                    .to.be.revertedWithCustomError(ledger, "BillingLedgerPredecessorMismatch")
                    .withArgs(j, toHex0x(predecessor), toHex0x(last));
                }
                const rec = await ledger.intervalRecord(j);
                expect(rec.lastId).to.equal(toHex0x(posted.at(-1) ?? new Uint8Array(32)));
                expect(Number(rec.zeroCount)).to.equal(posted.length);
              }
            },
          ),
          { numRuns: 12 },
        );
      } finally {
        rig.dispose();
      }
    });

    it("a ContractRevertError names the predecessor mismatch (chain/errors.ts decodes it)", async function () {
      const { ethers } = await network.create();
      const [admin, controlCenter, serviceProvider] = await ethers.getSigners();
      const rig = await postingRig({ admin, controlCenter, serviceProvider }, 1);
      try {
        await (await rig.ledger.openInterval(1, WINDOW.start, WINDOW.end)).wait();
        const wrong = new Uint8Array(32).fill(1);
        const { controlCenterChainClient } = await import("../../offchain/chain/oksuz-clients.ts");
        const sender = await controlCenterChainClient(rig.ledger).ocdSender!();
        const entry = rig.meters[0].reportInterval(1, 150n, T).entries[0];
        const err = await sender
          .send(1, wrong, [entry], PackedPseudonyms.EMPTY, 500_000n)
          .then((p) => p.mined)
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err).to.be.instanceOf(ContractRevertError);
        expect((err as ContractRevertError).is("BillingLedgerPredecessorMismatch", 1)).to.equal(
          true,
        );
      } finally {
        rig.dispose();
      }
    });
  });
});
