// The trusted authority's online service for dropout corrections (issue 11 "Dropouts as services";
// DESIGN §4.7 "Dropouts"): composition root of the `TaAgent` (offchain/ta/service.ts). It holds the
// TA's round material only — secret "ta-round-blindings" = β_i(t) for every user i and round
// t = 1..R, written by `bbnpSetup({ taService: true })` — never s_i, b_i or s_g. It listens at
// transport address "ta", answers the gateway's (address "gateway") `bbnpCorrectionRequest` with
// `bbnpDropoutCorrection` under the simulator TA's rules (minReporters, one correction per round
// with rounds increasing, material of that round only) and persists what it revealed in its store
// ("ta") before answering, so a restart never reveals a second set for a round. No chain access.
// Status: {corrected, refused, lastRound}.
import { TaAgent, TaCorrectionDesk } from "../../ta/service.ts";
import {
  ServiceConfigError,
  type RoleDefinition,
  type Service,
  type ServiceEnv,
} from "../service.ts";
import { parseBbnpConfig, type BbnpRoleConfig } from "./bbnp-setup.ts";
import { counted } from "../../runtime/log.ts";

/** The TA service's transport address. */
export const TA_ADDRESS = "ta";

/** A started TA service and its agent (for inspection). */
export interface TaService extends Service {
  readonly agent: TaAgent;
}

/**
 * Builds the TA service from the env (config `bbnp`: params.userCount, params.minReporters,
 * rounds; secret "ta-round-blindings" of 32·R·N bytes). Throws `ServiceConfigError` on bad
 * material. The store is opened at `start`.
 */
export function taService(env: ServiceEnv & { readonly config: BbnpRoleConfig }): TaService {
  const cfg = env.config;
  const material = env.secret("ta-round-blindings");
  const n = cfg.params.userCount;
  if (material.length !== 32 * n * cfg.rounds) {
    throw new ServiceConfigError(
      `ta: ta-round-blindings: expected ${counted(cfg.rounds, "round")} × ${counted(n, "user")} × 32 bytes`,
    );
  }
  let agent: TaAgent | undefined;
  const service: TaService = {
    get agent() {
      if (!agent) throw new ServiceConfigError("ta: not started");
      return agent;
    },
    async start() {
      const desk = new TaCorrectionDesk(
        { userCount: n, minReporters: cfg.params.minReporters, rounds: cfg.rounds, material },
        env.openStore("ta"),
      );
      agent = new TaAgent(
        { gateway: "gateway" },
        { desk, transport: env.transport(TA_ADDRESS), logger: env.logger },
      );
      agent.start();
    },
    async stop() {
      agent?.stop();
    },
    status: () => (agent ? { ...agent.status() } : { corrected: 0, refused: 0, lastRound: 0 }),
  };
  return service;
}

export const taRole: RoleDefinition<BbnpRoleConfig> = {
  role: "ta",
  description:
    "BBNP trusted authority online: answers the gateway's dropout corrections from round material only",
  parseConfig: (raw) => parseBbnpConfig(raw, "ta"),
  async create(env) {
    return taService(env);
  },
};
