// Meter-side adversaries of Oksuz 2020 §3.1 as wrappers around the agents' parts (issue 11:
// fault injection beside the agents, not inside the runner). Each returns something the honest
// composition root plugs in where the honest part would go; the agents themselves are unchanged.
//   - tampering user: the household rewrites its meter's outgoing chunk to the smallest category
//     value; it cannot re-sign, so CC refuses it ("bad-signature", not counted against the meter);
//   - corrupted meter: compromised firmware signs with a key of its own instead of the GGM message
//     key; CC refuses it ("key-mismatch");
//   - fake meter: an unregistered device that learns an interval is open (it listens on a link it
//     shares with a real meter) and sends signed reports under pseudonyms CC never issued; CC
//     refuses them ("unknown-pseudonym").
import type { Clock } from "../runtime/clock.ts";
import type { Transport } from "../runtime/network.ts";
import { TransportTap } from "../runtime/transport-tap.ts";
import type { Rng } from "../runtime/rng.ts";
import type { Meter, MeterIntervalReport } from "../meter/meter.ts";
import type { RelayDirectory } from "../meter/agent.ts";
import { buildReportOnion, onionAssociatedData, selectRelayPath } from "../onion/report.ts";
import { sessionKeyFrom } from "../onion/random.ts";
import { signEntry, type LedgerEntry } from "../protocol/entry.ts";
import { encodeMeterReport } from "../protocol/meter-report.ts";
import { decodeWire, encodeWire, WIRE_TYPE, WireDecodeError } from "../protocol/wire/index.ts";

/** A `Meter` whose outgoing entries pass through `rewrite` (the user batch stays genuine). */
function rewritingMeter(meter: Meter, rewrite: (entry: LedgerEntry) => LedgerEntry): Meter {
  return new Proxy(meter, {
    get(target, key) {
      if (key === "reportInterval") {
        return (interval: number, wh: bigint, timestamp: bigint): MeterIntervalReport => {
          const report = target.reportInterval(interval, wh, timestamp);
          return { ...report, entries: report.entries.map(rewrite) };
        };
      }
      if (key === "resend") {
        return (interval: number, counter: number) => {
          const entry = target.resend(interval, counter);
          return entry && rewrite(entry);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Oksuz §3.1 tampering user: lowers every real chunk to the smallest category value (or raises
 * a smallest one to the next), keeping the meter's signature. Dummies (value 0) pass unchanged.
 */
export function tamperingUser(meter: Meter, categories: readonly bigint[]): Meter {
  return rewritingMeter(meter, (e) =>
    e.value === 0n ? e : { ...e, value: e.value === categories[0] ? categories[1] : categories[0] },
  );
}

/** Oksuz §3.1 corrupted meter: signs every entry with `rogueKey` instead of its message key. */
export function corruptedMeter(meter: Meter, domain: Uint8Array, rogueKey: bigint): Meter {
  return rewritingMeter(meter, (e) => signEntry(domain, e, rogueKey + BigInt(e.id[0])));
}

/** What an adversary needs to wrap an entry in an onion of its own (`reportOnion`). */
export interface OnionSenderComponents {
  /** Its own link. */
  readonly transport: Transport;
  readonly clock: Clock;
  /** Paths and session keys. */
  readonly rng: Rng;
  readonly directory: RelayDirectory;
  readonly ccPublicKey: Uint8Array;
  readonly domain: Uint8Array;
}

export interface FakeMeterComponents extends OnionSenderComponents {
  /** An unregistered meter (keys CC never saw). */
  readonly meter: Meter;
}

/**
 * Oksuz §3.1 fake meter. `tap(transport)` wraps a real meter's link: when CC's announcement
 * crosses it, the fake meter reports `wh` for that interval through the onion network.
 */
export class FakeMeter {
  readonly #c: FakeMeterComponents;
  readonly #wh: bigint;
  #last = 0;
  /** Reports sent (the evidence's denominator). */
  sent = 0;

  constructor(components: FakeMeterComponents, wh = 2_000n) {
    this.#c = components;
    this.#wh = wh;
  }

  start(): void {
    this.#c.transport.start();
  }

  stop(): void {
    this.#c.transport.stop();
  }

  /** The real meter's link with the fake meter listening on it. */
  tap(transport: Transport): Transport {
    return new TransportTap(transport, {
      beforeHandle: (from, bytes) => this.#observe(from, bytes),
    });
  }

  #observe(from: string, bytes: Uint8Array): void {
    const a = announcementOf(from, bytes);
    if (a === undefined || a.interval <= this.#last) return;
    this.#last = a.interval;
    // After the honest meters' first round, like any meter.
    this.#c.clock.setTimeout(() => this.#report(a.interval, a.end - 1n), 400);
  }

  #report(interval: number, timestamp: bigint): void {
    const { meter, transport } = this.#c;
    for (const entry of meter.reportInterval(interval, this.#wh, timestamp).entries) {
      const onion = reportOnion(entry, interval, this.#c);
      if (onion === undefined) continue;
      transport.send(onion.to, onion.bytes);
      this.sent++;
    }
  }
}

/** CC's interval announcement in a message on a meter's link (undefined for anything else). */
export function announcementOf(
  from: string,
  bytes: Uint8Array,
): { readonly interval: number; readonly end: bigint } | undefined {
  if (from !== "cc" || bytes[1] !== WIRE_TYPE.intervalAnnouncement) return undefined;
  let message;
  try {
    message = decodeWire(bytes);
  } catch (err) {
    if (err instanceof WireDecodeError) return undefined;
    throw err;
  }
  return message.type === "intervalAnnouncement" ? message.announcement : undefined;
}

/**
 * `entry` in a fresh onion to CC through 3 relays of `directory` (epoch = `interval`, DESIGN
 * §4.6), as a wire message and its first hop; undefined when the first hop has no address.
 */
export function reportOnion(
  entry: LedgerEntry,
  interval: number,
  c: Omit<OnionSenderComponents, "transport" | "clock">,
): { readonly to: string; readonly bytes: Uint8Array } | undefined {
  const random = (n: number) => c.rng.bytes(n);
  const path = selectRelayPath(c.directory.publicKeys, 3, random);
  const onion = buildReportOnion(
    path,
    c.ccPublicKey,
    encodeMeterReport(entry),
    sessionKeyFrom(random),
    onionAssociatedData(c.domain, interval),
  );
  const to = c.directory.addressOf(onion.firstHop);
  return to === undefined
    ? undefined
    : { to, bytes: encodeWire({ type: "onionPacket", packet: onion.packet }) };
}
