// In-memory message network for simulations (DESIGN §3 "Simulation": latency, loss, reordering,
// crash injection). Agents talk to a `Transport`; here it is a `MemoryEndpoint`, elsewhere a socket
// transport (STYLE "libp2p": transports swappable for in-memory ones). Every random choice comes
// from the injected `Rng` and every delay from the injected `Clock`, so with a `VirtualClock` a run
// is a deterministic function of the seed.
//
// Model, per message sent from A to B at time t:
//  1. if A is down: dropped ("sender-down"), nothing goes on the wire;
//  2. the packet is on the wire: its size is recorded for link A→B (an observer on the link sees it);
//  3. with probability `lossProbability`: dropped ("lost");
//  4. delay d = baseMs + U[0, jitterMs]; with probability `reorderProbability` the message is held
//     back a further `reorderDelayMs` and may be overtaken; otherwise the link is FIFO (delivery
//     no earlier than the previous in-order message on A→B), so jitter alone never reorders;
//  5. at delivery time: if B is unknown or down (crashed or stopped) → dropped
//     ("unknown-destination" / "destination-down"), else B's handler gets a private copy.
//     (An address with no endpoint may get one built when a packet to it goes on the wire:
//     `onDemand`.)
// A packet's draws (jitter, reordering, loss) are a keyed hash (SHA-256 under a key from the
// injected rng) of its sender's endpoint row and the sender's own count of packets put on the
// wire — not the next numbers of streams shared by all senders (issue 14, session 10). So a
// packet's fate depends only on its sender's own sends: two senders sending at the same virtual
// instant in a wall-time-dependent order (a chain call's continuation settling before or after
// the other timers of that instant) get the same outcomes either way, where with shared streams
// they swapped draws and every later draw moved. Each packet on the wire gets all three draws,
// from disjoint parts of one hash, before the loss decision, so turning loss on does not change
// the delays of the messages that survive. Memory: one counter per endpoint.
import { hash } from "node:crypto";

import { ByteSlab } from "./byte-slab.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import { silentLogger } from "./log.ts";
import type { Rng } from "./rng.ts";

export type MessageHandler = (from: string, bytes: Uint8Array) => void | Promise<void>;

/** What an agent needs from the network; implemented in memory here. */
export interface Transport {
  readonly address: string;
  /** Starts receiving; messages before start (or after stop) are dropped. */
  start(): void;
  stop(): void;
  /** Fire-and-forget datagram; delivery is not guaranteed. */
  send(to: string, bytes: Uint8Array): void;
  /** The single handler for incoming messages (replaces any previous one). */
  handle(handler: MessageHandler): void;
}

export type DropReason = "sender-down" | "lost" | "unknown-destination" | "destination-down";

export interface NetworkStats {
  /** `send` calls. */
  readonly sent: number;
  readonly bytesSent: number;
  readonly delivered: number;
  readonly bytesDelivered: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Messages held back by the reordering model. */
  readonly reordered: number;
  /** Handlers that threw or rejected. */
  readonly handlerErrors: number;
  /** Scheduled but not yet delivered or dropped. */
  readonly inFlight: number;
}

export interface MemoryNetworkInit {
  /** One-way delay: base + uniform jitter, in ms (default 0 + 0). */
  readonly latency?: { readonly baseMs: number; readonly jitterMs: number };
  /** Probability a message is lost on the wire (default 0). */
  readonly lossProbability?: number;
  /** Probability a message is delayed out of order (default 0). */
  readonly reorderProbability?: number;
  /** Extra delay of a reordered message (default 2 × (base + jitter) + 1 ms). */
  readonly reorderDelayMs?: number;
  /** Refuse larger messages (default 1 MiB). */
  readonly maxMessageBytes?: number;
}

export interface MemoryNetworkComponents {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly logger?: Logger;
}

export class NetworkError extends Error {
  override name = "NetworkError";
}

function checkProbability(p: number, what: string): number {
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
    throw new NetworkError(`MemoryNetwork: ${what} must be in [0, 1]`);
  }
  return p;
}

function checkNonNegative(x: number, what: string): number {
  if (typeof x !== "number" || !Number.isFinite(x) || x < 0) {
    throw new NetworkError(`MemoryNetwork: ${what} must be a finite number ≥ 0`);
  }
  return x;
}

