// Oksuz 2020 end to end (issue "Oksuz end to end"): N meters that are also onion relays, the
// control center, the service provider and the users, over the in-memory network (latency, loss,
// reordering; virtual clock; deterministic given the seed), against a real chain (Hardhat's
// in-process network, `hardhat node`, or any JSON-RPC URL). Consumption comes from the synthetic
// household load model (offchain/sim/load-model.ts).
//
// One interval j:
//   1. CC opens j on-chain and for admission (pseudonyms precomputed).
//   2. Every meter measures, splits into category chunks, signs one OCD entry per chunk and sends
//      each in its own Sphinx onion through `pathLength` other meters; relays batch and shuffle per
//      round. CC peels the last layer and admits.
//   3. CC sends each meter a receipt of the counters it admitted (its direct channel: CC is trusted
//      and knows the link anyway); meters resend what is missing (lost, or refused as damaged).
//   4. Meters deliver the interval's pseudonyms to their users in one batch.
//   5. CC posts the admitted entries sorted by pseudonym, resuming after what the chain holds, and
//      seals. SP reads the sealed ledger from events, checks it, prices it by the public tariff,
//      posts DAP and the bill batches (through CC in relayed mode, itself in direct mode).
//   6. Every user rebuilds the interval from events and verifies its own bill.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";

import type { Interface, Signer } from "ethers";

import { bytesToHex } from "../crypto/bytes.ts";
import { keyPairFromSecret, meterKeysFromSecret, randomSecretKey } from "../crypto/keys.ts";
import {
  ENTRY_PROBLEM,
  closeBilling,
  connectBillingLedger,
  postBills,
  postDap,
  readDomain,
} from "../chain/billing.ts";
import {
  DeploymentMismatchError,
  attachBillingLedger,
  deployBillingLedger,
  readTariff,
} from "../chain/deploy.ts";
import { ContractRevertError, chainCall, toChainError } from "../chain/errors.ts";
import { readInterval, type IntervalReport } from "../chain/ledgerReader.ts";
import { controlCenterChainClient } from "../chain/oksuz-clients.ts";
import { readHead } from "../chain/provider.ts";
import type { TariffSchedule } from "../protocol/tariff.ts";
import { ControlCenterAgent, ControlCenterCrash } from "../cc/agent.ts";
import type { RejectReason } from "../cc/control-center.ts";
import { Meter, type MeterIntervalReport } from "../meter/meter.ts";
import { ServiceProvider } from "../sp/service-provider.ts";
import { User, type UserIntervalCheck } from "../user/user.ts";
import { OnionRelay } from "../onion/relay.ts";
import { buildReportOnion, onionAssociatedData, selectRelayPath } from "../onion/report.ts";
import { sessionKeyFrom } from "../onion/random.ts";
import { ONION_DROP_REASONS } from "../onion/errors.ts";
import { signEntry, type LedgerEntry } from "../protocol/entry.ts";
import { encodeMeterReport } from "../protocol/meter-report.ts";
import type { UserBatchSlot } from "../protocol/user-batch.ts";
import { minAnonymitySet, valueHistogram } from "../protocol/anonymity.ts";
import { DEFAULT_REPORT_SLOTS } from "../protocol/splitting.ts";
import { VirtualClock } from "../runtime/clock.ts";
import { MemoryNetwork } from "../runtime/network.ts";
import { createRng, type Rng } from "../runtime/rng.ts";
import { Store } from "../runtime/store.ts";
import { SecretStore } from "../runtime/secret-box.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import type { ProgressSink } from "../runtime/progress.ts";
import { LoadModel } from "./load-model.ts";
import {
  linkageAdversary,
  originatedPackets,
  type LinkRecord,
  type LinkageResult,
} from "./linkage.ts";

export const ATTACKS = [
  "fake-meter",
  "tampering-user",
  "corrupted-meter",
  "replaying-outsider",
  "sp-wrong-price",
  "sp-wrong-bill",
] as const;
export type AttackName = (typeof ATTACKS)[number];

export interface OksuzScenario {
  readonly meters: number;
  readonly intervals: number;
  readonly seed: string;
  /** Interval length in seconds, default 3600. */
  readonly intervalSeconds?: number;
  /**
   * Attach to the BillingLedger at this address (deployed by `gridledger deploy`, interval 1 not
   * yet opened) instead of deploying one; the run's admin configures it.
   */
  readonly ledger?: string;
  /** Unix time of interval 1's start, default 2026-01-05T00:00:00Z. */
  readonly startTime?: bigint;
  /** Relays per onion, default 3 (DESIGN §4.6). */
  readonly pathLength?: number;
  /** `K`, report slots per meter per interval (DESIGN §7), default {@link DEFAULT_REPORT_SLOTS}. */
  readonly slots?: number;
  /** Paper §6: SP publishes prices and bills itself. */
  readonly direct?: boolean;
  readonly categories?: readonly bigint[];
  readonly tariff?: TariffSchedule;
  readonly network?: {
    readonly latencyMs?: number;
    readonly jitterMs?: number;
    readonly loss?: number;
    readonly reorder?: number;
  };
  readonly attack?: AttackName;
  /** Kill CC in `interval`: mid-admission (after half the reports) or mid-posting (after 1 batch). */
  readonly crash?: { readonly interval: number; readonly phase: "admission" | "posting" };
  /** OCD entries per transaction, default 100. */
  readonly batchSize?: number;
  /**
   * Loopix-style cover traffic (docs/ONION.md): every relay sends `loopsPerRound` loops each
   * round and tops a round's output up to `minBatch` packets; off by default.
   */
  readonly cover?: { readonly loopsPerRound?: number; readonly minBatch?: number };
}

export interface ChainAccess {
  readonly admin: Signer;
  readonly controlCenter: Signer;
  readonly serviceProvider: Signer;
}

