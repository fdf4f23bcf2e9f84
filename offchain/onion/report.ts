// GridLedger's use of Sphinx (DESIGN §4.6, Oksuz §4: meters report to CC through other meters).
// Hop payloads are BOLT #1 TLV streams with these record types (even = "must understand"):
//
//   2  next_node_id  33-byte compressed pubkey of the next hop    (intermediate hops only)
//   4  ocd_message   the signed OCD report, opaque bytes          (final hop = CC)
//   6  loop_tag      16 random bytes identifying a cover loop     (final hop = the loop's sender)
//
// Exactly one of them is present. Unknown even types are malformed (BOLT #1: "it's OK to be odd":
// unknown odd types are ignored, so later versions can add optional hints). The next hop is named by
// its public key rather than a directory index: it is what Sphinx needs anyway, it stays meaningful
// when the directory changes between build and delivery, and costs only 29 bytes more per hop.
import { concatBytes, u32 } from "../crypto/bytes.ts";
import { taggedHash } from "../crypto/hash.ts";
import { OnionPayloadError } from "./errors.ts";
import { uniformInt, type RandomBytes } from "./random.ts";
import {
  buildOnion,
  HMAC_SIZE,
  HOP_PAYLOADS_SIZE,
  hopPayloadFootprint,
  peelOnion,
  type OnionOptions,
} from "./sphinx.ts";
import { bigSizeLength, decodeTlvStream, encodeTlvStream, TlvError } from "./tlv.ts";

export const TLV_NEXT_NODE_ID = 2n;
export const TLV_OCD_MESSAGE = 4n;
export const TLV_LOOP_TAG = 6n;
export const NODE_ID_SIZE = 33;
export const LOOP_TAG_SIZE = 16;
/** DESIGN §4.6: default number of relays between a meter and CC. */
export const DEFAULT_PATH_LENGTH = 3;

/** What one hop is told to do. */
export type HopInstruction =
  | { readonly kind: "forward"; readonly nextNodeId: Uint8Array }
  | { readonly kind: "deliver"; readonly message: Uint8Array }
  | { readonly kind: "loop"; readonly loopTag: Uint8Array };

/** The one TLV encoder for GridLedger hop payloads. */
export function encodeHopPayload(instruction: HopInstruction): Uint8Array {
  switch (instruction.kind) {
    case "forward":
      checkNodeId(instruction.nextNodeId, "encodeHopPayload: nextNodeId");
      return encodeTlvStream([{ type: TLV_NEXT_NODE_ID, value: instruction.nextNodeId }]);
    case "deliver":
      if (!(instruction.message instanceof Uint8Array) || instruction.message.length === 0) {
        throw new TypeError("encodeHopPayload: message must be non-empty bytes");
      }
      return encodeTlvStream([{ type: TLV_OCD_MESSAGE, value: instruction.message }]);
    case "loop":
      if (!(instruction.loopTag instanceof Uint8Array) || instruction.loopTag.length !== 16) {
        throw new TypeError(`encodeHopPayload: loopTag must be ${LOOP_TAG_SIZE} bytes`);
      }
      return encodeTlvStream([{ type: TLV_LOOP_TAG, value: instruction.loopTag }]);
    default:
      throw new TypeError("encodeHopPayload: unknown instruction kind");
  }
}

