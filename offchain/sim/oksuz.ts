// Oksuz 2020 end to end (issue "Oksuz end to end"; issue 11 "the simulator is one wiring of real
// agents"): N meters that are also onion relays, the control center, the service provider and the
// users, over the in-memory network (latency, loss, reordering; virtual clock; deterministic given
// the seed), against a real chain (Hardhat's in-process network, `hardhat node`, or any JSON-RPC
// URL). Consumption comes from the synthetic household load model (offchain/sim/load-model.ts).
//
// `runOksuz` runs the agents as `runOksuzAgents` wires them (offchain/sim/oksuz-agents.ts:
// MeterAgent, ControlCenterService, ServiceProviderAgent, UserAgent; adversaries from
// offchain/adversary/) and measures: this file holds no role logic, only what the report needs —
// per-interval figures read back from the chain's events, gas by ledger function (from the
// transactions' calldata), the link observer's tally (offchain/sim/linkage.ts), relay counters,
// the delivery verdict and the attack verdict. One interval j, as the agents play it:
//   1. CC opens j on-chain and announces it; every meter reads its consumption, splits it into
//      K signed slots and sends each in its own Sphinx onion through `pathLength` other meters at
//      a random relay round; relays batch and shuffle per round; CC peels the last layer, admits
//      and answers with receipts; meters resend what the receipts do not list.
//   2. Once every slot is in (or the window ends) CC posts the admitted entries sorted by
//      pseudonym and seals; meters hand their users the interval's batch.
//   3. SP reads the sealed ledger from events, checks it, prices it by the public tariff, posts
//      DAP and the bill batches (through CC in relayed mode, itself in direct mode).
//   4. Every user rebuilds the interval from events and verifies its own bill.
import type { Interface, Signer } from "ethers";

import { bytesToHex } from "../crypto/bytes.ts";
import { ENTRY_PROBLEM, connectBillingLedger } from "../chain/billing.ts";
import { ContractRevertError } from "../chain/errors.ts";
import { readHead } from "../chain/provider.ts";
import type { ControlCenter, RejectReason } from "../cc/control-center.ts";
import type { MeterIntervalReport } from "../meter/meter.ts";
import type { UserIntervalCheck } from "../user/user.ts";
import { ONION_DROP_REASONS } from "../onion/errors.ts";
import { minAnonymitySet, valueHistogram } from "../protocol/anonymity.ts";
import { DEFAULT_REPORT_SLOTS } from "../protocol/splitting.ts";
import { WIRE_HEADER_BYTES, WIRE_TYPE } from "../protocol/wire/index.ts";
import type { Logger } from "../runtime/log.ts";
import type { ProgressSink } from "../runtime/progress.ts";
import { OriginTally, linkageAdversary, type LinkageResult } from "./linkage.ts";
import {
  ATTACKS,
  DEFAULT_CATEGORIES,
  DEFAULT_TARIFF,
  DEFAULT_WINDOW_MS,
  runOksuzAgents,
  type AttackName,
  type OksuzAgentsChain,
  type OksuzAgentsRun,
  type OksuzAgentsScenario,
  type UserBatchDelivery,
} from "./oksuz-agents.ts";

