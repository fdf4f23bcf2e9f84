// The onion relay of DESIGN §4.6 as a pure state machine: no I/O, no clock, randomness injected.
// A thin agent feeds it packets from the transport (`receive`), calls `endRound` when its round
// timer fires and sends what it returns, and calls `rotateEpoch` at epoch boundaries.
//
//   receive: input type/size/version/key → ECDH → HMAC under the current or previous epoch's
//            associated data, then (a relay only) the next epoch's → replay cache lookup → TLV
//            payload → replay cache insert (only a well-formed layer is remembered). Forwards
//            are queued, never sent at once: sending immediately would let a link observer match
//            input to output by timing.
//            Never throws for any input: a non-`Uint8Array` is dropped as "input", a full replay
//            cache or forward queue as "overload" (issue 16: bounded under floods).
//   endRound: the queued forwards plus cover loops (Loopix-style), shuffled together with the
//            injected randomness, so the output order says nothing about the input order and a
//            quiet round looks like a busy one.
import { bytesToHex, equalBytes, wipe } from "../crypto/bytes.ts";
import { secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";
import { ByteSlab } from "../runtime/byte-slab.ts";
import {
  ONION_DROP_REASONS,
  OnionError,
  OnionHmacError,
  OnionInputError,
  OnionOverloadError,
  OnionPayloadError,
  OnionReplayError,
  type OnionDropReason,
} from "./errors.ts";
import { sessionKeyFrom, shuffle, type RandomBytes } from "./random.ts";
import { ReplayCache } from "./replay.ts";
import {
  decodeHopPayload,
  DEFAULT_PATH_LENGTH,
  interpretRelayLayer,
  LOOP_TAG_SIZE,
  makeCoverPacket,
  NODE_ID_SIZE,
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
  /**
   * The caller's copy of the node id (`privateKey·G`, 33-byte compressed), kept instead of a
   * copy of its own (issue 14: the simulator's meters already hold it). Checked: a different
   * value throws a TypeError.
   */
  readonly nodeId?: Uint8Array;
  /** 32-byte deployment domain bound into the associated data. */
  readonly domain: Uint8Array;
  /** Current epoch (u32). */
  readonly epoch: number;
  readonly cover?: RelayCoverInit;
  /**
   * Cap on the replay cache per epoch (default 65,536 tags: ≤ 6 MiB over the previous, current and
   * next epochs, see replay.ts).
   */
  readonly maxTagsPerEpoch?: number;
  /**
   * Forwards queued in one round at most (default 4096, ≈ 5.6 MiB of 1366-byte packets); beyond,
   * packets are dropped as "overload" until `endRound` empties the queue.
   */
  readonly maxQueued?: number;
  /**
   * Where queued forwards wait for the end of the round: each one's next-hop id and packet copied
   * into this slab (one 256 KiB chunk for ≈ 190 of them, freed together once their round has
   * ended) instead of the two buffers the peel made (issue 14: ≈ 180 B of V8 heap and a malloc
   * block each). The slab may be shared by the relays of one fleet (the simulator): the relay
   * never hands out a view of it — `endRound` returns fresh copies —, so no caller can read
   * another relay's queue (its arrival order would undo that relay's shuffle). Default: none,
   * the peel's own buffers are queued.
   */
  readonly queueSlab?: ByteSlab;
  readonly backend?: Secp256k1Backend;
}

/** Default {@link RelayInit.maxQueued}. */
export const DEFAULT_MAX_QUEUED = 4096;

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
  /**
   * Packets accepted under the next epoch's associated data, before this relay's own rotation to
   * it (its meter had not heard CC's announcement yet, e.g. lost on a lossy link): see
   * {@link OnionRelay.receive}.
   */
  readonly nextEpochAccepted: number;
  readonly dropped: Readonly<Record<OnionDropReason, number>>;
  /** Tags in the replay cache now, and the bytes its tables occupy. */
  readonly replayTags: number;
  readonly replayBytes: number;
}