/** The network's record of one endpoint (shared with the `MemoryEndpoint` object). */
export interface EndpointState {
  handler: MessageHandler | undefined;
  started: boolean;
  crashed: boolean;
  /** The endpoint's number in creation order (0, 1, …): its row in the packet-size counts. */
  readonly row: number;
  /** Packets scheduled for this endpoint and not yet delivered or dropped. */
  inbound: number;
  /** Packets this endpoint put on the wire: the index of its next packet's draws. */
  onWire: number;
}

/** Uniform float in [0, 1) from 53 of the 64 bits at `offset` (as `ChaChaRng.nextFloat`). */
function unitFloat(view: DataView, offset: number): number {
  const hi = view.getUint32(offset) >>> 11;
  const lo = view.getUint32(offset + 4);
  return (hi * 0x100000000 + lo) / 2 ** 53;
}

export class MemoryNetwork {
  readonly #clock: Clock;
  /**
   * The input of a packet's draws: the draw key (32 bytes), the sender's row (u32) and its packet
   * index (u64), big-endian; reused for every packet (see the header).
   */
  readonly #drawInput = new Uint8Array(44);
  readonly #drawView = new DataView(this.#drawInput.buffer);
  readonly #logger: Logger;
  readonly #baseMs: number;
  readonly #jitterMs: number;
  readonly #loss: number;
  readonly #reorder: number;
  readonly #reorderDelayMs: number;
  readonly #maxBytes: number;

  readonly #endpoints = new Map<string, EndpointState>();
  /**
   * Retired endpoints (`MemoryEndpoint.retire`): address → row, so their packet-size counts stay
   * reported and their address stays taken; nothing else of them (issue 14: a retired simulated
   * meter's handler kept its whole agent alive).
   */
  readonly #retired = new Map<string, number>();
  /**
   * Per link with a packet in flight, sender → receiver → latest in-order delivery time (FIFO).
   * Nested maps, not one map keyed by a "from→to" string: no string built per packet (issue 14).
   */
  readonly #linkTail = new Map<string, Map<string, number>>();
  /**
   * Packet size → count per sender, the sender's endpoint `row` the index: one counts array per
   * distinct size, not a Map per sender (issue 14: ≈ 210 B per simulated meter; a city's traffic
   * has a handful of sizes). Keyed by sender, not by link: a city's links grow with every distinct
   * relay pair, its senders only with its nodes.
   */
  readonly #sizes = new Map<number, Float64Array>();
  /**
   * Builds an endpoint on demand ({@link MemoryNetwork.onDemand}): asked for an address with no
   * endpoint when a packet is put on the wire to it.
   */
  #onDemand?: (address: string) => boolean;
  /**
   * Packets scheduled and not yet delivered or dropped: a count, not a set of their timer handles
   * (nothing reads them; one set entry per packet in flight was heap the GC traced, issue 14).
   */
  #inFlight = 0;
  /**
   * The packets in flight, copied into shared chunks (issue 14: a city holds about one packet in
   * flight per meter; each its own buffer was an 88 B `ArrayBuffer` and a malloc block besides
   * its bytes). Private to the network: every receiver gets a fresh copy at delivery, never a
   * view of it, so no endpoint can read another link's packets through `.buffer`.
   */
  readonly #inFlightSlab = new ByteSlab();

