// Oksuz 2020 as a wiring of real agents (issue 11 "the simulator is one wiring of real agents"):
// N MeterAgents (meter + onion relay), the ControlCenterService, the ServiceProviderAgent and N
// UserAgents over one MemoryNetwork on one VirtualClock, against a real chain (Hardhat in-process,
// `hardhat node` or any JSON-RPC URL). Every message crosses the network as a wire message; relay
// rounds, resends and windows run on the virtual clock. Deterministic given the seed: virtual time
// stands still while a chain call is in flight (the driver advances the clock only when no agent
// waits for the chain), so a slow chain changes wall time, never the run.
//
// This is the only Oksuz runner: `runOksuz` (offchain/sim/oksuz.ts) is this wiring plus the
// measurements of its report. Adversaries are wrappers from offchain/adversary/ around the honest
// agents' parts; the wiring itself holds no role logic. Keys are derived from the seed as
// `oksuzSetup` (offchain/node/roles/oksuz-setup.ts) derives them.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";

import type { Signer } from "ethers";

import {
  keyPairFromSecret,
  meterKeysFromSecret,
  randomSecretKey,
  type MeterKeys,
} from "../crypto/keys.ts";
import { connectBillingLedger, readDomain } from "../chain/billing.ts";
import {
  DeploymentMismatchError,
  attachBillingLedger,
  deployBillingLedger,
} from "../chain/deploy.ts";
import { chainCall, toChainError } from "../chain/errors.ts";
import {
  controlCenterChainClient,
  serviceProviderChainClient,
  userChainClient,
} from "../chain/oksuz-clients.ts";
import { readHead } from "../chain/provider.ts";
import { ControlCenterAgent } from "../cc/agent.ts";
import { ControlCenterService } from "../cc/service.ts";
import { Meter, type MeterIntervalReport } from "../meter/meter.ts";
import { MeterAgent, relayDirectory, type RelayDirectory } from "../meter/agent.ts";
import { LoadModelSource } from "../meter/source/load-model-source.ts";
import type { ReadingSource } from "../meter/source/source.ts";
import { OnionRelay, type RelayCounters } from "../onion/relay.ts";
import { DEFAULT_PATH_LENGTH } from "../onion/report.ts";
import { ONION_DROP_REASONS, type OnionDropReason } from "../onion/errors.ts";
import { ServiceProvider } from "../sp/service-provider.ts";
import { ServiceProviderAgent } from "../sp/agent.ts";
import { User, type UserIntervalCheck } from "../user/user.ts";
import { UserAgent, type UserAgentStatus } from "../user/agent.ts";
import { sharedUserChainClient, type UserChainClient } from "../user/chain-client.ts";
import { INTERVAL_STATE } from "../protocol/billing.ts";
import type { IntervalReport } from "../protocol/ledger-audit.ts";
import { DEFAULT_REPORT_SLOTS } from "../protocol/splitting.ts";
import type { TariffSchedule } from "../protocol/tariff.ts";
import type { UserBatchSlot } from "../protocol/user-batch.ts";
import { WIRE_TYPE } from "../protocol/wire/index.ts";
import { VirtualClock, type Clock, type TimerHandle } from "../runtime/clock.ts";
import { MemoryNetwork, type NetworkStats, type Transport } from "../runtime/network.ts";
import { TransportTap } from "../runtime/transport-tap.ts";
import {
  CrashingControlCenter,
  type ControlCenterIncarnation,
  type CrashPlan,
} from "../adversary/crashing-cc.ts";
import { ByteSlab } from "../runtime/byte-slab.ts";
import { createRng, type Rng } from "../runtime/rng.ts";
import { Store } from "../runtime/store.ts";
import { SecretStore } from "../runtime/secret-box.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import type { ProgressSink } from "../runtime/progress.ts";
import { LoadModel } from "./load-model.ts";
import { FakeMeter, corruptedMeter, tamperingUser } from "../adversary/meters.ts";
import { ReplayingOutsider } from "../adversary/outsider.ts";
import { cheatingOnce } from "../adversary/service-provider.ts";

/** The adversaries of Oksuz §3.1 a run can inject (offchain/adversary/). */
export const ATTACKS = [
  "fake-meter",
  "tampering-user",
  "corrupted-meter",
  "replaying-outsider",
  "sp-wrong-price",
  "sp-wrong-bill",
] as const;
export type AttackName = (typeof ATTACKS)[number];

export interface OksuzAgentsScenario {
  /** Meters (each also an onion relay), ≥ 5 (3 other relays per path). */
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
  /** CC's admission window per interval (virtual ms), default 60 s: meters resend until then. */
  readonly windowMs?: number;
  readonly network?: {
    readonly latencyMs?: number;
    readonly jitterMs?: number;
    readonly loss?: number;
    readonly reorder?: number;
  };
  readonly attack?: AttackName;
  /**
   * Kill CC in interval J (admission: after `afterReports` onion packets of J reached it, default
   * half of J's meters × K; posting: after its first OCD batch or before the seal) and restart it
   * from its store (offchain/adversary/crashing-cc.ts).
   */
  readonly crash?: CrashPlan;
  /** OCD entries per transaction with fixed posting, default 100. */
  readonly batchSize?: number;
  /**
   * How CC posts OCD (issue 14): "fixed" sends `batchSize` entries per transaction, one at a time;
   * "chain-speed" sizes batches from the block gas limit with {@link CITY_POSTING_WINDOW} in flight
   * (`ControlCenterAgentInit.posting`, cc/posting.ts, as the `gridledger cc` service does). Default
   * "fixed" ({@link postingMode}: why).
   */
  readonly posting?: OcdPostingMode;
  /**
   * Loopix-style cover traffic (docs/ONION.md): every relay sends `loopsPerRound` loops each
   * round and tops a round's output up to `minBatch` packets; off by default.
   */
  readonly cover?: { readonly loopsPerRound?: number; readonly minBatch?: number };
  /** CC's admission pool (`ControlCenterAgentInit.admissionWorkers`), default 1 (inline). */
  readonly ccWorkers?: number;
  /**
   * Retire the fleet (issue 14, docs/SCALE.md "Retiring the fleet after the seal" and "…before
   * the posting"): CC gets a closing grace ({@link CLOSING_GRACE_MS}) and, once it has closed the
   * run's last window (before it posts; with a `crash` plan, once it has sealed), no report onion
   * can still be made or be on its way, and meter i's household has acknowledged the last batch
   * with nothing in flight to either of them, meter i's agent is stopped, its endpoint retired
   * (`MemoryNetwork.retire`) and the run forgets it (`OksuzAgentsRun.meters[i]` becomes
   * undefined, `relays[i]` a frozen snapshot of its figures); once household i has checked every
   * interval, and its meter is retired, it goes too (`users[i]` becomes its figures). The run's
   * outputs are the same (nothing can reach a retired node, so no message count changes; the
   * grace adds only virtual time). Ignored with `cover` (Loopix relays keep sending each round: a retired relay would change
   * the traffic). Default false (`runOksuz` turns it on).
   */
  readonly retire?: boolean;
  /**
   * When the households are built (issue 14, docs/SCALE.md "Households made on their first
   * batch"): "on-first-packet" (default) builds household i when the first packet to `user-i`
   * goes on the wire (its meter's user batch), or once its first interval is final if nothing
   * ever reaches it; "at-start" builds every household before the run starts (the wiring before
   * session 9: ≈ 2 kB more per meter through the onion phase). The run's outputs are the same
   * either way; "at-start" is the control of the tests that say so.
   */
  readonly households?: "on-first-packet" | "at-start";
}

export interface OksuzAgentsChain {
  readonly admin: Signer;
  readonly controlCenter: Signer;
  readonly serviceProvider: Signer;
}

/**
 * One meter → user batch as the user received it, with the keys the user holds from pairing and
 * its contract (DESIGN §4.2, §6, §7; docs/PROTOCOL.md "Pseudonym file").
 */
