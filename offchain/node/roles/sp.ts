// `gridledger sp`: the service provider as a service (issue 11). Composition root: SP's keys from
// its secrets, its chain client (chain/oksuz-clients.ts; a signer only in direct mode, where SP
// posts itself) and, in relayed mode, its transport to CC; runs the ServiceProviderAgent.
import { connectBillingLedger } from "../../chain/billing.ts";
import { serviceProviderChainClient } from "../../chain/oksuz-clients.ts";
import { hexToBytes } from "../../crypto/bytes.ts";
import { keyPairFromSecret } from "../../crypto/keys.ts";
import { ServiceProviderAgent } from "../../sp/agent.ts";
import { ServiceProvider } from "../../sp/service-provider.ts";
import type { RoleDefinition, Service, ServiceEnv } from "../service.ts";
import {
  oksuzChainFromEnv,
  oksuzDomain,
  requireSigner,
  type OksuzChainAccess,
} from "./oksuz-chain.ts";
import { parseSpConfig, secretScalar, type SpConfig } from "./oksuz-setup.ts";

export const spRole: RoleDefinition<SpConfig> = {
  role: "sp",
  description: "Oksuz service provider: prices and bills every sealed interval",
  parseConfig: parseSpConfig,
  chain: { rpcUrl: true, contracts: ["BillingLedger"] },
  async create(env) {
    return createSpService(env, await oksuzChainFromEnv(env, env.config.mode === "direct"));
  },
};

export async function createSpService(
  env: ServiceEnv & { readonly config: SpConfig },
  chain: OksuzChainAccess,
): Promise<Service & { readonly sp: ServiceProviderAgent }> {
  const c = env.config;
  const direct = c.mode === "direct";
  const sp = new ServiceProvider({
    keys: keyPairFromSecret(secretScalar(env.secret("sp-key"), "sp-key")),
    signingKey: secretScalar(env.secret("sp-sig-key"), "sp-sig-key"),
    ccPublicKey: hexToBytes(c.ccPublicKey),
    domain: oksuzDomain(chain),
  });
  const runner = direct ? requireSigner(chain, "sp") : chain.provider;
  const agent = new ServiceProviderAgent(
    {
      intervals: c.intervals,
      mode: c.mode,
      userPublicKeys: c.userPublicKeys?.map(hexToBytes),
      pollMs: 5 * c.roundMs,
      resendMs: 25 * c.roundMs,
    },
    {
      sp,
      chain: serviceProviderChainClient(connectBillingLedger(chain.ledger, runner)),
      clock: env.clock,
      transport: direct ? undefined : env.transport(c.address),
      logger: env.logger.child("sp"),
    },
  );
  let done: Promise<void> | undefined;
  return {
    sp: agent,
    async start() {
      await agent.start();
      done = agent.done;
    },
    stop: () => agent.stop(),
    status: () => ({ ...agent.status() }),
    get done() {
      return done;
    },
  };
}
