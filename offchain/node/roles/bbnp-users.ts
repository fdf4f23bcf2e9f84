// A fleet of BBNP user agents in one process (issue 11 "bbnp-users"): one `BbnpUserAgent` per user
// id in `bbnp.users`, each with its own s_i (secret "user-<i>", written by `bbnpSetup`) and its
// transport at "bbnp-user-<i>". Readings come from the synthetic household load model, drawn
// exactly as the simulator draws them (seed `bbnp/<seed>`, fork `round/<t>` then `load`, users in
// id order), so a devnet and a simulation of the same seed read the same energies; with
// `bbnp.dropout` = p, round(p·N) users drawn from the seed as the demo draws them send nothing in a
// round (`bbnpDropouts`). No chain access.
// Status: {users, round, reported, revealed}.
import { BbnpUserAgent } from "../../bbnp-user/agent.ts";
import { createRng } from "../../runtime/rng.ts";
import { LoadModel } from "../../sim/load-model.ts";
import type { RoleDefinition, Service, ServiceEnv } from "../service.ts";
import { parseBbnpConfig, scalarFromBytes, type BbnpRoleConfig } from "./bbnp-setup.ts";

/**
 * The readings of every user in round t (Wh, capped at maxReading), as offchain/sim/bbnp.ts draws
 * them: the ground truth a devnet reconciles the chain against.
 */
export function bbnpReadings(cfg: BbnpRoleConfig, round: bigint): bigint[] {
  const load = new LoadModel({ seed: `${cfg.seed}/load` });
  const noise = createRng(`bbnp/${cfg.seed}`).fork(`round/${round}`).fork("load");
  const start = cfg.startTime + Number(round - 1n) * cfg.intervalSeconds;
  const out: bigint[] = [];
  for (let i = 0; i < cfg.params.userCount; i++) {
    const wh = load.consumptionWh(i, start, cfg.intervalSeconds, noise);
    out.push(wh > cfg.params.maxReading ? cfg.params.maxReading : wh);
  }
  return out;
}

/**
 * The users silent in round t (config `bbnp.dropout` = p): round(p·N) users, drawn as
 * offchain/sim/bbnp.ts draws its dropouts (seed `bbnp/<seed>`, fork `round/<t>` then `dropout`, a
 * shuffle of 0..N−1, the first ones). Empty when p = 0. A silent user sends nothing in that round
 * (no report, so it is never asked to reveal); the gateway recovers around it with the TA service.
 */
export function bbnpDropouts(cfg: BbnpRoleConfig, round: bigint): Set<number> {
  const n = cfg.params.userCount;
  const count = Math.round(cfg.dropout * n);
  if (count === 0) return new Set();
  const ids = createRng(`bbnp/${cfg.seed}`)
    .fork(`round/${round}`)
    .fork("dropout")
    .shuffle(Array.from({ length: n }, (_, i) => i));
  return new Set(ids.slice(0, count));
}

/** A fleet service and its agents (for inspection). */
export interface BbnpUsersService extends Service {
  readonly agents: readonly BbnpUserAgent[];
}

/** Builds the fleet of `config.users` (all users when absent). */
export function bbnpUsersService(
  env: ServiceEnv & { readonly config: BbnpRoleConfig },
): BbnpUsersService {
  const cfg = env.config;
  const ids = cfg.users ?? Array.from({ length: cfg.params.userCount }, (_, i) => i);
  const cache = new Map<bigint, (bigint | undefined)[]>();
  const readings = (round: bigint): (bigint | undefined)[] => {
    let r = cache.get(round);
    if (!r) {
      const silent = bbnpDropouts(cfg, round);
      r = bbnpReadings(cfg, round).map((w, i) => (silent.has(i) ? undefined : w));
      cache.clear();
      cache.set(round, r);
    }
    return r;
  };
  const agents = ids.map(
    (i) =>
      new BbnpUserAgent(
        {
          params: cfg.params,
          userId: i,
          secret: scalarFromBytes(env.secret(`user-${i}`), `user-${i}`),
        },
        {
          transport: env.transport(`bbnp-user-${i}`),
          reading: (round) => readings(round)[i],
          logger: env.logger,
        },
      ),
  );
  return {
    agents,
    async start() {
      for (const a of agents) await a.start();
    },
    async stop() {
      for (const a of agents) await a.stop();
    },
    status() {
      const last = agents.map((a) => a.lastRound);
      return {
        users: agents.length,
        round: Math.max(0, ...last.map((s) => Number(s?.round ?? 0n))),
        reported: last.filter((s) => s?.reported).length,
        revealed: last.reduce((a, s) => a + (s?.revealed ?? 0), 0),
      };
    },
  };
}

export const bbnpUsersRole: RoleDefinition<BbnpRoleConfig> = {
  role: "bbnp-users",
  description: "a fleet of BBNP users (smart meters): masked reports and recovery reveals",
  parseConfig: (raw) => parseBbnpConfig(raw, "bbnp-users"),
  async create(env) {
    return bbnpUsersService(env);
  },
};