export interface IntervalSummary {
  readonly interval: number;
  /** Real (billed) OCD entries. */
  readonly entries: number;
  /** Zero-value slots posted: meters' dummies and CC's absence markers (DESIGN §7). */
  readonly zeroSlots: number;
  /** Of those, absence markers: slots no admitted report filled. */
  readonly absenceMarkers: number;
  /** Registered meters with no admitted report at all this interval. */
  readonly missingMeters: number;
  /** Σc on the ledger (what meters reported). */
  readonly aggregateWh: string;
  /** Σ measured by the meters this interval. */
  readonly measuredWh: string;
  /** Σ carry held by meters after this interval. */
  readonly carriedWh: string;
  readonly price: string;
  readonly billsVerified: number;
  readonly billsDisputed: number;
  readonly rejected: Readonly<Record<RejectReason, number>>;
  readonly minAnonymitySet: number;
  /** OCD entries per category value (Wh, decimal) this interval: each value's anonymity set. */
  readonly entriesPerValue: Readonly<Record<string, number>>;
  readonly ocdDigest: string;
  readonly billedTotal: string;
  readonly gasUsed: string;
  /** Gas of this interval's transactions by ledger function (openInterval, postOcd, …), decimal. */
  readonly gasByOperation: Readonly<Record<string, string>>;
  /** Wall time of the interval's phases (ms, from the injected clock; 0 when none is given). */
  readonly phaseMs: {
    readonly open: number;
    /** Splitting, keys, signatures and onions at the meters. */
    readonly meters: number;
    /** Relaying, admission, receipts and resends. */
    readonly network: number;
    /** CC's OCD batches and seal. */
    readonly post: number;
    /** SP: read, check, price, DAP, bills, close. */
    readonly sp: number;
    /** Users: read and verify. */
    readonly users: number;
    readonly total: number;
  };
}

/** One meter in one interval: what it measured, reported and carried (DESIGN §7). */
export interface MeterIntervalFigures {
  readonly meter: number;
  readonly interval: number;
  readonly measuredWh: string;
  readonly reportedWh: string;
  readonly carryInWh: string;
  readonly carryOutWh: string;
  readonly chunks: number;
}

export interface AttackOutcome {
  readonly name: AttackName;
  /** "detected": noticed and kept off the ledger; "prevented": the chain refused it. */
  readonly outcome: "detected" | "prevented" | "undetected";
  readonly evidence: string;
  /** Every honest user's bill verified in every interval. */
  readonly honestBillsUnaffected: boolean;
}

export interface OksuzReport {
  readonly scenario: string;
  readonly seed: string;
  readonly mode: "relayed" | "direct";
  readonly meters: number;
  readonly intervals: number;
  readonly ledger: string;
  readonly perInterval: readonly IntervalSummary[];
  readonly totals: {
    readonly measuredWh: string;
    readonly reportedWh: string;
    readonly finalCarryWh: string;
    /** Σ reported + final carry == Σ measured (DESIGN §7). */
    readonly conserved: boolean;
  };
  readonly network: {
    readonly packetsSent: number;
    readonly packetsDelivered: number;
    readonly dropped: Readonly<Record<string, number>>;
    /** Every packet on every link had this many bytes (DESIGN §4.6). */
    readonly packetSizes: readonly number[];
  };
  readonly relays: Readonly<Record<string, number>>;
  /**
   * Did every honest meter's report reach CC within its interval's resend window? `lost` lists
   * those that did not (they became absence markers on-chain); `reason` says why in one line.
   */
  readonly delivery: {
    readonly complete: boolean;
    readonly lost: readonly {
      readonly interval: number;
      readonly meter: number;
      readonly missing: number;
    }[];
    readonly reason?: string;
  };
  /** Per relay (= meter address): its counters and the packets it put on links, by size. */
  readonly relayTraffic: readonly RelayTraffic[];
  /** The region's public category values (Wh, decimal, ascending; DESIGN §7). */
  readonly categories: readonly string[];
  /** The public tariff the ledger prices by (DESIGN §2 "Price"), decimal strings. */
  readonly tariff: {
    readonly breakpointsWh: readonly string[];
    readonly values: readonly string[];
    readonly cap: string;
  };
  /** Gas of deployment and meter registration (before interval 1), by ledger function. */
  readonly setupGasByOperation: Readonly<Record<string, string>>;
  /** CC rejections that named no open interval (malformed, or for a closed interval). */
  readonly unattributedRejections: Readonly<Partial<Record<RejectReason, number>>>;
  readonly crash?: {
    readonly interval: number;
    readonly phase: string;
    readonly restarted: boolean;
  };
  readonly attack?: AttackOutcome;
  /** Per meter and interval, as the meters computed them. */
  readonly meterFigures: readonly MeterIntervalFigures[];
  /** Users' checks, one per user and interval (disputes named). */
  readonly userChecks: readonly UserIntervalCheck[];
  /**
   * The global passive observer over every link's (from, to, time, size) and the ledger
   * (offchain/sim/linkage.ts): what it learns of each meter's chunk count and reported Wh.
   */
  readonly linkage: LinkageResult;
  readonly wallTimeMs: number;
}

/** One relay's traffic over the whole run (onion packets only; DESIGN §4.6). */
export interface RelayTraffic {
  /** The relay's network address (`meter-i`). */
  readonly relay: string;
  readonly received: number;
  readonly forwarded: number;
  readonly coverSent: number;
  /** Packets the relay dropped (HMAC, replay, …), all reasons. */
  readonly dropped: number;
  /** Packets this address put on any link: its own reports, forwarded onions, cover. */
  readonly packetsSent: number;
  /** Packet size on the wire (bytes) → packets of that size sent by this address. */
  readonly packetSizes: Readonly<Record<string, number>>;
}

export interface OksuzHooks {
  readonly logger?: Logger;
  /** Called as the run progresses ("interval 2/4: 131 reports admitted"). */
  readonly progress?: (message: string) => void;
  /** Counted progress: "meters prepared" and "bill batches posted" (both restart every interval), "intervals". */
  readonly step?: ProgressSink;
  /** Wall clock for the report (injected: protocol code reads no clock itself). */
  readonly now?: () => number;
  /**
   * Called once per meter and interval when the meter hands its user the interval's batch
   * (DESIGN §7): what the household keeps to check its bill later (`gridledger verify-bill`).
   */
  readonly userBatch?: (delivery: UserBatchDelivery) => void;
}