export { ATTACKS, type AttackName, type UserBatchDelivery };
/** A run's scenario (the agent wiring's, offchain/sim/oksuz-agents.ts). */
export type OksuzScenario = OksuzAgentsScenario;
export type ChainAccess = OksuzAgentsChain;

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
  /**
   * Wall time of the interval's phases (ms, from the injected clock; 0 when none is given), as the
   * agents' status shows them between clock steps. The agents run concurrently (SP bills j while
   * CC admits j + 1), so the phases are the consecutive moments interval j reached, not work done.
   */
  readonly phaseMs: {
    /** CC began j → CC opened it on-chain and announced it. */
    readonly open: number;
    /** → every meter read its consumption and signed its K slots. */
    readonly meters: number;
    /** → CC's window ended (every slot in, or the deadline): relaying, admission, receipts, resends. */
    readonly network: number;
    /** → CC posted the OCD batches and sealed. */
    readonly post: number;
    /** → SP read, checked, priced and billed; j final on-chain. */
    readonly sp: number;
    /** → every user verified j. */
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
    /** Onion packets put on links (meters' reports, forwarded layers, cover loops, attackers'). */
    readonly packetsSent: number;
    /** Onion packets handed to a relay or to CC. */
    readonly packetsDelivered: number;
    /** Every wire message on the network (onions, announcements, receipts, batches, …). */
    readonly messagesSent: number;
    readonly messagesDelivered: number;
    /** Wire messages the network dropped, by reason (loss counts every kind of message). */
    readonly dropped: Readonly<Record<string, number>>;
    /** Every onion packet on every link had this many bytes (DESIGN §4.6), wire header aside. */
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
  /** Called as the run progresses ("interval 2/4: sealed"). */
  readonly progress?: (message: string) => void;
  /** Counted progress: "meters prepared" (restarts every interval), "intervals". */
  readonly step?: ProgressSink;
  /** Wall clock for the report (injected: protocol code reads no clock itself). */
  readonly now?: () => number;
  /**
   * Called once per meter and interval when the user receives the interval's batch from its
   * meter (DESIGN §7): what the household keeps to check its bill later (`gridledger verify-bill`).
   */
  readonly userBatch?: (delivery: UserBatchDelivery) => void;
  /**
   * Called once when every meter of the fleet has retired (`OksuzAgentsHooks.fleetRetired`:
   * before CC posts the last interval): the process may give memory back then (the demo returns
   * V8's pooled heap pages, `releaseHeapPages`; issue 14).
   */
  readonly fleetRetired?: () => void;
}

/** Phase boundaries of one interval, in order (wall time of the first watch that saw each). */
const PHASE_MARKS = ["start", "open", "meters", "network", "post", "sp", "users"] as const;

/**
 * Runs a scenario over the agents (deploying its own ledger on the given chain, or attaching to
 * `scenario.ledger`) and measures it. Throws `RangeError` for an impossible scenario (before any
 * work), and what `runOksuzAgents` throws.
 */
