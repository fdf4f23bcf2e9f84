// A `Transport` over TCP sockets (issue 11 "A real transport"; STYLE "libp2p": transports
// swappable for in-memory ones). Same interface as `MemoryEndpoint` (./network.ts): an agent runs
// unchanged on either. Fire-and-forget datagrams; reliability (resend until receipt) is the
// protocol's job, exactly as on the lossy `MemoryNetwork`.
//
// Wire (docs/RUNTIME.md "Socket transport"): a connection is a stream of frames
//   frame = u32 length (big-endian, counts the body) ‖ body
//   body  = kind (1 byte) ‖ payload
//   kind 0x01 HELLO: payload = UTF-8 address of the connecting agent (first frame, exactly once)
//   kind 0x02 DATA : payload = the message bytes
// Each agent dials its peers itself (A→B traffic rides A's outbound connection; B answers over its
// own connection to A), so every connection carries data one way and `from` is the address the
// dialler announced in its HELLO. The hello is not authenticated: every protocol message that
// matters is signed or MAC'd above this layer (DESIGN §4), and services bind to loopback.
//
// Limits and recovery:
//  - a frame body above `maxFrameBytes` is refused: `send` throws `SocketTransportFrameTooLargeError`;
//    a peer announcing a larger frame is disconnected at once (before buffering its body);
//  - an outbound connection that fails or drops is re-dialled (when messages wait) after an exponential backoff with
//    jitter, delay_n = min(maxMs, initialMs · factor^n) · (1 − jitter · u), u ~ U[0,1) from the
//    injected rng, timers on the injected clock; the attempt counter resets once a connection is up;
//  - while a peer is unreachable, up to `maxQueuedFrames` messages wait for it (oldest dropped
//    first and counted); frames written to a socket that then dies are lost, like datagrams.
import net from "node:net";

import type { Clock, TimerHandle } from "./clock.ts";
import type { Logger } from "./log.ts";
import { silentLogger } from "./log.ts";
import { NetworkError, type MessageHandler, type Transport } from "./network.ts";
import type { Rng } from "./rng.ts";

/** Extends `NetworkError`, so an agent's `catch` treats both transports alike. */
export class SocketTransportError extends NetworkError {
  override name = "SocketTransportError";
}