/**
 * Public values every hop of one deployment computes alike — the domain and the associated data of
 * an epoch (DESIGN §4.6) — are shared between hops instead of copied per hop (issue 14: five
 * 32-byte arrays per simulated meter). Only public bytes go here; nothing reads them mutably
 * (HMAC checks and peels read the associated data, nothing writes it). The table keeps the last
 * {@link SHARED_AD_MAX} (domain, epoch) pairs.
 */
const SHARED_AD_MAX = 16;
const sharedAds = new Map<string, Uint8Array>();
let sharedDomain: Uint8Array | undefined;

/** A copy of `domain` shared by every hop given equal bytes (the caller's array is not kept). */
function shareDomain(domain: Uint8Array): Uint8Array {
  if (sharedDomain === undefined || !equalBytes(sharedDomain, domain)) {
    sharedDomain = domain.slice();
  }
  return sharedDomain;
}

/** `onionAssociatedData(domain, epoch)`, one array per (domain, epoch) for all hops. */
function sharedAd(domain: Uint8Array, epoch: number): Uint8Array {
  const key = `${bytesToHex(domain)}:${epoch}`;
  let ad = sharedAds.get(key);
  if (ad === undefined) {
    if (sharedAds.size >= SHARED_AD_MAX) sharedAds.delete(sharedAds.keys().next().value!);
    ad = onionAssociatedData(domain, epoch);
    sharedAds.set(key, ad);
  }
  return ad;
}

let sharedCover: Required<RelayCoverInit> | undefined;

/** One frozen cover setting shared by hops that have equal ones (the usual case: all hops). */
/**
 * A queued forward as it leaves the relay: as queued, or from a slab entry (`NODE_ID_SIZE`-byte
 * next-hop id ‖ packet) a fresh copy of its own, so the slab's other entries stay unreachable.
 */
function outgoing(entry: OutgoingPacket | Uint8Array): OutgoingPacket {
  if (!(entry instanceof Uint8Array)) return entry;
  const own = entry.slice();
  return {
    nextNodeId: own.subarray(0, NODE_ID_SIZE),
    packet: own.subarray(NODE_ID_SIZE),
    cover: false,
  };
}

function shareCover(cover: Required<RelayCoverInit>): Required<RelayCoverInit> {
  const last = sharedCover;
  if (
    last === undefined ||
    last.loopsPerRound !== cover.loopsPerRound ||
    last.minBatch !== cover.minBatch ||
    last.pathLength !== cover.pathLength
  ) {
    sharedCover = Object.freeze({ ...cover });
  }
  return sharedCover!;
}

/**
 * Associated data of the current and the previous epoch, and the replay cache over the live
 * epochs (previous, current, and for a relay the next one).
 */
class EpochGate {
  readonly replay: ReplayCache;
  readonly #domain: Uint8Array;
  epoch: number;
  adCurrent: Uint8Array;
  adPrevious: Uint8Array | null;

  constructor(domain: Uint8Array, epoch: number, maxTagsPerEpoch: number | undefined) {
    this.replay = new ReplayCache({ epoch, maxTagsPerEpoch });
    this.#domain = domain;
    this.epoch = epoch;
    this.adCurrent = sharedAd(domain, epoch);
    this.adPrevious = epoch > 0 ? sharedAd(domain, epoch - 1) : null;
  }

