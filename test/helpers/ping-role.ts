// The diagnostic ping role (offchain/node/roles/ping.ts) with test knobs for the runner's failure
// paths: `secret = "name"` reads that secret at start (status.secretBytes), `failStart` throws from
// start(), `hangOnStop` makes stop() never resolve, `startMarker` (a file path) is written when
// start() begins, which then waits `startDelayMs` (a signal can be sent while it starts).
import { writeFileSync } from "node:fs";

import {
  pingRole as base,
  parsePingConfig,
  type PingConfig,
} from "../../offchain/node/roles/ping.ts";
import type { RoleDefinition, Service } from "../../offchain/node/service.ts";

export interface TestPingConfig extends PingConfig {
  readonly secret?: string;
  readonly failStart: boolean;
  readonly hangOnStop: boolean;
  readonly startMarker?: string;
  readonly startDelayMs: number;
}

export const pingRole: RoleDefinition<TestPingConfig> = {
  role: "ping",
  description: "test role: the ping role with failure knobs",
  parseConfig(raw: unknown): TestPingConfig {
    const r = raw as Record<string, unknown>;
    return {
      ...parsePingConfig(raw),
      ...(typeof r.secret === "string" ? { secret: r.secret } : {}),
      failStart: r.failStart === true,
      hangOnStop: r.hangOnStop === true,
      ...(typeof r.startMarker === "string" ? { startMarker: r.startMarker } : {}),
      startDelayMs: typeof r.startDelayMs === "number" ? r.startDelayMs : 0,
    };
  },
  async create(env): Promise<Service> {
    const c = env.config;
    const inner = await base.create(env);
    let secretBytes = -1;
    return {
      done: inner.done,
      async start() {
        if (c.failStart) throw new Error("ping: failing on purpose");
        if (c.startMarker !== undefined) writeFileSync(c.startMarker, "starting\n");
        if (c.startDelayMs > 0) await new Promise((r) => setTimeout(r, c.startDelayMs));
        if (c.secret !== undefined) secretBytes = env.secret(c.secret).length;
        await inner.start();
      },
      async stop() {
        await inner.stop();
        if (c.hangOnStop) await new Promise(() => undefined);
      },
      status() {
        return { ...inner.status(), secretBytes };
      },
    };
  },
};