/** A frame larger than the configured limit (sent or announced by a peer). */
export class SocketTransportFrameTooLargeError extends SocketTransportError {
  override name = "SocketTransportFrameTooLargeError";
  readonly bytes: number;
  readonly maxBytes: number;
  constructor(bytes: number, maxBytes: number) {
    super(`frame of ${bytes} bytes exceeds maxFrameBytes ${maxBytes}`);
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/** A peer broke the framing rules (data before hello, unknown kind, bad hello). */
export class SocketTransportProtocolError extends SocketTransportError {
  override name = "SocketTransportProtocolError";
}

export const FRAME_HELLO = 0x01;
export const FRAME_DATA = 0x02;
/** Largest agent address accepted in a hello (bytes of UTF-8). */
export const MAX_ADDRESS_BYTES = 256;

export interface PeerLocation {
  readonly host: string;
  readonly port: number;
}

function checkLocation(loc: PeerLocation, what: string): PeerLocation {
  if (loc === null || typeof loc !== "object" || typeof loc.host !== "string" || loc.host === "") {
    throw new SocketTransportError(`${what}: host must be a non-empty string`);
  }
  if (!Number.isInteger(loc.port) || loc.port < 0 || loc.port > 65535) {
    throw new SocketTransportError(`${what}: port must be an integer in [0, 65535]`);
  }
  return { host: loc.host, port: loc.port };
}

function checkAddress(address: string, what: string): string {
  if (typeof address !== "string" || address.length === 0) {
    throw new SocketTransportError(`${what}: address must be a non-empty string`);
  }
  if (Buffer.byteLength(address, "utf8") > MAX_ADDRESS_BYTES) {
    throw new SocketTransportError(`${what}: address longer than ${MAX_ADDRESS_BYTES} bytes`);
  }
  return address;
}

/**
 * Agent address → host:port. Mutable: a service that listens on port 0 registers its port once
 * bound; a devnet shares one book (e.g. from a JSON file `{ "cc": "127.0.0.1:7001", ... }`).
 */
export class AddressBook {
  readonly #entries = new Map<string, PeerLocation>();

  constructor(entries: Iterable<readonly [string, PeerLocation]> = []) {
    for (const [a, loc] of entries) this.set(a, loc);
  }

  /** Parses `{ address: "host:port" }`; throws `SocketTransportError` on a malformed entry. */
  static fromJSON(json: unknown): AddressBook {
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw new SocketTransportError(
        "AddressBook.fromJSON: expected an object address → host:port",
      );
    }
    const book = new AddressBook();
    for (const [address, value] of Object.entries(json as Record<string, unknown>)) {
      const m = typeof value === "string" ? /^(.+):(\d{1,5})$/.exec(value) : null;
      if (m === null) {
        throw new SocketTransportError(`AddressBook.fromJSON: ${address}: expected "host:port"`);
      }
      book.set(address, { host: m[1], port: Number(m[2]) });
    }
    return book;
  }

  toJSON(): Record<string, string> {
    return Object.fromEntries([...this.#entries].map(([a, l]) => [a, `${l.host}:${l.port}`]));
  }

  set(address: string, location: PeerLocation): void {
    this.#entries.set(
      checkAddress(address, "AddressBook.set"),
      checkLocation(location, "AddressBook.set"),
    );
  }

  get(address: string): PeerLocation | undefined {
    return this.#entries.get(address);
  }
}

export interface BackoffInit {
  /** First re-dial delay in ms (default 50). */
  readonly initialMs?: number;
  /** Cap in ms (default 5000). */
  readonly maxMs?: number;
  /** Growth per failed attempt (default 2). */
  readonly factor?: number;
  /** Fraction of the delay removed at random, in [0, 1] (default 0.5: "equal jitter"). */
  readonly jitter?: number;
}

/**
 * Re-dial delay in ms after `attempt` (0-based) consecutive failures:
 * min(maxMs, initialMs · factor^attempt) · (1 − jitter · u), `u` in [0, 1).
 */
export function backoffDelayMs(attempt: number, init: Required<BackoffInit>, u: number): number {
  const raw = Math.min(init.maxMs, init.initialMs * Math.pow(init.factor, attempt));
  return raw * (1 - init.jitter * u);
}

export interface SocketTransportInit {
  /** This agent's address (announced in hellos). */
  readonly address: string;
  /** Where to listen (default 127.0.0.1, port 0 = any free port; see `listening()`). */
  readonly listen?: Partial<PeerLocation>;
  readonly addressBook: AddressBook;
  /** Largest message in bytes (default 1 MiB, the `MemoryNetwork` default). */
  readonly maxFrameBytes?: number;
  /** Messages waiting per unreachable peer (default 1024). */
  readonly maxQueuedFrames?: number;
  readonly backoff?: BackoffInit;
}

export interface SocketTransportComponents {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly logger?: Logger;
}

export type SocketDropReason = "stopped" | "queue-full" | "no-handler" | "unknown-destination";

export interface SocketTransportStats {
  readonly sent: number;
  readonly bytesSent: number;
  readonly delivered: number;
  readonly bytesDelivered: number;
  readonly dropped: Readonly<Record<SocketDropReason, number>>;
  /** Outbound connections established (first connect included). */
  readonly connects: number;
  /** Failed dials and dropped outbound connections that scheduled a re-dial. */
  readonly reconnectsScheduled: number;
  /** Inbound connections closed for breaking the framing rules or the size limit. */
  readonly peersRejected: number;
  readonly handlerErrors: number;
}

/** Encodes one frame (header + kind + payload). */
export function encodeFrame(kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  new DataView(out.buffer).setUint32(0, 1 + payload.length);
  out[4] = kind;
  out.set(payload, 5);
  return out;
}

/**
 * Incremental frame reader: feed it chunks, it calls `onBody` with each complete frame body in
 * order. Throws `SocketTransportFrameTooLargeError` as soon as a header announces a body above the
 * limit (the limit counts the message; the body is one byte longer for its kind), before buffering
 * that body, and `SocketTransportProtocolError` on an empty body; frames complete before the
 * violation have been passed to `onBody`.
 */
export class FrameReader {
  readonly #maxBody: number;
  #buf: Buffer = Buffer.alloc(0);

  constructor(maxFrameBytes: number) {
    this.#maxBody = maxFrameBytes + 1;
  }

  push(chunk: Buffer, onBody: (body: Uint8Array) => void): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    while (this.#buf.length >= 4) {
      const len = this.#buf.readUInt32BE(0);
      if (len > this.#maxBody) {
        throw new SocketTransportFrameTooLargeError(len - 1, this.#maxBody - 1);
      }
      if (len === 0) throw new SocketTransportProtocolError("empty frame");
      if (this.#buf.length < 4 + len) break;
      const body = Uint8Array.from(this.#buf.subarray(4, 4 + len));
      this.#buf = this.#buf.subarray(4 + len);
      onBody(body);
    }
  }
}

interface OutboundPeer {
  readonly address: string;
  socket: net.Socket | undefined;
  connected: boolean;
  attempt: number;
  timer: TimerHandle | undefined;
  readonly queue: Uint8Array[];
}

/** One agent's socket endpoint. See the header for the wire and the recovery rules. */
export class SocketTransport implements Transport {
  readonly address: string;
  readonly #book: AddressBook;
  readonly #listenAt: PeerLocation;
  readonly #maxFrame: number;
  readonly #maxQueue: number;
  readonly #backoff: Required<BackoffInit>;
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #logger: Logger;
  readonly #hello: Uint8Array;

  #handler: MessageHandler | undefined;
  #started = false;
  #server: net.Server | undefined;
  #listening: Promise<PeerLocation> | undefined;
  readonly #peers = new Map<string, OutboundPeer>();
  readonly #inbound = new Set<net.Socket>();

  #sent = 0;
  #bytesSent = 0;
  #delivered = 0;
  #bytesDelivered = 0;
  #connects = 0;
  #reconnects = 0;
  #rejected = 0;
  #handlerErrors = 0;
  readonly #dropped: Record<SocketDropReason, number> = {
    stopped: 0,
    "queue-full": 0,
    "no-handler": 0,
    "unknown-destination": 0,
  };

  /** Throws `SocketTransportError` on a bad address, limit or backoff parameter. */
  constructor(init: SocketTransportInit, components: SocketTransportComponents) {
    if (components?.clock === undefined || components.rng === undefined) {
      throw new SocketTransportError(
        "SocketTransport: components.clock and components.rng are required",
      );
    }
    if (!(init?.addressBook instanceof AddressBook)) {
      throw new SocketTransportError("SocketTransport: addressBook must be an AddressBook");
    }
    this.address = checkAddress(init.address, "SocketTransport");
    this.#book = init.addressBook;
    this.#listenAt = checkLocation(
      { host: init.listen?.host ?? "127.0.0.1", port: init.listen?.port ?? 0 },
      "SocketTransport.listen",
    );
    this.#maxFrame = init.maxFrameBytes ?? 1 << 20;
    if (
      !Number.isSafeInteger(this.#maxFrame) ||
      this.#maxFrame <= 0 ||
      this.#maxFrame > 0xfffffffe
    ) {
      throw new SocketTransportError(
        "SocketTransport: maxFrameBytes must be an integer in [1, 2^32 − 2]",
      );
    }
    this.#maxQueue = init.maxQueuedFrames ?? 1024;
    if (!Number.isSafeInteger(this.#maxQueue) || this.#maxQueue < 0) {
      throw new SocketTransportError("SocketTransport: maxQueuedFrames must be an integer ≥ 0");
    }
    const b = {
      initialMs: init.backoff?.initialMs ?? 50,
      maxMs: init.backoff?.maxMs ?? 5000,
      factor: init.backoff?.factor ?? 2,
      jitter: init.backoff?.jitter ?? 0.5,
    };
    if (!(
      b.initialMs > 0 &&
      b.maxMs >= b.initialMs &&
      b.factor >= 1 &&
      b.jitter >= 0 &&
      b.jitter <= 1
    )) {
      throw new SocketTransportError(
        "SocketTransport: backoff needs initialMs > 0, maxMs ≥ initialMs, factor ≥ 1, jitter in [0, 1]",
      );
    }
    this.#backoff = b;
    this.#clock = components.clock;
    this.#rng = components.rng.fork(`socket-transport/${this.address}`);
    this.#logger = (components.logger ?? silentLogger).child("socket");
    this.#hello = encodeFrame(FRAME_HELLO, new TextEncoder().encode(this.address));
  }

  /** Starts listening (asynchronously: await `listening()` for the bound port). Idempotent. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const server = net.createServer((socket) => this.#accept(socket));
    this.#server = server;
    this.#listening = new Promise<PeerLocation>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#listenAt.port, this.#listenAt.host, () => {
        server.off("error", reject);
        const a = server.address() as net.AddressInfo;
        resolve({ host: this.#listenAt.host, port: a.port });
      });
    });
    // A failure surfaces through `listening()`; avoid an unhandled rejection if nobody awaits.
    this.#listening.catch((e: unknown) =>
      this.#logger.error("listen failed", { error: String(e) }),
    );
  }

  /** Where this transport listens, once bound. Rejects if the port cannot be bound. */
  listening(): Promise<PeerLocation> {
    if (this.#listening === undefined) {
      return Promise.reject(new SocketTransportError("listening: transport not started"));
    }
    return this.#listening;
  }

  /** Stops receiving and sending and closes every socket (see `close()` to await it). */
  stop(): void {
    void this.close();
  }

  /** Like `stop()`, resolving when the listener and every socket are closed. */
  async close(): Promise<void> {
    this.#started = false;
    for (const p of this.#peers.values()) {
      if (p.timer !== undefined) this.#clock.clearTimeout(p.timer);
      this.#dropped.stopped += p.queue.length;
      p.queue.length = 0;
      p.socket?.destroy();
    }
    this.#peers.clear();
    for (const s of this.#inbound) s.destroy();
    this.#inbound.clear();
    // Detach before awaiting: a `start()` right after `stop()` gets its own server and promise.
    const server = this.#server;
    const listening = this.#listening;
    this.#server = undefined;
    this.#listening = undefined;
    if (server !== undefined) {
      await listening?.catch(() => undefined);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  handle(handler: MessageHandler): void {
    if (typeof handler !== "function") {
      throw new SocketTransportError("handle: handler must be a function");
    }
    this.#handler = handler;
  }

  /**
   * Sends `bytes` to agent `to` (fire-and-forget). Throws `SocketTransportFrameTooLargeError`
   * above `maxFrameBytes`, as `MemoryNetwork` throws on oversize. Like `MemoryNetwork`, a message
   * to an address the book does not know is dropped ("unknown-destination", logged), and one sent
   * while stopped is dropped ("stopped").
   */
  send(to: string, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array))
      throw new SocketTransportError("send: bytes must be a Uint8Array");
    if (bytes.length > this.#maxFrame)
      throw new SocketTransportFrameTooLargeError(bytes.length, this.#maxFrame);
    checkAddress(to, "send");
    this.#sent++;
    if (this.#book.get(to) === undefined) {
      this.#dropped["unknown-destination"]++;
      this.#logger.warn("no address book entry", { to });
      return;
    }
    if (!this.#started) {
      this.#dropped.stopped++;
      return;
    }
    this.#bytesSent += bytes.length;
    const frame = encodeFrame(FRAME_DATA, bytes);
    let peer = this.#peers.get(to);
    if (peer === undefined) {
      peer = {
        address: to,
        socket: undefined,
        connected: false,
        attempt: 0,
        timer: undefined,
        queue: [],
      };
      this.#peers.set(to, peer);
    }
    if (peer.connected && peer.socket !== undefined) {
      peer.socket.write(frame);
      return;
    }
    if (peer.queue.length >= this.#maxQueue) {
      peer.queue.shift();
      this.#dropped["queue-full"]++;
      if (this.#maxQueue === 0) return;
    }
    peer.queue.push(frame);
    if (peer.socket === undefined && peer.timer === undefined) this.#dial(peer);
  }

  /**
   * Outbound state towards `to`: "connected", "connecting" (dial in progress), "backoff" (re-dial
   * scheduled) or "idle" (no connection; the next `send` dials).
   */
  peerState(to: string): "connected" | "connecting" | "backoff" | "idle" {
    const p = this.#peers.get(to);
    if (p === undefined) return "idle";
    if (p.connected) return "connected";
    if (p.socket !== undefined) return "connecting";
    return p.timer !== undefined ? "backoff" : "idle";
  }

  stats(): SocketTransportStats {
    return {
      sent: this.#sent,
      bytesSent: this.#bytesSent,
      delivered: this.#delivered,
      bytesDelivered: this.#bytesDelivered,
      dropped: { ...this.#dropped },
      connects: this.#connects,
      reconnectsScheduled: this.#reconnects,
      peersRejected: this.#rejected,
      handlerErrors: this.#handlerErrors,
    };
  }

  #dial(peer: OutboundPeer): void {
    const loc = this.#book.get(peer.address);
    if (!this.#started || loc === undefined) return;
    const socket = net.connect({ host: loc.host, port: loc.port });
    socket.setNoDelay(true);
    peer.socket = socket;
    socket.on("connect", () => {
      if (peer.socket !== socket) return;
      peer.connected = true;
      peer.attempt = 0;
      this.#connects++;
      socket.write(this.#hello);
      for (const f of peer.queue) socket.write(f);
      peer.queue.length = 0;
    });
    // Outbound connections carry data one way; anything the peer sends back is ignored.
    socket.on("data", () => undefined);
    // The peer closed its side (stopping or restarting): stop writing into this socket at once, so
    // later messages queue for the next connection instead of vanishing into a closing one.
    socket.on("end", () => {
      if (peer.socket === socket) peer.connected = false;
      socket.destroy();
    });
    socket.on("error", (e) =>
      this.#logger.debug("outbound error", { to: peer.address, error: e.message }),
    );
    socket.on("close", () => {
      if (peer.socket !== socket) return;
      peer.socket = undefined;
      peer.connected = false;
      if (!this.#started || this.#peers.get(peer.address) !== peer) return;
      // Re-dial only for waiting messages; an idle peer is dialled again on the next `send`.
      if (peer.queue.length > 0) this.#scheduleRedial(peer);
    });
  }

  #scheduleRedial(peer: OutboundPeer): void {
    const delay = backoffDelayMs(peer.attempt, this.#backoff, this.#rng.nextFloat());
    peer.attempt++;
    this.#reconnects++;
    this.#logger.debug("re-dial scheduled", {
      to: peer.address,
      attempt: peer.attempt,
      delayMs: delay,
    });
    peer.timer = this.#clock.setTimeout(() => {
      peer.timer = undefined;
      if (this.#started && this.#peers.get(peer.address) === peer && peer.socket === undefined) {
        this.#dial(peer);
      }
    }, delay);
  }

  #accept(socket: net.Socket): void {
    if (!this.#started) {
      socket.destroy();
      return;
    }
    this.#inbound.add(socket);
    socket.setNoDelay(true);
    const reader = new FrameReader(this.#maxFrame);
    let from: string | undefined;
    const reject = (e: Error): void => {
      this.#rejected++;
      this.#logger.warn("peer rejected", { from: from ?? "?", error: e.message });
      socket.destroy();
    };
    const onBody = (body: Uint8Array): void => {
      const kind = body[0];
      const payload = body.subarray(1);
      if (from === undefined) {
        if (kind !== FRAME_HELLO || payload.length === 0 || payload.length > MAX_ADDRESS_BYTES) {
          throw new SocketTransportProtocolError("first frame must be a hello");
        }
        try {
          from = new TextDecoder("utf-8", { fatal: true }).decode(payload);
        } catch {
          throw new SocketTransportProtocolError("hello: address is not UTF-8");
        }
      } else if (kind === FRAME_DATA) {
        this.#deliver(from, payload);
      } else {
        throw new SocketTransportProtocolError(`unexpected frame kind 0x${kind.toString(16)}`);
      }
    };
    socket.on("data", (chunk: Buffer) => {
      if (socket.destroyed) return;
      try {
        reader.push(chunk, onBody);
      } catch (e) {
        reject(e as Error);
      }
    });
    socket.on("error", (e) => this.#logger.debug("inbound error", { error: e.message }));
    socket.on("close", () => this.#inbound.delete(socket));
  }

  #deliver(from: string, bytes: Uint8Array): void {
    if (!this.#started) return void this.#dropped.stopped++;
    const handler = this.#handler;
    if (handler === undefined) return void this.#dropped["no-handler"]++;
    this.#delivered++;
    this.#bytesDelivered += bytes.length;
    const onError = (e: unknown): void => {
      this.#handlerErrors++;
      this.#logger.warn("handler failed", { from, error: e instanceof Error ? e : String(e) });
    };
    try {
      const r = handler(from, bytes);
      if (r !== undefined && typeof (r as Promise<void>).then === "function") {
        (r as Promise<void>).then(undefined, onError);
      }
    } catch (e) {
      onError(e);
    }
  }
}