/**
 * One meter → user batch as the user received it, with the keys the user holds from pairing and
 * its contract (DESIGN §4.2, §6, §7; docs/PROTOCOL.md "Pseudonym file").
 */
export interface UserBatchDelivery {
  readonly meterIndex: number;
  readonly interval: number;
  /** The K slots (counter order); empty when the meter produced nothing this interval. */
  readonly slots: readonly UserBatchSlot[];
  /** `B_i`, 33 bytes compressed. */
  readonly meterBasePublicKey: Uint8Array;
  /** `sigPk_SP`, 33 bytes compressed. */
  readonly spSigPk: Uint8Array;
  /**
   * Direct mode (paper §6): SP's `pk_SP` and the simulated household's secret key (derived from
   * the run's seed, so no secret of anyone real; it finds the user's DAP entry).
   */
  readonly direct?: { readonly spPublicKey: Uint8Array; readonly userSecretKey: bigint };
}

const DEFAULT_CATEGORIES = [50n, 100n, 250n, 500n, 1000n] as const;
/** Price units per Wh, rising with the regional load (a 50-household feeder ≈ 20 kWh/hour). */
const DEFAULT_TARIFF: TariffSchedule = {
  breakpointsWh: [0n, 10_000n, 25_000n, 100_000n],
  values: [2n, 3n, 5n, 8n],
  cap: 10n,
};
const ROUND_MS = 200;
/** How long meters keep resending what CC has not acknowledged, per interval (virtual ms). */
const RESEND_WINDOW_MS = 60_000;
/** Relay rounds over which meters spread their K onions (random round per onion). */
const SEND_ROUNDS = 8;

interface MeterNode {
  readonly meter: Meter;
  readonly relay: OnionRelay;
  readonly address: string;
  readonly user: User;
  /** Secret key of the meter (also its relay key: the on-chain directory lists pk_i). */
  readonly secretKey: bigint;
  last?: MeterIntervalReport;
}

class RevertExpected extends Error {}