/** Decodes a hop payload; throws {@link OnionPayloadError} on anything but exactly one instruction. */
export function decodeHopPayload(payload: Uint8Array): HopInstruction {
  let records;
  try {
    records = decodeTlvStream(payload);
  } catch (err) {
    if (err instanceof TlvError) throw new OnionPayloadError(`decodeHopPayload: ${err.message}`);
    throw err;
  }
  const found: HopInstruction[] = [];
  for (const r of records) {
    if (r.type === TLV_NEXT_NODE_ID) {
      if (!isNodeIdShape(r.value)) {
        throw new OnionPayloadError("decodeHopPayload: next_node_id must be 33-byte compressed");
      }
      found.push({ kind: "forward", nextNodeId: r.value });
    } else if (r.type === TLV_OCD_MESSAGE) {
      if (r.value.length === 0) throw new OnionPayloadError("decodeHopPayload: empty ocd_message");
      found.push({ kind: "deliver", message: r.value });
    } else if (r.type === TLV_LOOP_TAG) {
      if (r.value.length !== LOOP_TAG_SIZE) {
        throw new OnionPayloadError(`decodeHopPayload: loop_tag must be ${LOOP_TAG_SIZE} bytes`);
      }
      found.push({ kind: "loop", loopTag: r.value });
    } else if (r.type % 2n === 0n) {
      throw new OnionPayloadError(`decodeHopPayload: unknown even TLV type ${r.type}`);
    }
  }
  if (found.length !== 1) {
    throw new OnionPayloadError(`decodeHopPayload: expected one instruction, got ${found.length}`);
  }
  return found[0];
}

function isNodeIdShape(id: unknown): id is Uint8Array {
  return (
    id instanceof Uint8Array && id.length === NODE_ID_SIZE && (id[0] === 0x02 || id[0] === 0x03)
  );
}

function checkNodeId(id: unknown, what: string): asserts id is Uint8Array {
  if (!isNodeIdShape(id)) throw new TypeError(`${what}: must be a 33-byte compressed pubkey`);
}

/**
 * Associated data bound into every HMAC of a GridLedger onion: TH("GridLedger/onion",
 * domain ‖ u32 epoch). `domain` (32 bytes) separates deployments; the epoch makes a packet expire
 * when relays rotate, which is what bounds the replay cache (see relay.ts, docs/ONION.md).
 */
export function onionAssociatedData(domain: Uint8Array, epoch: number): Uint8Array {
  if (!(domain instanceof Uint8Array) || domain.length !== 32) {
    throw new TypeError("onionAssociatedData: domain must be 32 bytes");
  }
  return taggedHash("GridLedger/onion", concatBytes(domain, u32(epoch, "onionAssociatedData")));
}

/** Bytes a forward instruction takes in hop_payloads (length prefix, TLV, HMAC): 68. */
export const FORWARD_HOP_FOOTPRINT = hopPayloadFootprint(
  encodeHopPayload({ kind: "forward", nextNodeId: new Uint8Array(33).fill(2) }).length,
);

/**
 * Largest OCD message a report onion through `relayCount` relays can carry: what is left of the
 * 1300 bytes after the relays' forward payloads, minus the CC layer's own length prefix, TLV
 * header and HMAC. 1057 bytes for the default 3 relays.
 */
export function maxReportMessageSize(relayCount: number = DEFAULT_PATH_LENGTH): number {
  if (!Number.isSafeInteger(relayCount) || relayCount < 0) {
    throw new RangeError("maxReportMessageSize: relayCount must be a non-negative integer");
  }
  const room = HOP_PAYLOADS_SIZE - relayCount * FORWARD_HOP_FOOTPRINT - HMAC_SIZE;
  // footprint(m) = BigSize(tlv) + tlv with tlv = 1 (type 4) + BigSize(m) + m; grows with m.
  for (let m = room; m > 0; m--) {
    const tlv = 1 + bigSizeLength(m) + m;
    if (bigSizeLength(tlv) + tlv <= room) return m;
  }
  return 0;
}

export interface ReportOnion {
  /** Where the meter sends the packet: the first relay. */
  readonly firstHop: Uint8Array;
  /** 1366 bytes. */
  readonly packet: Uint8Array;
}

/**
 * The meter side of DESIGN §4.6: an onion through `path` (relay pubkeys, in order) whose final layer
 * gives CC the signed OCD `message`. Each relay learns only the next hop; CC learns the message but
 * not the sender. `sessionKey` must be fresh per packet (injected randomness).
 */
