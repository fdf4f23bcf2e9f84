// A pass-through `Transport` with taps (issue 11: measurement and fault injection wrap an agent's
// link from outside, the agent stays unchanged). One wrapper for every observer of a link: the
// simulator's global passive observer (every message an agent puts on the wire), the crashing CC
// (onion packets delivered to CC, counted after CC handled them), the fake meter and the replaying
// outsider (announcements and onions crossing a meter's link). A tap sees the bytes and must not
// change them; a tap that throws is the wiring's bug and propagates.
import type { MessageHandler, Transport } from "./network.ts";

export interface TransportTaps {
  /** Every message this endpoint sends, before it goes to the inner transport. */
  readonly onSend?: (to: string, bytes: Uint8Array) => void;
  /** Every message delivered to this endpoint, before its handler runs. */
  readonly beforeHandle?: (from: string, bytes: Uint8Array) => void;
  /** Every message delivered to this endpoint, after its handler returned (not awaited). */
  readonly afterHandle?: (from: string, bytes: Uint8Array) => void;
}

/** `inner` with `taps` on its sends and deliveries; start, stop and the address pass through. */
export class TransportTap implements Transport {
  readonly #inner: Transport;
  readonly #taps: TransportTaps;

  constructor(inner: Transport, taps: TransportTaps) {
    this.#inner = inner;
    this.#taps = taps;
  }

  get address(): string {
    return this.#inner.address;
  }

  start(): void {
    this.#inner.start();
  }

  stop(): void {
    this.#inner.stop();
  }

  send(to: string, bytes: Uint8Array): void {
    this.#taps.onSend?.(to, bytes);
    this.#inner.send(to, bytes);
  }

  handle(handler: MessageHandler): void {
    const { beforeHandle, afterHandle } = this.#taps;
    if (!beforeHandle && !afterHandle) {
      this.#inner.handle(handler);
      return;
    }
    this.#inner.handle((from, bytes) => {
      beforeHandle?.(from, bytes);
      const result = handler(from, bytes);
      afterHandle?.(from, bytes);
      return result;
    });
  }
}
