// A BBNP consensus node as a service (issue 11; docs/CONSENSUS.md "Agents"): composition root of one
// `ConsensusNodeAgent`. Its own BLS key (secret "bls-key", written by `bbnpSetup`), its own chain
// account ("chain-key"), the ledger client of offchain/chain/aggregation.ts, the transport at
// "node-<j>", timers on the env's clock. Durable state: the adopted blocks (store "node"), replayed
// on start and checked against the chain's head, so a restarted node rejoins with the same head and
// reputation state. Status: {round, isPrimary, signed, head, behind?}.
import type { Signer } from "ethers";

import { AggregationLedgerAdapter, nodeLedgerClient } from "../../chain/aggregation.ts";
import { ConsensusNodeAgent } from "../../consensus/agent.ts";
import { blsPublicKey, blsSign, blsVerify } from "../../crypto/bls.ts";
import { equalBytes } from "../../crypto/bytes.ts";
import { initialReputationState } from "../../protocol/reputation.ts";
import {
  ServiceConfigError,
  type RoleDefinition,
  type Service,
  type ServiceEnv,
} from "../service.ts";
import { parseBbnpConfig, scalarFromBytes, type BbnpRoleConfig } from "./bbnp-setup.ts";
import { ledgerAddress, roleSigner } from "./gateway.ts";

/** A node service and its agent (for inspection). */
export interface NodeService extends Service {
  readonly agent: ConsensusNodeAgent;
}

/** Builds node `config.index`'s service on a chain signer (see `gatewayService`). */
export async function nodeService(
  env: ServiceEnv & { readonly config: BbnpRoleConfig },
  signer: Signer,
): Promise<NodeService> {
  const cfg = env.config;
  const index = cfg.index;
  if (index === undefined || index >= cfg.nodeKeys.length) {
    throw new ServiceConfigError("node: bbnp.index must name one of the nodeKeys");
  }
  const secretKey = scalarFromBytes(env.secret("bls-key"), "bls-key");
  if (!equalBytes(blsPublicKey(secretKey), cfg.nodeKeys[index])) {
    throw new ServiceConfigError(`node: bls-key is not the key of node ${index} in nodeKeys`);
  }
  const adapter = await AggregationLedgerAdapter.connect(signer, ledgerAddress(env, "node"));
  if (!adapter.registry) throw new ServiceConfigError("node: the ledger has no registry bound");
  const epoch = Number(await adapter.registry.membershipEpoch());
  const store = env.openStore("node");
  const agent = new ConsensusNodeAgent(
    {
      index,
      secretKey,
      keys: cfg.nodeKeys,
      gatewayKey: cfg.params.gatewayPublicKey,
      domain: adapter.domain,
      epoch,
      initialState: initialReputationState([...cfg.reputations]),
      viewTimeoutMs: cfg.viewTimeoutMs,
      collectWindowMs: cfg.collectWindowMs,
      revealTimeoutMs: cfg.revealTimeoutMs,
    },
    {
      transport: env.transport(`node-${index}`),
      clock: env.clock,
      ledger: nodeLedgerClient(adapter, signer, cfg.nodeKeys),
      crypto: { sign: blsSign, verify: blsVerify },
      store,
      logger: env.logger,
    },
  );
  return {
    agent,
    start: () => agent.start(),
    stop: () => agent.stop(),
    status: () => agent.status(),
  };
}

export const nodeRole: RoleDefinition<BbnpRoleConfig> = {
  role: "node",
  description:
    "BBNP consensus node: selection reveal, votes, and as primary the quorum-certified commit",
  parseConfig: (raw) => parseBbnpConfig(raw, "node"),
  chain: { rpcUrl: true, contracts: ["AggregationLedger"] },
  async create(env) {
    return nodeService(env, await roleSigner(env, "node"));
  },
};