export function buildReportOnion(
  path: readonly Uint8Array[],
  ccPubkey: Uint8Array,
  message: Uint8Array,
  sessionKey: bigint,
  associatedData: Uint8Array,
  options: OnionOptions = {},
): ReportOnion {
  if (!Array.isArray(path) || path.length === 0) {
    throw new RangeError("buildReportOnion: path must name at least one relay");
  }
  path.forEach((p, i) => checkNodeId(p, `buildReportOnion: path[${i}]`));
  checkNodeId(ccPubkey, "buildReportOnion: ccPubkey");
  const limit = maxReportMessageSize(path.length);
  if (!(message instanceof Uint8Array) || message.length === 0 || message.length > limit) {
    throw new RangeError(`buildReportOnion: message must be 1..${limit} bytes for this path`);
  }
  const hops = [...path, ccPubkey].map((pubkey, i, all) => ({
    pubkey,
    payload: encodeHopPayload(
      i + 1 < all.length
        ? { kind: "forward", nextNodeId: all[i + 1] }
        : { kind: "deliver", message },
    ),
  }));
  return {
    firstHop: path[0],
    packet: buildOnion({ sessionKey, hops, associatedData }, options),
  };
}

/**
 * A Loopix-style cover packet: a loop through `path` that comes back to `selfId` carrying
 * `loopTag`. On the wire it is indistinguishable from a report (same size, same TLV framing of
 * forwards), so a meter or relay can send it when it has nothing to say; its return shows the
 * path is alive (a missing loop hints at an active dropping attack).
 */
export function makeCoverPacket(
  selfId: Uint8Array,
  path: readonly Uint8Array[],
  loopTag: Uint8Array,
  sessionKey: bigint,
  associatedData: Uint8Array,
  options: OnionOptions = {},
): ReportOnion {
  if (!Array.isArray(path) || path.length === 0) {
    throw new RangeError("makeCoverPacket: path must name at least one relay");
  }
  path.forEach((p, i) => checkNodeId(p, `makeCoverPacket: path[${i}]`));
  checkNodeId(selfId, "makeCoverPacket: selfId");
  const hops = [...path, selfId].map((pubkey, i, all) => ({
    pubkey,
    payload: encodeHopPayload(
      i + 1 < all.length ? { kind: "forward", nextNodeId: all[i + 1] } : { kind: "loop", loopTag },
    ),
  }));
  return { firstHop: path[0], packet: buildOnion({ sessionKey, hops, associatedData }, options) };
}

/** What a relay sees after peeling: where to forward, or one of its own loops coming home. */
export type RelayPeel =
  | {
      readonly kind: "forward";
      readonly nextNodeId: Uint8Array;
      readonly packet: Uint8Array;
      readonly sharedSecret: Uint8Array;
    }
  | { readonly kind: "loop"; readonly loopTag: Uint8Array; readonly sharedSecret: Uint8Array };

/** Interprets a peeled relay layer (the relay state machine peels with its own secret first). */
export function interpretRelayLayer(
  payload: Uint8Array,
  next: Uint8Array | null,
  sharedSecret: Uint8Array,
  fn: string,
): RelayPeel {
  const instruction = decodeHopPayload(payload);
  if (instruction.kind === "forward") {
    if (next === null) throw new OnionPayloadError(`${fn}: forward instruction at final layer`);
    return { kind: "forward", nextNodeId: instruction.nextNodeId, packet: next, sharedSecret };
  }
  if (instruction.kind === "loop") {
    if (next !== null) throw new OnionPayloadError(`${fn}: loop tag on a non-final layer`);
    return { kind: "loop", loopTag: instruction.loopTag, sharedSecret };
  }
  throw new OnionPayloadError(`${fn}: OCD message addressed to a relay`);
}

