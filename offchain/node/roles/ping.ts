// `gridledger ping`: a diagnostic role that checks the process plumbing of a deployment without the
// protocol — every `intervalMs` it pings its peers through the address book, answers their pings,
// and advances a durable hash chain over its intervals (store "ping"), so that a process killed and
// restarted from its data directory continues the chain where it stopped: after `intervals` steps
// its digest depends only on (seed, name, intervals), never on crashes. `gridledger devnet --smoke`
// runs a fleet of them (docs/RUNTIME.md "Devnet").
import { sha256 } from "@noble/hashes/sha2.js";

import { ServiceConfigError, type RoleDefinition, type Service } from "../service.ts";

export interface PingConfig {
  /** This process's transport address (must be in the address book). */
  readonly address: string;
  /** Addresses to ping every interval. */
  readonly peers: readonly string[];
  /** Intervals to run (≥ 1); `done` resolves after the last. */
  readonly intervals: number;
  /** Wall-clock length of an interval in ms (≥ 1). */
  readonly intervalMs: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const NS = "ping";

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** Validates the ping role's fields (others are the runner's); throws `ServiceConfigError`. */
export function parsePingConfig(raw: unknown): PingConfig {
  const r = raw as Record<string, unknown>;
  if (typeof r.address !== "string" || r.address === "") {
    throw new ServiceConfigError("address: expected a non-empty string");
  }
  const peers = r.peers ?? [];
  if (!Array.isArray(peers) || !peers.every((p) => typeof p === "string")) {
    throw new ServiceConfigError("peers: expected a list of addresses");
  }
  const intervals = r.intervals ?? 3;
  if (!Number.isSafeInteger(intervals) || (intervals as number) < 1) {
    throw new ServiceConfigError("intervals: expected an integer ≥ 1");
  }
  const intervalMs = r.intervalMs ?? 200;
  if (!Number.isSafeInteger(intervalMs) || (intervalMs as number) < 1) {
    throw new ServiceConfigError("intervalMs: expected an integer ≥ 1");
  }
  return {
    address: r.address,
    peers: peers as string[],
    intervals: intervals as number,
    intervalMs: intervalMs as number,
  };
}

export const pingRole: RoleDefinition<PingConfig> = {
  role: "ping",
  description: "diagnostic: ping peers through the address book, keep a durable interval chain",
  parseConfig: parsePingConfig,
  async create(env): Promise<Service> {
    const c = env.config;
    const store = env.openStore("ping");
    const transport = env.transport(c.address);
    const load = (): { interval: number; digest: Uint8Array } => {
      const i = store.get(NS, "interval");
      const d = store.get(NS, "digest");
      return {
        interval: i === undefined ? 0 : Number(dec.decode(i)),
        digest: d ?? new Uint8Array(32),
      };
    };
    let { interval, digest } = load();
    let pings = 0;
    let pongs = 0;
    let timer: ReturnType<typeof env.clock.setTimeout> | undefined;
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const tick = (): void => {
      timer = undefined;
      if (interval >= c.intervals) return finish();
      const next = interval + 1;
      // digest_j = sha256(digest_{j−1} ‖ name ‖ j ‖ 4 bytes from the seeded rng's fork "interval/j")
      const draw = env.rng.fork(`interval/${next}`).bytes(4);
      const nextDigest = sha256(
        new Uint8Array([...digest, ...enc.encode(`${env.name}/${next}`), ...draw]),
      );
      store.transaction(() => {
        store.put(NS, "interval", enc.encode(String(next)));
        store.put(NS, "digest", nextDigest);
      });
      interval = next;
      digest = nextDigest;
      for (const p of c.peers) transport.send(p, enc.encode(`ping ${interval}`));
      env.logger.info("interval", { interval });
      if (interval >= c.intervals) return finish();
      timer = env.clock.setTimeout(tick, c.intervalMs);
    };
    return {
      done,
      async start() {
        transport.handle((from, bytes) => {
          const m = dec.decode(bytes);
          if (m.startsWith("ping ")) {
            pings++;
            transport.send(from, enc.encode("pong"));
          } else if (m === "pong") pongs++;
        });
        transport.start();
        timer = env.clock.setTimeout(tick, c.intervalMs);
        if (interval >= c.intervals) finish();
      },
      async stop() {
        if (timer !== undefined) env.clock.clearTimeout(timer);
        timer = undefined;
        transport.stop();
      },
      status() {
        return { interval, pings, pongs, digest: hex(digest) };
      },
    };
  },
};
