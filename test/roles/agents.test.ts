// One agent at a time (issue 11 "an agent-level test per role"): each Oksuz agent on a
// MemoryNetwork and a VirtualClock, its peers played by the test over the wire, its chain client a
// stub. What each must do on its own: the meter spreads, resends and stops; the user takes only its
// meter's batch and verifies only final intervals; SP bills what is sealed and resends what the
// chain lacks; CC waits for registrations, announces, answers with receipts and ends early.
import { PseudonymIndex } from "../../offchain/protocol/pseudonym-index.ts";
import { expect } from "chai";

import { ControlCenterAgent } from "../../offchain/cc/agent.ts";
import type { ControlCenterChainClient } from "../../offchain/cc/chain-client.ts";
import {
  ControlCenterService,
  ControlCenterServiceError,
  type ControlCenterServiceInit,
} from "../../offchain/cc/service.ts";
import { gcFunction } from "../../offchain/bench/heap.ts";
import { MeterAgent, MeterAgentError, relayDirectory } from "../../offchain/meter/agent.ts";
import type { ReadingSource } from "../../offchain/meter/source/source.ts";
import { OnionExit, OnionRelay } from "../../offchain/onion/relay.ts";
import { encodeHopPayload, onionAssociatedData } from "../../offchain/onion/report.ts";
import { buildOnion } from "../../offchain/onion/sphinx.ts";
import { INTERVAL_STATE } from "../../offchain/protocol/billing.ts";
import type { IntervalReport } from "../../offchain/protocol/ledger-audit.ts";
import type { LedgerEntry } from "../../offchain/protocol/entry.ts";
import { decodeMeterReport, encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { decodeWire, encodeWire, type WireMessage } from "../../offchain/protocol/wire/index.ts";
import { VirtualClock } from "../../offchain/runtime/clock.ts";
import { MemoryNetwork } from "../../offchain/runtime/network.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { SecretStore } from "../../offchain/runtime/secret-box.ts";
import { Store } from "../../offchain/runtime/store.ts";
import type { ServiceProviderChainClient } from "../../offchain/sp/chain-client.ts";
import { ServiceProviderAgent } from "../../offchain/sp/agent.ts";
import type { ServiceProvider } from "../../offchain/sp/service-provider.ts";
import { UserAgent } from "../../offchain/user/agent.ts";
import { User } from "../../offchain/user/user.ts";
import {
  CATEGORIES,
  DOMAIN,
  WINDOW,
  ccKeys,
  makeMeter,
  seedScalar,
  reportFromSp,
  makeServiceProvider,
} from "./fixtures.ts";

const T = WINDOW.end - 1n;
const ROUND = 200;
const TARIFF = { breakpointsWh: [0n, 1_000n], values: [2n, 3n], cap: 5n };

function net(seed: string) {
  const clock = new VirtualClock({ startMs: 0 });
  const network = new MemoryNetwork(
    { latency: { baseMs: 20, jitterMs: 10 } },
    { clock, rng: createRng(seed) },
  );
  return { clock, network };
}

/** An endpoint the test plays, recording every wire message it receives with its time. */
function peer(network: MemoryNetwork, clock: VirtualClock, address: string) {
  const got: { from: string; at: number; message: WireMessage }[] = [];
  const endpoint = network.endpoint(address);
  endpoint.handle(
    (from, bytes) => void got.push({ from, at: clock.now(), message: decodeWire(bytes) }),
  );
  endpoint.start();
  return { endpoint, got, send: (to: string, m: WireMessage) => endpoint.send(to, encodeWire(m)) };
}

const constantReadings = (wh: bigint): ReadingSource => ({
  consumptionWh: async () => wh,
  close: async () => {},
});

describe("Oksuz agents, one at a time", function () {
  describe("MeterAgent", function () {
    /** meter-0 under test; meter-1 relays (path length 1); the test plays CC and user-0. */
    async function setup(seed = "meter", userBatchDelayMs?: number) {
      const { clock, network } = net(seed);
      const cc = ccKeys();
      const meters = [0, 1].map((i) => makeMeter(i, cc));
      const exit = new OnionExit({ privateKey: cc.secretKey, domain: DOMAIN, epoch: 0 });
      const ccPeer = peer(network, clock, "cc");
      const reports: { at: number; counter: number }[] = [];
      const userPeer = peer(network, clock, "user-0");
      const directory = relayDirectory(
        meters.map((m) => m.publicKey),
        ["meter-0", "meter-1"],
        { publicKey: cc.publicKey, address: "cc" },
      );
      const agents = meters.map(
        (meter, i) =>
          new MeterAgent(
            {
              address: `meter-${i}`,
              userAddress: `user-${i}`,
              ccPublicKey: cc.publicKey,
              domain: DOMAIN,
              pathLength: 1,
              roundMs: ROUND,
              registrationSecret: seedScalar(`eph-${i}`),
              userBatchDelayMs,
            },
            {
              meter,
              relay: new OnionRelay({
                privateKey: seedScalar(`meter-${i}`),
                domain: DOMAIN,
                epoch: 0,
              }),
              transport: network.endpoint(`meter-${i}`),
              clock,
              rng: createRng(`${seed}/${i}`),
              readings: constantReadings(1_850n),
              directory,
            },
          ),
      );
      for (const a of agents) await a.start();
      // CC announces to both meters (every relay moves to the interval's onion epoch) and its
      // exit rotates with them.
      const announce = (interval: number, windowMs: number) => {
        exit.rotateEpoch(interval);
        for (const to of ["meter-0", "meter-1"]) {
          ccPeer.send(to, {
            type: "intervalAnnouncement",
            announcement: { interval, start: WINDOW.start, end: WINDOW.end, windowMs },
          });
        }
      };
      // CC's side: peel what reaches it and note which counter it was.
      const pseudonyms = new Map<string, number>();
      const onCc = () => {
        for (const { message, at } of ccPeer.got.splice(0)) {
          if (message.type !== "onionPacket") continue;
          const r = exit.receive(message.packet);
          if (!r.accepted) continue;
          const entry = decodeMeterReport(r.message);
          const key = Buffer.from(entry.id).toString("hex");
          const counter = pseudonyms.get(key);
          if (counter !== undefined) reports.push({ at, counter }); // meter-1's own: not ours
        }
      };
      return {
        clock,
        network,
        agents,
        meters,
        ccPeer,
        userPeer,
        announce,
        onCc,
        reports,
        pseudonyms,
      };
    }

    it("registers until announced, spreads its K onions over the send rounds, resends until the window closes, then hands its user the batch until confirmed", async function () {
      const s = await setup();
      await s.clock.advanceAsync(5 * ROUND);
      const registrations = s.ccPeer.got.filter((g) => g.message.type === "meterRegistration");
      expect(
        registrations.length,
        "registration sent, and again without an announcement",
      ).to.be.at.least(1);
      s.ccPeer.got.splice(0);
      s.announce(1, 20_000);
      await s.clock.advanceAsync(10 * ROUND);
      await s.agents[0].idle();
      const record = s.agents[0].interval(1)!;
      record.report.entries.forEach((e, i) =>
        s.pseudonyms.set(Buffer.from(e.id).toString("hex"), i + 1),
      );
      s.onCc();
      expect(s.reports.map((r) => r.counter).sort((a, b) => a - b)).to.deep.equal([
        1, 2, 3, 4, 5, 6, 7, 8,
      ]);
      expect(new Set(s.reports.map((r) => r.at)).size, "not one burst").to.be.greaterThan(1);
      expect(s.agents[0].status()).to.deep.include({ interval: 1, registered: true });
      // No receipt: resends every 12 rounds while the window is open.
      await s.clock.advanceAsync(20_000);
      s.onCc();
      expect(s.reports.length).to.be.greaterThan(8);
      const afterWindow = s.reports.length;
      const batches = s.userPeer.got.filter((g) => g.message.type === "userBatch");
      expect(batches.length).to.be.at.least(1);
      const batch = batches[0].message as Extract<WireMessage, { type: "userBatch" }>;
      expect(batch.interval).to.equal(1);
      expect(batch.slots.length).to.equal(8);
      // Window closed: no more onions; the batch comes again until the user confirms it.
      await s.clock.advanceAsync(30 * ROUND);
      s.onCc();
      expect(s.reports.length).to.equal(afterWindow);
      expect(s.userPeer.got.filter((g) => g.message.type === "userBatch").length).to.be.greaterThan(
        1,
      );
      // Until the household confirms, the meter keeps the K report bytes (one buffer) …
      const kept = s.meters[0].reportsSent(1)!;
      expect(s.meters[0].reportsSent(1)).to.equal(kept);
      s.userPeer.send("meter-0", { type: "userBatchReceipt", interval: 1 });
      await s.clock.advanceAsync(ROUND);
      s.userPeer.got.splice(0);
      await s.clock.advanceAsync(30 * ROUND);
      expect(s.userPeer.got).to.deep.equal([]);
      expect(s.agents[0].interval(1)!.userBatchAcked).to.equal(true);
      // … and releases them at the receipt (issue 14, `Meter.releaseSent`): the same bytes,
      // signed again on demand, in a fresh buffer.
      const again = s.meters[0].reportsSent(1)!;
      expect(again).to.not.equal(kept);
      expect(again).to.deep.equal(kept);
      for (const a of s.agents) await a.stop();
    });

    it("with userBatchDelayMs the batch leaves within that delay after the close, drawn apart from every other choice: the onions go as without it (issue 14, session 10)", async function () {
      const windowMs = 4_000;
      const delayMs = 6 * ROUND;
      const run = async (delay?: number) => {
        const s = await setup("meter-delay", delay);
        await s.clock.advanceAsync(5 * ROUND);
        s.ccPeer.got.splice(0);
        const announcedAt = s.clock.now();
        s.announce(1, windowMs);
        await s.clock.advanceAsync(windowMs + 2 * delayMs);
        const onions = s.ccPeer.got
          .filter((g) => g.message.type === "onionPacket")
          .map((g) => [
            g.at,
            Buffer.from((g.message as { packet: Uint8Array }).packet).toString("hex"),
          ]);
        const batches = s.userPeer.got.filter((g) => g.message.type === "userBatch");
        for (const a of s.agents) await a.stop();
        return { announcedAt, onions, firstBatchAt: batches[0]?.at, batches: batches.length };
      };
      const plain = await run();
      const spread = await run(delayMs);
      expect(spread.onions, "the same onions at the same times").to.deep.equal(plain.onions);
      expect(plain.onions.length).to.be.at.least(8);
      expect(plain.firstBatchAt, "a batch without the delay").to.be.a("number");
      expect(spread.firstBatchAt, "a batch with the delay").to.be.a("number");
      // Both close the window at the same time; only the batch waits.
      const waited = spread.firstBatchAt! - plain.firstBatchAt!;
      expect(waited, "the batch left later, within the delay")
        .to.be.greaterThan(0)
        .and.below(delayMs);
      expect(spread.batches, "resent until confirmed, as without the delay").to.be.at.least(1);
      // The same draw every run (a fork of the agent's generator, labelled by the interval).
      expect((await run(delayMs)).firstBatchAt).to.equal(spread.firstBatchAt);
    });

    it("refuses a userBatchDelayMs that is not an integer ≥ 0", async function () {
      for (const bad of [-1, 1.5, Number.NaN]) {
        let caught: unknown;
        try {
          await setup("meter-bad-delay", bad);
        } catch (err) {
          caught = err;
        }
        expect(caught, String(bad)).to.be.instanceOf(MeterAgentError);
        expect((caught as Error).message).to.match(/userBatchDelayMs/);
      }
    });

    it("a full receipt stops the resends; a resend request is answered at once; strangers are refused", async function () {
      const s = await setup("meter-2");
      // An announcement from anyone but CC is refused: no interval, no onion.
      peer(s.network, s.clock, "x").send("meter-0", {
        type: "intervalAnnouncement",
        announcement: { interval: 1, start: WINDOW.start, end: WINDOW.end, windowMs: 20_000 },
      });
      await s.clock.advanceAsync(10 * ROUND);
      expect(s.agents[0].status()).to.deep.include({ interval: 0, onionsSent: 0, refused: 1 });
      s.announce(1, 20_000);
      await s.clock.advanceAsync(10 * ROUND);
      s.ccPeer.send("meter-0", {
        type: "ccReceipt",
        receipt: { interval: 1, meter: 0, counters: [1, 2, 3, 4, 5, 6, 7, 8] },
      });
      await s.clock.advanceAsync(ROUND);
      const sent = s.agents[0].status().onionsSent;
      await s.clock.advanceAsync(50 * ROUND);
      expect(s.agents[0].status().onionsSent, "no resend after a full receipt").to.equal(sent);
      expect(s.agents[0].status().reportsAcked).to.equal(8);
      s.ccPeer.send("meter-0", {
        type: "ccResendRequest",
        request: { interval: 1, meter: 0, counter: 3 },
      });
      await s.clock.advanceAsync(ROUND);
      expect(s.agents[0].status()).to.deep.include({ onionsSent: sent + 1, resent: 1 });
      for (const a of s.agents) await a.stop();
    });
  });

  describe("UserAgent", function () {
    /** A meter's interval 3 on a chain whose state the test sets (`chain.state`). */
    function userFixture() {
      const cc = ccKeys();
      const meter = makeMeter(0, cc);
      const report = meter.reportInterval(3, 1_850n, T);
      const ocd = [...report.entries]
        .filter((e) => e.value !== 0n)
        .sort((a, b) => Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)));
      const sp = makeServiceProvider(cc);
      const price = sp.price(TARIFF, sp.aggregate(ocd));
      const batches = sp.billBatches(3, ocd, price, T);
      const chain = { state: INTERVAL_STATE.Billing as number };
      const onChain = (): IntervalReport =>
        reportFromSp({
          interval: 3,
          state: chain.state as IntervalReport["state"],
          sp,
          ocd,
          zeroSlots: PseudonymIndex.of(
            report.entries.filter((e) => e.value === 0n).map((e) => e.id),
          ),
          expectedSlots: 8,
          price,
          timestamp: T,
          batches,
        });
      return { meter, report, sp, chain, onChain };
    }

    it("takes only its meter's batch, confirms it, and verifies only a final interval", async function () {
      const { clock, network } = net("user");
      const { meter, report, sp, chain: ledger, onChain } = userFixture();
      let reads = 0;
      const agent = new UserAgent(
        { meterAddress: "meter-0", intervals: 1, firstInterval: 3, pollMs: ROUND },
        {
          user: new User({
            meterIndex: 0,
            domain: DOMAIN,
            meterBasePublicKey: meter.basePublicKey,
            spSigPk: sp.sigPk,
          }),
          chain: { readInterval: async () => (reads++, onChain()) },
          transport: network.endpoint("user-0"),
          clock,
        },
      );
      await agent.start();
      const meterPeer = peer(network, clock, "meter-0");
      const other = peer(network, clock, "meter-1");
      other.send("user-0", { type: "userBatch", interval: 3, slots: report.userBatch });
      await clock.advanceAsync(5 * ROUND);
      expect(agent.status()).to.deep.include({ batchesReceived: 0, refused: 1 });
      expect(reads, "no chain read before the batch").to.equal(0);
      meterPeer.send("user-0", { type: "userBatch", interval: 3, slots: report.userBatch });
      await clock.advanceAsync(5 * ROUND);
      expect(meterPeer.got.map((g) => g.message)).to.deep.include({
        type: "userBatchReceipt",
        interval: 3,
      });
      expect(agent.checks, "not final yet").to.deep.equal([]);
      ledger.state = INTERVAL_STATE.Final;
      await clock.advanceAsync(2 * ROUND);
      await agent.done;
      expect(agent.checks.map((c) => [c.interval, c.verified])).to.deep.equal([[3, true]]);
      expect(agent.status()).to.deep.include({ billsVerified: 1, billsDisputed: 0 });
      await agent.stop();
    });

    it("with intervalState, polls read the interval's state only and the whole interval once final; the kept batch checks the same (issue 14)", async function () {
      const { clock, network } = net("user-state");
      const { meter, report, sp, chain: ledger, onChain } = userFixture();
      const calls = { full: 0, state: 0 };
      const agent = new UserAgent(
        {
          meterAddress: "meter-0",
          intervals: 1,
          firstInterval: 3,
          pollMs: ROUND,
          batchTimeoutMs: 50 * ROUND,
        },
        {
          user: new User({
            meterIndex: 0,
            domain: DOMAIN,
            meterBasePublicKey: meter.basePublicKey,
            spSigPk: sp.sigPk,
          }),
          chain: {
            readInterval: async () => (calls.full++, onChain()),
            intervalState: async () => (calls.state++, ledger.state as never),
          },
          transport: network.endpoint("user-0"),
          clock,
        },
      );
      await agent.start();
      peer(network, clock, "meter-0").send("user-0", {
        type: "userBatch",
        interval: 3,
        slots: report.userBatch,
      });
      await clock.advanceAsync(5 * ROUND);
      expect(calls.full, "not final: no full read").to.equal(0);
      expect(calls.state).to.be.at.least(4);
      ledger.state = INTERVAL_STATE.Final;
      await clock.advanceAsync(2 * ROUND);
      await agent.done;
      expect(calls.full).to.equal(1);
      expect(agent.checks.map((c) => [c.interval, c.verified, c.entries])).to.deep.equal([
        [3, true, report.chunks],
      ]);
      await agent.stop();
    });
  });

  describe("ServiceProviderAgent", function () {
    function sealedInterval(tamper = false) {
      const cc = ccKeys();
      const meters = [0, 1].map((i) => makeMeter(i, cc));
      const ocd = meters
        .flatMap((m) => m.reportInterval(1, 900n, T).entries)
        .filter((e) => e.value !== 0n)
        .sort((a, b) => Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)))
        .map((e, i) => (tamper && i === 0 ? { ...e, value: e.value + 1n } : e));
      const sp = makeServiceProvider(cc, 2);
      return { ocd, sp };
    }

    /**
     * A relayed SP's chain: the interval as `chainState` says (its OCD fixed), counted reads in
     * `calls`, `intervalCounts` only when `withCounts`; any write fails the test.
     */
    function relayedSpChain(
      ocd: LedgerEntry[],
      chainState: { state: number; dap: number; bills: number },
      withCounts: boolean,
    ) {
      const calls = { full: 0, counts: 0 };
      const chain: ServiceProviderChainClient = {
        readInterval: async (j) => {
          calls.full++;
          return {
            interval: j,
            state: chainState.state,
            window: WINDOW,
            tariffVersion: 1,
            ocd,
            dap: Array(chainState.dap).fill(undefined),
            bills: Array(chainState.bills).fill(undefined),
          } as unknown as IntervalReport;
        },
        ...(withCounts && {
          intervalCounts: async () => {
            calls.counts++;
            return {
              state: chainState.state as never,
              dapCount: chainState.dap,
              billCount: chainState.bills,
            };
          },
        }),
        readTariff: async () => TARIFF,
        postDap: async () => expect.fail("relayed SP never posts"),
        postBills: async () => expect.fail("relayed SP never posts"),
        closeBilling: async () => expect.fail("relayed SP never posts"),
      };
      return { chain, calls };
    }

    /** A relayed SP agent over `chain` on network endpoint "sp", started, and CC's peer. */
    async function startRelayedSp(
      sp: ServiceProvider,
      chain: ServiceProviderChainClient,
      clock: ReturnType<typeof net>["clock"],
      network: ReturnType<typeof net>["network"],
    ) {
      const agent = new ServiceProviderAgent(
        { intervals: 1, mode: "relayed", pollMs: ROUND, resendMs: 10 * ROUND },
        { sp, chain, clock, transport: network.endpoint("sp") },
      );
      const ccPeer = peer(network, clock, "cc");
      await agent.start();
      return { agent, ccPeer };
    }

    it("relayed: sends DAP and bill batches to CC, again for what the chain lacks, until final", async function () {
      const { clock, network } = net("sp");
      const { ocd, sp } = sealedInterval();
      const chainState = { state: INTERVAL_STATE.OcdSealed as number, dap: 0, bills: 0 };
      const { chain } = relayedSpChain(ocd, chainState, false);
      const { agent, ccPeer } = await startRelayedSp(sp, chain, clock, network);
      await clock.advanceAsync(2 * ROUND);
      const first = ccPeer.got.splice(0).map((g) => g.message.type);
      const batches = Math.ceil(ocd.length / 2);
      expect(first).to.deep.equal(["dapEntries", ...Array(batches).fill("billBatch")]);
      // CC posted the DAP and the first batch only: SP resends the rest, not the DAP.
      chainState.state = INTERVAL_STATE.Billing;
      chainState.dap = 1;
      chainState.bills = 2;
      await clock.advanceAsync(11 * ROUND);
      expect(ccPeer.got.splice(0).map((g) => g.message.type)).to.deep.equal(
        Array(batches - 1).fill("billBatch"),
      );
      chainState.state = INTERVAL_STATE.Final;
      await clock.advanceAsync(12 * ROUND);
      await agent.done;
      expect(agent.status()).to.deep.include({ billedThrough: 1, phase: "done" });
      expect(agent.prices.get(1)).to.equal(sp.price(TARIFF, sp.aggregate(ocd)));
    });

    it("with intervalCounts, polls read the interval's record only: the whole interval is read when sealed and when final (issue 14)", async function () {
      const { clock, network } = net("sp-counts");
      const { ocd, sp } = sealedInterval();
      const chainState = { state: INTERVAL_STATE.Open as number, dap: 0, bills: 0 };
      const { chain, calls } = relayedSpChain(ocd, chainState, true);
      const { agent, ccPeer } = await startRelayedSp(sp, chain, clock, network);
      await clock.advanceAsync(5 * ROUND);
      expect(calls.full, "open: no full read").to.equal(0);
      expect(calls.counts).to.be.at.least(5);
      chainState.state = INTERVAL_STATE.OcdSealed;
      await clock.advanceAsync(2 * ROUND);
      expect(calls.full, "sealed: one full read").to.equal(1);
      const batches = Math.ceil(ocd.length / 2);
      expect(ccPeer.got.splice(0).map((g) => g.message.type)).to.deep.equal([
        "dapEntries",
        ...Array(batches).fill("billBatch"),
      ]);
      // The resend follows the stored counts: the DAP and the first batch are on-chain.
      chainState.state = INTERVAL_STATE.Billing;
      chainState.dap = 1;
      chainState.bills = 2;
      await clock.advanceAsync(11 * ROUND);
      expect(ccPeer.got.splice(0).map((g) => g.message.type)).to.deep.equal(
        Array(batches - 1).fill("billBatch"),
      );
      expect(calls.full, "billing: still one full read").to.equal(1);
      chainState.state = INTERVAL_STATE.Final;
      await clock.advanceAsync(2 * ROUND);
      await agent.done;
      expect(calls.full, "final: read once more").to.equal(2);
      expect(agent.status()).to.deep.include({ billedThrough: 1, phase: "done" });
    });

    it("refuses to bill a sealed ledger whose OCD entries do not verify", async function () {
      const { clock } = net("sp-bad");
      const { ocd, sp } = sealedInterval(true);
      const agent = new ServiceProviderAgent(
        { intervals: 1, mode: "direct", userPublicKeys: [] },
        {
          sp,
          clock,
          chain: {
            readInterval: async () =>
              ({
                interval: 1,
                state: INTERVAL_STATE.OcdSealed,
                window: WINDOW,
                tariffVersion: 1,
                ocd,
                dap: [],
                bills: [],
              }) as unknown as IntervalReport,
            readTariff: async () => TARIFF,
            postDap: async () => expect.fail("must not post"),
            postBills: async () => expect.fail("must not post"),
            closeBilling: async () => expect.fail("must not post"),
          },
        },
      );
      await agent.start();
      let error: unknown;
      await agent.done.catch((e) => (error = e));
      expect((error as Error).name).to.equal("ServiceProviderAgentError");
      expect(agent.status().phase).to.equal("failed");
    });
  });

  /** CC's service settings of these tests: 2 meters, one interval of {@link WINDOW}, K = 8. */
  function ccServiceInit(
    init: Partial<ControlCenterServiceInit> & Pick<ControlCenterServiceInit, "windowMs">,
  ): ControlCenterServiceInit {
    return {
      meters: 2,
      intervals: 1,
      startTime: WINDOW.start,
      intervalSeconds: Number(WINDOW.end - WINDOW.start),
      categories: CATEGORIES,
      slots: 8,
      ...init,
    };
  }

  /**
   * CC's chain as the service tests see it: an interval state machine (none → open → OCD sealed)
   * that records each write as a line ("register N", "open j", "post j real+zero", "seal j");
   * `registered` also gets the registered keys.
   */
  function recordingCcChain(
    record: (call: string) => void,
    hooks: { registered?: (keys: readonly Uint8Array[]) => void } = {},
  ): ControlCenterChainClient {
    let state: number = INTERVAL_STATE.None;
    return {
      meterCount: async () => 0,
      registerMeters: async (pks) => {
        record(`register ${pks.length}`);
        hooks.registered?.(pks);
      },
      intervalProgress: async () => ({
        state: state as never,
        lastId: new Uint8Array(32),
        ocdCount: 0,
        billCount: 0,
        dapCount: 0,
      }),
      openInterval: async (j) => void (record(`open ${j}`), (state = INTERVAL_STATE.Open)),
      postOcdBatch: async (j, real, zero) => void record(`post ${j} ${real.length}+${zero.count}`),
      sealInterval: async (j) => void (record(`seal ${j}`), (state = INTERVAL_STATE.OcdSealed)),
      postDap: async () => {},
      postBills: async () => {},
      closeBilling: async () => {},
    };
  }

  describe("ControlCenterService", function () {
    it("waits for every registration, announces, answers with receipts, ends the window early and seals", async function () {
      const { clock, network } = net("cc");
      const cc = ccKeys();
      const meters = [0, 1].map((i) => makeMeter(i, cc));
      const store = Store.open({ path: ":memory:" });
      const secrets = SecretStore.open(store, { key: new Uint8Array(32).fill(7) });
      const calls: string[] = [];
      const registeredKeys: WeakRef<Uint8Array>[] = [];
      const chain = recordingCcChain((call) => calls.push(call), {
        registered: (pks) => {
          for (const pk of pks) registeredKeys.push(new WeakRef(pk));
        },
      });
      const agent = ControlCenterAgent.start(
        { keys: cc, domain: DOMAIN, maxMessagesPerMeter: 8 },
        { store, secrets, chain },
      );
      // Issue 14: the service answers from the interval table in O(K) per admission; it rebuilt
      // every receipt from every admitted report (`receipts`, O(admitted)) each time, O(N²).
      let rebuilds = 0;
      const rebuildAll = agent.receipts.bind(agent);
      agent.receipts = (j: number) => (rebuilds++, rebuildAll(j));
      const steps: string[] = [];
      const service = new ControlCenterService(ccServiceInit({ windowMs: 600_000 }), {
        agent,
        chain,
        transport: network.endpoint("cc"),
        clock,
        step: (s) => steps.push(`${s.task} ${s.done}/${s.total}`),
      });
      await service.start();
      const m = meters.map((_, i) => peer(network, clock, `meter-${i}`));
      m[0].send("cc", {
        type: "meterRegistration",
        registration: meters[0].registration(seedScalar("eph-0")),
      });
      // A registration from another address than the meter's own is refused.
      m[0].send("cc", {
        type: "meterRegistration",
        registration: meters[1].registration(seedScalar("eph-1")),
      });
      await clock.advanceAsync(5 * ROUND);
      expect(service.status()).to.deep.include({ phase: "registration", refused: 1 });
      m[1].send("cc", {
        type: "meterRegistration",
        registration: meters[1].registration(seedScalar("eph-1")),
      });
      for (let i = 0; i < 10 && service.status().phase !== "admission"; i++)
        await clock.advanceAsync(ROUND);
      expect(calls.slice(0, 2)).to.deep.equal(["register 2", "open 1"]);
      // The heard registrations are dropped once stored (issue 14: `#run` kept them in its
      // context for the whole run, ≈ 0.8 kB per meter).
      const gc = gcFunction();
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      expect(registeredKeys).to.have.length(2);
      expect(registeredKeys.filter((r) => r.deref() !== undefined)).to.have.length(0);
      const announced = m.map((p) => p.got.find((g) => g.message.type === "intervalAnnouncement"));
      expect(announced.every((a) => a !== undefined)).to.equal(true);
      // Both meters' K reports as the last relay hands them to CC: receipts come back, cumulative.
      const ad = onionAssociatedData(DOMAIN, 1);
      let real = 0; // chunks go to the OCD ledger, dummies to the zero slots
      for (const [i, meter] of meters.entries()) {
        for (const [k, entry] of meter.reportInterval(1, 1_000n, T).entries.entries()) {
          if (entry.value !== 0n) real++;
          const packet = buildOnion({
            sessionKey: seedScalar(`session-${i}-${k}`),
            hops: [
              {
                pubkey: cc.publicKey,
                payload: encodeHopPayload({ kind: "deliver", message: encodeMeterReport(entry) }),
              },
            ],
            associatedData: ad,
          });
          m[1 - i].send("cc", { type: "onionPacket", packet });
        }
      }
      for (let i = 0; i < 20 && service.status().phase !== "done"; i++)
        await clock.advanceAsync(ROUND);
      await service.done;
      const receipts = m[0].got
        .map((g) => g.message)
        .filter((x): x is Extract<WireMessage, { type: "ccReceipt" }> => x.type === "ccReceipt");
      expect(receipts.at(-1)!.receipt).to.deep.equal({
        interval: 1,
        meter: 0,
        counters: [1, 2, 3, 4, 5, 6, 7, 8],
      });
      // Every slot in long before the 600 s window: CC posts and seals at once.
      expect(clock.now()).to.be.below(60_000);
      expect(calls.slice(2)).to.deep.equal([`post 1 ${real}+${16 - real}`, "seal 1"]);
      expect(service.status()).to.deep.include({ phase: "done", sealed: 1, registered: 2 });
      expect(rebuilds, "no whole-interval receipt rebuild by the service").to.equal(0);
      const all = rebuildAll(1);
      for (const i of [0, 1]) {
        expect(agent.receiptOf(1, i)).to.deep.equal([...all.get(i)!].sort((a, b) => a - b));
      }
      expect(agent.receiptOf(1, 7), "unknown meter").to.deep.equal([]);
      expect(agent.center.completeMeters(1)).to.equal(2);
      // Counted progress: registrations as they are heard, then admissions out of N × K.
      expect(steps.slice(0, 2)).to.deep.equal([
        "registrations heard 1/2",
        "registrations heard 2/2",
      ]);
      expect(steps.filter((x) => x.startsWith("reports admitted")).at(-1)).to.equal(
        "reports admitted 16/16",
      );
      // Then the posting of the 16 slots (issue 14: minutes of transactions at city scale).
      expect(steps.at(-1)).to.equal("OCD slots posted 16/16");
      await service.stop();
      store.close();
    });

    it("with a closing grace, admits nothing once the window has ended and posts only after the grace (issue 14, session 9)", async function () {
      const { clock, network } = net("cc-grace");
      const cc = ccKeys();
      const meters = [0, 1].map((i) => makeMeter(i, cc));
      const store = Store.open({ path: ":memory:" });
      const secrets = SecretStore.open(store, { key: new Uint8Array(32).fill(7) });
      const posted: { call: string; at: number }[] = [];
      const chain = recordingCcChain((call) => {
        if (call.startsWith("post") || call.startsWith("seal"))
          posted.push({ call, at: clock.now() });
      });
      const agent = ControlCenterAgent.start(
        { keys: cc, domain: DOMAIN, maxMessagesPerMeter: 8 },
        { store, secrets, chain },
      );
      const windowMs = 10_000;
      const graceMs = 4_000;
      const service = new ControlCenterService(
        ccServiceInit({ windowMs, closingGraceMs: graceMs }),
        { agent, chain, transport: network.endpoint("cc"), clock },
      );
      await service.start();
      const m = meters.map((_, i) => peer(network, clock, `meter-${i}`));
      for (const [i, meter] of meters.entries()) {
        m[i].send("cc", {
          type: "meterRegistration",
          registration: meter.registration(seedScalar(`eph-${i}`)),
        });
      }
      for (let i = 0; i < 10 && service.status().phase !== "admission"; i++)
        await clock.advanceAsync(ROUND);
      expect(service.status().phase).to.equal("admission");
      const openedAt = clock.now();
      const ad = onionAssociatedData(DOMAIN, 1);
      const onions = meters.map((meter, i) =>
        meter.reportInterval(1, 1_000n, T).entries.map((entry, k) =>
          buildOnion({
            sessionKey: seedScalar(`grace-${i}-${k}`),
            hops: [
              {
                pubkey: cc.publicKey,
                payload: encodeHopPayload({ kind: "deliver", message: encodeMeterReport(entry) }),
              },
            ],
            associatedData: ad,
          }),
        ),
      );
      // 15 of the 16 reports in the window; meter 1's last one is held back, so the window runs
      // to its deadline.
      for (const [i, packets] of onions.entries()) {
        for (const packet of i === 1 ? packets.slice(0, 7) : packets)
          m[1 - i].send("cc", { type: "onionPacket", packet });
      }
      while (clock.now() < openedAt + windowMs + ROUND) await clock.advanceAsync(ROUND);
      // The window has ended: CC is in its grace, nothing posted, admission over.
      expect(service.status()).to.deep.include({ phase: "posting", sealed: 0, admitted: 15 });
      expect(service.windowClosed).to.equal(1);
      expect(posted).to.deep.equal([]);
      const heardBefore = m[1].got.length;
      // The held-back report arrives during the grace: refused, as one arriving while CC posts.
      m[0].send("cc", { type: "onionPacket", packet: onions[1][7] });
      for (let i = 0; i < 60 && service.status().phase !== "done"; i++)
        await clock.advanceAsync(ROUND);
      await service.done;
      expect(agent.center.stats(1).admitted, "nothing admitted during the grace").to.equal(15);
      expect(agent.receiptOf(1, 1)).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
      expect(
        m[1].got.slice(heardBefore).map((g) => g.message.type),
        "CC sends meters nothing during the grace",
      ).to.deep.equal([]);
      // Posted and sealed only once the grace has run out, after the deadline.
      expect(posted.map((p) => p.call.split(" ")[0])).to.deep.equal(["post", "seal"]);
      // CC's deadline: its announcement's send time (≤ 30 ms of latency before it arrived) + window.
      const announcedAt = m[0].got.find((g) => g.message.type === "intervalAnnouncement")!.at;
      const deadline = announcedAt - 30 + windowMs;
      expect(posted[0].at).to.be.at.least(deadline + graceMs);
      expect(posted[0].at).to.be.below(deadline + graceMs + 2 * ROUND);
      expect(service.status()).to.deep.include({ phase: "done", sealed: 1 });
      await service.stop();
      store.close();
    });

    it("refuses a negative closing grace", function () {
      const { clock, network } = net("cc-grace-bad");
      expect(
        () =>
          new ControlCenterService(
            ccServiceInit({ meters: 1, windowMs: 1_000, closingGraceMs: -1 }),
            {
              agent: {} as ControlCenterAgent,
              chain: {} as ControlCenterChainClient,
              transport: network.endpoint("cc"),
              clock,
            },
          ),
      ).to.throw(ControlCenterServiceError, /closingGraceMs/);
    });
  });
});