export async function runOksuz(
  scenario: OksuzScenario,
  chain: ChainAccess,
  hooks: OksuzHooks = {},
): Promise<OksuzReport> {
  const now = hooks.now ?? (() => 0);
  const t0 = now();
  validateScenario(scenario);
  const slots = scenario.slots ?? DEFAULT_REPORT_SLOTS;
  const categories = scenario.categories ?? DEFAULT_CATEGORIES;
  const tariff = scenario.tariff ?? DEFAULT_TARIFF;
  const attack = scenario.attack;
  const n = scenario.meters;

  // The global passive observer's view of every onion packet put on a link (DESIGN §4.6), tallied
  // as it happens (issue 14), and the sizes each sender put on links.
  const observer = new OriginTally();
  const onionSizes = new Map<string, Map<number, number>>();
  let onionPackets = 0;
  let onionsDelivered = 0;
  const delivered = (bytes: Uint8Array): void => {
    if (bytes[1] === WIRE_TYPE.onionPacket) onionsDelivered++;
  };
  const observe = (from: string, to: string, bytes: Uint8Array, interval: number): void => {
    if (bytes[1] !== WIRE_TYPE.onionPacket) return;
    onionPackets++;
    if (interval > 0) observer.record(from, to, interval);
    const size = bytes.length - WIRE_HEADER_BYTES;
    let sizes = onionSizes.get(from);
    if (!sizes) onionSizes.set(from, (sizes = new Map()));
    sizes.set(size, (sizes.get(size) ?? 0) + 1);
  };
  // What each meter did per interval (its report, as it handed the batch to its user).
  const figures = new Map<string, MeterIntervalFigures>();
  const meterReport = (meter: number, report: MeterIntervalReport): void => {
    figures.set(`${report.interval}/${meter}`, {
      meter,
      interval: report.interval,
      measuredWh: report.measuredWh.toString(),
      reportedWh: report.entries.reduce((sum, e) => sum + e.value, 0n).toString(),
      carryInWh: report.carryInWh.toString(),
      carryOutWh: report.carryOutWh.toString(),
      chunks: report.chunks,
    });
  };
  // Wall time of each interval's phase boundaries, seen from the agents' status between steps.
  const marks = new Map<number, number[]>();
  const watch = (run: OksuzAgentsRun): void => {
    const cc = run.cc.status();
    const billed = run.sp.status().billedThrough;
    for (let j = 1; j <= scenario.intervals; j++) {
      const m = marks.get(j) ?? [];
      if (m.length === PHASE_MARKS.length) continue;
      const reached = [
        () => cc.interval >= j,
        () => cc.sealed >= j || cc.interval > j || (cc.interval === j && cc.phase !== "idle"),
        () => (run.metersMeasured.get(j) ?? 0) >= n || cc.sealed >= j,
        () => cc.sealed >= j || cc.interval > j || (cc.interval === j && cc.phase === "posting"),
        () => cc.sealed >= j,
        () => billed >= j,
        () => run.users.every((u) => u.checks.length >= j),
      ];
      while (m.length < PHASE_MARKS.length && reached[m.length]()) m.push(now());
      marks.set(j, m);
      if (m.length < 2) break; // later intervals have not started
    }
  };

  // The fleet retires once CC has closed the last window (issue 14): nothing below reads a meter agent, and the
  // relays' and households' figures stay (`OksuzAgentsRun.relays`, `users`). Not with cover.
  const run = await runOksuzAgents({ ...scenario, retire: scenario.retire ?? true }, chain, {
    logger: hooks.logger,
    step: hooks.step,
    progress: hooks.progress,
    userBatch: hooks.userBatch,
    fleetRetired: hooks.fleetRetired,
    observe,
    delivered,
    watch,
    meterReport,
  });

  // ---- per interval, from the chain and the agents -----------------------------------------------
  const admin = chain.admin;
  const adminLedger = connectBillingLedger(run.ledger, admin);
  const gas = await gasByInterval(admin, run.setupBlock, adminLedger.interface, run.ledger);
  const honest = (i: number) =>
    !((attack === "tampering-user" && i === 0) || (attack === "corrupted-meter" && i === 1));
  const centers = run.ccIncarnations.map((c) => c.agent.center);
  const lastCenter = centers[centers.length - 1];
  const perInterval: IntervalSummary[] = [];
  const userChecks: UserIntervalCheck[] = [];
  const meterFigures: MeterIntervalFigures[] = [];
  const undelivered: { interval: number; meter: number; missing: number }[] = [];
  let totalMeasured = 0n;
  let totalReported = 0n;
  for (let j = 1; j <= scenario.intervals; j++) {
    const finalReport = await run.readInterval(j);
    const ofInterval = Array.from({ length: n }, (_, i) => figures.get(`${j}/${i}`));
    for (const f of ofInterval) if (f) meterFigures.push(f);
    const measured = ofInterval.reduce((s, f) => s + BigInt(f?.measuredWh ?? 0), 0n);
    const carried = ofInterval.reduce((s, f) => s + BigInt(f?.carryOutWh ?? 0), 0n);
    totalMeasured += measured;
    totalReported += finalReport.sumWh;
    // The CC that sealed j (after a crash in j, the restarted one) knows what it admitted.
    const sealer = [...centers].reverse().find((c) => knowsInterval(c, j)) ?? lastCenter;
    const zero = sealer.zeroSlots(j);
    const receipts = run.ccIncarnations[centers.indexOf(sealer)].agent.receipts(j);
    for (let i = 0; i < n; i++) {
      if (!honest(i) || lastCenter.isExcluded(i)) continue;
      const missing = slots - (receipts.get(i)?.size ?? 0);
      if (missing > 0) undelivered.push({ interval: j, meter: i, missing });
    }
    let verified = 0;
    let disputed = 0;
    for (const user of run.users) {
      const check = user.checks.find((c) => c.interval === j);
      if (!check) continue;
      userChecks.push(check);
      if (check.verified) verified++;
      else disputed++;
    }
    // The interval's line as the demo always printed it (scripts and tests read it).
    hooks.progress?.(
      `interval ${j}/${scenario.intervals}: ${finalReport.ocd.length} entries, Σ ${finalReport.sumWh} Wh, ` +
        `price ${finalReport.price ?? "?"}, bills verified ${verified}/${n}`,
    );
    const m = marks.get(j) ?? [];
    const at = (k: number) => m[Math.min(k, m.length - 1)] ?? t0;
    const phase = (k: number) => Math.round(at(k) - at(k - 1));
    const phaseMs = {
      open: phase(1),
      meters: phase(2),
      network: phase(3),
      post: phase(4),
      sp: phase(5),
      users: phase(6),
      total: Math.round(at(6) - at(0)),
    };
    const ofJ = gas.byInterval.get(j) ?? new Map<string, bigint>();
    perInterval.push({
      interval: j,
      entries: finalReport.ocd.length,
      zeroSlots: finalReport.zeroSlots.size,
      absenceMarkers: zero.markers,
      missingMeters: zero.missingMeters,
      aggregateWh: finalReport.sumWh.toString(),
      measuredWh: measured.toString(),
      carriedWh: carried.toString(),
      price: String(finalReport.price ?? 0n),
      billsVerified: verified,
      billsDisputed: disputed,
      rejected: sumRejections(centers.map((c) => c.stats(j).rejected)),
      minAnonymitySet: minAnonymitySet(finalReport.ocd.map((e) => e.value)),
      entriesPerValue: Object.fromEntries(
        [...valueHistogram(finalReport.ocd.map((e) => e.value))].map(([v, k]) => [String(v), k]),
      ),
      ocdDigest: bytesToHex(finalReport.ocdDigest),
      billedTotal: finalReport.billedTotal.toString(),
      gasUsed: [...ofJ.values()].reduce((a, b) => a + b, 0n).toString(),
      gasByOperation: decimal(ofJ),
      phaseMs,
    });
  }
  const lastFigures = meterFigures.filter((f) => f.interval === scenario.intervals);
  const finalCarry = lastFigures.reduce((s, f) => s + BigInt(f.carryOutWh), 0n);

  // ---- relays and the network ---------------------------------------------------------------------
  const netStats = run.network;
  const relays: Record<string, number> = {
    received: 0,
    forwarded: 0,
    coverSent: 0,
    loopsReturned: 0,
    /** Tags in every relay's replay cache at the end (three live epochs at most: previous, current, next). */
    replayTags: 0,
    /** The relays' onion epoch at the end (= the last interval). */
    epoch: 0,
  };
  for (const reason of ONION_DROP_REASONS) relays[`dropped.${reason}`] = 0;
  const relayTraffic: RelayTraffic[] = run.relays.map((relay, i) => {
    const c = relay.counters();
    relays.received += c.received;
    relays.forwarded += c.forwarded;
    relays.coverSent += c.coverSent;
    relays.loopsReturned += c.loopsReturned;
    relays.replayTags += c.replayTags;
    relays.epoch = Math.max(relays.epoch, relay.epoch);
    for (const reason of ONION_DROP_REASONS) relays[`dropped.${reason}`] += c.dropped[reason];
    const address = `meter-${i}`;
    const sizes = onionSizes.get(address) ?? new Map<number, number>();
    return {
      relay: address,
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
  const packetSizes = new Set<number>();
  for (const sizes of onionSizes.values()) for (const s of sizes.keys()) packetSizes.add(s);

  const unattributed = sumRejections(centers.map((c) => c.unattributedRejections()));
  const excludedHonest = Array.from({ length: n }, (_, i) => i).some(
    (i) => honest(i) && lastCenter.isExcluded(i),
  );
  const honestUnaffected =
    !excludedHonest && userChecks.filter((c) => honest(c.meterIndex)).every((c) => c.verified);
  return {
    scenario: attack ?? (scenario.crash ? `crash-${scenario.crash.phase}` : "honest"),
    seed: scenario.seed,
    mode: scenario.direct ? "direct" : "relayed",
    meters: n,
    intervals: scenario.intervals,
    ledger: run.ledger,
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
      packetsSent: onionPackets,
      packetsDelivered: onionsDelivered,
      messagesSent: netStats.sent,
      messagesDelivered: netStats.delivered,
      dropped: { ...netStats.dropped },
      packetSizes: [...packetSizes].sort((a, b) => a - b),
    },
    relays,
    delivery: deliveryVerdict(
      scenario.windowMs ?? DEFAULT_WINDOW_MS,
      undelivered,
      netStats.dropped.lost,
      relays,
    ),
    relayTraffic,
    categories: categories.map(String),
    tariff: {
      breakpointsWh: tariff.breakpointsWh.map(String),
      values: tariff.values.map(String),
      cap: String(tariff.cap),
    },
    setupGasByOperation: decimal(gas.setup),
    unattributedRejections: unattributed,
    crash: scenario.crash
      ? {
          interval: scenario.crash.interval,
          phase: scenario.crash.phase,
          restarted: run.ccRestarted,
        }
      : undefined,
    attack: attack
      ? judgeAttack(attack, perInterval, relays, unattributed, run, honestUnaffected)
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
      observer.originated(),
    ),
    wallTimeMs: now() - t0,
  };
}

/**
 * Does `center` hold interval `j` (opened by it, or restored from its store; also once sealed and
 * released)? `zeroSlots(j)` throws exactly when it does not; this asks without deriving them.
 */
function knowsInterval(center: ControlCenter, j: number): boolean {
  return center.hasInterval(j);
}

/** Sum of rejection counts by reason (several CC incarnations, one interval or none). */
function sumRejections<T extends Partial<Record<RejectReason, number>>>(parts: readonly T[]): T {
  const out: Partial<Record<RejectReason, number>> = {};
  for (const part of parts) {
    for (const [reason, k] of Object.entries(part) as [RejectReason, number][]) {
      out[reason] = (out[reason] ?? 0) + k;
    }
  }
  return out as T;
}

function decimal(gas: ReadonlyMap<string, bigint>): Record<string, string> {
  return Object.fromEntries([...gas].map(([k, v]) => [k, v.toString()]));
}

/** The run's delivery verdict: complete, or what was lost and why, in one line. */
function deliveryVerdict(
  windowMs: number,
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
      `${windowMs / 1000} s resend window (${lostOnLinks} packets lost on links; ` +
      `dropped by relays: ${relayDrops})`,
  };
}