  #sent = 0;
  #bytesSent = 0;
  #delivered = 0;
  #bytesDelivered = 0;
  #reordered = 0;
  #handlerErrors = 0;
  readonly #dropped: Record<DropReason, number> = {
    "sender-down": 0,
    lost: 0,
    "unknown-destination": 0,
    "destination-down": 0,
  };

  constructor(init: MemoryNetworkInit, components: MemoryNetworkComponents) {
    if (components?.clock === undefined || components.rng === undefined) {
      throw new NetworkError("MemoryNetwork: components.clock and components.rng are required");
    }
    this.#clock = components.clock;
    this.#drawInput.set(components.rng.fork("network/draws").bytes(32));
    this.#logger = (components.logger ?? silentLogger).child("network");
    this.#baseMs = checkNonNegative(init.latency?.baseMs ?? 0, "latency.baseMs");
    this.#jitterMs = checkNonNegative(init.latency?.jitterMs ?? 0, "latency.jitterMs");
    this.#loss = checkProbability(init.lossProbability ?? 0, "lossProbability");
    this.#reorder = checkProbability(init.reorderProbability ?? 0, "reorderProbability");
    this.#reorderDelayMs = checkNonNegative(
      init.reorderDelayMs ?? 2 * (this.#baseMs + this.#jitterMs) + 1,
      "reorderDelayMs",
    );
    const max = init.maxMessageBytes ?? 1 << 20;
    if (!Number.isSafeInteger(max) || max <= 0) {
      throw new NetworkError("MemoryNetwork: maxMessageBytes must be a positive integer");
    }
    this.#maxBytes = max;
  }

  /** Creates the endpoint for `address` (not yet started). One endpoint per address. */
  endpoint(address: string): MemoryEndpoint {
    if (typeof address !== "string" || address.length === 0) {
      throw new NetworkError("endpoint: address must be a non-empty string");
    }
    if (this.#endpoints.has(address) || this.#retired.has(address)) {
      throw new NetworkError(`endpoint: address ${address} already in use`);
    }
    const state: EndpointState = {
      handler: undefined,
      started: false,
      crashed: false,
      row: this.#endpoints.size + this.#retired.size,
      inbound: 0,
      onWire: 0,
    };
    this.#endpoints.set(address, state);
    return new MemoryEndpoint(address, this, state);
  }

  /**
   * Endpoints made on demand (issue 14, docs/SCALE.md "Households made on their first batch"):
   * when a packet is put on the wire (not dropped as sender-down or lost) to an address that has
   * no endpoint and was never retired, `build(address)` is called first, synchronously; it may
   * create and start the endpoint (`endpoint(address)`, then `start`/`handle`) and returns true
   * if it did. The packet then goes to that endpoint as to any other (its in-flight count, its
   * delivery time, its handler), so a node built on its first packet receives exactly what it
   * would have received had it existed from the start. A simulator reserves a city's households
   * this way instead of holding an idle agent per household. One builder per network (a second
   * call replaces the first); `build` must not send on this network.
   */
  onDemand(build: (address: string) => boolean): void {
    if (typeof build !== "function") {
      throw new NetworkError("onDemand: build must be a function");
    }
    this.#onDemand = build;
  }

  /** Sends `bytes` from `from` to `to` under the network model (see header). */
  send(from: string, to: string, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new NetworkError("send: bytes must be a Uint8Array");
    if (bytes.length > this.#maxBytes) {
      throw new NetworkError(
        `send: ${bytes.length} bytes exceeds maxMessageBytes ${this.#maxBytes}`,
      );
    }
    if (typeof to !== "string" || to.length === 0) {
      throw new NetworkError("send: destination must be a non-empty string");
    }
    const sender = this.#endpoints.get(from);
    if (sender === undefined && !this.#retired.has(from)) {
      throw new NetworkError(`send: unknown sender ${from}`);
    }
    this.#sent++;
    if (sender === undefined || sender.crashed || !sender.started) {
      this.#drop("sender-down", from, to);
      return;
    }
    this.#bytesSent += bytes.length;
    this.#countSize(sender.row, bytes.length);

    // Every packet on the wire gets its draws, lost or not (see the header).
    let jitter = 0;
    let reorder = false;
    let lost = false;
    const index = sender.onWire++;
    if (
      this.#jitterMs > 0 ||
      (this.#reorder > 0 && this.#reorder < 1) ||
      (this.#loss > 0 && this.#loss < 1)
    ) {
      const input = this.#drawView;
      input.setUint32(32, sender.row);
      input.setUint32(36, Math.floor(index / 0x100000000));
      input.setUint32(40, index >>> 0);
      const digest = hash("sha256", this.#drawInput, "buffer");
      const out = new DataView(digest.buffer, digest.byteOffset, 32);
      jitter = unitFloat(out, 0) * this.#jitterMs;
      reorder = unitFloat(out, 8) < this.#reorder;
      lost = unitFloat(out, 16) < this.#loss;
    } else {
      reorder = this.#reorder === 1;
      lost = this.#loss === 1;
    }
    if (lost) {
      this.#drop("lost", from, to);
      return;
    }
    const now = this.#clock.now();
    let deliverAt = now + this.#baseMs + jitter;
    let tails: Map<string, number> | undefined;
    if (reorder) {
      this.#reordered++;
      deliverAt += this.#reorderDelayMs;
    } else {
      tails = this.#linkTail.get(from);
      if (tails === undefined) this.#linkTail.set(from, (tails = new Map()));
      deliverAt = Math.max(deliverAt, tails.get(to) ?? deliverAt);
      tails.set(to, deliverAt);
    }
    // Copy now: the sender may reuse its buffer; the receiver gets bytes as they were sent, in a
    // buffer of its own (`slice` at delivery: a view of the slab would expose the other packets).
    const copy = this.#inFlightSlab.copy(bytes);
    this.#inFlight++;
    let dest = this.#endpoints.get(to);
    if (dest === undefined && this.#onDemand !== undefined && !this.#retired.has(to)) {
      if (this.#onDemand(to)) dest = this.#endpoints.get(to);
    }
    if (dest !== undefined) dest.inbound++;
    this.#clock.setTimeout(() => {
      this.#inFlight--;
      if (dest !== undefined) dest.inbound--;
      // A link's tail matters only while a packet is in flight on it: forget it with its last
      // packet, so the map holds the links in flight, not every link ever used (issue 14).
      if (tails !== undefined && tails.get(to) === deliverAt) {
        tails.delete(to);
        if (tails.size === 0 && this.#linkTail.get(from) === tails) this.#linkTail.delete(from);
      }
      this.#deliver(from, to, copy.slice());
    }, deliverAt - now);
  }

  #deliver(from: string, to: string, bytes: Uint8Array): void {
    const dest = this.#endpoints.get(to);
    if (dest === undefined) {
      // A retired endpoint is down for good, as a stopped one was.
      if (this.#retired.has(to)) return this.#drop("destination-down", from, to);
      return this.#drop("unknown-destination", from, to);
    }
    if (dest.crashed || !dest.started || dest.handler === undefined) {
      return this.#drop("destination-down", from, to);
    }
    this.#delivered++;
    this.#bytesDelivered += bytes.length;
    try {
      const r = dest.handler(from, bytes);
      if (r !== undefined && typeof (r as Promise<void>).then === "function") {
        (r as Promise<void>).then(undefined, (e: unknown) => this.#handlerFailed(from, to, e));
      }
    } catch (e) {
      this.#handlerFailed(from, to, e);
    }
  }

  #handlerFailed(from: string, to: string, e: unknown): void {
    this.#handlerErrors++;
    this.#logger.warn("handler failed", { from, to, error: e instanceof Error ? e : String(e) });
  }

  #drop(reason: DropReason, from: string, to: string): void {
    this.#dropped[reason]++;
    this.#logger.debug("dropped", { reason, from, to });
  }

  #state(address: string, fn: string): EndpointState {
    const s = this.#endpoints.get(address);
    if (s === undefined) throw new NetworkError(`${fn}: unknown address ${address}`);
    return s;
  }

  /** Crash injection: `address` stops sending and receiving until `recover`. */
  crash(address: string): void {
    this.#state(address, "crash").crashed = true;
    this.#logger.info("crashed", { address });
  }

  recover(address: string): void {
    this.#state(address, "recover").crashed = false;
    this.#logger.info("recovered", { address });
  }

  /**
   * Packets on their way to `address` (sent, neither delivered nor dropped yet); 0 for an unknown
   * or retired address. A simulator retires a node only when nothing can still reach it.
   */
  inFlightTo(address: string): number {
    return this.#endpoints.get(address)?.inbound ?? 0;
  }

  /**
   * Closes `address`'s endpoint for good (`MemoryEndpoint.retire`): it stops, its handler is
   * dropped and the network keeps only its address and packet-size row (issue 14: a retired
   * simulated meter's handler kept its whole agent alive). Packets still on their way, or sent to
   * it later, are dropped as "destination-down"; what it sends is dropped as "sender-down"; the
   * address cannot be reused. Not named `close`: `stopTransport` closes a transport that has one,
   * and a stopped memory endpoint may start again. No effect on a retired address; throws
   * NetworkError for an unknown one.
   */
  retire(address: string): void {
    if (this.#retired.has(address)) return;
    const s = this.#state(address, "retire");
    s.started = false;
    s.handler = undefined;
    this.#endpoints.delete(address);
    this.#retired.set(address, s.row);
  }

  isUp(address: string): boolean {
    const s = this.#endpoints.get(address);
    return s !== undefined && s.started && !s.crashed;
  }

  /** Crashes `address` after `afterMs` and, if given, recovers it `downForMs` later. */
  scheduleCrash(address: string, afterMs: number, downForMs?: number): void {
    this.#state(address, "scheduleCrash");
    checkNonNegative(afterMs, "afterMs");
    if (downForMs !== undefined) checkNonNegative(downForMs, "downForMs");
    this.#clock.setTimeout(() => {
      this.crash(address);
      if (downForMs !== undefined) this.#clock.setTimeout(() => this.recover(address), downForMs);
    }, afterMs);
  }

  stats(): NetworkStats {
    return {
      sent: this.#sent,
      bytesSent: this.#bytesSent,
      delivered: this.#delivered,
      bytesDelivered: this.#bytesDelivered,
      dropped: { ...this.#dropped },
      reordered: this.#reordered,
      handlerErrors: this.#handlerErrors,
      inFlight: this.#inFlight,
    };
  }

  /**
   * For every address that put packets on a link: packet size → count (sizes on the wire,
   * including packets lost on the way). Memory O(senders × distinct sizes).
   */
  packetSizesBySender(): Map<string, Map<number, number>> {
    const out = new Map<string, Map<number, number>>();
    const rows: [string, number][] = [...this.#retired];
    for (const [address, { row }] of this.#endpoints) rows.push([address, row]);
    rows.sort((a, b) => a[1] - b[1]);
    for (const [address, row] of rows) {
      for (const [size, counts] of this.#sizes) {
        const count = row < counts.length ? counts[row] : 0;
        if (count === 0) continue;
        let m = out.get(address);
        if (m === undefined) out.set(address, (m = new Map()));
        m.set(size, count);
      }
    }
    return out;
  }

  /** Every distinct packet size seen on any link, ascending. */
  distinctPacketSizes(): number[] {
    return [...this.#sizes.keys()].sort((a, b) => a - b);
  }

  /** Counts one packet of `size` bytes sent by the endpoint of row `row`. */
  #countSize(row: number, size: number): void {
    let counts = this.#sizes.get(size);
    if (counts === undefined || counts.length <= row) {
      // Grown to this row (doubling): a size only CC sends stays short; one every meter sends
      // ends within 2× the endpoints.
      const grown = new Float64Array(Math.max(row + 1, 2 * (counts?.length ?? 0), 16));
      if (counts !== undefined) grown.set(counts);
      this.#sizes.set(size, (counts = grown));
    }
    counts[row]++;
  }
}

/**
 * A node's attachment to a `MemoryNetwork` (made by `MemoryNetwork.endpoint`): its address, the
 * network and the network's record of it — no closures or operation object per endpoint (issue
 * 14: two endpoints per simulated meter).
 */
export class MemoryEndpoint implements Transport {
  readonly address: string;
  readonly #network: MemoryNetwork;
  readonly #state: EndpointState;

  constructor(address: string, network: MemoryNetwork, state: EndpointState) {
    this.address = address;
    this.#network = network;
    this.#state = state;
  }

  start(): void {
    this.#state.started = true;
  }

  stop(): void {
    this.#state.started = false;
  }

  send(to: string, bytes: Uint8Array): void {
    this.#network.send(this.address, to, bytes);
  }

  handle(handler: MessageHandler): void {
    if (typeof handler !== "function") throw new NetworkError("handle: handler must be a function");
    this.#state.handler = handler;
  }

  /** Closes this endpoint for good: {@link MemoryNetwork.retire}. */
  retire(): void {
    this.#network.retire(this.address);
  }
}

/**
 * Stops `transport`, awaiting its `close()` when it has one (a socket transport releases its port
 * only then), so that a service restarted in the same process can bind the same address.
 */
export async function stopTransport(transport: Transport): Promise<void> {
  const closable = transport as Transport & { close?: () => Promise<void> };
  if (typeof closable.close === "function") await closable.close();
  else transport.stop();
}