export interface UserBatchDelivery {
  readonly meterIndex: number;
  readonly interval: number;
  /** The K slots (counter order). */
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

/** A chain write an agent made that the chain refused (decoded with chain/errors.ts). */
export interface ChainRefusal {
  readonly role: "cc" | "sp";
  readonly method: string;
  /** The refusal as `toChainError` decoded it (a `ContractRevertError` for a revert). */
  readonly error: unknown;
}

/**
 * What the run's callers read of a relay (`OksuzAgentsRun.relays`): the `OnionRelay` itself, or,
 * once its meter is retired, its figures frozen at retirement.
 */
export interface RelayFigures {
  readonly epoch: number;
  counters(): RelayCounters;
}

/**
 * What the run's callers read of a household agent (`OksuzAgentsRun.users`): the `UserAgent`
 * itself, or, once it is retired, its checks and status frozen at retirement.
 */
export interface UserFigures {
  readonly checks: readonly UserIntervalCheck[];
  status(): UserAgentStatus;
}

/** What the wiring holds while it runs and returns at the end: the agents, to inspect. */
export interface OksuzAgentsRun {
  readonly ledger: string;
  /** First block after the set-up's first transaction (deployment or configuration). */
  readonly setupBlock: number;
  /** The CC running now (after a restart, the restarted one). */
  readonly cc: ControlCenterService;
  /** Every CC incarnation in order (one, or two when the crash fired). */
  readonly ccIncarnations: readonly ControlCenterIncarnation[];
  /** True when the crash adversary killed CC and it restarted from its store. */
  readonly ccRestarted: boolean;
  readonly sp: ServiceProviderAgent;
  /** Meter i's agent; undefined once retired (`OksuzAgentsScenario.retire`). */
  readonly meters: readonly (MeterAgent | undefined)[];
  /** Each meter's onion relay (`relays[i]` is meter i's), or its figures once retired. */
  readonly relays: readonly RelayFigures[];
  /** Household i's agent, or its figures once retired. */
  readonly users: readonly UserFigures[];
  /**
   * Households built so far: each is built when its first packet goes on the wire (issue 14,
   * docs/SCALE.md "Households made on their first batch"); `users[i]` is an empty stand-in
   * (no checks, every status count 0) until then.
   */
  readonly householdsBuilt: number;
  /** Meters and households retired so far (`OksuzAgentsScenario.retire`). */
  readonly retired: { readonly meters: number; readonly users: number };
  /** Meters whose reading of interval j is done (j → count). */
  readonly metersMeasured: ReadonlyMap<number, number>;
  /** The interval CC announced last (0 before the first). */
  readonly announced: number;
  /** Chain writes refused (SP's cheats end up here). */
  readonly chainRefusals: readonly ChainRefusal[];
  /** The run's reader of the public ledger (shared by SP and users; final intervals cached). */
  readInterval(interval: number): Promise<IntervalReport>;
  readonly outsider?: ReplayingOutsider;
  readonly fakeMeter?: FakeMeter;
  readonly network: NetworkStats;
  /** Virtual time so far (ms). */
  readonly virtualMs: number;
}

export interface OksuzAgentsHooks {
  readonly logger?: Logger;
  /** Counted progress: "meters prepared" (restarts every interval) and "intervals". */
  readonly step?: ProgressSink;
  /** One line per milestone (deployment, registration, each interval sealed and final). */
  readonly progress?: (message: string) => void;
  /**
   * The global passive observer's tap: every message a meter, CC, the fake meter or the outsider
   * puts on a link, with the interval CC announced last (0 before the first).
   */
  readonly observe?: (from: string, to: string, bytes: Uint8Array, interval: number) => void;
  /** Every message delivered to a meter or to CC (the same observer, receiving side). */
  readonly delivered?: (bytes: Uint8Array) => void;
  /** Called between clock steps and while the driver waits for the chain (measurements). */
  readonly watch?: (run: OksuzAgentsRun) => void;
  /** Every user batch as its user receives it (what `gridledger verify-bill` reads). */
  readonly userBatch?: (delivery: UserBatchDelivery) => void;
  /** Every meter's interval report, when its window closes and the batch goes to its user. */
  readonly meterReport?: (meterIndex: number, report: MeterIntervalReport) => void;
  /**
   * Called once, when every meter agent and its relay has retired and every agent's `stop()` has
   * settled (`OksuzAgentsScenario.retire`;
   * households retire later, once they have checked every interval): with the closing grace,
   * while CC posts the last interval (the point where the V8 heap the fleet held can be given
   * back, issue 14). Never called without retirement, with `cover`, or when a meter is still
   * kept at the run's end.
   */
  readonly fleetRetired?: () => void;
  /** Shortest wall-clock period of the onion phase's `step` ticker, ms (default 2,000; tests). */
  readonly progressTickMs?: number;
}

export class OksuzAgentsTimeoutError extends Error {
  override name = "OksuzAgentsTimeoutError";
}

export const DEFAULT_CATEGORIES: readonly bigint[] = [50n, 100n, 250n, 500n, 1000n];
/** Price units per Wh, rising with the regional load (a 50-household feeder ≈ 20 kWh/hour). */
export const DEFAULT_TARIFF: TariffSchedule = {
  breakpointsWh: [0n, 10_000n, 25_000n, 100_000n],
  values: [2n, 3n, 5n, 8n],
  cap: 10n,
};
export const DEFAULT_START_TIME = 1_767_571_200n; // 2026-01-05T00:00:00Z
export const DEFAULT_WINDOW_MS = 60_000;
const ROUND_MS = 200;
/**
 * CC's closing grace when the fleet retires (`ControlCenterServiceInit.closingGraceMs`, issue 14,
 * session 9), virtual ms: after CC's final announcement a meter closes its window one round later
 * (`MeterAgent`: max(window, round)), sends its household the batch and gets its acknowledgement
 * (three one-way latencies of ≤ 30 ms), and its relay empties its queue (≤ 1 round): measured in
 * session 9, the whole fleet retired 1 round after CC closed the window at 12 meters, 2 rounds at
 * 4,000 (offchain/bench/posting-heap.ts). Since session 10 the batches leave spread over
 * {@link USER_BATCH_SPREAD_MS} after the close: 1 + 6 + 1 rounds, 10 with margin — virtual time,
 * no wall time. Below the meters' resend period (12 rounds), so a batch is not sent twice because
 * of it.
 */
export const CLOSING_GRACE_MS = 10 * ROUND_MS;

/**
 * With the closing grace, each meter sends its household the user batch at a random time within
 * this many virtual ms after its window closes (`MeterAgentInit.userBatchDelayMs`; issue 14,
 * session 10): at once, every household of a city was built (with its batch) while the whole
 * fleet was still alive, the run's memory peak at 100,000 meters; spread, the meters whose
 * households confirmed retire while later batches are still on their way. The delay is drawn
 * apart from every other random choice and says nothing about the reports (DESIGN §6).
 */
export const USER_BATCH_SPREAD_MS = 6 * ROUND_MS;

/** Whether the run retires its fleet (`OksuzAgentsScenario.retire`, not with cover traffic). */
function retiring(scenario: Pick<OksuzAgentsScenario, "retire" | "cover">): boolean {
  return scenario.retire === true && scenario.cover === undefined;
}

/**
 * Deploys (or attaches to) a BillingLedger, wires every Oksuz agent over a MemoryNetwork on a
 * VirtualClock, runs `scenario.intervals` intervals (1-based) to the end (every interval final
 * on-chain, every user check done) and stops every agent; with `scenario.retire`, meters and
 * households are retired as their work ends (see {@link OksuzAgentsScenario.retire}). Throws `OksuzAgentsTimeoutError` when
 * the run has not ended after (intervals + 2) × 10 windows of virtual time,
 * `DeploymentMismatchError` for an attached ledger already used, and whatever an agent failed with.
 */
export async function runOksuzAgents(
  scenario: OksuzAgentsScenario,
  chain: OksuzAgentsChain,
  hooks: OksuzAgentsHooks = {},
): Promise<OksuzAgentsRun> {
  // Every report admitted means every onion was sent: the onion ticker (one scan per ≥ 2 s) may not
  // have said so yet, so CC's "reports admitted N/N" first settles "onions sent" (newcomer trial,
  // session 13: "onions sent 2400/2400" came 1.1 s after "reports admitted 2400/2400").
  let settleOnionsSent = (): void => {};
  const outerStep = hooks.step;
  if (outerStep !== undefined) {
    hooks = {
      ...hooks,
      step: (s) => {
        if (s.task === "reports admitted" && s.done === s.total) settleOnionsSent();
        outerStep(s);
      },
    };
  }
  const logger = hooks.logger ?? silentLogger;
  const progress = hooks.progress ?? (() => {});
  const rng = createRng(`gridledger/oksuz/${scenario.seed}`);
  const randomBytes = (r: Rng) => (n: number) => r.bytes(n);
  const slots = scenario.slots ?? DEFAULT_REPORT_SLOTS;
  // Never more than half the window: the resends and the window's close come after the rounds.
  const sendRounds = Math.min(
    citySendRounds(scenario.meters, slots),
    Math.max(8, Math.floor((scenario.windowMs ?? DEFAULT_WINDOW_MS) / (2 * ROUND_MS))),
  );
  const categories = scenario.categories ?? DEFAULT_CATEGORIES;
  const direct = scenario.direct ?? false;
  const intervalSeconds = scenario.intervalSeconds ?? 3600;
  const startTime = scenario.startTime ?? DEFAULT_START_TIME;
  const windowMs = scenario.windowMs ?? DEFAULT_WINDOW_MS;
  const attack = scenario.attack;

  // ---- keys and deployment -----------------------------------------------------------------------
  const keyRng = rng.fork("keys");
  const ccKeys = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("cc"))));
  const ccSigKeys = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("cc/sig"))));
  const spKeys = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("sp"))));
  const spSigSk = randomSecretKey(randomBytes(keyRng.fork("sp/sig")));
  if (scenario.ledger !== undefined) await checkUnusedLedger(scenario.ledger, chain.admin);
  const setupBlock = (await readHead(chain.admin.provider!)) + 1;
  const { address } = await (
    scenario.ledger === undefined
      ? deployBillingLedger
      : attachBillingLedger.bind(undefined, scenario.ledger)
  )(chain, {
    tariff: scenario.tariff ?? DEFAULT_TARIFF,
    categories,
    controlCenter: { publicKey: ccKeys.publicKey, sigPublicKey: ccSigKeys.publicKey },
    serviceProvider: {
      publicKey: spKeys.publicKey,
      sigPublicKey: keyPairFromSecret(spSigSk).publicKey,
    },
    direct,
    slotsPerMeter: slots,
  });
  const domain = await readDomain(connectBillingLedger(address, chain.admin));
  progress(
    `${scenario.ledger === undefined ? "deployed" : "attached to"} BillingLedger at ${address} (${direct ? "direct" : "relayed"} mode)`,
  );

  // Virtual time stands still while any agent waits for the chain, or for CC's admission of a
  // batch (its signature checks may run on worker threads): so the run does not depend on how
  // fast the machine or the chain is (see the header). Refused writes are kept (decoded) for the
  // report: a cheating SP's refusal is its evidence.
  let chainCalls = 0;
  const chainRefusals: ChainRefusal[] = [];
  const counted = <T extends object>(client: T, role?: "cc" | "sp"): T =>
    new Proxy(client, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          chainCalls++;
          return Promise.resolve(value.apply(target, args))
            .catch((err: unknown) => {
              if (role && String(key).startsWith("post")) {
                chainRefusals.push({ role, method: String(key), error: toChainError(err) });
              }
              throw err;
            })
            .finally(() => chainCalls--);
        };
      },
    });

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
  // The link observer's tap (onion packets and announcements are told apart by their type byte).
  let announced = 0;
  const observed = (endpoint: Transport): Transport =>
    hooks.observe === undefined
      ? endpoint
      : new TransportTap(endpoint, {
          onSend: (to, bytes) => hooks.observe!(endpoint.address, to, bytes, announced),
          beforeHandle: hooks.delivered && ((_from, bytes) => hooks.delivered!(bytes)),
        });

  // ---- CC (killed and restarted from its store by the crash adversary, if asked) -------------
  // The fleet retires once CC closed the last window (before it posts) when it can: not with a
  // crash plan (the restarted CC announces the interval again, so the seal stays the point).
  const retireEarly = retiring(scenario) && scenario.crash === undefined;
  const storeDir = mkdtempSync(join(tmpdir(), "gridledger-cc-"));
  const storePath = join(storeDir, "cc.sqlite");
  // Removed in the run's `finally`, and at exit when the run never gets there: an uncaught error
  // (a demo piped into `head` dies on EPIPE) or `process.exit` left it under /tmp (session 13).
  const removeStore = (): void => rmSync(storeDir, { recursive: true, force: true });
  process.once("exit", removeStore);
  const operatorKey = rng.fork("cc/operator-key").bytes(32);
  const ccChain = counted(
    controlCenterChainClient(connectBillingLedger(address, chain.controlCenter)),
    "cc",
  );
  const incarnations: ControlCenterIncarnation[] = [];
  const openCc = (transport: Transport): ControlCenterIncarnation => {
    const store = Store.open({ path: storePath });
    const secrets = SecretStore.open(
      store,
      { key: operatorKey },
      { randomBytes: randomBytes(rng.fork(`cc/box/${incarnations.length}`)) },
    );
    const agent = ControlCenterAgent.start(
      {
        keys: ccKeys,
        domain,
        maxMessagesPerMeter: slots,
        maxFailures: 3,
        batchSize: scenario.batchSize,
        posting:
          postingMode(scenario) === "chain-speed" ? { window: CITY_POSTING_WINDOW } : undefined,
        epoch: 0,
        admissionWorkers: scenario.ccWorkers,
      },
      { store, secrets, chain: ccChain, logger: logger.child("cc") },
    );
    // The admission of a batch, counted as work in flight like a chain call (see above).
    const admitting = new Proxy(agent, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (typeof value !== "function") return value;
        if (key !== "onPackets") return value.bind(target);
        return (...args: Parameters<ControlCenterAgent["onPackets"]>) => {
          chainCalls++;
          return target.onPackets(...args).finally(() => chainCalls--);
        };
      },
    });
    const service = new ControlCenterService(
      {
        meters: scenario.meters,
        intervals: scenario.intervals,
        startTime,
        intervalSeconds,
        categories,
        slots,
        windowMs,
        // Group commit (issue 14): the packets of one relay round are admitted in one store
        // transaction, acknowledged after it commits (one durable append per report was ≈ 30 %
        // of a city's run).
        admissionBatchMs: ROUND_MS / 4,
        // Retiring before the posting (issue 14, session 9): virtual time for the meters to close
        // their windows and hand their households the batch before CC posts (see Retirement).
        closingGraceMs: retireEarly ? CLOSING_GRACE_MS : undefined,
      },
      {
        agent: admitting,
        chain: ccChain,
        transport,
        clock,
        logger: logger.child("cc"),
        step: hooks.step,
      },
    );
    const incarnation: ControlCenterIncarnation = {
      agent,
      service,
      close: () => {
        // A process exit: admission threads end, the database handle closes.
        void agent.close();
        secrets.close();
        store.close();
      },
    };
    incarnations.push(incarnation);
    return incarnation;
  };
  const ccEndpoint = new TransportTap(observed(network.endpoint("cc")), {
    onSend: (_to, bytes) => {
      if (bytes[1] === WIRE_TYPE.intervalAnnouncement) {
        const j = incarnations.at(-1)?.service.status().interval ?? 0;
        if (j > announced) announced = j;
      }
    },
  });
  const crash = scenario.crash && {
    ...scenario.crash,
    afterReports:
      scenario.crash.afterReports ?? Math.max(1, Math.floor((scenario.meters * slots) / 2)),
  };
  const crashing = crash
    ? new CrashingControlCenter(openCc, crash, { transport: ccEndpoint, clock })
    : undefined;
  const single = crashing ? undefined : openCc(ccEndpoint);
  const ccNode = crashing ?? {
    start: () => single!.service.start(),
    stop: async () => {
      await single!.service.stop();
      single!.close();
    },
    get done() {
      return single!.service.done;
    },
  };
  const currentCc = () => crashing?.current.service ?? single!.service;

  // ---- SP ----------------------------------------------------------------------------------------
  const honestSp = new ServiceProvider({
    keys: spKeys,
    signingKey: spSigSk,
    ccPublicKey: ccKeys.publicKey,
    domain,
  });
  const sp =
    attack === "sp-wrong-price"
      ? cheatingOnce(honestSp, "wrong-price")
      : attack === "sp-wrong-bill"
        ? cheatingOnce(honestSp, "wrong-bill")
        : honestSp;
  // Households' key pairs serve direct mode only (relayed users sign nothing): not derived, nor
  // held, in relayed mode (issue 14). Forks depend on their labels only, so the other keys are the
  // same either way.
  const userKeys = direct
    ? Array.from({ length: scenario.meters }, (_, i) =>
        keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork(`user/${i}`)))),
      )
    : [];
  // One reader of the public ledger for SP and every user (a final interval is immutable and read
  // once; concurrent reads share one rebuild): each still audits the report itself.
  const reader = sharedUserChainClient(
    // Counted progress of each read (issue 14: minutes at 100,000 meters): blocks read, then slots
    // audited. Explicit options give the run a reader of its own, shared here by SP and users.
    counted(
      userChainClient(
        connectBillingLedger(address, chain.admin),
        hooks.step ? { progress: hooks.step } : {},
      ),
    ),
  );
  const spChain = counted(
    serviceProviderChainClient(connectBillingLedger(address, chain.serviceProvider)),
    "sp",
  );
  const spAgent = new ServiceProviderAgent(
    {
      intervals: scenario.intervals,
      mode: direct ? "direct" : "relayed",
      userPublicKeys: direct ? userKeys.map((k) => k.publicKey) : undefined,
    },
    {
      sp,
      chain: {
        readInterval: (j) => reader.readInterval(j),
        // Polls read the interval's record only; the interval is read in full when sealed and
        // when final (issue 14).
        intervalCounts: (j) => spChain.intervalCounts!(j),
        readTariff: (v) => spChain.readTariff(v),
        postDap: (j, entries) => spChain.postDap(j, entries),
        postBills: (batch) => spChain.postBills(batch),
        closeBilling: (j) => spChain.closeBilling(j),
      },
      clock,
      transport: direct ? undefined : network.endpoint("sp"),
      logger: logger.child("sp"),
      progress: hooks.step,
    },
  );

  // ---- meters, relays, users, adversaries ----------------------------------------------------------
  // The fleet of meters' small secrets in one slab (issue 14: ≈ 136 B of buffer overhead each
  // saved): `K_i`, the pseudonym keys and the agents' generator states. Only the meters' side
  // holds it — each Meter, MeterAgent generator and key object keeps its views private —; CC,
  // SP, users and relays never get a view (the public keys have their own buffers).
  const meterSecrets = new ByteSlab(64 * 1024);
  const meterKeys = Array.from({ length: scenario.meters }, (_, i) => {
    const r = keyRng.fork(`meter/${i}`);
    return packedMeterKeys(
      meterKeysFromSecret(randomSecretKey(randomBytes(r)), r.bytes(32)),
      meterSecrets,
    );
  });
  // Held here only while the agents are built (see below); the agents and adversaries keep theirs.
  let directory: RelayDirectory | undefined = relayDirectory(
    meterKeys.map((k) => k.publicKey),
    meterKeys.map((_, i) => `meter-${i}`),
    { publicKey: ccKeys.publicKey, address: "cc" },
  );
  const load = new LoadModel({ seed: scenario.seed });
  const loadRng = rng.fork("load");
  const fakeRng = keyRng.fork("fake-meter");
  const fakeMeter =
    attack === "fake-meter"
      ? new FakeMeter({
          meter: new Meter({
            index: scenario.meters,
            keys: meterKeysFromSecret(randomSecretKey(randomBytes(fakeRng)), fakeRng.bytes(32)),
            ccPublicKey: ccKeys.publicKey,
            domain,
            categories,
            slots,
          }),
          transport: observed(network.endpoint("fake-meter")),
          clock,
          rng: rng.fork("fake-meter"),
          directory,
          ccPublicKey: ccKeys.publicKey,
          domain,
        })
      : undefined;
  let adversaryFailure: unknown;
  const outsider =
    attack === "replaying-outsider"
      ? new ReplayingOutsider(
          {},
          {
            transport: observed(network.endpoint("outsider")),
            clock,
            rng: rng.fork("outsider"),
            directory,
            ccPublicKey: ccKeys.publicKey,
            domain,
            readEntries: async (j) => (await reader.readInterval(j)).ocd,
            onError: (err) => (adversaryFailure ??= err),
          },
        )
      : undefined;
  const metersMeasured = new Map<number, number>();
  let measuredNow = 0;
  // One labelling function and one counting callback for every meter (issue 14: no closures per
  // simulated meter). Labelled by the 0-based interval index, as the simulator always did: same
  // seed, same consumption.
  const intervalIndex = (startS: number): bigint =>
    (BigInt(startS) - startTime) / BigInt(intervalSeconds);
  const noiseLabel = (startS: number, meterIndex: number): string =>
    `${meterIndex}/${intervalIndex(startS)}`;
  const measured = (startS: number): void => {
    const j = Number(intervalIndex(startS)) + 1;
    const n = (metersMeasured.get(j) ?? 0) + 1;
    metersMeasured.set(j, n);
    if (j === measuredNow || n === 1) {
      measuredNow = j;
      hooks.step?.({ task: "meters prepared", done: n, total: scenario.meters });
    }
  };
  const meters: (MeterAgent | undefined)[] = [];
  const relays: (OnionRelay | RelayFigures)[] = [];
  // The fleet's relays queue their forwards in one slab (issue 14): a round's onions in shared
  // 256 KiB chunks, freed together when the round has ended, instead of two buffers each. Only
  // the relays hold it, and they hand out copies (RelayInit.queueSlab).
  const relayQueueSlab = new ByteSlab();
  // The meter agents' compact user batches (head and tweaks) in one slab of their own (issue 14;
  // `MeterAgentComponents.batchSlab`): not the meters' secrets slab, whose chunks live for the
  // whole run, since these go with their interval. Only the meter agents hold views of it.
  const meterBatchSlab = new ByteSlab(64 * 1024);
  const users: (UserAgent | UserFigures)[] = [];
  // One meter at a time in a function of its own, not in this async function's body: a suspended
  // async function keeps its locals' last values in its registers, so the loop's last relay stayed
  // reachable for the whole run once the fleet had retired (issue 14, session 10).
  const buildMeterAgent = (i: number): void => {
    hooks.step?.({ task: "meter agents built", done: i + 1, total: scenario.meters });
    const keys = meterKeys[i];
    const honestMeter = new Meter({
      index: i,
      keys,
      ccPublicKey: ccKeys.publicKey,
      domain,
      categories,
      slots,
      secretStore: meterSecrets,
    });
    // The adversaries wrap the parts they corrupt; the agents stay the honest ones.
    const meter =
      attack === "tampering-user" && i === 0
        ? tamperingUser(honestMeter, categories)
        : attack === "corrupted-meter" && i === 1
          ? corruptedMeter(honestMeter, domain, 0xbad5eedn)
          : honestMeter;
    let transport = observed(network.endpoint(`meter-${i}`));
    if (fakeMeter && i === 2) transport = fakeMeter.tap(transport);
    if (outsider) transport = outsider.tap(transport);
    const relay = new OnionRelay({
      privateKey: keys.secretKey,
      nodeId: keys.publicKey, // the directory's array, not a copy per relay (issue 14)
      domain,
      epoch: 0,
      cover: scenario.cover,
      queueSlab: relayQueueSlab,
    });
    relays.push(relay);
    meters.push(
      new MeterAgent(
        {
          address: `meter-${i}`,
          userAddress: `user-${i}`,
          ccPublicKey: ccKeys.publicKey,
          domain,
          pathLength: scenario.pathLength,
          roundMs: ROUND_MS,
          sendRounds,
          userBatchDelayMs: retireEarly ? USER_BATCH_SPREAD_MS : undefined,
          registrationSecret: randomSecretKey(randomBytes(keyRng.fork(`eph/${i}`))),
        },
        {
          meter,
          relay,
          transport,
          clock,
          rng: rng.fork(`meter-agent/${i}`, meterSecrets),
          readings: new CountingSource(
            new LoadModelSource({ meterIndex: i, noiseLabel }, { model: load, rng: loadRng }),
            measured,
          ),
          directory: directory!, // dropped only once every meter agent holds it (below)
          logger: logger.child(`meter-${i}`),
          batchSlab: meterBatchSlab,
        },
      ),
    );
    if (hooks.meterReport) {
      const onReport = hooks.meterReport;
      meters[i]!.onUserBatch = (_interval, report) => onReport(i, report);
    }
    users.push(UNBUILT_HOUSEHOLD);
  };
  for (let i = 0; i < scenario.meters; i++) buildMeterAgent(i);
  // Household i is built when its first packet goes on the wire (its meter's user batch at the
  // window's end), not here (issue 14, docs/SCALE.md "Households made on their first batch"):
  // until then it would only poll the chain, as every unbuilt household does in one poll of
  // {@link Households}. It keeps `B_i` from here (a view the meter holds too), not the meter's keys.
  const basePublicKeys = meterKeys.map((k): Uint8Array | undefined => k.basePublicKey);
  const buildHousehold = (i: number): UserAgent => {
    const meterBasePublicKey = basePublicKeys[i]!;
    basePublicKeys[i] = undefined;
    const user = new User({
      meterIndex: i,
      domain,
      meterBasePublicKey,
      spSigPk: sp.sigPk,
      direct: direct
        ? { keys: userKeys[i], spPublicKey: spKeys.publicKey, spId: spKeys.id }
        : undefined,
    });
    const userAgent = new UserAgent(
      // A meter that never heard of an interval has no batch to give: its user says so once the
      // interval is final and a window has passed, instead of waiting for ever.
      {
        meterAddress: `meter-${i}`,
        intervals: scenario.intervals,
        batchTimeoutMs: windowMs,
        pollMs: HOUSEHOLD_POLL_MS,
      },
      {
        user,
        chain: reader,
        transport: network.endpoint(`user-${i}`),
        clock,
        logger: logger.child(`user-${i}`),
      },
    );
    // (The meter releases the interval's kept report bytes when the household's receipt of the
    // batch reaches its agent: `MeterAgent`, `Meter.releaseSent`, issue 14.)
    if (hooks.userBatch) {
      const deliver = hooks.userBatch;
      userAgent.onBatch = (interval, batch) =>
        deliver({
          meterIndex: i,
          interval,
          slots: batch,
          meterBasePublicKey,
          spSigPk: sp.sigPk,
          direct: direct
            ? { spPublicKey: spKeys.publicKey, userSecretKey: userKeys[i].secretKey }
            : undefined,
        });
    }
    return userAgent;
  };
  // Every meter holds its keys from here on, and every meter agent the directory: neither is
  // kept for the run (issue 14), so a retired meter's keys go with it, and the directory (its
  // public keys and the map of their hex to addresses, ≈ 0.4 kB per meter) with the last one.
  meterKeys.length = 0;
  directory = undefined;
  const retirement = new Retirement(scenario, { meters, relays, users, network }, () =>
    hooks.fleetRetired?.(),
  );
  /** The last interval CC admits nothing more of: its window (early retirement), or its seal. */
  const closedForMeters = (): number =>
    retireEarly ? currentCc().windowClosed : currentCc().status().sealed;
  let usersDone = 0;
  const households = new Households(
    {
      users,
      pollMs: HOUSEHOLD_POLL_MS,
      firstInterval: 1,
      atStart: scenario.households === "at-start",
    },
    {
      build: buildHousehold,
      chain: reader,
      clock,
      checked: () =>
        hooks.step?.({ task: "bills checked", done: ++usersDone, total: users.length }),
    },
  );
  network.onDemand((address) => households.buildFor(address));

  const live: OksuzAgentsRun = {
    ledger: address,
    setupBlock,
    get cc() {
      return currentCc();
    },
    ccIncarnations: incarnations,
    get ccRestarted() {
      return crashing?.restarted ?? false;
    },
    sp: spAgent,
    meters,
    relays,
    users,
    metersMeasured,
    get announced() {
      return announced;
    },
    get retired() {
      return { meters: retirement.meters, users: retirement.users };
    },
    get householdsBuilt() {
      return households.built;
    },
    chainRefusals,
    readInterval: (j) => reader.readInterval(j),
    outsider,
    fakeMeter,
    get network() {
      return network.stats();
    },
    get virtualMs() {
      return clock.now();
    },
  };

  // ---- run ----------------------------------------------------------------------------------------
  const agents = meters as MeterAgent[];
  try {
    for (const s of [ccNode, spAgent, ...agents, households]) await s.start();
    fakeMeter?.start();
    outsider?.start();
    let finished = false;
    let failure: unknown;
    const all = Promise.all([ccNode.done, spAgent.done, households.done]).then(
      () => void (finished = true),
      (err) => {
        failure = err;
        finished = true;
      },
    );
    const limitMs = (scenario.intervals + 2) * 10 * windowMs;
    let registered = false;
    let sealed = 0;
    let billed = 0;
    // Milestones and the watch hook: while waiting for the chain, and at most every quarter round
    // of virtual time otherwise.
    let watchedAtMs = -Infinity;
    const look = (): void => {
      watchedAtMs = clock.now();
      hooks.watch?.(live);
      const cc = currentCc().status();
      if (!registered && cc.interval > 0) {
        registered = true;
        progress(`registered ${cc.registered} meters`);
      }
      for (; sealed < cc.sealed; sealed++) {
        const { admitted } = currentCc().agent.center.stats(sealed + 1);
        progress(
          `interval ${sealed + 1}/${scenario.intervals}: sealed, ${admitted} of ${scenario.meters * slots} slots admitted`,
        );
      }
      retirement.look(closedForMeters(), false, clock.now());
      for (; billed < spAgent.status().billedThrough; billed++) {
        const price = spAgent.prices.get(billed + 1);
        progress(
          `interval ${billed + 1}/${scenario.intervals}: final, price ${price ?? "?"} per Wh`,
        );
        hooks.step?.({ task: "intervals", done: billed + 1, total: scenario.intervals });
      }
    };
    // Counted progress of the onion phase (issue 14: at 100,000 meters it ran for many minutes
    // with no line): the meters' report onions (first copies, not resends) until all are sent,
    // then the hops the relays forwarded (cover loops included, so with `--cover` the count stops
    // at its total early). One step per tick, and only when it moved: the plain-line printer shows
    // one step per 2 s. Wall-clock sampled: a virtual round at city scale is minutes of CPU, and
    // `advanceAsync` yields to the event loop after every timer.
    const hops = scenario.pathLength ?? DEFAULT_PATH_LENGTH;
    const onionTotal = scenario.meters * slots * scenario.intervals;
    let lastOnionStep = "";
    let sentCompleted = false;
    /** Report onions sent so far (first copies, not resends): one scan over the meters. */
    const onionsSent = (): number => {
      let sent = retirement.onionsSent;
      for (const m of meters) {
        if (m === undefined) continue;
        const st = m.status();
        sent += st.onionsSent - st.resent;
      }
      return sent;
    };
    settleOnionsSent = () => {
      if (sentCompleted || onionsSent() < onionTotal) return;
      sentCompleted = true;
      hooks.step?.({ task: "onions sent", done: onionTotal, total: onionTotal });
    };
    /** The onion phase's step now (both steps when `final`: the run's end, whatever the ticks). */
    const onionProgress = (final: boolean): void => {
      const sent = onionsSent();
      const sentStep = { task: "onions sent", done: Math.min(sent, onionTotal), total: onionTotal };
      let forwarded = 0;
      if (final || sent >= onionTotal) {
        for (const r of relays) forwarded += r.counters().forwarded;
      }
      const hopsStep = {
        task: "onion hops relayed",
        done: Math.min(forwarded, onionTotal * hops),
        total: onionTotal * hops,
      };
      if (final) {
        if (!sentCompleted) hooks.step?.(sentStep);
        hooks.step?.(hopsStep);
        return;
      }
      // The tick that finds every onion sent reports "onions sent N/N" first, so the log says the
      // phase ended when it did, not after the seal (newcomer trial, session 12).
      if (sent >= onionTotal && !sentCompleted) {
        sentCompleted = true;
        hooks.step?.(sentStep);
      }
      const step = sent < onionTotal ? sentStep : hopsStep;
      const key = `${step.task}/${step.done}`;
      if (key === lastOnionStep) return;
      lastOnionStep = key;
      hooks.step?.(step);
    };
    // Each tick scans every meter (and relay), O(N): at a fixed 2 s period that was O(N) per 2 s
    // of wall time, O(N²) over a run whose wall time grows with N (issue 14). The next tick waits
    // `progressTickMs` of the scan's own cost, so the ticker never takes more than 2 % of the run.
    let onionTicker: ReturnType<typeof setTimeout> | undefined;
    const tick = (): void => {
      const t0 = performance.now();
      onionProgress(false);
      onionTicker = setTimeout(tick, progressTickMs(performance.now() - t0, shortestTickMs));
      onionTicker.unref();
    };
    const shortestTickMs = hooks.progressTickMs ?? PROGRESS_TICK_MS;
    if (hooks.step) {
      onionTicker = setTimeout(tick, shortestTickMs);
      onionTicker.unref();
    }
    try {
      while (!finished && adversaryFailure === undefined) {
        if (chainCalls > 0) {
          look();
          await new Promise((resolve) => setTimeout(resolve, 1));
          continue;
        }
        if (clock.now() - watchedAtMs >= ROUND_MS / 4) look();
        if (clock.now() > limitMs) {
          throw new OksuzAgentsTimeoutError(
            `runOksuzAgents: not done after ${limitMs} virtual ms (cc ${JSON.stringify(currentCc().status())}, sp ${JSON.stringify(spAgent.status())})`,
          );
        }
        // A round at a time, stopping after any timer that made an agent wait for the chain (or for
        // CC's admission): no timer runs while one waits.
        await clock.advanceAsync(ROUND_MS, () => chainCalls > 0);
      }
    } finally {
      clearTimeout(onionTicker);
    }
    if (hooks.step) onionProgress(true);
    await all;
    if (failure !== undefined) throw failure;
    if (adversaryFailure !== undefined) throw adversaryFailure;
    look();
    retirement.look(closedForMeters(), true);
    return live;
  } finally {
    await ccNode.stop();
    await spAgent.stop();
    for (const m of meters) await m?.stop();
    households.stop();
    for (const u of users) if (u instanceof UserAgent) await u.stop();
    fakeMeter?.stop();
    outsider?.stop();
    removeStore();
    process.off("exit", removeStore);
  }
}