/** The attack verdict from what CC, the relays and the chain refused. */
function judgeAttack(
  name: AttackName,
  perInterval: readonly IntervalSummary[],
  relays: Readonly<Record<string, number>>,
  unattributed: Readonly<Partial<Record<RejectReason, number>>>,
  run: OksuzAgentsRun,
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
    case "sp-wrong-bill": {
      // The cheat must be refused by the ledger itself, with the problem code it committed
      // (decoded from the revert data with the contracts' ABI, chain/errors.ts): any node, any text.
      const code =
        name === "sp-wrong-price" ? ENTRY_PROBLEM.PriceMismatch : ENTRY_PROBLEM.BillMismatch;
      const problem = name === "sp-wrong-price" ? "PriceMismatch" : "BillMismatch";
      const refusals = run.chainRefusals.filter(
        (r) =>
          r.error instanceof ContractRevertError &&
          r.error.errorName === "BillingLedgerInvalidEntry" &&
          String(r.error.args[2]) === String(code),
      );
      if (refusals.length > 0) outcome = "prevented";
      evidence =
        refusals.length > 0
          ? refusals
              .map(
                (r) =>
                  `the ledger reverted the malicious transaction (${problem}, ${r.role} ${r.method}): ${(r.error as Error).message}`,
              )
              .join("; ")
          : `the ledger accepted every transaction (no ${problem} revert)`;
      break;
    }
  }
  return { name, outcome, evidence, honestBillsUnaffected };
}

