// The onion relay of DESIGN §4.6 as a pure state machine: no I/O, no clock, randomness injected.
// A thin agent feeds it packets from the transport (`receive`), calls `endRound` when its round
// timer fires and sends what it returns, and calls `rotateEpoch` at epoch boundaries.
//
//   receive: size/version/key → ECDH → HMAC under the current or previous epoch's associated
//            data → replay cache → TLV payload. Forwards are queued, never sent at once: sending
//            immediately would let a link observer match input to output by timing.
//   endRound: the queued forwards plus cover loops (Loopix-style), shuffled together with the
//            injected randomness, so the output order says nothing about the input order and a
//            quiet round looks like a busy one.
import { bytesToHex, wipe } from "../crypto/bytes.ts";
import { secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";
import {
  ONION_DROP_REASONS,
  OnionError,
  OnionHmacError,
  OnionPayloadError,
  OnionReplayError,
  type OnionDropReason,
} from "./errors.ts";
import { sessionKeyFrom, shuffle, type RandomBytes } from "./random.ts";
import { ReplayCache } from "./replay.ts";
import {
  DEFAULT_PATH_LENGTH,
  interpretRelayLayer,
  LOOP_TAG_SIZE,
  makeCoverPacket,
  onionAssociatedData,
  selectRelayPath,
} from "./report.ts";
import { deriveSharedSecret, peelWithSharedSecret, verifyOnionHmac } from "./sphinx.ts";

export interface RelayCoverInit {
  /** Cover loops the relay emits every round, whatever its traffic (default 0). */
  readonly loopsPerRound?: number;
  /** Tops the round's output up with cover loops to at least this many packets (default 0). */
  readonly minBatch?: number;
  /** Relays on a cover loop before it returns (default DESIGN's 3). */
  readonly pathLength?: number;
}

export interface RelayInit {
  /** The relay's (meter's) secret key; its node id is the compressed public key. */
  readonly privateKey: bigint;
  /** 32-byte deployment domain bound into the associated data. */
  readonly domain: Uint8Array;
  /** Current epoch (u32). */
  readonly epoch: number;
  readonly cover?: RelayCoverInit;
  readonly backend?: Secp256k1Backend;
}

export type RelayReceipt =
  | { readonly accepted: true; readonly kind: "forward" | "loop" }
  | { readonly accepted: false; readonly reason: OnionDropReason };

export interface OutgoingPacket {
  readonly nextNodeId: Uint8Array;
  readonly packet: Uint8Array;
  /** Local bookkeeping only: the wire carries no such flag. */
  readonly cover: boolean;
}

export interface RoundInput {
  readonly random: RandomBytes;
  /** Relay directory to draw cover-loop paths from (needed only when cover traffic is on). */
  readonly directory?: readonly Uint8Array[];
}

export interface RelayCounters {
  readonly received: number;
  readonly forwarded: number;
  readonly coverSent: number;
  readonly loopsReturned: number;
  /** Own loops not back by the end of the epoch after they were sent (possible n−1 attack). */
  readonly loopsLost: number;
  readonly dropped: Readonly<Record<OnionDropReason, number>>;
}

export class OnionRelay {
  readonly nodeId: Uint8Array;
  readonly #privateKey: bigint;
  readonly #domain: Uint8Array;
  readonly #backend: Secp256k1Backend;
  readonly #cover: Required<RelayCoverInit>;
  readonly #replay: ReplayCache;
  #epoch: number;
  #adCurrent: Uint8Array;
  #adPrevious: Uint8Array | null;
  #queue: OutgoingPacket[] = [];
  readonly #pendingLoops = new Map<string, number>();
  #received = 0;
  #forwarded = 0;
  #coverSent = 0;
  #loopsReturned = 0;
  #loopsLost = 0;
  readonly #dropped: Record<OnionDropReason, number>;

  constructor(init: RelayInit) {
    this.#backend = init.backend ?? secp;
    this.nodeId = this.#backend.mulBase(init.privateKey, true);
    this.#privateKey = init.privateKey;
    if (!(init.domain instanceof Uint8Array) || init.domain.length !== 32) {
      throw new TypeError("OnionRelay: domain must be 32 bytes");
    }
    this.#domain = init.domain.slice();
    const cover = init.cover ?? {};
    this.#cover = {
      loopsPerRound: cover.loopsPerRound ?? 0,
      minBatch: cover.minBatch ?? 0,
      pathLength: cover.pathLength ?? DEFAULT_PATH_LENGTH,
    };
    for (const [k, v] of Object.entries(this.#cover)) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`OnionRelay: cover.${k} < 0`);
    }
    if (this.#cover.pathLength < 1) throw new RangeError("OnionRelay: cover.pathLength < 1");
    this.#replay = new ReplayCache(init.epoch);
    this.#epoch = init.epoch;
    this.#adCurrent = onionAssociatedData(this.#domain, init.epoch);
    this.#adPrevious = init.epoch > 0 ? onionAssociatedData(this.#domain, init.epoch - 1) : null;
    this.#dropped = Object.fromEntries(ONION_DROP_REASONS.map((r) => [r, 0])) as Record<
      OnionDropReason,
      number
    >;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Packets waiting for the end of the round. */
  get queued(): number {
    return this.#queue.length;
  }

  get pendingLoops(): number {
    return this.#pendingLoops.size;
  }

  counters(): RelayCounters {
    return {
      received: this.#received,
      forwarded: this.#forwarded,
      coverSent: this.#coverSent,
      loopsReturned: this.#loopsReturned,
      loopsLost: this.#loopsLost,
      dropped: { ...this.#dropped },
    };
  }

  /** Handles one incoming packet; never throws for a bad packet, it counts and drops it. */
  receive(packet: Uint8Array): RelayReceipt {
    this.#received++;
    let sharedSecret: Uint8Array | undefined;
    try {
      const options = { backend: this.#backend };
      sharedSecret = deriveSharedSecret(packet, this.#privateKey, options);
      let epoch = this.#epoch;
      let ad = this.#adCurrent;
      if (!verifyOnionHmac(packet, sharedSecret, ad)) {
        // Grace for packets built just before the rotation and still in flight.
        if (this.#adPrevious === null || !verifyOnionHmac(packet, sharedSecret, this.#adPrevious)) {
          throw new OnionHmacError("OnionRelay.receive: HMAC mismatch");
        }
        epoch = this.#epoch - 1;
        ad = this.#adPrevious;
      }
      // Only authenticated packets reach the cache, so garbage cannot fill it.
      if (!this.#replay.checkAndInsert(sharedSecret, epoch)) {
        throw new OnionReplayError("OnionRelay.receive: replayed packet");
      }
      const { payload, next } = peelWithSharedSecret(packet, sharedSecret, ad, options);
      const layer = interpretRelayLayer(payload, next, sharedSecret, "OnionRelay.receive");
      if (layer.kind === "forward") {
        this.#queue.push({ nextNodeId: layer.nextNodeId, packet: layer.packet, cover: false });
        return { accepted: true, kind: "forward" };
      }
      const tag = bytesToHex(layer.loopTag);
      if (!this.#pendingLoops.delete(tag)) {
        throw new OnionPayloadError("OnionRelay.receive: loop tag not sent by this relay");
      }
      this.#loopsReturned++;
      return { accepted: true, kind: "loop" };
    } catch (err) {
      if (err instanceof OnionError) {
        this.#dropped[err.reason]++;
        return { accepted: false, reason: err.reason };
      }
      throw err;
    } finally {
      if (sharedSecret !== undefined) wipe(sharedSecret);
    }
  }

  /**
   * Ends the round: returns every queued forward plus this round's cover loops in an order drawn
   * from `input.random` (deterministic given it), and empties the queue.
   */
  endRound(input: RoundInput): OutgoingPacket[] {
    if (typeof input?.random !== "function") {
      throw new TypeError("OnionRelay.endRound: random must be a RandomBytes function");
    }
    const real = this.#queue;
    this.#queue = [];
    const coverCount =
      this.#cover.loopsPerRound +
      Math.max(0, this.#cover.minBatch - real.length - this.#cover.loopsPerRound);
    const cover: OutgoingPacket[] = [];
    for (let i = 0; i < coverCount; i++) cover.push(this.#makeLoop(input));
    this.#forwarded += real.length;
    this.#coverSent += cover.length;
    return shuffle([...real, ...cover], input.random);
  }

  #makeLoop(input: RoundInput): OutgoingPacket {
    if (input.directory === undefined) {
      throw new TypeError("OnionRelay.endRound: cover traffic needs a relay directory");
    }
    const path = selectRelayPath(input.directory, this.#cover.pathLength, input.random, [
      this.nodeId,
    ]);
    const loopTag = input.random(LOOP_TAG_SIZE);
    const { firstHop, packet } = makeCoverPacket(
      this.nodeId,
      path,
      loopTag,
      sessionKeyFrom(input.random),
      this.#adCurrent,
      { backend: this.#backend },
    );
    this.#pendingLoops.set(bytesToHex(loopTag), this.#epoch);
    return { nextNodeId: firstHop, packet, cover: true };
  }

  /**
   * Moves to a later epoch: packets of the new previous epoch stay acceptable (grace), older
   * ones fail their HMAC, so their replay tags are forgotten; own loops sent before the previous
   * epoch that never came back are counted as lost.
   */
  rotateEpoch(epoch: number): void {
    this.#replay.rotate(epoch);
    this.#epoch = epoch;
    this.#adCurrent = onionAssociatedData(this.#domain, epoch);
    this.#adPrevious = onionAssociatedData(this.#domain, epoch - 1);
    for (const [tag, sent] of this.#pendingLoops) {
      if (sent < epoch - 1) {
        this.#pendingLoops.delete(tag);
        this.#loopsLost++;
      }
    }
  }
}