/** Shortest period of the onion phase's progress ticker (wall-clock ms). */
export const PROGRESS_TICK_MS = 2_000;

/**
 * Wall-clock ms until the next progress tick after a tick whose scan over the meters took
 * `scanMs`: `shortestMs` ({@link PROGRESS_TICK_MS} unless a test sets
 * `OksuzAgentsHooks.progressTickMs`), or 50 × `scanMs` when longer, so the O(N) scan costs at most
 * 2 % of the run whatever N (issue 14: at a fixed period its total grew as N²). Throws RangeError
 * for a negative or non-finite `scanMs`.
 */
export function progressTickMs(scanMs: number, shortestMs: number = PROGRESS_TICK_MS): number {
  if (!Number.isFinite(scanMs) || scanMs < 0) {
    throw new RangeError("progressTickMs: scanMs must be a finite number ≥ 0");
  }
  return Math.max(shortestMs, Math.ceil(50 * scanMs));
}

/**
 * The most meters one simulated run takes (the demo's and city-run's `--meters` bound): the whole
 * city lives in one process at ≈ 20 kB per meter (docs/SCALE.md), so a million needs ≈ 20 GB; a
 * larger city is several regions (docs/SCALE.md "Scaling out").
 */
export const MAX_SIMULATED_METERS = 1_000_000;

