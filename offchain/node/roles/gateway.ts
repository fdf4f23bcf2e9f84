// The BBNP gateway as a service (issue 11; PLAN "BBNP: the gateway drives"): composition root of the
// `GatewayAgent`. Keys from the data directory's key files (secret "gateway-key" = s_g, written by
// `bbnpSetup`; "ta-blinding" = β_g(1..R); "chain-key" = its own chain account), the ledger client
// from offchain/chain/aggregation.ts, the transport at address "gateway"; with config `bbnp.ta`
// (the TA service's address) dropout corrections are asked of the TA service over the wire. It runs
// rounds t = next..R. The round it opens is recorded in its store before the announcement, and the
// agent journals each decision of the round there (offchain/gateway/journal.ts: the counted
// reports when collection closes, each recovery pass, the TA's answer, the signed statement, an
// abort) before acting on it. A restarted gateway RESUMES the round that was open (above the
// chain's `lastRound`) by replaying that journal: collection re-announced if it had not closed
// (the users resend their identical reports), an open recovery pass asked again (the users resend
// their identical reveals), a signed statement published again; a journalled abort is final. No
// decision is taken twice, so one round never has two different recoveries and is never signed
// with two sums (docs/BBNP.md "Services", SECURITY.md). Status: {round, phase, committed}.
import { Wallet, type Signer } from "ethers";

import { AggregationLedgerAdapter, gatewayLedgerClient } from "../../chain/aggregation.ts";
import { connectJsonRpc } from "../../chain/provider.ts";
import { bytesToHex } from "../../crypto/bytes.ts";
import { GatewayAgent, type GatewayRoundOutcome } from "../../gateway/agent.ts";
import { StoreGatewayJournal, type GatewayJournalEntry } from "../../gateway/journal.ts";
import { wireTaClient } from "../../gateway/ta-client.ts";
import { BBNP_ORDER } from "../../protocol/bbnp/params.ts";
import type { Store } from "../../runtime/store.ts";
import {
  ServiceConfigError,
  type RoleDefinition,
  type Service,
  type ServiceEnv,
} from "../service.ts";
import { parseBbnpConfig, scalarFromBytes, type BbnpRoleConfig } from "./bbnp-setup.ts";
import { counted } from "../../runtime/log.ts";

const NS = "gateway";
const OPENED = "opened";

/** The role's chain signer from `env.chain.rpcUrl` and the secret "chain-key". */
export async function roleSigner(env: ServiceEnv, role: string): Promise<Signer> {
  const url = env.chain.rpcUrl;
  if (!url) throw new ServiceConfigError(`${role}: chain.rpcUrl is required`);
  const { provider } = await connectJsonRpc(url);
  return new Wallet("0x" + bytesToHex(env.secret("chain-key")), provider);
}

/** The AggregationLedger address from `env.chain.contracts`. */
export function ledgerAddress(env: ServiceEnv, role: string): string {
  const address = env.chain.contracts.AggregationLedger;
  if (!address) throw new ServiceConfigError(`${role}: chain.contracts.AggregationLedger missing`);
  return address;
}

/** A started gateway service; `outcomes` are this process's rounds, in order. */
export interface GatewayService extends Service {
  readonly outcomes: readonly GatewayRoundOutcome[];
}

/**
 * Builds the gateway service on a chain signer (the role's `create` connects one from the env; a
 * test may pass an in-process one). Throws `ServiceConfigError` on bad key material.
 */
