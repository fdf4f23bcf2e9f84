// `gridledger meters`: a fleet of meters in one process (issue 11), each with its onion relay and
// its household's user verifier, each on its own transport address ("meter-<i>", "user-<i>").
// Composition root: keys from the fleet's secrets, readings from the synthetic load model (the
// default reading source), the users' read-only chain client (chain/oksuz-clients.ts).
// Durable state (store "fleet" in the data directory), so a killed fleet resumes exactly: per meter
// and interval the carry into and out of the interval and the interval's user batch, written before
// the interval's entries leave (a restarted meter re-signs the same entries for the interval under
// way, or continues from the last carry), and per user the batches received from its meter (a
// restarted user still checks the bills of intervals whose batch arrived before the restart). A
// batch its user lacks after a restart (the meter died before its window closed) is handed over
// inside the process one window after the restart: never before the window it belongs to closed
// (DESIGN §7, batches at interval end).
import { connectBillingLedger } from "../../chain/billing.ts";
import { userChainClient } from "../../chain/oksuz-clients.ts";
import { sharedUserChainClient } from "../../user/chain-client.ts";
import { hexToBytes } from "../../crypto/bytes.ts";
import {
  identityOf,
  keyPairFromSecret,
  meterKeysFromSecret,
  randomSecretKey,
} from "../../crypto/keys.ts";
import { Meter, type MeterInit, type MeterIntervalReport } from "../../meter/meter.ts";
import { decodeWire, encodeWire } from "../../protocol/wire/index.ts";
import type { Store } from "../../runtime/store.ts";
import { MeterAgent, relayDirectory } from "../../meter/agent.ts";
import { LoadModelSource } from "../../meter/source/load-model-source.ts";
import { OnionRelay } from "../../onion/relay.ts";
import { LoadModel } from "../../sim/load-model.ts";
import { User } from "../../user/user.ts";
import { UserAgent } from "../../user/agent.ts";
import {
  ServiceConfigError,
  type RoleDefinition,
  type Service,
  type ServiceEnv,
} from "../service.ts";
import { oksuzChainFromEnv, oksuzDomain, type OksuzChainAccess } from "./oksuz-chain.ts";
import { parseMetersConfig, secretScalar, type MetersConfig } from "./oksuz-setup.ts";

export const metersRole: RoleDefinition<MetersConfig> = {
  role: "meters",
  description: "Oksuz meter fleet: meters with their onion relays and their users' bill checks",
  parseConfig: parseMetersConfig,
  chain: { rpcUrl: true, contracts: ["BillingLedger"] },
  async create(env) {
    return createMetersService(env, await oksuzChainFromEnv(env, false));
  },
};

const FLEET_NS = "fleet";
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A `Meter` whose carry survives a restart: `reportInterval(j)` first restores the carry into j
 * from the store (the recorded carry-in if j was reported before the restart, else the carry-out
 * of the last interval reported), then records j's carry-in and carry-out (one transaction)
 * before returning, i.e. before any of j's entries is sent.
 */
export class DurableMeter extends Meter {
  readonly #store: Store;

  constructor(init: MeterInit, store: Store) {
    super(init);
    this.#store = store;
  }

  override reportInterval(
    interval: number,
    measuredWh: bigint,
    timestamp: bigint,
  ): MeterIntervalReport {
    const i = this.index;
    const again = this.#carry(interval);
    if (again) this.resumeAt(interval, again.in);
    else {
      const last = this.#store.get(FLEET_NS, `last/${i}`);
      const j = last ? Number(dec.decode(last)) : undefined;
      const before = j !== undefined && j < interval ? this.#carry(j) : undefined;
      if (before) this.resumeAt(interval, before.out);
    }
    const report = super.reportInterval(interval, measuredWh, timestamp);
    this.#store.transaction(() => {
      this.#store.put(
        FLEET_NS,
        `carry/${i}/${interval}`,
        enc.encode(
          JSON.stringify({ in: String(report.carryInWh), out: String(report.carryOutWh) }),
        ),
      );
      this.#store.put(FLEET_NS, `last/${i}`, enc.encode(String(interval)));
      this.#store.put(
        FLEET_NS,
        `batch/${i}/${interval}`,
        encodeWire({ type: "userBatch", interval, slots: report.userBatch }),
      );
    });
    return report;
  }

  #carry(interval: number): { in: bigint; out: bigint } | undefined {
    const b = this.#store.get(FLEET_NS, `carry/${this.index}/${interval}`);
    if (!b) return undefined;
    const v = JSON.parse(dec.decode(b)) as { in: string; out: string };
    return { in: BigInt(v.in), out: BigInt(v.out) };
  }
}

export async function createMetersService(
  env: ServiceEnv & { readonly config: MetersConfig },
  chain: OksuzChainAccess,
): Promise<
  Service & { readonly meters: readonly MeterAgent[]; readonly users: readonly UserAgent[] }
