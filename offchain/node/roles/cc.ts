// `gridledger cc`: the control center as a service (issue 11). Composition root: builds CC's keys
// from its secrets, its store, its chain client (chain/oksuz-clients.ts) and its transport, and
// runs the ControlCenterService (offchain/cc/service.ts). Restarted with the same data directory it
// resumes from its store and the chain.
import { connectBillingLedger } from "../../chain/billing.ts";
import { controlCenterChainClient } from "../../chain/oksuz-clients.ts";
import { ControlCenterAgent } from "../../cc/agent.ts";
import { ControlCenterService } from "../../cc/service.ts";
import { keyPairFromSecret } from "../../crypto/keys.ts";
import { SecretStore } from "../../runtime/secret-box.ts";
import type { RoleDefinition, Service, ServiceEnv } from "../service.ts";
import {
  oksuzChainFromEnv,
  oksuzDomain,
  requireSigner,
  type OksuzChainAccess,
} from "./oksuz-chain.ts";
import { parseCcConfig, secretScalar, type CcConfig } from "./oksuz-setup.ts";

export const ccRole: RoleDefinition<CcConfig> = {
  role: "cc",
  description: "Oksuz control center: admits onion reports, posts and seals each interval",
  parseConfig: parseCcConfig,
  chain: { rpcUrl: true, contracts: ["BillingLedger"] },
  async create(env) {
    return createCcService(env, await oksuzChainFromEnv(env, true));
  },
};

/** The CC service over an already connected chain (tests inject the in-process chain). */
export async function createCcService(
  env: ServiceEnv & { readonly config: CcConfig },
  chain: OksuzChainAccess,
): Promise<Service & { readonly cc: ControlCenterService }> {
  const c = env.config;
  const store = env.openStore("cc");
  const secrets = SecretStore.open(
    store,
    { key: env.secret("cc-store-key") },
    { randomBytes: (n) => env.rng.bytes(n) },
  );
  const keys = keyPairFromSecret(secretScalar(env.secret("cc-key"), "cc-key"));
  const client = controlCenterChainClient(
    connectBillingLedger(chain.ledger, requireSigner(chain, "cc")),
  );
  const agent = ControlCenterAgent.start(
    { keys, domain: oksuzDomain(chain), maxMessagesPerMeter: c.slots, maxFailures: 3 },
    { store, secrets, chain: client, logger: env.logger.child("cc") },
  );
  const cc = new ControlCenterService(
    {
      meters: c.meters,
      intervals: c.intervals,
      startTime: BigInt(c.startTime),
      intervalSeconds: c.intervalSeconds,
      categories: c.categories.map(BigInt),
      slots: c.slots,
      windowMs: c.windowMs,
      resendMs: 12 * c.roundMs,
      // Group commit: the packets of one I/O turn are one store transaction (cc/service.ts).
      admissionBatchMs: 0,
    },
    {
      agent,
      chain: client,
      transport: env.transport(c.address),
      clock: env.clock,
      logger: env.logger,
    },
  );
  let done: Promise<void> | undefined;
  return {
    cc,
    async start() {
      await cc.start();
      done = cc.done;
    },
    async stop() {
      await cc.stop();
      secrets.close();
    },
    status: () => ({ ...cc.status() }),
    get done() {
      return done;
    },
  };
}
