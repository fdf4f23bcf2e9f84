// A small role for testing the runner, the supervisor and the devnet plumbing without the real
// roles: it pings its peers over the transport every `intervalMs` ("intervals" on env.clock),
// answers pings with pongs, and persists its interval counter in its store, so a restart from the
// same data directory resumes the count. With `secret = "name"` it reads that secret at start and
// reports its length.
import {
  ServiceConfigError,
  type RoleDefinition,
  type Service,
} from "../../offchain/node/service.ts";

export interface PingConfig {
  readonly address: string;
  readonly peers: readonly string[];
  readonly intervals: number;
  readonly intervalMs: number;
  readonly secret?: string;
  /** Throw from start() (to test start failures). */
  readonly failStart?: boolean;
  /** Make stop() hang (to test the stop timeout / second signal). */
  readonly hangOnStop?: boolean;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export const pingRole: RoleDefinition<PingConfig> = {
  role: "ping",
  description: "test role: pings peers, counts intervals, persists its counter",
  parseConfig(raw: unknown): PingConfig {
    const r = raw as Record<string, unknown>;
    if (typeof r.address !== "string") throw new ServiceConfigError("address: expected a string");
    const peers = r.peers ?? [];
    if (!Array.isArray(peers) || !peers.every((p) => typeof p === "string")) {
      throw new ServiceConfigError("peers: expected a list of addresses");
    }
    const intervals = r.intervals ?? 3;
    if (!Number.isInteger(intervals) || (intervals as number) < 1) {
      throw new ServiceConfigError("intervals: expected an integer ≥ 1");
    }
    const intervalMs = r.intervalMs ?? 200;
    if (!Number.isInteger(intervalMs) || (intervalMs as number) < 1) {
      throw new ServiceConfigError("intervalMs: expected an integer ≥ 1");
    }
    return {
      address: r.address,
      peers: peers as string[],
      intervals: intervals as number,
      intervalMs: intervalMs as number,
      ...(typeof r.secret === "string" ? { secret: r.secret } : {}),
      failStart: r.failStart === true,
      hangOnStop: r.hangOnStop === true,
    };
  },
  async create(env): Promise<Service> {
    const c = env.config;
    const store = env.openStore("ping");
    const transport = env.transport(c.address);
    let interval = Number(dec.decode(store.get("state", "interval") ?? enc.encode("0")));
    let pings = 0;
    let pongs = 0;
    let secretBytes = -1;
    let timer: ReturnType<typeof env.clock.setTimeout> | undefined;
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const tick = (): void => {
      timer = undefined;
      if (interval >= c.intervals) return finish();
      interval++;
      store.put("state", "interval", enc.encode(String(interval)));
      for (const p of c.peers) transport.send(p, enc.encode(`ping ${interval}`));
      env.logger.info("interval", { interval });
      if (interval >= c.intervals) return finish();
      timer = env.clock.setTimeout(tick, c.intervalMs);
    };
    return {
      done,
      async start() {
        if (c.failStart) throw new Error("ping: failing on purpose");
        if (c.secret !== undefined) secretBytes = env.secret(c.secret).length;
        transport.handle((from, bytes) => {
          const m = dec.decode(bytes);
          if (m.startsWith("ping")) {
            pings++;
            transport.send(from, enc.encode("pong"));
          } else if (m === "pong") pongs++;
        });
        transport.start();
        timer = env.clock.setTimeout(tick, c.intervalMs);
      },
      async stop() {
        if (timer !== undefined) env.clock.clearTimeout(timer);
        transport.stop();
        if (c.hangOnStop) await new Promise(() => undefined);
      },
      status() {
        return { interval, pings, pongs, secretBytes, rngSample: env.rng.fork("status").nextU32() };
      },
    };
  },
};