/** Report onions a simulated city puts on the network per relay round, at most (issue 14). */
export const MAX_ONIONS_PER_ROUND = 6_250;

/**
 * Rounds over which each meter spreads its K report onions (`MeterAgentInit.sendRounds`): the
 * agent's default 8, or more for a city whose meters × K onions would exceed
 * {@link MAX_ONIONS_PER_ROUND} per round — ⌈meters·K / 6,250⌉, so 8 up to 6,250 meters at K = 8
 * (runs of that size are unchanged), 26 at 20,000 and 128 at 100,000 (the caller also caps them
 * at half the window). Why: one process holds every onion in flight (1,366 bytes each, in a
 * relay's queue, on the network, in CC's admission batch); with 8 rounds a 100,000-meter interval
 * had ≈ 800,000 onions, 1.1 GB, alive at once. At 20,000 meters (session 8, same run otherwise) the
 * onion phase's mean RSS was 737 MB at 25,000 onions per round, 664 MB at 12,500 and 625 MB at
 * 6,250, for the same CPU (421, 424, 428 s): more rounds only lengthen the virtual send window. A
 * real city spreads its reports over its interval (DESIGN §4.6: spread out, not a burst); 128
 * rounds are 25.6 s of a 60 s window, leaving the rest for resends.
 */