/** Runs a scenario; deploys its own ledger on the given chain. */
export async function runOksuz(
  scenario: OksuzScenario,
  chain: ChainAccess,
  hooks: OksuzHooks = {},
): Promise<OksuzReport> {
  const now = hooks.now ?? (() => 0);
  const t0 = now();
  const progress = hooks.progress ?? (() => {});
  const step = hooks.step ?? (() => {});
  const logger = hooks.logger ?? silentLogger;
  validateScenario(scenario);
  const rng = createRng(`gridledger/oksuz/${scenario.seed}`);
  const randomBytes = (r: Rng) => (n: number) => r.bytes(n);
  const intervalSeconds = scenario.intervalSeconds ?? 3600;
  const startTime = scenario.startTime ?? 1_767_571_200n; // 2026-01-05T00:00:00Z
  const pathLength = scenario.pathLength ?? 3;
  const categories = scenario.categories ?? DEFAULT_CATEGORIES;
  const tariff = scenario.tariff ?? DEFAULT_TARIFF;
  const attack = scenario.attack;
  const cover = scenario.cover;
  const slots = scenario.slots ?? DEFAULT_REPORT_SLOTS;

  // ---- keys and deployment ------------------------------------------------------------------
  const keyRng = rng.fork("keys");
  const ccKeys = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("cc"))));
  const ccSigKeys = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("cc/sig"))));
  const spKeys = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("sp"))));
  const spSigSk = randomSecretKey(randomBytes(keyRng.fork("sp/sig")));
  const direct = scenario.direct ?? false;
  const signers = {
    admin: chain.admin,
    controlCenter: chain.controlCenter,
    serviceProvider: chain.serviceProvider,
  };
  if (scenario.ledger !== undefined) await checkUnusedLedger(scenario.ledger, chain.admin);
  const setupBlock = (await readHead(chain.admin.provider!)) + 1;
  const { ledger: adminLedger, address } = await (
    scenario.ledger === undefined
      ? deployBillingLedger
      : attachBillingLedger.bind(undefined, scenario.ledger)
  )(signers, {
    tariff,
    categories,
    controlCenter: { publicKey: ccKeys.publicKey, sigPublicKey: ccSigKeys.publicKey },
    serviceProvider: {
      publicKey: spKeys.publicKey,
      sigPublicKey: keyPairFromSecret(spSigSk).publicKey,
    },
    direct,
    slotsPerMeter: slots,
  });
  const ccLedger = connectBillingLedger(address, chain.controlCenter);
  const ccChain = controlCenterChainClient(ccLedger);
  const spLedger = connectBillingLedger(address, chain.serviceProvider);
  const domain = await readDomain(adminLedger);
  progress(
    `${scenario.ledger === undefined ? "deployed" : "attached to"} BillingLedger at ${address} (${direct ? "direct" : "relayed"} mode)`,
  );

  // ---- CC with persistence --------------------------------------------------------------------
  const storeDir = mkdtempSync(join(tmpdir(), "gridledger-cc-"));
  const storePath = join(storeDir, "cc.sqlite");
  const operatorKey = rng.fork("cc/operator-key").bytes(32);
  let ccStarts = 0;
  // Onion epoch = interval number: every hop rotates at each interval open, so replay caches are
  // emptied as DESIGN §4.6 requires (issue 16: nothing drove the rotation before).
  let onionEpoch = 0;
  const openCc = () => {
    const store = Store.open({ path: storePath });
    const secrets = SecretStore.open(
      store,
      { key: operatorKey },
      { randomBytes: randomBytes(rng.fork(`cc/box/${ccStarts++}`)) },
    );
    const agent = ControlCenterAgent.start(
      {
        keys: ccKeys,
        domain,
        maxMessagesPerMeter: slots,
        maxFailures: 3,
        batchSize: scenario.batchSize,
        epoch: onionEpoch,
      },
      { store, secrets, chain: ccChain, logger: logger.child("cc") },
    );
    // "Killing" CC drops the agent and closes its database handle, as a process exit would.
    return { agent, close: () => store.close() };
  };
  let cc = openCc();
  let crashed = false;

  const sp = new ServiceProvider({
    keys: spKeys,
    signingKey: spSigSk,
    ccPublicKey: ccKeys.publicKey,
    domain,
  });

  // ---- network, meters, relays, users ---------------------------------------------------------
  const clock = new VirtualClock({ startMs: 0 });
  const network = new MemoryNetwork(
    {
      latency: {
        baseMs: scenario.network?.latencyMs ?? 20,
        jitterMs: scenario.network?.jitterMs ?? 10,
      },
      lossProbability: scenario.network?.loss ?? 0,
      reorderProbability: scenario.network?.reorder ?? 0,
    },
    { clock, rng: rng.fork("network"), logger: logger.child("net") },
  );
  let ad = onionAssociatedData(domain, onionEpoch);
  const nodes: MeterNode[] = [];
  const addressOf = new Map<string, string>();
  const userKeys = Array.from({ length: scenario.meters }, (_, i) =>
    keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork(`user/${i}`)))),
  );
  for (let i = 0; i < scenario.meters; i++) {
    const r = keyRng.fork(`meter/${i}`);
    const keys = meterKeysFromSecret(randomSecretKey(randomBytes(r)), r.bytes(32));
    const meter = new Meter({
      index: i,
      keys,
      ccPublicKey: ccKeys.publicKey,
      domain,
      categories,
      slots,
    });
    const relay = new OnionRelay({ privateKey: keys.secretKey, domain, epoch: onionEpoch, cover });
    const user = new User({
      meterIndex: i,
      domain,
      meterBasePublicKey: keys.basePublicKey,
      spSigPk: sp.sigPk,
      direct: direct
        ? { keys: userKeys[i], spPublicKey: spKeys.publicKey, spId: spKeys.id }
        : undefined,
    });
    const node: MeterNode = {
      meter,
      relay,
      address: `meter-${i}`,
      user,
      secretKey: keys.secretKey,
    };
    nodes.push(node);
    addressOf.set(bytesToHex(keys.publicKey), node.address);
  }
  addressOf.set(bytesToHex(ccKeys.publicKey), "cc");
  const directory = nodes.map((n) => n.meter.publicKey);

  // Taps for the replaying outsider: it records what crosses the links into relays.
  const tapped: { to: string; bytes: Uint8Array }[] = [];
  // The global passive observer's view: every packet put on a link (DESIGN §4.6).
  const linkRecords: LinkRecord[] = [];
  const intervalStartMs: number[] = [];
  const send = (from: string, to: string, bytes: Uint8Array) => {
    linkRecords.push({ from, to, timeMs: clock.now(), size: bytes.length });
    if (attack === "replaying-outsider" && to !== "cc" && tapped.length < 50)
      tapped.push({ to, bytes });
    network.send(from, to, bytes);
  };
  const endpoints = nodes.map((node) => {
    const endpoint = network.endpoint(node.address);
    endpoint.handle((_from, bytes) => {
      node.relay.receive(bytes);
    });
    return endpoint;
  });
  let crashAfterReports: number | undefined;
  let reportsSeen = 0;
  const ccEndpoint = network.endpoint("cc");
  ccEndpoint.handle((_from, bytes) => {
    // CC's exit peels the final layer; replays, bad HMACs and junk are counted there and never
    // reach admission.
    if (!cc.agent.onPacket(bytes).onion.accepted) return;
    reportsSeen++;
    if (crashAfterReports !== undefined && reportsSeen === crashAfterReports) {
      // Kill CC between two messages and restart it from its store.
      cc.close();
      cc = openCc();
      crashed = true;
      crashAfterReports = undefined;
      progress(`  CC killed after ${reportsSeen} reports and restarted from its store`);
    }
  });
  for (const endpoint of endpoints) endpoint.start();
  ccEndpoint.start();
  if (attack === "replaying-outsider") network.endpoint("outsider").start();
  const relayRng = rng.fork("relay-rounds");
  const pump = (rounds: number) => {
    for (let r = 0; r < rounds; r++) {
      for (const node of nodes) {
        for (const out of node.relay.endRound({ random: randomBytes(relayRng), directory })) {
          const to = addressOf.get(bytesToHex(out.nextNodeId));
          if (to !== undefined) send(node.address, to, out.packet);
        }
      }
      clock.advance(ROUND_MS);
    }
  };
  const onionRng = rng.fork("onions");
  const sendRng = rng.fork("send-times");
  const sendReport = (node: MeterNode, entry: LedgerEntry) => {
    const path = selectRelayPath(directory, pathLength, randomBytes(onionRng), [
      node.meter.publicKey,
    ]);
    const onion = buildReportOnion(
      path,
      ccKeys.publicKey,
      encodeMeterReport(entry),
      sessionKeyFrom(randomBytes(onionRng)),
      ad,
    );
    send(node.address, addressOf.get(bytesToHex(onion.firstHop))!, onion.packet);
  };

  // Registration: K_i sealed to pk_CC; the directory goes on-chain.
  await cc.agent.registerMeters(
    nodes.map((n) =>
      n.meter.registration(randomSecretKey(randomBytes(keyRng.fork(`eph/${n.meter.index}`)))),
    ),
  );
  progress(
    `registered ${nodes.length} meters (on-chain directory: ${await adminLedger.meterCount()})`,
  );
  const setupGasByOperation = await gasByOperation(
    chain.admin,
    setupBlock,
    await readHead(chain.admin.provider!),
    adminLedger.interface,
    address,
  );

  // ---- adversaries ----------------------------------------------------------------------------
  const attackState = { evidence: [] as string[], prevented: false, detected: false };
  const fakeRng = keyRng.fork("fake-meter");
  const fakeMeter =
    attack === "fake-meter"
      ? new Meter({
          index: scenario.meters,
          keys: meterKeysFromSecret(randomSecretKey(randomBytes(fakeRng)), fakeRng.bytes(32)),
          ccPublicKey: ccKeys.publicKey,
          domain,
          categories,
          slots,
        })
      : undefined;
  const tamper = (node: MeterNode, entry: LedgerEntry): LedgerEntry => {
    if (attack === "tampering-user" && node.meter.index === 0) {
      // The household lowers its reported chunk to the smallest category; it cannot re-sign.
      return { ...entry, value: categories[0] === entry.value ? categories[1] : categories[0] };
    }
    if (attack === "corrupted-meter" && node.meter.index === 1) {
      // Compromised firmware signs with a key of its own instead of the GGM message key.
      return signEntry(domain, entry, 0xbad5eedn + BigInt(entry.id[0]));
    }
    return entry;
  };
  const honest = (i: number) =>
    !((attack === "tampering-user" && i === 0) || (attack === "corrupted-meter" && i === 1));

  // ---- intervals ------------------------------------------------------------------------------
  const load = new LoadModel({ seed: scenario.seed });
  const loadRng = rng.fork("load");
  const perInterval: IntervalSummary[] = [];
  const userChecks: UserIntervalCheck[] = [];
  const meterFigures: MeterIntervalFigures[] = [];
  let totalMeasured = 0n;
  let totalReported = 0n;
  let previousReport: IntervalReport | undefined;
  const undelivered: { interval: number; meter: number; missing: number }[] = [];

  // Intervals are numbered 1…n everywhere: progress, tables, options, JSON and on-chain.
  for (let j = 1; j <= scenario.intervals; j++) {
    const start = startTime + BigInt((j - 1) * intervalSeconds);
    const end = start + BigInt(intervalSeconds);
    const timestamp = end - 1n;
    const blockBefore = await readHead(chain.admin.provider!);
    intervalStartMs.push(clock.now());
    const tick = phaseTimer(now);
    if (j > onionEpoch) {
      onionEpoch = j;
      ad = onionAssociatedData(domain, onionEpoch);
      for (const node of nodes) node.relay.rotateEpoch(onionEpoch);
      cc.agent.rotateEpoch(onionEpoch);
    }
    await cc.agent.openInterval(j, { start, end }, categories);
    const openMs = tick();

    let measured = 0n;
    let sent = 0;
    // Every meter's K onions leave at random rounds over the interval's send window (DESIGN §4.6),
    // not in one burst: a link observer sees each meter originate K packets, spread out.
    const outbox: { node: MeterNode; entry: LedgerEntry }[][] = Array.from(
      { length: SEND_ROUNDS },
      () => [],
    );
    for (const node of nodes) {
      const wh = load.consumptionWh(
        node.meter.index,
        Number(start),
        intervalSeconds,
        // Labelled by the 0-based index as before intervals became 1-based: same seed, same load.
        loadRng.fork(`${node.meter.index}/${j - 1}`),
      );
      measured += wh;
      node.last = node.meter.reportInterval(j, wh, timestamp);
      meterFigures.push({
        meter: node.meter.index,
        interval: j,
        measuredWh: wh.toString(),
        reportedWh: node.last.entries.reduce((sum, e) => sum + e.value, 0n).toString(),
        carryInWh: node.last.carryInWh.toString(),
        carryOutWh: node.last.carryOutWh.toString(),
        chunks: node.last.chunks,
      });
      for (const entry of node.last.entries) {
        outbox[sendRng.nextInt(SEND_ROUNDS)].push({ node, entry: tamper(node, entry) });
        sent++;
      }
      step({
        task: "meters prepared",
        done: node.meter.index + 1,
        total: nodes.length,
      });
    }
    totalMeasured += measured;
    const metersMs = tick();
    if (fakeMeter) {
      for (const entry of fakeMeter.reportInterval(j, 2_000n, timestamp).entries) {
        sendReport(nodes[j % nodes.length], entry);
      }
    }
    if (attack === "replaying-outsider" && previousReport) {
      // Public entries of the previous interval, re-sent to CC inside fresh onions.
      for (const entry of previousReport.ocd.slice(0, 5)) sendReport(nodes[0], entry);
    }
    if (scenario.crash?.interval === j && scenario.crash.phase === "admission") {
      crashAfterReports = reportsSeen + Math.max(1, Math.floor(sent / 2));
    }
    for (const round of outbox) {
      for (const { node, entry } of round) sendReport(node, entry);
      pump(1);
    }
    pump(pathLength + 4);
    if (attack === "replaying-outsider") {
      for (const { to, bytes } of tapped.splice(0)) network.send("outsider", to, bytes);
      pump(pathLength + 4);
    }

    // Receipts and resends (lost on the way, or refused): until every counter's receipt is in,
    // bounded by the interval's resend window (issue 11: not by a fixed number of attempts).
    const windowEndMs = clock.now() + RESEND_WINDOW_MS;
    while (clock.now() < windowEndMs) {
      const receipts = cc.agent.receipts(j);
      let resent = 0;
      for (const node of nodes) {
        if (cc.agent.center.isExcluded(node.meter.index)) continue;
        const got = receipts.get(node.meter.index) ?? new Set<number>();
        for (const entry of node.last?.entries ?? []) {
          const counter = node.last!.entries.indexOf(entry) + 1;
          if (got.has(counter)) continue;
          const again = node.meter.resend(j, counter);
          if (again) {
            sendReport(node, tamper(node, again));
            resent++;
          }
        }
      }
      if (resent === 0) break;
      pump(pathLength + 4);
    }
    // What did not make it within the window (honest meters only: an attacker's refused reports
    // are the attack's business): reported as lost data, never hidden.
    {
      const receipts = cc.agent.receipts(j);
      for (const node of nodes) {
        if (!honest(node.meter.index) || cc.agent.center.isExcluded(node.meter.index)) continue;
        const got = receipts.get(node.meter.index)?.size ?? 0;
        const missing = (node.last?.entries.length ?? 0) - got;
        if (missing > 0) undelivered.push({ interval: j, meter: node.meter.index, missing });
      }
    }
    // The user batch: all K signed slots in one fixed-size message, after the interval.
    for (const node of nodes) {
      const slotsOfUser = node.last?.userBatch ?? [];
      node.user.receiveBatch(j, slotsOfUser);
      hooks.userBatch?.({
        meterIndex: node.meter.index,
        interval: j,
        slots: slotsOfUser,
        meterBasePublicKey: node.meter.basePublicKey,
        spSigPk: sp.sigPk,
        direct: direct
          ? { spPublicKey: spKeys.publicKey, userSecretKey: userKeys[node.meter.index].secretKey }
          : undefined,
      });
    }
    const networkMs = tick();

    // CC posts and seals (with the posting crash, if configured).
    if (scenario.crash?.interval === j && scenario.crash.phase === "posting") {
      cc.agent.crashAfterBatches(1);
      try {
        await cc.agent.postAndSeal(j);
      } catch (err) {
        if (!(err instanceof ControlCenterCrash)) throw err;
        cc.close();
        cc = openCc();
        crashed = true;
        progress(`  CC killed after posting 1 batch and restarted from its store`);
      }
    }
    const stats = cc.agent.center.stats(j);
    const { zeroSlots } = await cc.agent.postAndSeal(j);
    const postMs = tick();

    // SP: read the sealed ledger from events, check, price, bill.
    const sealed = await readInterval(spLedger, j);
    const bad = sp.checkOcd(sealed.ocd);
    if (bad.length > 0)
      throw new Error(`SP: ${bad.length} OCD entries with bad signatures in interval ${j}`);
    const schedule = await readTariff(spLedger, sealed.tariffVersion ?? 0);
    const publisher = direct ? spLedger : ccLedger;
    const postPrice = async () => {
      const price = sp.price(schedule, sp.aggregate(sealed.ocd));
      const dap = sp.dapEntries(
        j,
        price,
        timestamp,
        direct ? userKeys.map((k) => k.publicKey) : undefined,
      );
      for (let i = 0; i < dap.length; i += 100) await postDap(publisher, j, dap.slice(i, i + 100));
      return price;
    };
    if (attack === "sp-wrong-price" && j === 1) {
      sp.faults = { priceOffset: 1n };
      await expectRevert(postPrice, "PriceMismatch", ENTRY_PROBLEM.PriceMismatch, attackState);
      sp.faults = {};
    }
    const price = await postPrice();
    const postAllBills = async () => {
      const batches = [...sp.billBatches(j, sealed.ocd, price, timestamp)];
      for (const [b, batch] of batches.entries()) {
        await postBills(publisher, batch);
        step({
          task: "bill batches posted",
          done: b + 1,
          total: batches.length,
        });
      }
      await closeBilling(publisher, j);
    };
    if (attack === "sp-wrong-bill" && j === 1 && sealed.ocd.length > 0) {
      sp.faults = { billOffset: { index: 0, delta: 1n } };
      await expectRevert(postAllBills, "BillMismatch", ENTRY_PROBLEM.BillMismatch, attackState);
      sp.faults = {};
    }
    await postAllBills();
    const spMs = tick();

    // Users verify from the ledgers alone.
    const finalReport = await readInterval(adminLedger, j);
    previousReport = finalReport;
    let verified = 0;
    let disputed = 0;
    for (const node of nodes) {
      const check = node.user.verifyInterval(finalReport);
      userChecks.push(check);
      if (check.verified) verified++;
      else disputed++;
    }
    const usersMs = tick();
    const blockAfter = await readHead(chain.admin.provider!);
    const gasUsed = await gasBetween(chain.admin, blockBefore + 1, blockAfter);
    const gasByOp = await gasByOperation(
      chain.admin,
      blockBefore + 1,
      blockAfter,
      adminLedger.interface,
      address,
    );
    totalReported += finalReport.sumWh;
    const carried = nodes.reduce((s, n) => s + n.meter.carryWh, 0n);
    perInterval.push({
      interval: j,
      entries: finalReport.ocd.length,
      zeroSlots: finalReport.zeroSlots.length,
      absenceMarkers: zeroSlots.markers,
      missingMeters: zeroSlots.missingMeters,
      aggregateWh: finalReport.sumWh.toString(),
      measuredWh: measured.toString(),
      carriedWh: carried.toString(),
      price: String(finalReport.price ?? 0n),
      billsVerified: verified,
      billsDisputed: disputed,
      rejected: stats.rejected,
      minAnonymitySet: minAnonymitySet(finalReport.ocd.map((e) => e.value)),
      entriesPerValue: Object.fromEntries(
        [...valueHistogram(finalReport.ocd.map((e) => e.value))].map(([v, k]) => [String(v), k]),
      ),
      ocdDigest: bytesToHex(finalReport.ocdDigest),
      billedTotal: finalReport.billedTotal.toString(),
      gasUsed: gasUsed.toString(),
      gasByOperation: gasByOp,
      phaseMs: {
        open: openMs,
        meters: metersMs,
        network: networkMs,
        post: postMs,
        sp: spMs,
        users: usersMs,
        total: openMs + metersMs + networkMs + postMs + spMs + usersMs,
      },
    });
    progress(
      `interval ${j}/${scenario.intervals}: ${finalReport.ocd.length} entries, Σ ${finalReport.sumWh} Wh, ` +
        `price ${finalReport.price ?? "?"}, bills verified ${verified}/${nodes.length}`,
    );
    step({ task: "intervals", done: j, total: scenario.intervals });
  }
  cc.close();
  rmSync(storeDir, { recursive: true, force: true });

  const finalCarry = nodes.reduce((s, n) => s + n.meter.carryWh, 0n);
  const netStats = network.stats();
  const relays: Record<string, number> = {
    received: 0,
    forwarded: 0,
    coverSent: 0,
    loopsReturned: 0,
    /** Tags in every relay's replay cache at the end (two live epochs at most). */
    replayTags: 0,
    /** The relays' onion epoch at the end (= the last interval). */
    epoch: 0,
  };
  for (const reason of ONION_DROP_REASONS) relays[`dropped.${reason}`] = 0;
  for (const node of nodes) {
    const c = node.relay.counters();
    relays.received += c.received;
    relays.forwarded += c.forwarded;
    relays.coverSent += c.coverSent;
    relays.loopsReturned += c.loopsReturned;
    relays.replayTags += c.replayTags;
    relays.epoch = Math.max(relays.epoch, node.relay.epoch);
    for (const reason of ONION_DROP_REASONS) relays[`dropped.${reason}`] += c.dropped[reason];
  }
  const sizesByLink = network.packetSizes();
  const relayTraffic: RelayTraffic[] = nodes.map((node) => {
    const c = node.relay.counters();
    const sizes = new Map<number, number>();
    for (const [link, bySize] of sizesByLink) {
      if (!link.startsWith(`${node.address}→`)) continue;
      for (const [size, k] of bySize) sizes.set(size, (sizes.get(size) ?? 0) + k);
    }
    return {
      relay: node.address,
      received: c.received,
      forwarded: c.forwarded,
      coverSent: c.coverSent,
      dropped: Object.values(c.dropped).reduce((a, b) => a + b, 0),
      packetsSent: [...sizes.values()].reduce((a, b) => a + b, 0),
      packetSizes: Object.fromEntries(
        [...sizes].sort((a, b) => a[0] - b[0]).map(([s, k]) => [String(s), k]),
      ),
    };
  });
  const excludedHonest = nodes.some(
    (n) => honest(n.meter.index) && cc.agent.center.isExcluded(n.meter.index),
  );
  const honestUnaffected =
    !excludedHonest && userChecks.filter((c) => honest(c.meterIndex)).every((c) => c.verified);
  return {
    scenario: attack ?? (scenario.crash ? `crash-${scenario.crash.phase}` : "honest"),
    seed: scenario.seed,
    mode: direct ? "direct" : "relayed",
    meters: scenario.meters,
    intervals: scenario.intervals,
    ledger: address,
    perInterval,
    totals: {
      measuredWh: totalMeasured.toString(),
      reportedWh: totalReported.toString(),
      finalCarryWh: finalCarry.toString(),
      conserved:
        attack === undefined
          ? totalReported + finalCarry === totalMeasured
          : totalReported <= totalMeasured,
    },
    network: {
      packetsSent: netStats.sent,
      packetsDelivered: netStats.delivered,
      dropped: { ...netStats.dropped },
      packetSizes: network.distinctPacketSizes(),
    },
    relays,
    delivery: deliveryVerdict(undelivered, netStats.dropped.lost, relays),
    relayTraffic,
    categories: categories.map(String),
    tariff: {
      breakpointsWh: tariff.breakpointsWh.map(String),
      values: tariff.values.map(String),
      cap: String(tariff.cap),
    },
    setupGasByOperation,
    unattributedRejections: cc.agent.center.unattributedRejections(),
    crash: scenario.crash ? { ...scenario.crash, restarted: crashed } : undefined,
    attack: attack
      ? judgeAttack(
          attack,
          perInterval,
          relays,
          cc.agent.center.unattributedRejections(),
          attackState,
          honestUnaffected,
        )
      : undefined,
    meterFigures,
    userChecks,
    linkage: linkageAdversary(
      meterFigures.map((f) => ({
        address: `meter-${f.meter}`,
        interval: f.interval,
        chunks: f.chunks,
        reportedWh: BigInt(f.reportedWh),
      })),
      originatedPackets(linkRecords, (t) => {
        let j: number | undefined;
        for (let k = 0; k < intervalStartMs.length && intervalStartMs[k] <= t; k++) j = k + 1;
        return j;
      }),
    ),
    wallTimeMs: now() - t0,
  };
}