/** Peels a relay's layer and interprets it (typed errors as {@link peelOnion}). */
export function peelAtRelay(
  packet: Uint8Array,
  relayPrivateKey: bigint,
  associatedData: Uint8Array,
  options: OnionOptions = {},
): RelayPeel {
  const { payload, next, sharedSecret } = peelOnion(
    packet,
    relayPrivateKey,
    associatedData,
    options,
  );
  return interpretRelayLayer(payload, next, sharedSecret, "peelAtRelay");
}

/** Peels CC's (final) layer and returns the OCD message. */
export function peelAtCC(
  packet: Uint8Array,
  ccPrivateKey: bigint,
  associatedData: Uint8Array,
  options: OnionOptions = {},
): { readonly message: Uint8Array; readonly sharedSecret: Uint8Array } {
  const { payload, next, sharedSecret } = peelOnion(packet, ccPrivateKey, associatedData, options);
  if (next !== null) throw new OnionPayloadError("peelAtCC: CC is not the final hop");
  const instruction = decodeHopPayload(payload);
  if (instruction.kind !== "deliver") {
    throw new OnionPayloadError("peelAtCC: final layer carries no OCD message");
  }
  return { message: instruction.message, sharedSecret };
}

/** A directory's distinct ids and their positions, computed once per directory array. */
const directoryIndex = new WeakMap<
  readonly Uint8Array[],
  { readonly length: number; readonly ids: Uint8Array[]; readonly at: Map<string, number> }
>();

function indexDirectory(directory: readonly Uint8Array[]) {
  const cached = directoryIndex.get(directory);
  if (cached !== undefined && cached.length === directory.length) return cached;
  const ids: Uint8Array[] = [];
  const at = new Map<string, number>();
  for (const id of directory) {
    const hex = Buffer.from(id).toString("hex");
    if (!at.has(hex)) {
      at.set(hex, ids.length);
      ids.push(id);
    }
  }
  const entry = { length: directory.length, ids, at };
  directoryIndex.set(directory, entry);
  return entry;
}

/**
 * DESIGN §4.6: `length` distinct relays drawn uniformly from the directory, never `exclude`
 * (the sender itself, CC). Throws when the directory has too few eligible relays. The directory's
 * distinct ids are indexed once per array (a meter sends K onions per interval over the same
 * directory: no O(directory) work per onion), then drawn by rejection sampling; a directory with
 * few eligible relays takes a partial Fisher–Yates shuffle instead. Either way a uniform sample
 * without replacement.
 */
export function selectRelayPath(
  directory: readonly Uint8Array[],
  length: number,
  random: RandomBytes,
  exclude: readonly Uint8Array[] = [],
): Uint8Array[] {
  const { ids, at } = indexDirectory(directory);
  const excluded = new Set<number>();
  for (const e of exclude) {
    const i = at.get(Buffer.from(e).toString("hex"));
    if (i !== undefined) excluded.add(i);
  }
  const eligibleCount = ids.length - excluded.size;
  if (!Number.isSafeInteger(length) || length < 1 || length > eligibleCount) {
    throw new RangeError(
      `selectRelayPath: need ${length} distinct relays, directory has ${eligibleCount}`,
    );
  }
  if (eligibleCount >= 4 * length) {
    const chosen = new Set<number>();
    const out: Uint8Array[] = [];
    while (out.length < length) {
      const i = uniformInt(ids.length, random);
      if (excluded.has(i) || chosen.has(i)) continue;
      chosen.add(i);
      out.push(ids[i]);
    }
    return out;
  }
  const eligible = ids.filter((_, i) => !excluded.has(i));
  // Partial Fisher–Yates: the first `length` entries are a uniform sample without replacement.
  for (let i = 0; i < length; i++) {
    const j = i + uniformInt(eligible.length - i, random);
    const t = eligible[i];
    eligible[i] = eligible[j];
    eligible[j] = t;
  }
  return eligible.slice(0, length);
}
