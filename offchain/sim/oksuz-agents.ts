// Oksuz 2020 as a wiring of real agents (issue 11 "the simulator is one wiring of real agents"):
// N MeterAgents (meter + onion relay), the ControlCenterService, the ServiceProviderAgent and N
// UserAgents over one MemoryNetwork on one VirtualClock, against a real chain (Hardhat in-process,
// `hardhat node` or any JSON-RPC URL). Every message crosses the network as a wire message; relay
// rounds, resends and windows run on the virtual clock. Deterministic given the seed: virtual time
// stands still while a chain call is in flight (the driver advances the clock only when no agent
// waits for the chain), so a slow chain changes wall time, never the run.
//
// Keys are derived from the seed exactly as `runOksuz` (offchain/sim/oksuz.ts) derives them.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";

import type { Signer } from "ethers";

import { keyPairFromSecret, meterKeysFromSecret, randomSecretKey } from "../crypto/keys.ts";
import { connectBillingLedger, readDomain } from "../chain/billing.ts";
import { deployBillingLedger } from "../chain/deploy.ts";
import {
  controlCenterChainClient,
  serviceProviderChainClient,
  userChainClient,
} from "../chain/oksuz-clients.ts";
import { ControlCenterAgent } from "../cc/agent.ts";
import { ControlCenterService } from "../cc/service.ts";
import { Meter } from "../meter/meter.ts";
import { MeterAgent, relayDirectory } from "../meter/agent.ts";
import { LoadModelSource } from "../meter/source/load-model-source.ts";
import { OnionRelay } from "../onion/relay.ts";
import { ServiceProvider } from "../sp/service-provider.ts";
import { ServiceProviderAgent } from "../sp/agent.ts";
import { User } from "../user/user.ts";
import { UserAgent } from "../user/agent.ts";
import { DEFAULT_REPORT_SLOTS } from "../protocol/splitting.ts";
import type { TariffSchedule } from "../protocol/tariff.ts";
import { VirtualClock } from "../runtime/clock.ts";
import { MemoryNetwork, type NetworkStats, type Transport } from "../runtime/network.ts";
import {
  CrashingControlCenter,
  type ControlCenterIncarnation,
  type CrashPlan,
} from "../adversary/crashing-cc.ts";
import { createRng, type Rng } from "../runtime/rng.ts";
import { Store } from "../runtime/store.ts";
import { SecretStore } from "../runtime/secret-box.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import type { ProgressSink } from "../runtime/progress.ts";
import { LoadModel } from "./load-model.ts";
import { FakeMeter, corruptedMeter, tamperingUser } from "../adversary/meters.ts";
import { cheatingOnce } from "../adversary/service-provider.ts";

export interface OksuzAgentsScenario {
  readonly meters: number;
  readonly intervals: number;
  readonly seed: string;
  readonly direct?: boolean;
  /** `K` (DESIGN §7), default {@link DEFAULT_REPORT_SLOTS}. */
  readonly slots?: number;
  readonly pathLength?: number;
  readonly intervalSeconds?: number;
  /** Unix time of interval 1's start, default 2026-01-05T00:00:00Z. */
  readonly startTime?: bigint;
  readonly categories?: readonly bigint[];
  readonly tariff?: TariffSchedule;
  /** CC's admission window per interval (virtual ms), default 60 s. */
  readonly windowMs?: number;
  /** A meter-side adversary of Oksuz §3.1 (offchain/adversary/meters.ts). */
  readonly attack?:
    "fake-meter" | "tampering-user" | "corrupted-meter" | "sp-wrong-price" | "sp-wrong-bill";
  /** Kill CC in interval J (admission or posting) and restart it from its store. */
  readonly crash?: CrashPlan;
  readonly network?: {
    readonly latencyMs?: number;
    readonly jitterMs?: number;
    readonly loss?: number;
    readonly reorder?: number;
  };
}

export interface OksuzAgentsChain {
  readonly admin: Signer;
  readonly controlCenter: Signer;
  readonly serviceProvider: Signer;
}

/** What the wiring returns: the agents (to inspect) and the network's counters. */
export interface OksuzAgentsRun {
  readonly ledger: string;
  /** The CC running at the end (after a restart, the restarted one). */
  readonly cc: ControlCenterService;
  /** True when the crash adversary killed CC and it restarted from its store. */
  readonly ccRestarted: boolean;
  readonly sp: ServiceProviderAgent;
  readonly meters: readonly MeterAgent[];
  readonly users: readonly UserAgent[];
  readonly network: NetworkStats;
  /** Virtual time the run took (ms). */
  readonly virtualMs: number;
}

export class OksuzAgentsTimeoutError extends Error {
  override name = "OksuzAgentsTimeoutError";
}

const DEFAULT_CATEGORIES = [50n, 100n, 250n, 500n, 1000n] as const;
const DEFAULT_TARIFF: TariffSchedule = {
  breakpointsWh: [0n, 10_000n, 25_000n, 100_000n],
  values: [2n, 3n, 5n, 8n],
  cap: 10n,
};
const ROUND_MS = 200;