/** The run's delivery verdict: complete, or what was lost and why, in one line. */
function deliveryVerdict(
  lost: readonly { interval: number; meter: number; missing: number }[],
  lostOnLinks: number,
  relays: Readonly<Record<string, number>>,
): OksuzReport["delivery"] {
  if (lost.length === 0) return { complete: true, lost };
  const reports = lost.reduce((n, u) => n + u.missing, 0);
  const meters = new Set(lost.map((u) => u.meter)).size;
  const relayDrops =
    Object.entries(relays)
      .filter(([k, v]) => k.startsWith("dropped.") && v > 0)
      .map(([k, v]) => `${k.slice(8)} ${v}`)
      .join(", ") || "none";
  return {
    complete: false,
    lost,
    reason:
      `${reports} reports of ${meters} meters did not reach CC within the ` +
      `${RESEND_WINDOW_MS / 1000} s resend window (${lostOnLinks} packets lost on links; ` +
      `dropped by relays: ${relayDrops})`,
  };
}

function judgeAttack(
  name: AttackName,
  perInterval: readonly IntervalSummary[],
  relays: Readonly<Record<string, number>>,
  unattributed: Readonly<Partial<Record<RejectReason, number>>>,
  state: { evidence: string[]; prevented: boolean },
  honestBillsUnaffected: boolean,
): AttackOutcome {
  const rejected = (reason: RejectReason) =>
    perInterval.reduce((n, s) => n + s.rejected[reason], 0);
  let outcome: AttackOutcome["outcome"] = "undetected";
  let evidence = "";
  switch (name) {
    case "fake-meter":
      if (rejected("unknown-pseudonym") > 0) outcome = "detected";
      evidence = `CC refused ${rejected("unknown-pseudonym")} reports under pseudonyms it never issued`;
      break;
    case "tampering-user":
      if (rejected("bad-signature") > 0) outcome = "detected";
      evidence = `CC refused ${rejected("bad-signature")} altered reports (signature no longer valid); not counted against the meter, which did not sign them`;
      break;
    case "corrupted-meter":
      if (rejected("key-mismatch") > 0) outcome = "detected";
      evidence = `CC refused ${rejected("key-mismatch")} reports signed with a key not derived from K_i`;
      break;
    case "replaying-outsider": {
      const relayReplays = relays["dropped.replay"] ?? 0;
      const stale = (unattributed["interval-not-open"] ?? 0) + rejected("replay");
      if (relayReplays > 0 && (perInterval.length < 2 || stale > 0)) outcome = "detected";
      evidence = `relays dropped ${relayReplays} replayed packets; CC refused ${stale} re-sent ledger entries`;
      break;
    }
    case "sp-wrong-price":
    case "sp-wrong-bill":
      if (state.prevented) outcome = "prevented";
      evidence = state.evidence.join("; ");
      break;
  }
  return { name, outcome, evidence, honestBillsUnaffected };
}