export function citySendRounds(meters: number, slots: number): number {
  return Math.max(8, Math.ceil((meters * slots) / MAX_ONIONS_PER_ROUND));
}

/** How the simulated CC posts OCD: {@link OksuzAgentsScenario.posting}. */
export type OcdPostingMode = "fixed" | "chain-speed";

/** OCD transactions in flight when the simulator posts at chain speed (the `cc` service's default). */
export const CITY_POSTING_WINDOW = 4;

/**
 * The scenario's OCD posting (issue 14): as given, else "fixed". Why fixed stays the simulator's
 * default even for a city: in the in-process chain (Hardhat's EDR) a block-sized OCD transaction
 * (≈ 16M gas, ≈ 3,000 slots) costs hundreds of MB of transient native memory while it executes —
 * at 8,000 meters, 4 in flight, EDR went from 130 to 770 MB and the run's peak RSS from 983 to
 * 1,600 MB (docs/SCALE.md "Posting at chain speed") — while 8,000 fixed transactions of 100 slots
 * at 100,000 meters cost ≈ 50 s more. `--posting chain-speed` runs the deployment's mode.
 */
export function postingMode(scenario: Pick<OksuzAgentsScenario, "posting">): OcdPostingMode {
  return scenario.posting ?? "fixed";
}