export async function gatewayService(
  env: ServiceEnv & { readonly config: BbnpRoleConfig },
  signer: Signer,
): Promise<GatewayService> {
  const cfg = env.config;
  const secret = scalarFromBytes(env.secret("gateway-key"), "gateway-key");
  const blinding = env.secret("ta-blinding");
  if (blinding.length !== 32 * cfg.rounds) {
    throw new ServiceConfigError(`gateway: ta-blinding: expected ${cfg.rounds} × 32 bytes`);
  }
  const adapter = await AggregationLedgerAdapter.connect(signer, ledgerAddress(env, "gateway"));
  const logger = env.logger;
  const blindingOf = (round: bigint): bigint => {
    if (round < 1n || round > BigInt(cfg.rounds)) {
      throw new RangeError(
        `no β_g for round ${round} (set up for ${counted(cfg.rounds, "round")})`,
      );
    }
    const k = Number(round - 1n) * 32;
    return BigInt("0x" + bytesToHex(blinding.subarray(k, k + 32))) % BBNP_ORDER;
  };
  const transport = env.transport("gateway");
  // With a TA service configured, dropout corrections are asked over the wire (offchain/ta/
  // service.ts); without, the TA is offline and a round with missing users aborts cleanly.
  const online = cfg.ta
    ? wireTaClient(
        { address: cfg.ta, blinding: blindingOf, timeoutMs: cfg.correctionTimeoutMs },
        { transport, clock: env.clock },
      )
    : undefined;
  let store: Store | undefined;
  let journal: StoreGatewayJournal | undefined;
  const agent = new GatewayAgent(
    {
      params: cfg.params,
      secret,
      domain: adapter.domain,
      mode: cfg.mode,
      nodes: cfg.nodeKeys.map((_, j) => `node-${j}`),
      nodeKeys: cfg.nodeKeys,
      windowMs: cfg.windowMs,
      revealWindowMs: cfg.revealWindowMs,
      commitTimeoutMs: cfg.commitTimeoutMs,
    },
    {
      transport: online?.transport ?? transport,
      clock: env.clock,
      ledger: gatewayLedgerClient(adapter, signer),
      ta: online?.ta ?? {
        blinding: blindingOf,
        correction() {
          // No TA service configured: no correction, the round aborts cleanly.
          throw new Error("no online trusted authority for a dropout correction");
        },
      },
      logger,
      journal: {
        append(round, entry) {
          journal!.append(round, entry);
        },
      },
    },
  );
  const outcomes: GatewayRoundOutcome[] = [];
  let stopping = false;
  let resolveDone!: () => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => {}); // observed through `done`; not an unhandled rejection meanwhile

  const run = async (next: bigint, replay: readonly GatewayJournalEntry[]) => {
    for (let t = next; t <= BigInt(cfg.rounds) && !stopping; t++) {
      // Durable before the announcement: a restart resumes this round from its journal.
      store!.put(NS, OPENED, new TextEncoder().encode(t.toString()));
      const outcome = await agent.runRound(t, t === next ? replay : []);
      outcomes.push(outcome);
      if (stopping && outcome.aborted === "caller") break; // left open for the next process
      logger.info("round done", {
        round: Number(t),
        ...(outcome.aborted ? { aborted: outcome.aborted } : { sum: String(outcome.signed?.sum) }),
      });
    }
  };

  return {
    outcomes,
    done,
    async start() {
      store = env.openStore("gateway");
      journal = new StoreGatewayJournal(store);
      const stored = store.get(NS, OPENED);
      const opened = stored ? BigInt(new TextDecoder().decode(stored)) : 0n;
      const onChain = await adapter.lastRound();
      let next = onChain + 1n;
      let replay: GatewayJournalEntry[] = [];
      if (opened > onChain) {
        // The round open at the last stop: resumed from its journal (a journalled abort is final).
        replay = journal.entries(opened);
        if (replay.some((e) => e.kind === "aborted")) {
          next = opened + 1n;
          replay = [];
        } else {
          next = opened;
          logger.info("resuming the round open at the last stop", {
            round: Number(opened),
            entries: replay.map((e) => e.kind).join(",") || "none",
          });
        }
      }
      await agent.start();
      run(next, replay).then(resolveDone, rejectDone);
    },
    async stop() {
      stopping = true;
      await agent.stop();
    },
    status: () => agent.status(),
  };
}

export const gatewayRole: RoleDefinition<BbnpRoleConfig> = {
  role: "gateway",
  description:
    "BBNP gateway: collects masked reports, signs each round's sum, records or hands it to the consensus nodes",
  parseConfig: (raw) => parseBbnpConfig(raw, "gateway"),
  chain: { rpcUrl: true, contracts: ["AggregationLedger"] },
  async create(env) {
    return gatewayService(env, await roleSigner(env, "gateway"));
  },
};