/** Runs a malicious action and requires the ledger to refuse it with `BillingLedgerInvalidEntry(…, code)`. */
async function expectRevert(
  action: () => Promise<unknown>,
  problem: string,
  code: number,
  state: { evidence: string[]; prevented: boolean },
): Promise<void> {
  try {
    await action();
  } catch (err) {
    // Decoded from the revert data with the contracts' ABI (chain/errors.ts), so detection works
    // on any node, whatever text its client puts in the message.
    const revert = toChainError(err);
    if (revert instanceof ContractRevertError && revert.errorName === "BillingLedgerInvalidEntry") {
      if (String(revert.args[2]) !== String(code)) throw revert;
      state.prevented = true;
      state.evidence.push(
        `the ledger reverted the malicious transaction (${problem}): ${revert.message}`,
      );
      return;
    }
    throw revert;
  }
  throw new RevertExpected(`expected the ledger to refuse a ${problem}, but it accepted it`);
}

/**
 * A run numbers its intervals from 1, so an attached ledger must not hold interval 1 yet (a
 * ledger deployed by `gridledger deploy` and not used by another run). Throws
 * `DeploymentMismatchError`.
 */
async function checkUnusedLedger(address: string, admin: Signer): Promise<void> {
  if ((await chainCall(() => admin.provider!.getCode(address))) === "0x") {
    throw new DeploymentMismatchError(`no contract at ${address} on this chain`);
  }
  const record = await chainCall(() => connectBillingLedger(address, admin).intervalRecord(1));
  if (Number(record.state) !== 0) {
    throw new DeploymentMismatchError(
      `the BillingLedger at ${address} already holds interval 1 (a previous run): attach a fresh deployment (npx gridledger deploy)`,
    );
  }
}