/** A relay's counters that are plain numbers (all but `dropped`). */
type RelayNumberField = Exclude<keyof RelayCounters, "dropped">;

/**
 * The figures of one relay, in this order, then its drops by reason ({@link ONION_DROP_REASONS}).
 * Every numeric counter of {@link RelayCounters}: the check below fails to compile when a counter
 * is added to the relay and not here (a retired relay would report it as undefined).
 */
const RELAY_FIELDS = [
  "received",
  "forwarded",
  "coverSent",
  "loopsReturned",
  "loopsLost",
  "nextEpochAccepted",
  "replayTags",
  "replayBytes",
] as const satisfies readonly RelayNumberField[];
const RELAY_FIELDS_COMPLETE: Exclude<RelayNumberField, (typeof RELAY_FIELDS)[number]> extends never
  ? true
  : never = true;
void RELAY_FIELDS_COMPLETE;
const RELAY_ROW = 1 + RELAY_FIELDS.length + ONION_DROP_REASONS.length;

/**
 * The retired relays' figures at retirement (they can no longer change): one row of numbers each
 * (epoch, {@link RELAY_FIELDS}, drops by reason) in one growing `Float64Array`, not a counters
 * object and a drops object per relay (≈ 0.3 kB per meter for the rest of the run).
 */
class RetiredRelays {
  #rows = new Float64Array(64 * RELAY_ROW);
  #count = 0;