/**
 * Deploys a BillingLedger, wires every Oksuz agent over a MemoryNetwork on a VirtualClock, runs
 * `scenario.intervals` intervals (1-based) to the end (every interval final on-chain, every user
 * check done) and stops every agent. Throws `OksuzAgentsTimeoutError` when the run has not ended
 * after (intervals + 2) × 10 windows of virtual time, and whatever an agent failed with.
 */
export async function runOksuzAgents(
  scenario: OksuzAgentsScenario,
  chain: OksuzAgentsChain,
  hooks: { readonly logger?: Logger; readonly step?: ProgressSink } = {},
): Promise<OksuzAgentsRun> {
  const logger = hooks.logger ?? silentLogger;
  const rng = createRng(`gridledger/oksuz/${scenario.seed}`);
  const randomBytes = (r: Rng) => (n: number) => r.bytes(n);
  const slots = scenario.slots ?? DEFAULT_REPORT_SLOTS;
  const categories = scenario.categories ?? DEFAULT_CATEGORIES;
  const direct = scenario.direct ?? false;
  const intervalSeconds = scenario.intervalSeconds ?? 3600;
  const windowMs = scenario.windowMs ?? 60_000;

  // ---- keys (as runOksuz) and deployment -------------------------------------------------------
  const keyRng = rng.fork("keys");
  const ccKeys = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("cc"))));
  const ccSigKeys = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("cc/sig"))));
  const spKeys = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("sp"))));
  const spSigSk = randomSecretKey(randomBytes(keyRng.fork("sp/sig")));
  const { address } = await deployBillingLedger(chain, {
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

  // Virtual time stands still while any agent waits for the chain (see the header).
  let chainCalls = 0;
  const counted = <T extends object>(client: T): T =>
    new Proxy(client, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          chainCalls++;
          return Promise.resolve(value.apply(target, args)).finally(() => chainCalls--);
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

  // ---- CC (killed and restarted from its store by the crash adversary, if asked) -------------
  const storeDir = mkdtempSync(join(tmpdir(), "gridledger-cc-"));
  const storePath = join(storeDir, "cc.sqlite");
  const operatorKey = rng.fork("cc/operator-key").bytes(32);
  const ccChain = counted(
    controlCenterChainClient(connectBillingLedger(address, chain.controlCenter)),
  );
  let incarnations = 0;
  const openCc = (transport: Transport): ControlCenterIncarnation => {
    const store = Store.open({ path: storePath });
    const secrets = SecretStore.open(
      store,
      { key: operatorKey },
      { randomBytes: randomBytes(rng.fork(`cc/box/${incarnations++}`)) },
    );
    const agent = ControlCenterAgent.start(
      { keys: ccKeys, domain, maxMessagesPerMeter: slots, maxFailures: 3, epoch: 0 },
      { store, secrets, chain: ccChain, logger: logger.child("cc") },
    );
    const service = new ControlCenterService(
      {
        meters: scenario.meters,
        intervals: scenario.intervals,
        startTime: scenario.startTime ?? 1_767_571_200n,
        intervalSeconds,
        categories,
        slots,
        windowMs,
        // Group commit (issue 14): one durable append per report was ≈ 30 % of a city's run.
        admissionBatchMs: ROUND_MS / 4,
      },
      { agent, chain: ccChain, transport, clock, logger, step: hooks.step },
    );
    return {
      agent,
      service,
      close: () => {
        secrets.close();
        store.close();
      },
    };
  };
  const ccEndpoint = network.endpoint("cc");
  const crashing = scenario.crash
    ? new CrashingControlCenter(openCc, scenario.crash, { transport: ccEndpoint, clock })
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
    scenario.attack === "sp-wrong-price"
      ? cheatingOnce(honestSp, "wrong-price")
      : scenario.attack === "sp-wrong-bill"
        ? cheatingOnce(honestSp, "wrong-bill")
        : honestSp;
  const userKeys = Array.from({ length: scenario.meters }, (_, i) =>
    keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork(`user/${i}`)))),
  );
  const spAgent = new ServiceProviderAgent(
    {
      intervals: scenario.intervals,
      mode: direct ? "direct" : "relayed",
      userPublicKeys: direct ? userKeys.map((k) => k.publicKey) : undefined,
    },
    {
      sp,
      chain: counted(
        serviceProviderChainClient(connectBillingLedger(address, chain.serviceProvider)),
      ),
      clock,
      transport: direct ? undefined : network.endpoint("sp"),
      logger: logger.child("sp"),
    },
  );

  // ---- meters, relays, users ----------------------------------------------------------------------
  const meterKeys = Array.from({ length: scenario.meters }, (_, i) => {
    const r = keyRng.fork(`meter/${i}`);
    return meterKeysFromSecret(randomSecretKey(randomBytes(r)), r.bytes(32));
  });
  const directory = relayDirectory(
    meterKeys.map((k) => k.publicKey),
    meterKeys.map((_, i) => `meter-${i}`),
    { publicKey: ccKeys.publicKey, address: "cc" },
  );
  const load = new LoadModel({ seed: scenario.seed });
  const fakeRng = keyRng.fork("fake-meter");
  const fake =
    scenario.attack === "fake-meter"
      ? new FakeMeter({
          meter: new Meter({
            index: scenario.meters,
            keys: meterKeysFromSecret(randomSecretKey(randomBytes(fakeRng)), fakeRng.bytes(32)),
            ccPublicKey: ccKeys.publicKey,
            domain,
            categories,
            slots,
          }),
          transport: network.endpoint("fake-meter"),
          clock,
          rng: rng.fork("fake-meter"),
          directory,
          ccPublicKey: ccKeys.publicKey,
          domain,
        })
      : undefined;
  const userLedger = connectBillingLedger(address, chain.admin);
  const meters: MeterAgent[] = [];
  const users: UserAgent[] = [];
  for (let i = 0; i < scenario.meters; i++) {
    hooks.step?.({ task: "meters prepared", done: i + 1, total: scenario.meters });
    const keys = meterKeys[i];
    const honestMeter = new Meter({
      index: i,
      keys,
      ccPublicKey: ccKeys.publicKey,
      domain,
      categories,
      slots,
    });
    // The adversaries wrap the parts they corrupt; the agents stay the honest ones.
    const meter =
      scenario.attack === "tampering-user" && i === 0
        ? tamperingUser(honestMeter, categories)
        : scenario.attack === "corrupted-meter" && i === 1
          ? corruptedMeter(honestMeter, domain, 0xbad5eedn)
          : honestMeter;
    const endpoint = network.endpoint(`meter-${i}`);
    meters.push(
      new MeterAgent(
        {
          address: `meter-${i}`,
          userAddress: `user-${i}`,
          ccPublicKey: ccKeys.publicKey,
          domain,
          pathLength: scenario.pathLength,
          roundMs: ROUND_MS,
          registrationSecret: randomSecretKey(randomBytes(keyRng.fork(`eph/${i}`))),
        },
        {
          meter,
          relay: new OnionRelay({ privateKey: keys.secretKey, domain, epoch: 0 }),
          transport: fake && i === 2 ? fake.tap(endpoint) : endpoint,
          clock,
          rng: rng.fork(`meter-agent/${i}`),
          readings: new LoadModelSource({ meterIndex: i }, { model: load, rng: rng.fork("load") }),
          directory,
          logger: logger.child(`meter-${i}`),
        },
      ),
    );
    const user = new User({
      meterIndex: i,
      domain,
      meterBasePublicKey: keys.basePublicKey,
      spSigPk: sp.sigPk,
      direct: direct
        ? { keys: userKeys[i], spPublicKey: spKeys.publicKey, spId: spKeys.id }
        : undefined,
    });
    users.push(
      new UserAgent(
        { meterAddress: `meter-${i}`, intervals: scenario.intervals },
        {
          user,
          chain: counted(userChainClient(userLedger)),
          transport: network.endpoint(`user-${i}`),
          clock,
          logger: logger.child(`user-${i}`),
        },
      ),
    );
  }

  // ---- run ----------------------------------------------------------------------------------------
  const services = [ccNode, spAgent, ...meters, ...users];
  try {
    for (const s of services) await s.start();
    fake?.start();
    let finished = false;
    let failure: unknown;
    let usersDone = 0;
    const checked = (u: UserAgent) =>
      u.done.then(() =>
        hooks.step?.({ task: "bills checked", done: ++usersDone, total: users.length }),
      );
    const all = Promise.all([ccNode.done, spAgent.done, ...users.map(checked)]).then(
      () => void (finished = true),
      (err) => {
        failure = err;
        finished = true;
      },
    );
    const limitMs = (scenario.intervals + 2) * 10 * windowMs;
    while (!finished) {
      if (chainCalls > 0) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        continue;
      }
      if (clock.now() > limitMs) {
        throw new OksuzAgentsTimeoutError(
          `runOksuzAgents: not done after ${limitMs} virtual ms (cc ${JSON.stringify(currentCc().status())}, sp ${JSON.stringify(spAgent.status())})`,
        );
      }
      await clock.advanceAsync(ROUND_MS);
    }
    await all;
    if (failure !== undefined) throw failure;
    return {
      ledger: address,
      cc: currentCc(),
      ccRestarted: crashing?.restarted ?? false,
      sp: spAgent,
      meters,
      users,
      network: network.stats(),
      virtualMs: clock.now(),
    };
  } finally {
    for (const s of services) await s.stop();
    fake?.stop();
    rmSync(storeDir, { recursive: true, force: true });
  }
}