/**
 * Gas of the ledger's transactions from block `from` to the head, by interval and ledger function
 * (decoded from the calldata with `iface`: the interval is the call's `interval` argument, or its
 * batch's; "deploy" for the contract creation). Calls that name no interval (deployment,
 * configuration, meter registration) are the set-up. Agents of several intervals overlap in time
 * (SP bills j while CC admits j + 1), so block ranges cannot tell intervals apart.
 */
async function gasByInterval(
  signer: Signer,
  from: number,
  iface: Interface,
  ledger: string,
): Promise<{ setup: Map<string, bigint>; byInterval: Map<number, Map<string, bigint>> }> {
  const provider = signer.provider!;
  const setup = new Map<string, bigint>();
  const byInterval = new Map<number, Map<string, bigint>>();
  const to = await readHead(provider);
  for (let b = from; b <= to; b++) {
    const block = await provider.getBlock(b, true);
    for (const tx of block?.prefetchedTransactions ?? []) {
      let name: string;
      let interval: number | undefined;
      if (tx.to === null) name = "deploy";
      else if (tx.to.toLowerCase() !== ledger.toLowerCase()) continue;
      else {
        const call = iface.parseTransaction({ data: tx.data, value: tx.value });
        name = call?.name ?? "other";
        interval = call ? intervalArgument(call.fragment.inputs, call.args) : undefined;
      }
      const receipt = await provider.getTransactionReceipt(tx.hash);
      if (name === "deploy" && receipt?.contractAddress?.toLowerCase() !== ledger.toLowerCase())
        continue;
      let gas = setup;
      if (interval !== undefined) {
        gas = byInterval.get(interval) ?? new Map();
        byInterval.set(interval, gas);
      }
      gas.set(name, (gas.get(name) ?? 0n) + (receipt?.gasUsed ?? 0n));
    }
  }
  return { setup, byInterval };
}

