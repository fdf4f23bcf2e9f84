// The replaying outsider (Oksuz 2020 §3.1 outsider; DESIGN §4.6 replay drop, §2 per-interval
// pseudonym uniqueness) as a wrapper beside the agents (issue 11): it owns no key of the system.
// It listens on the meters' links (`tap`) and, per interval:
//   - records the first `capture` onion packets meters put on links to other relays, and sends
//     each again to the same relay `replayAfterMs` after the interval's announcement (the same
//     onion epoch): every relay must drop them as replays;
//   - from interval 2 on, takes the first `ledgerReplays` public OCD entries of the previous
//     interval from the ledger and sends them to CC again, each in a fresh onion it builds itself:
//     CC must refuse them (the interval is closed, or the pseudonym was already admitted).
import type { Transport } from "../runtime/network.ts";
import { TransportTap } from "../runtime/transport-tap.ts";
import type { LedgerEntry } from "../protocol/entry.ts";
import { WIRE_TYPE } from "../protocol/wire/index.ts";
import { announcementOf, reportOnion, type OnionSenderComponents } from "./meters.ts";

export interface ReplayingOutsiderInit {
  /** Onion packets recorded per interval, default 50. */
  readonly capture?: number;
  /** Public ledger entries of the previous interval re-sent per interval, default 5. */
  readonly ledgerReplays?: number;
  /** Delay from the announcement to the replays (virtual ms), default 1800 (9 relay rounds). */
  readonly replayAfterMs?: number;
}

export interface ReplayingOutsiderComponents extends OnionSenderComponents {
  /** The public ledger's OCD entries of an interval (any RPC endpoint). */
  readonly readEntries: (interval: number) => Promise<readonly LedgerEntry[]>;
  /** Called when an asynchronous step failed (the wiring decides; default: rethrown). */
  readonly onError?: (err: unknown) => void;
}

export class ReplayingOutsider {
  readonly #init: ReplayingOutsiderInit;
  readonly #c: ReplayingOutsiderComponents;
  #interval = 0;
  #captured: { readonly to: string; readonly bytes: Uint8Array }[] = [];
  #running = false;
  /** Onion packets sent again to the relay they were meant for. */
  packetsReplayed = 0;
  /** Public ledger entries re-sent to CC in fresh onions. */
  entriesReplayed = 0;

  constructor(init: ReplayingOutsiderInit, components: ReplayingOutsiderComponents) {
    this.#init = init;
    this.#c = components;
  }

  start(): void {
    this.#running = true;
    this.#c.transport.start();
  }

  stop(): void {
    this.#running = false;
    this.#c.transport.stop();
  }

  /** A meter's link with the outsider listening on it (both directions). */
  tap(transport: Transport): Transport {
    return new TransportTap(transport, {
      onSend: (to, bytes) => {
        if (
          this.#interval > 0 &&
          to !== "cc" &&
          bytes[1] === WIRE_TYPE.onionPacket &&
          this.#captured.length < (this.#init.capture ?? 50)
        ) {
          this.#captured.push({ to, bytes });
        }
      },
      beforeHandle: (from, bytes) => {
        const a = announcementOf(from, bytes);
        if (a === undefined || a.interval <= this.#interval) return;
        this.#interval = a.interval;
        this.#captured = [];
        const interval = a.interval;
        this.#c.clock.setTimeout(
          () => void this.#replay(interval).catch((err) => this.#fail(err)),
          this.#init.replayAfterMs ?? 1_800,
        );
      },
    });
  }

  async #replay(interval: number): Promise<void> {
    if (!this.#running) return;
    const { transport } = this.#c;
    for (const { to, bytes } of this.#captured.splice(0)) {
      transport.send(to, bytes);
      this.packetsReplayed++;
    }
    if (interval < 2) return;
    const entries = await this.#c.readEntries(interval - 1);
    if (!this.#running) return;
    for (const entry of entries.slice(0, this.#init.ledgerReplays ?? 5)) {
      const onion = reportOnion(entry, interval, this.#c);
      if (onion === undefined) continue;
      transport.send(onion.to, onion.bytes);
      this.entriesReplayed++;
    }
  }

  #fail(err: unknown): void {
    if (this.#c.onError) this.#c.onError(err);
    else throw err;
  }
}