> {
  const c = env.config;
  const domain = oksuzDomain(chain);
  const ccPublicKey = hexToBytes(c.ccPublicKey);
  const categories = c.categories.map(BigInt);
  const directory = relayDirectory(
    c.directory.map(hexToBytes),
    c.directory.map((_, i) => `meter-${i}`),
    { publicKey: ccPublicKey, address: "cc" },
  );
  const load = new LoadModel({ seed: c.seed });
  const ledger = connectBillingLedger(chain.ledger, chain.provider);
  // One chain reader for the whole fleet: users share each interval's rebuild (user/chain-client.ts).
  const usersChain = sharedUserChainClient(userChainClient(ledger));
  const spPublicKey = hexToBytes(c.spPublicKey);
  const meters: MeterAgent[] = [];
  const users: UserAgent[] = [];
  const store = env.openStore("fleet");
  for (let i = c.first; i < c.first + c.count; i++) {
    const secret = env.secret(`meter-${i}`);
    if (secret.length !== 64)
      throw new ServiceConfigError(`secret "meter-${i}": expected 64 bytes`);
    const keys = meterKeysFromSecret(
      secretScalar(secret.subarray(0, 32), `meter-${i}`),
      secret.slice(32),
    );
    if (c.directory[i].toLowerCase() !== Buffer.from(keys.publicKey).toString("hex")) {
      throw new ServiceConfigError(`directory[${i}]: not the public key of secret "meter-${i}"`);
    }
    const rng = env.rng.fork(`meter-${i}`);
    const meter = new DurableMeter(
      { index: i, keys, ccPublicKey, domain, categories, slots: c.slots },
      store,
    );
    meters.push(
      new MeterAgent(
        {
          address: `meter-${i}`,
          userAddress: `user-${i}`,
          ccPublicKey,
          domain,
          pathLength: c.pathLength,
          roundMs: c.roundMs,
          registrationSecret: randomSecretKey(
            (
              (r) => (n: number) =>
                r.bytes(n)
            )(rng.fork("registration")),
          ),
        },
        {
          meter,
          relay: new OnionRelay({ privateKey: keys.secretKey, domain, epoch: 0 }),
          transport: env.transport(`meter-${i}`),
          clock: env.clock,
          rng,
          readings: new LoadModelSource(
            { meterIndex: i },
            { model: load, rng: env.rng.fork("load") },
          ),
          directory,
          logger: env.logger.child(`meter-${i}`),
        },
      ),
    );
    const user = new User({
      meterIndex: i,
      domain,
      meterBasePublicKey: keys.basePublicKey,
      spSigPk: hexToBytes(c.spSigPublicKey),
      direct:
        c.mode === "direct"
          ? {
              keys: keyPairFromSecret(secretScalar(env.secret(`user-${i}`), `user-${i}`)),
              spPublicKey,
              spId: identityOf(spPublicKey),
            }
          : undefined,
    });
    const userAgent = new UserAgent(
      { meterAddress: `meter-${i}`, intervals: c.intervals, pollMs: 5 * c.roundMs },
      {
        user,
        chain: usersChain,
        transport: env.transport(`user-${i}`),
        clock: env.clock,
        logger: env.logger.child(`user-${i}`),
      },
    );
    // The batches this user received before a restart, then every new one, durably.
    for (const { value } of store.readLog(`user-batches/${i}`)) {
      const m = decodeWire(value);
      if (m.type === "userBatch") userAgent.restoreBatch(m.interval, m.slots);
    }
    userAgent.onBatch = (interval, slots) =>
      void store.append(`user-batches/${i}`, encodeWire({ type: "userBatch", interval, slots }));
    users.push(userAgent);
  }
  let done: Promise<void> | undefined;
  let handOver: ReturnType<typeof env.clock.setTimeout> | undefined;
  /**
   * The stored batches, up to the last interval each meter reported before this start, that its
   * user lacks (a fleet restarted inside a window); later intervals' batches go at their own
   * window's close.
   */
  const handOverBatches = (before: readonly number[]): void => {
    meters.forEach((_, k) => {
      const i = c.first + k;
      for (const { value } of store.list(FLEET_NS, { prefix: `batch/${i}/` })) {
        const m = decodeWire(value);
        if (m.type === "userBatch" && m.interval <= before[k]) {
          users[k].restoreBatch(m.interval, m.slots);
        }
      }
    });
  };
  return {
    meters,
    users,
    async start() {
      for (const a of [...users, ...meters]) await a.start();
      done = Promise.all(users.map((u) => u.done)).then(() => {});
      const before = meters.map((_, k) => {
        const b = store.get(FLEET_NS, `last/${c.first + k}`);
        return b ? Number(dec.decode(b)) : 0;
      });
      if (before.some((j) => j > 0)) {
        handOver = env.clock.setTimeout(() => handOverBatches(before), c.windowMs);
      }
    },
    async stop() {
      if (handOver !== undefined) env.clock.clearTimeout(handOver);
      for (const a of [...meters, ...users]) await a.stop();
    },
    status() {
      const ms = meters.map((m) => m.status());
      const us = users.map((u) => u.status());
      return {
        meters: meters.length,
        interval: Math.max(0, ...ms.map((s) => s.interval)),
        reportsAcked: ms.reduce((n, s) => n + s.reportsAcked, 0),
        billsVerified: us.reduce((n, s) => n + s.billsVerified, 0),
        billsDisputed: us.reduce((n, s) => n + s.billsDisputed, 0),
      };
    },
    get done() {
      return done;
    },
  };
}