/** The `interval` argument of a ledger call, at the top or inside a struct argument. */
function intervalArgument(
  inputs: readonly {
    readonly name: string;
    readonly components?: readonly { name: string }[] | null;
  }[],
  args: readonly unknown[],
): number | undefined {
  for (const [k, input] of inputs.entries()) {
    if (input.name === "interval") return Number(args[k]);
    const fields = input.components;
    const i = fields?.findIndex((f) => f.name === "interval") ?? -1;
    if (i >= 0) return Number((args[k] as readonly unknown[])[i]);
  }
  return undefined;
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
  if (
    s.ccWorkers !== undefined &&
    (!Number.isSafeInteger(s.ccWorkers) || s.ccWorkers < 1 || s.ccWorkers > 64)
  ) {
    throw new RangeError(`runOksuz: ccWorkers must be an integer in [1, 64], got ${s.ccWorkers}`);
  }
  if (s.posting !== undefined && s.posting !== "fixed" && s.posting !== "chain-speed") {
    throw new RangeError(`runOksuz: posting must be "fixed" or "chain-speed", got ${s.posting}`);
  }
  if (s.posting === "chain-speed" && s.batchSize !== undefined) {
    throw new RangeError(
      "runOksuz: batchSize sets fixed posting; chain-speed posting sizes batches from the block gas limit",
    );
  }
  for (const [k, v] of Object.entries(s.cover ?? {})) {
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > 1_000) {
      throw new RangeError(`runOksuz: cover.${k} must be an integer in [0, 1000], got ${v}`);
    }
  }
}