  /**
   * The packet's shared secret, epoch and associated data if its HMAC verifies under the current
   * or (grace for packets built just before the rotation and still in flight) previous epoch —
   * or, with `lookahead`, the next epoch (one more HMAC over the same shared secret, no EC work,
   * tried only when the first two fail) — and it is not a replay. The gate's epoch does not move.
   * The caller inserts the tag once the layer proved well formed. Throws OnionInputError,
   * OnionHmacError, OnionReplayError (and the Sphinx input errors of `deriveSharedSecret`).
   */
  authenticate(
    packet: unknown,
    privateKey: bigint,
    backend: Secp256k1Backend,
    fn: string,
    lookahead = false,
  ): { sharedSecret: Uint8Array; epoch: number; ad: Uint8Array } {
    if (!(packet instanceof Uint8Array)) {
      throw new OnionInputError(`${fn}: packet must be a Uint8Array, got ${describe(packet)}`);
    }
    const sharedSecret = deriveSharedSecret(packet, privateKey, { backend });
    try {
      let epoch = this.epoch;
      let ad = this.adCurrent;
      if (!verifyOnionHmac(packet, sharedSecret, ad)) {
        if (this.adPrevious !== null && verifyOnionHmac(packet, sharedSecret, this.adPrevious)) {
          epoch = this.epoch - 1;
          ad = this.adPrevious;
        } else {
          const adNext =
            lookahead && this.epoch < MAX_EPOCH ? sharedAd(this.#domain, this.epoch + 1) : null;
          if (adNext === null || !verifyOnionHmac(packet, sharedSecret, adNext)) {
            throw new OnionHmacError(`${fn}: HMAC mismatch`);
          }
          epoch = this.epoch + 1;
          ad = adNext;
        }
      }
      if (this.replay.has(sharedSecret, epoch)) {
        throw new OnionReplayError(`${fn}: replayed packet`);
      }
      return { sharedSecret, epoch, ad };
    } catch (err) {
      wipe(sharedSecret);
      throw err;
    }
  }

  rotate(epoch: number, maxTagsPerEpoch?: number): void {
    this.replay.rotate(epoch, maxTagsPerEpoch);
    this.epoch = epoch;
    this.adCurrent = sharedAd(this.#domain, epoch);
    this.adPrevious = sharedAd(this.#domain, epoch - 1);
  }
}

/** The last u32 epoch: it has no next one. */
const MAX_EPOCH = 0xffffffff;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "object";
}

function dropCounters(): Record<OnionDropReason, number> {
  return Object.fromEntries(ONION_DROP_REASONS.map((r) => [r, 0])) as Record<
    OnionDropReason,
    number
  >;
}

export class OnionRelay {
  readonly nodeId: Uint8Array;
  readonly #privateKey: bigint;
  readonly #domain: Uint8Array;
  readonly #backend: Secp256k1Backend;
  readonly #cover: Required<RelayCoverInit>;
  readonly #gate: EpochGate;
  readonly #maxQueued: number;
  /** Queued forwards: the peel's packet, or with a slab one view of (next-hop id ‖ packet). */
  #queue: (OutgoingPacket | Uint8Array)[] = [];
  readonly #queueSlab: ByteSlab | undefined;
  /** Own cover loops in flight (hex loop tag → epoch sent); created by the first loop. */
  #pendingLoops?: Map<string, number>;
  #received = 0;
  #forwarded = 0;
  #coverSent = 0;
  #loopsReturned = 0;
  #loopsLost = 0;
  #nextEpochAccepted = 0;
  /** Drops by reason; created by the first drop (most hops never drop anything). */
  #dropped?: Record<OnionDropReason, number>;

  constructor(init: RelayInit) {
    this.#backend = init.backend ?? secp;
    const nodeId = this.#backend.mulBase(init.privateKey, true);
    if (init.nodeId !== undefined && !equalBytes(init.nodeId, nodeId)) {
      throw new TypeError("OnionRelay: nodeId is not privateKey·G");
    }
    this.nodeId = init.nodeId ?? nodeId;
    this.#privateKey = init.privateKey;
    if (!(init.domain instanceof Uint8Array) || init.domain.length !== 32) {
      throw new TypeError("OnionRelay: domain must be 32 bytes");
    }
    this.#domain = shareDomain(init.domain);
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
    this.#cover = shareCover(this.#cover);
    this.#gate = new EpochGate(this.#domain, init.epoch, init.maxTagsPerEpoch);
    this.#maxQueued = init.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (!Number.isSafeInteger(this.#maxQueued) || this.#maxQueued < 1) {
      throw new RangeError("OnionRelay: maxQueued must be a positive integer");
    }
    if (init.queueSlab !== undefined && !(init.queueSlab instanceof ByteSlab)) {
      throw new TypeError("OnionRelay: queueSlab must be a ByteSlab");
    }
    this.#queueSlab = init.queueSlab;
  }

  get epoch(): number {
    return this.#gate.epoch;
  }

  /** Packets waiting for the end of the round. */
  get queued(): number {
    return this.#queue.length;
  }

  get pendingLoops(): number {
    return this.#pendingLoops?.size ?? 0;
  }

  counters(): RelayCounters {
    return {
      received: this.#received,
      forwarded: this.#forwarded,
      coverSent: this.#coverSent,
      loopsReturned: this.#loopsReturned,
      loopsLost: this.#loopsLost,
      nextEpochAccepted: this.#nextEpochAccepted,
      dropped: { ...(this.#dropped ?? dropCounters()) },
      replayTags: this.#gate.replay.size,
      replayBytes: this.#gate.replay.bytes,
    };
  }

  /**
   * Handles one incoming packet; never throws for a bad packet or a non-byte input, it counts and
   * drops it (reasons in errors.ts).
   *
   * Epochs (DESIGN §4.6, docs/ONION.md "Associated data and epochs"): a packet of the current or
   * the previous epoch is accepted, and so is one of the next epoch — its meter's announcement of
   * that interval may have been lost on the link while other meters already build onions for it.
   * Such a packet is processed like any other, its tag recorded under the next epoch (so it stays
   * refused as a replay while that epoch is live) and counted in `nextEpochAccepted`; the relay's
   * own epoch does NOT move: only `rotateEpoch` (its meter's agent, on CC's announcement) moves
   * it. The associated data is public (domain ‖ epoch), so anyone can build a next-epoch packet;
   * had it moved the epoch, one such packet would make the relay refuse in-flight packets of the
   * previous epoch, and a chain of them would move it any number of epochs ahead. A packet two or
   * more epochs ahead fails its HMAC.
   */
  receive(packet: Uint8Array): RelayReceipt {
    this.#received++;
    let sharedSecret: Uint8Array | undefined;
    try {
      const gate = this.#gate;
      const auth = gate.authenticate(
        packet,
        this.#privateKey,
        this.#backend,
        "OnionRelay.receive",
        true,
      );
      sharedSecret = auth.sharedSecret;
      const { payload, next } = peelWithSharedSecret(packet, sharedSecret, auth.ad, {
        backend: this.#backend,
      });
      const layer = interpretRelayLayer(payload, next, sharedSecret, "OnionRelay.receive");
      if (layer.kind === "forward") {
        if (this.#queue.length >= this.#maxQueued) {
          throw new OnionOverloadError(`OnionRelay.receive: ${this.#maxQueued} forwards queued`);
        }
        gate.replay.checkAndInsert(sharedSecret, auth.epoch);
        if (auth.epoch > gate.epoch) this.#nextEpochAccepted++;
        this.#queue.push(
          this.#queueSlab === undefined
            ? { nextNodeId: layer.nextNodeId, packet: layer.packet, cover: false }
            : this.#queueSlab.copy(layer.nextNodeId, layer.packet),
        );
        return { accepted: true, kind: "forward" };
      }
      const tag = bytesToHex(layer.loopTag);
      if (this.#pendingLoops?.has(tag) !== true) {
        throw new OnionPayloadError("OnionRelay.receive: loop tag not sent by this relay");
      }
      gate.replay.checkAndInsert(sharedSecret, auth.epoch);
      if (auth.epoch > gate.epoch) this.#nextEpochAccepted++;
      this.#pendingLoops!.delete(tag);
      this.#loopsReturned++;
      return { accepted: true, kind: "loop" };
    } catch (err) {
      if (err instanceof OnionError) {
        (this.#dropped ??= dropCounters())[err.reason]++;
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
    const real = this.#queue.map(outgoing);
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
      this.#gate.adCurrent,
      { backend: this.#backend },
    );
    (this.#pendingLoops ??= new Map()).set(bytesToHex(loopTag), this.#gate.epoch);
    return { nextNodeId: firstHop, packet, cover: true };
  }

  /**
   * Moves to a later epoch: packets of the new previous epoch stay acceptable (grace), older
   * ones fail their HMAC, so their replay tags are forgotten; tags of packets taken early under
   * the next epoch are kept as that epoch's; own loops sent before the previous epoch that never
   * came back are counted as lost. Throws RangeError for an epoch not above the current one (the
   * meter agent rotates only to a later interval) or not a u32.
   */
  rotateEpoch(epoch: number): void {
    this.#gate.rotate(epoch);
    for (const [tag, sent] of this.#pendingLoops ?? []) {
      if (sent < epoch - 1) {
        this.#pendingLoops!.delete(tag);
        this.#loopsLost++;
      }
    }
  }
}

export interface ExitInit {
  /** The final hop's (CC's) secret key. */
  readonly privateKey: bigint;
  /** 32-byte deployment domain bound into the associated data. */
  readonly domain: Uint8Array;
  /** Current epoch (u32). */
  readonly epoch: number;
  /** Cap on the replay cache per epoch (default 65,536 tags: ≤ 4 MiB, see replay.ts). */
  readonly maxTagsPerEpoch?: number;
  readonly backend?: Secp256k1Backend;
}

export type ExitReceipt =
  | { readonly accepted: true; readonly message: Uint8Array }
  | { readonly accepted: false; readonly reason: OnionDropReason };

/**
 * The final hop of a report onion (CC, DESIGN §4.6): peels its layer and returns the OCD message,
 * with the same epoch grace and replay cache as a relay. Without it, replaying one final-hop packet
 * three times made CC check (and count a fault for) the same report three times (issue 16). Never
 * throws for any input: bad packets are counted and dropped. Unlike a relay it takes no packet of
 * the next epoch: CC announces the intervals, so its exit is never behind an honest sender.
 */
export class OnionExit {
  readonly #privateKey: bigint;
  readonly #backend: Secp256k1Backend;
  readonly #gate: EpochGate;
  #received = 0;
  #delivered = 0;
  readonly #dropped = dropCounters();

  constructor(init: ExitInit) {
    this.#backend = init.backend ?? secp;
    this.#privateKey = init.privateKey;
    if (!(init.domain instanceof Uint8Array) || init.domain.length !== 32) {
      throw new TypeError("OnionExit: domain must be 32 bytes");
    }
    this.#gate = new EpochGate(shareDomain(init.domain), init.epoch, init.maxTagsPerEpoch);
  }

  get epoch(): number {
    return this.#gate.epoch;
  }

  counters(): {
    readonly received: number;
    readonly delivered: number;
    readonly dropped: Readonly<Record<OnionDropReason, number>>;
    readonly replayTags: number;
  } {
    return {
      received: this.#received,
      delivered: this.#delivered,
      dropped: { ...this.#dropped },
      replayTags: this.#gate.replay.size,
    };
  }

  /** Peels one final-hop packet: the OCD message, or the reason it was dropped. */
  receive(packet: Uint8Array): ExitReceipt {
    this.#received++;
    let sharedSecret: Uint8Array | undefined;
    try {
      const auth = this.#gate.authenticate(packet, this.#privateKey, this.#backend, "OnionExit");
      sharedSecret = auth.sharedSecret;
      const { payload, next } = peelWithSharedSecret(packet, sharedSecret, auth.ad, {
        backend: this.#backend,
      });
      if (next !== null) throw new OnionPayloadError("OnionExit: not the final hop");
      const instruction = decodeHopPayload(payload);
      if (instruction.kind !== "deliver") {
        throw new OnionPayloadError("OnionExit: final layer carries no OCD message");
      }
      this.#gate.replay.checkAndInsert(sharedSecret, auth.epoch);
      this.#delivered++;
      return { accepted: true, message: instruction.message };
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
   * Moves to a later epoch (see {@link OnionRelay.rotateEpoch}); `maxTagsPerEpoch` re-caps the
   * replay cache from the new epoch on (`ReplayCache.rotate`).
   */
  rotateEpoch(epoch: number, maxTagsPerEpoch?: number): void {
    this.#gate.rotate(epoch, maxTagsPerEpoch);
  }

  /** The replay cache's cap per epoch (tags). */
  get maxTagsPerEpoch(): number {
    return this.#gate.replay.maxTagsPerEpoch;
  }

  /** Raises the replay cap from the current epoch on (`ReplayCache.raiseCap`); never lowers it. */
  raiseReplayCap(maxTagsPerEpoch: number): void {
    this.#gate.replay.raiseCap(maxTagsPerEpoch);
  }
}