/** Returns a function giving the time since its previous call (phase durations). */
function phaseTimer(now: () => number): () => number {
  let last = now();
  return () => {
    const t = now();
    const elapsed = t - last;
    last = t;
    return Math.round(elapsed);
  };
}

async function gasBetween(signer: Signer, from: number, to: number): Promise<bigint> {
  const provider = signer.provider!;
  let gas = 0n;
  for (let b = from; b <= to; b++) {
    const block = await provider.getBlock(b);
    if (block) gas += block.gasUsed;
  }
  return gas;
}

/**
 * Gas of the transactions in blocks `from..to` sent to `ledger`, summed by the ledger function
 * each one called (decoded from its selector with `iface`; "deploy" for the contract creation,
 * "other" for a selector `iface` does not know). Decimal strings.
 */
async function gasByOperation(
  signer: Signer,
  from: number,
  to: number,
  iface: Interface,
  ledger: string,
): Promise<Record<string, string>> {
  const provider = signer.provider!;
  const gas = new Map<string, bigint>();
  for (let b = from; b <= to; b++) {
    const block = await provider.getBlock(b, true);
    for (const tx of block?.prefetchedTransactions ?? []) {
      let name: string;
      if (tx.to === null) name = "deploy";
      else if (tx.to.toLowerCase() !== ledger.toLowerCase()) continue;
      else name = iface.getFunction(tx.data.slice(0, 10))?.name ?? "other";
      const receipt = await provider.getTransactionReceipt(tx.hash);
      if (name === "deploy" && receipt?.contractAddress?.toLowerCase() !== ledger.toLowerCase())
        continue;
      gas.set(name, (gas.get(name) ?? 0n) + (receipt?.gasUsed ?? 0n));
    }
  }
  return Object.fromEntries([...gas].map(([k, v]) => [k, v.toString()]));
}