  /** Keeps `relay`'s figures now; returns what reads them. */
  add(relay: OnionRelay): RelayFigures {
    const c = relay.counters();
    const row = this.#count++;
    if ((row + 1) * RELAY_ROW > this.#rows.length) {
      const grown = new Float64Array(2 * this.#rows.length);
      grown.set(this.#rows);
      this.#rows = grown;
    }
    const at = row * RELAY_ROW;
    this.#rows[at] = relay.epoch;
    RELAY_FIELDS.forEach((f, k) => (this.#rows[at + 1 + k] = c[f]));
    ONION_DROP_REASONS.forEach(
      (r, k) => (this.#rows[at + 1 + RELAY_FIELDS.length + k] = c.dropped[r]),
    );
    return new RetiredRelay(this, row);
  }

  epoch(row: number): number {
    return this.#rows[row * RELAY_ROW];
  }

  counters(row: number): RelayCounters {
    const at = row * RELAY_ROW;
    const field = (k: number) => this.#rows[at + 1 + k];
    const dropped = {} as Record<OnionDropReason, number>;
    ONION_DROP_REASONS.forEach((r, k) => (dropped[r] = field(RELAY_FIELDS.length + k)));
    const counters = { dropped } as { -readonly [K in keyof RelayCounters]: RelayCounters[K] };
    RELAY_FIELDS.forEach((f, k) => (counters[f] = field(k)));
    return counters;
  }
}

/** A retired meter's relay: its row of {@link RetiredRelays}. */
class RetiredRelay implements RelayFigures {
  readonly #table: RetiredRelays;
  readonly #row: number;

  constructor(table: RetiredRelays, row: number) {
    this.#table = table;
    this.#row = row;
  }

  get epoch(): number {
    return this.#table.epoch(this.#row);
  }

  counters(): RelayCounters {
    return this.#table.counters(this.#row);
  }
}

/** A retired household agent: its checks and status at retirement (its last interval checked). */
class RetiredUser implements UserFigures {
  readonly checks: readonly UserIntervalCheck[];
  readonly #status: UserAgentStatus;

  constructor(agent: UserAgent) {
    this.checks = agent.checks;
    this.#status = agent.status();
  }

  status(): UserAgentStatus {
    return { ...this.#status };
  }
}

/**
 * `users[i]` of a household not built yet ({@link Households}): what the household would show
 * before its first batch — no check, every status count 0 (a household records a check only
 * after an interval is final, and every unbuilt one is built by then). One object for the fleet.
 */
class UnbuiltHousehold implements UserFigures {
  readonly checks: readonly UserIntervalCheck[] = Object.freeze([]);

  status(): UserAgentStatus {
    return { interval: 0, billsVerified: 0, billsDisputed: 0, batchesReceived: 0, refused: 0 };
  }
}

const UNBUILT_HOUSEHOLD: UserFigures = new UnbuiltHousehold();

/** A household's chain polling period in the simulator (ms; `UserAgentInit.pollMs`). */
const HOUSEHOLD_POLL_MS = 1_000;

interface HouseholdsInit {
  /** The run's `users`: {@link UNBUILT_HOUSEHOLD} in every slot whose household is not built. */
  readonly users: (UserAgent | UserFigures)[];
  /** Every household's polling period (ms), as its `UserAgentInit.pollMs`. */
  readonly pollMs: number;
  /** Every household's first interval (`UserAgentInit.firstInterval`). */
  readonly firstInterval: number;
  /** Build every household at `start` ({@link OksuzAgentsScenario.households} "at-start"). */
  readonly atStart?: boolean;
}

interface HouseholdsComponents {
  /** Builds household i's agent (its `User`, its endpoint `user-<i>`), not started. */
  build(i: number): UserAgent;
  /** The households' shared chain reader (`sharedUserChainClient`). */
  readonly chain: UserChainClient;
  readonly clock: Clock;
  /** Called as each household's `done` resolves (the "bills checked" progress). */
  checked(): void;
}

/**
 * The simulator's households, each built on its first packet (issue 14, docs/SCALE.md
 * "Households made on their first batch"; DESIGN §7: a household acts on its meter's user batch
 * at the window's end, then checks SP's bill). Until then a household is a slot holding
 * {@link UNBUILT_HOUSEHOLD} (no `User`, `UserAgent`, endpoint, logger or timer: ≈ 2 kB less per
 * meter through the onion phase). Why nothing observable changes:
 *  - what a `UserAgent` does before its first packet is poll the chain for its first interval's
 *    state, every `pollMs` from the start; every unbuilt household's history is the same (the
 *    same reads of the same shared reader at the same instants), so one poll here stands for all
 *    of them, at the same instants — the shared reader made their simultaneous reads one anyway;
 *  - a household built on a packet ({@link buildFor}, from `MemoryNetwork.onDemand` as the packet
 *    goes on the wire) starts polling at this poll's next instant, or at once while this poll's
 *    read is in flight (it joins the read, as it would have): its polls stay on the same instants;
 *  - once the first interval is seen final, an unbuilt household would read it and, a window
 *    later, record it disputed ("no batch from the meter"): every unbuilt one is built then and
 *    polls at once (the shared reader answers from its cache), from the state it would have had.
 * `done` resolves once every household has checked every interval (rejects with the first
 * household's or poll's error), as `Promise.all` over the eager agents' `done` did.
 */
class Households {
  /** Households built so far. */
  built = 0;
  readonly done: Promise<void>;
  readonly #init: HouseholdsInit;
  readonly #c: HouseholdsComponents;
  #unbuilt: number;
  #checked = 0;
  #state: "new" | "running" | "stopped" = "new";
  /** This poll's chain read is in flight. */
  #reading = false;
  #timer?: TimerHandle;
  /** When the pending poll runs (clock ms). */
  #nextPollAt = 0;
  readonly #settle: { resolve: () => void; reject: (err: unknown) => void };

  constructor(init: HouseholdsInit, components: HouseholdsComponents) {
    this.#init = init;
    this.#c = components;
    this.#unbuilt = init.users.length;
    let settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
    this.done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.done.catch(() => {});
    this.#settle = settle!;
    if (init.users.length === 0) this.#settle.resolve();
  }

  /**
   * Starts the unbuilt households' poll (its first read now, as each agent's `start` did); with
   * `atStart`, builds and starts every household instead (each polls at once).
   */
  async start(): Promise<void> {
    if (this.#state !== "new") return;
    this.#state = "running";
    if (this.#init.atStart) {
      for (let i = 0; i < this.#init.users.length; i++) this.#build(i, 0);
    }
    void this.#poll();
  }

  /** Stops the poll; a household built after this is built stopped (its packets are dropped). */
  stop(): void {
    this.#state = "stopped";
    if (this.#timer !== undefined) this.#c.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * `MemoryNetwork.onDemand`'s builder: builds household i for `user-<i>` (an index of the run,
   * not built yet) and returns true; false for any other address. Before `start` the household
   * polls at once (as every agent would at the start); after `stop` it is built not started.
   */
  buildFor(address: string): boolean {
    if (!address.startsWith("user-")) return false;
    const i = Number(address.slice(5));
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.#init.users.length) return false;
    if (`user-${i}` !== address || this.#init.users[i] !== UNBUILT_HOUSEHOLD) return false;
    const onTime =
      this.#state !== "running" || this.#reading || this.#timer === undefined
        ? 0
        : Math.max(0, this.#nextPollAt - this.#c.clock.now());
    this.#build(i, onTime);
    return true;
  }

  #build(i: number, firstPollInMs: number): void {
    const { users } = this.#init;
    const agent = this.#c.build(i);
    users[i] = agent;
    this.built++;
    if (--this.#unbuilt === 0 && this.#timer !== undefined) {
      this.#c.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#state === "stopped") return;
    void agent.start({ firstPollInMs });
    agent.done.then(
      () => {
        this.#c.checked();
        if (++this.#checked === users.length) this.#settle.resolve();
      },
      (err: unknown) => this.#settle.reject(err),
    );
  }

  /**
   * The unbuilt households' poll (`UserAgent`'s before any batch): the first interval's state,
   * or, with a reader that has no state read, the interval itself; final → every unbuilt
   * household is built and polls at once; else again `pollMs` later.
   */
  async #poll(): Promise<void> {
    this.#timer = undefined;
    if (this.#state !== "running" || this.#unbuilt === 0) return;
    const { chain, clock } = this.#c;
    const j = this.#init.firstInterval;
    let final: boolean;
    this.#reading = true;
    try {
      const state = chain.intervalState && (await chain.intervalState(j));
      final =
        state === undefined
          ? (await chain.readInterval(j)).state === INTERVAL_STATE.Final
          : state === INTERVAL_STATE.Final;
    } catch (err) {
      this.#settle.reject(err);
      return;
    } finally {
      this.#reading = false;
    }
    if (this.#state !== "running" || this.#unbuilt === 0) return;
    if (final) {
      const { users } = this.#init;
      for (let i = 0; i < users.length; i++) {
        if (users[i] === UNBUILT_HOUSEHOLD) this.#build(i, 0);
      }
      return;
    }
    this.#nextPollAt = clock.now() + this.#init.pollMs;
    this.#timer = clock.setTimeout(() => void this.#poll(), this.#init.pollMs);
  }
}

/** The simulator's arrays of agents and their network, as {@link Retirement} empties them. */
interface Fleet {
  readonly meters: (MeterAgent | undefined)[];
  readonly relays: (OnionRelay | RelayFigures)[];
  readonly users: (UserAgent | UserFigures)[];
  readonly network: MemoryNetwork;
}

/**
 * The fleet's retirement ({@link OksuzAgentsScenario.retire}, issue 14): the simulator's arrays
 * of agents, emptied slot by slot as meters and households finish. Why it changes no output: a
 * node is retired only when nothing can reach it again —
 *   1. CC has closed the run's last interval for its meters: it ended the interval's admission
 *      for its closing grace ({@link CLOSING_GRACE_MS}; session 9: so the fleet is garbage
 *      before CC posts), or, with a crash plan (the restarted CC announces the interval again),
 *      sealed it; it sends meters nothing after that;
 *   2. the onion traffic is over, once and for all: no meter agent has a window open or a
 *      measurement running (only those make report onions; without cover, relays only forward),
 *      no relay has a packet queued and no packet is on its way to a meter's address (checked at
 *      one instant over the whole fleet: after it no onion exists, and none can be made);
 *   3. meter i's household acknowledged every kept batch (the meter sends it nothing more) and no
 *      packet is on its way to meter i or household i (a late receipt, a late batch copy);
 *   4. a household goes once it has checked every interval and its meter is retired (its meter is
 *      the only node that sends to it).
 * Scans are O(remaining meters), and run at most once per 50 × the last scan's wall time (≤ 2 %
 * of the run, as the progress ticker), plus once at the end.
 */
class Retirement {
  /** Meters and households retired. */
  meters = 0;
  users = 0;
  /** First copies of report onions the retired meters sent (the onion progress counts them). */
  onionsSent = 0;
  readonly #on: boolean;
  readonly #last: number;
  readonly #fleet: Fleet;
  /** Indices with a meter or household not retired yet (compacted at each scan). */
  #waiting: number[];
  readonly #retiredRelays = new RetiredRelays();
  readonly #fleetRetired: () => void;
  /** Retired meter agents whose `stop()` has settled. */
  #stopped = 0;
  /** The onion traffic is over (condition 2); it stays over. */
  #quiet = false;
  #nextScanAt = -Infinity;
  /** Virtual ms from which a scan is due whatever the wall time ({@link look}'s `virtualNow`). */
  #nextScanVirtualAt = -Infinity;

  constructor(
    scenario: Pick<OksuzAgentsScenario, "retire" | "cover" | "intervals" | "meters">,
    fleet: Fleet,
    fleetRetired: () => void = () => {},
  ) {
    this.#on = retiring(scenario);
    this.#fleetRetired = fleetRetired;
    this.#last = scenario.intervals;
    this.#fleet = fleet;
    this.#waiting = this.#on ? Array.from({ length: scenario.meters }, (_, i) => i) : [];
  }

  /**
   * Retires what can be retired, given `closed`, the last interval CC admits nothing more of and
   * sends meters nothing more about (its sealed count, or `ControlCenterService.windowClosed`
   * with the closing grace); a scan at most every 50 × the last scan's wall time unless `final`
   * (the run's end) or a virtual round has passed since the last scan (`virtualNow`, clock ms).
   */
  look(closed: number, final = false, virtualNow?: number): void {
    if (!this.#on || closed < this.#last || this.#waiting.length === 0) return;
    const t0 = performance.now();
    // Also once per virtual round (session 10): a small run crosses CC's closing grace in a few
    // ms of wall time, and whether its fleet retired before the posting must not depend on that.
    const roundDue = virtualNow !== undefined && virtualNow >= this.#nextScanVirtualAt;
    if (!final && t0 < this.#nextScanAt && !roundDue) return;
    if (virtualNow !== undefined) this.#nextScanVirtualAt = virtualNow + ROUND_MS;
    const { meters, relays, users, network } = this.#fleet;
    if (!this.#quiet) {
      this.#quiet = this.#waiting.every((i) => {
        const agent = meters[i];
        const relay = relays[i];
        return (
          agent === undefined ||
          (!agent.sending() &&
            !(relay instanceof OnionRelay && relay.queued > 0) &&
            network.inFlightTo(agent.address) === 0)
        );
      });
    }
    if (this.#quiet) {
      this.#waiting = this.#waiting.filter((i) => {
        const agent = meters[i];
        const userAddress = `user-${i}`;
        if (
          agent !== undefined &&
          agent.userBatchesAcked(this.#last) &&
          network.inFlightTo(agent.address) === 0 &&
          network.inFlightTo(userAddress) === 0
        ) {
          const st = agent.status();
          this.onionsSent += st.onionsSent - st.resent;
          relays[i] = this.#retiredRelays.add(relays[i] as OnionRelay);
          // The hook waits for every agent's stop to settle, not only for the last retirement:
          // until then each stopped agent is still reachable from its own suspended `stop()` and
          // the queued reactions (≈ 3.3 kB per meter, issue 14), so a heap release called from
          // the scan itself would find them live.
          void agent.stop().finally(() => {
            if (++this.#stopped === meters.length) this.#fleetRetired();
          });
          network.retire(agent.address);
          meters[i] = undefined;
          this.meters++;
        }
        const user = users[i];
        if (
          meters[i] === undefined &&
          user instanceof UserAgent &&
          user.checks.length >= this.#last &&
          network.inFlightTo(userAddress) === 0
        ) {
          users[i] = new RetiredUser(user);
          void user.stop();
          network.retire(userAddress);
          this.users++;
        }
        return meters[i] !== undefined || users[i] instanceof UserAgent;
      });
    }
    const t1 = performance.now();
    this.#nextScanAt = t1 + 50 * (t1 - t0);
  }
}

/** `source`, calling `measured(startS)` after each reading (the "meters prepared" progress). */
class CountingSource implements ReadingSource {
  readonly #source: ReadingSource;
  readonly #measured: (startS: number) => void;

  constructor(source: ReadingSource, measured: (startS: number) => void) {
    this.#source = source;
    this.#measured = measured;
  }

  async consumptionWh(startS: number, endS: number): Promise<bigint> {
    const wh = await this.#source.consumptionWh(startS, endS);
    this.#measured(startS);
    return wh;
  }

  close(): Promise<void> {
    return this.#source.close();
  }
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

/**
 * The same keys with the three public byte strings (`pk_i`, `B_i`, `ID_i`: 98 bytes) in one
 * buffer instead of three, and the object in one fixed shape (issue 14: the simulator holds one
 * per meter). Only public values share the buffer: the secret `K_i` keeps its own, so a holder of
 * a public key (the relay directory, every meter) cannot reach it through `.buffer` (DESIGN §2:
 * each role holds only its own secrets): it goes to `secrets`, the fleet of meters' slab.
 */
function packedMeterKeys(keys: MeterKeys, secrets: ByteSlab): MeterKeys {
  const pk = keys.publicKey.length;
  const base = keys.basePublicKey.length;
  const packed = new Uint8Array(pk + base + keys.id.length);
  packed.set(keys.publicKey, 0);
  packed.set(keys.basePublicKey, pk);
  packed.set(keys.id, pk + base);
  return {
    secretKey: keys.secretKey,
    publicKey: packed.subarray(0, pk),
    id: packed.subarray(pk + base),
    ggmKey: secrets.copy(keys.ggmKey),
    baseKey: keys.baseKey,
    basePublicKey: packed.subarray(pk, pk + base),
  };
}