function validateScenario(s: OksuzScenario): void {
  if (!Number.isInteger(s.meters) || s.meters < 5) {
    throw new RangeError(
      `runOksuz: meters must be an integer ≥ 5 (onion paths need 3 other relays), got ${s.meters}`,
    );
  }
  if (!Number.isInteger(s.intervals) || s.intervals < 1) {
    throw new RangeError(`runOksuz: intervals must be a positive integer, got ${s.intervals}`);
  }
  if (
    s.crash !== undefined &&
    (!Number.isInteger(s.crash.interval) || s.crash.interval < 1 || s.crash.interval > s.intervals)
  ) {
    throw new RangeError(
      `runOksuz: crash interval must be in 1…${s.intervals} (intervals are 1-based), got ${s.crash.interval}`,
    );
  }
  if (s.attack !== undefined && !ATTACKS.includes(s.attack)) {
    throw new RangeError(`runOksuz: unknown attack ${s.attack} (one of ${ATTACKS.join(", ")})`);
  }
  if ((s.pathLength ?? 3) >= s.meters)
    throw new RangeError("runOksuz: pathLength must be below meters");
  for (const [k, v] of Object.entries(s.cover ?? {})) {
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > 1_000) {
      throw new RangeError(`runOksuz: cover.${k} must be an integer in [0, 1000], got ${v}`);
    }
  }
}
