// Replay cache of DESIGN §4.6. A hop (relay or CC) remembers a tag of every shared secret it
// accepted and drops a packet whose shared secret it has seen (the same ephemeral key to the same
// hop means the same packet, or a tampered copy the HMAC already rejects).
//
// Bounded three ways (issue 16):
//  - Expiry by epoch. The associated data binds every packet to an epoch (report.ts
//    `onionAssociatedData`) and a hop accepts only the current and the previous epoch, so a packet
//    of an older epoch fails its HMAC and its tag can be forgotten: `rotate` drops every table older
//    than the new previous epoch. A relay also takes packets of the next epoch before its own
//    rotation (relay.ts: its meter may have missed CC's announcement): those tags go to a third
//    table, kept as that epoch's when the cache rotates to it. This is Sphinx's "replay cache until key rotation" (Danezis &
//    Goldberg 2009 §4; Lightning rotates node keys, Loopix mixes rotate per epoch) with the epoch in
//    the AD instead of a new relay key, so the directory need not change every epoch. Someone must
//    drive it: the agents rotate every hop at each interval (`meter/agent.ts`, `cc/service.ts`).
//  - Compact tags. 16 bytes each in an open-addressing table of `Uint32Array` words (linear probing,
//    load ≤ 1/2), not hex strings in a `Set` (≈ 378 bytes a tag before).
//  - A hard cap per epoch: at `maxTagsPerEpoch` tags the table is full and `insert` throws
//    `OnionOverloadError`; the hop then drops new packets of that epoch (fail closed: forgetting a
//    tag early would let its packet be replayed). Memory is at most
//    `2 × tableSlots(maxTagsPerEpoch) × 16` bytes: with the default 65,536 tags per epoch, 131,072
//    slots × 16 B = 2 MiB per epoch, 4 MiB for the two live epochs (6 MiB for a relay's three,
//    `replayCacheMaxBytes(cap, 3)`). A table holds nothing until its
//    first tag, then starts at 16 slots (256 B) and doubles as it fills — to load 3/4 while it has
//    at most 64 slots (a probe of a table that small is a few cache lines whatever its load), to
//    load 1/2 beyond: a city's relays each see a few dozen packets an epoch (3 hops × K = 8 on
//    average), and 100,000 relays × 2 eager 16 KiB tables were 3.2 GB (issue 14); 1 KiB from the
//    first tag was ≈ 100 MB, ≈ 1 kB a meter, where 24 tags need 512 B.
//
// Only packets that pass the HMAC and whose layer is well formed are inserted (relay.ts), so a
// flood of garbage, or of packets anyone can build to a hop's public key with a junk payload, does
// not grow the cache at all.
import { taggedHash } from "../crypto/hash.ts";
import { OnionOverloadError } from "./errors.ts";

/** Bytes of the tag kept per packet: 128 bits (127 used) make accidental collisions negligible. */
export const REPLAY_TAG_SIZE = 16;
/** Default cap on the tags kept for one epoch. */
export const DEFAULT_MAX_TAGS_PER_EPOCH = 65_536;
const WORDS = REPLAY_TAG_SIZE / 4;
/** Slots of a table at its first tag. */
const INITIAL_SLOTS = 16;
/** Tables of at most this many slots fill to load 3/4 before doubling; larger ones to 1/2. */
const SMALL_TABLE_SLOTS = 64;
const EMPTY = new Uint32Array(0);

/**
 * Tag = TH("GridLedger/onion-replay", ss) truncated to 16 bytes: the cache never holds the shared
 * secrets themselves, so dumping it does not let anyone decrypt recorded layers.
 */
export function replayTag(sharedSecret: Uint8Array): Uint8Array {
  if (!(sharedSecret instanceof Uint8Array) || sharedSecret.length !== 32) {
    throw new TypeError("replayTag: shared secret must be 32 bytes");
  }
  return taggedHash("GridLedger/onion-replay", sharedSecret).slice(0, REPLAY_TAG_SIZE);
}

/**
 * Slots of the table that holds `maxTags` tags at load ≤ 1/2 (a power of two ≥ 64): a bound on
 * the table's size (a table of at most 64 slots fills to 3/4, so holds no more slots than this).
 */
export function tableSlots(maxTags: number): number {
  let slots = SMALL_TABLE_SLOTS;
  while (slots < 2 * maxTags) slots *= 2;
  return slots;
}

/**
 * Bytes the replay cache of one hop can occupy at most with `epochs` full tables: two live epochs
 * (the default: CC's exit), three for a relay, which also records packets of the next epoch
 * taken before its own rotation (relay.ts).
 */
export function replayCacheMaxBytes(
  maxTagsPerEpoch: number = DEFAULT_MAX_TAGS_PER_EPOCH,
  epochs: 2 | 3 = 2,
): number {
  return epochs * tableSlots(maxTagsPerEpoch) * REPLAY_TAG_SIZE;
}

/**
 * One epoch's tags: open addressing over 4 u32 words per slot; an all-zero slot is empty. No
 * storage until the first insert (most epochs of most hops hold a few dozen tags, many none).
 */
class TagTable {
  #words: Uint32Array = EMPTY;
  #mask = -1;
  #count = 0;
  #maxTags: number;

  constructor(maxTags: number) {
    this.#maxTags = maxTags;
  }

  /** Raises the cap to `maxTags` (never lowers it: tags held stay held). */
  raiseCap(maxTags: number): void {
    this.#maxTags = Math.max(this.#maxTags, maxTags);
  }

  get size(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#words.byteLength;
  }

  get full(): boolean {
    return this.#count >= this.#maxTags;
  }

  /** Slot index holding `tag`, or the empty slot where it would go (as −1 − index). */
  #find(words: Uint32Array, mask: number, t: Uint32Array): number {
    let i = t[1] & mask; // the tag is a hash: any word is a uniform slot index
    for (;;) {
      const o = i * WORDS;
      if (words[o] === 0) return -1 - i; // word 0 is never 0 for a stored tag (see `words`)
      if (
        words[o] === t[0] &&
        words[o + 1] === t[1] &&
        words[o + 2] === t[2] &&
        words[o + 3] === t[3]
      )
        return i;
      i = (i + 1) & mask;
    }
  }

  has(t: Uint32Array): boolean {
    return this.#count > 0 && this.#find(this.#words, this.#mask, t) >= 0;
  }

  /** Inserts `t`; false if present. Throws OnionOverloadError when the epoch's cap is reached. */
  insert(t: Uint32Array): boolean {
    if (this.#words === EMPTY) {
      this.#words = new Uint32Array(INITIAL_SLOTS * WORDS);
      this.#mask = INITIAL_SLOTS - 1;
    }
    const at = this.#find(this.#words, this.#mask, t);
    if (at >= 0) return false;
    if (this.full) {
      throw new OnionOverloadError(`ReplayCache: ${this.#maxTags} tags in this epoch (the cap)`);
    }
    let slot = -1 - at;
    const slots = this.#mask + 1;
    if (
      slots <= SMALL_TABLE_SLOTS ? 4 * (this.#count + 1) > 3 * slots : 2 * (this.#count + 1) > slots
    ) {
      this.#grow();
      slot = -1 - this.#find(this.#words, this.#mask, t);
    }
    this.#words.set(t, slot * WORDS);
    this.#count++;
    return true;
  }

  #grow(): void {
    const old = this.#words;
    const slots = (this.#mask + 1) * 2;
    const words = new Uint32Array(slots * WORDS);
    const mask = slots - 1;
    for (let o = 0; o < old.length; o += WORDS) {
      if (old[o] === 0) continue;
      const t = old.subarray(o, o + WORDS);
      words.set(t, (-1 - this.#find(words, mask, t)) * WORDS);
    }
    this.#words = words;
    this.#mask = mask;
  }
}

/** The tag as 4 words, word 0 forced odd so a stored tag is never the all-zero empty slot. */
function words(sharedSecret: Uint8Array): Uint32Array {
  const tag = replayTag(sharedSecret);
  const view = new DataView(tag.buffer, tag.byteOffset, REPLAY_TAG_SIZE);
  const w = new Uint32Array(WORDS);
  for (let i = 0; i < WORDS; i++) w[i] = view.getUint32(4 * i, true);
  w[0] |= 1;
  return w;
}

export interface ReplayCacheInit {
  /** Current epoch (u32). */
  readonly epoch: number;
  /** Cap on the tags kept per epoch (default {@link DEFAULT_MAX_TAGS_PER_EPOCH}). */
  readonly maxTagsPerEpoch?: number;
}

export class ReplayCache {
  #epoch: number;
  #maxTags: number;
  // The current epoch's table, the previous one's and the next one's (both made on demand):
  // fields, not a Map per hop (issue 14: every simulated meter is a hop). Only a relay that
  // takes packets of the next epoch before its own rotation (relay.ts) makes the next table.
  #current: TagTable;
  #previous: TagTable | undefined;
  #next: TagTable | undefined;

  /** `new ReplayCache(epoch)` or `new ReplayCache({ epoch, maxTagsPerEpoch })`. */
  constructor(init: number | ReplayCacheInit) {
    const options = typeof init === "number" ? { epoch: init } : init;
    checkEpoch(options?.epoch, "ReplayCache");
    const max = options.maxTagsPerEpoch ?? DEFAULT_MAX_TAGS_PER_EPOCH;
    if (!Number.isSafeInteger(max) || max < 1 || max > 2 ** 24) {
      throw new RangeError("ReplayCache: maxTagsPerEpoch must be in [1, 2^24]");
    }
    this.#maxTags = max;
    this.#epoch = options.epoch;
    this.#current = new TagTable(max);
  }

  get epoch(): number {
    return this.#epoch;
  }

  get maxTagsPerEpoch(): number {
    return this.#maxTags;
  }

  /**
   * Raises the cap per epoch to `maxTagsPerEpoch`, for the current epoch's table and every later
   * one; never lowers it (a lower value changes nothing). For a holder whose population grew
   * within an epoch (CC's exit when meters register, issue 14). Throws RangeError outside [1, 2^24].
   */
  raiseCap(maxTagsPerEpoch: number): void {
    if (
      !Number.isSafeInteger(maxTagsPerEpoch) ||
      maxTagsPerEpoch < 1 ||
      maxTagsPerEpoch > 2 ** 24
    ) {
      throw new RangeError("ReplayCache.raiseCap: maxTagsPerEpoch must be in [1, 2^24]");
    }
    if (maxTagsPerEpoch <= this.#maxTags) return;
    this.#maxTags = maxTagsPerEpoch;
    this.#current.raiseCap(maxTagsPerEpoch);
    this.#next?.raiseCap(maxTagsPerEpoch);
  }

  /** Tags held (previous + current + next epoch). */
  get size(): number {
    let n = 0;
    for (const t of [this.#current, this.#previous, this.#next]) n += t?.size ?? 0;
    return n;
  }

  /**
   * Bytes the tables occupy now: at most {@link replayCacheMaxBytes}`(cap)` while only two epochs
   * hold tags (CC's exit, and a relay that took no packet of the next epoch), at most
   * `replayCacheMaxBytes(cap, 3)` for a relay that did.
   */
  get bytes(): number {
    let n = 0;
    for (const t of [this.#current, this.#previous, this.#next]) n += t?.bytes ?? 0;
    return n;
  }

  #table(epoch: number, fn: string): TagTable {
    if (epoch === this.#epoch) return this.#current;
    if (epoch === this.#epoch - 1) return (this.#previous ??= new TagTable(this.#maxTags));
    if (epoch === this.#epoch + 1) return (this.#next ??= new TagTable(this.#maxTags));
    throw new RangeError(`${fn}: epoch ${epoch} is not live`);
  }

  /**
   * True if a packet with this shared secret was recorded under `epoch` (the previous, current or
   * next epoch; RangeError for any other).
   */
  has(sharedSecret: Uint8Array, epoch: number): boolean {
    return this.#table(epoch, "ReplayCache.has").has(words(sharedSecret));
  }

  /**
   * Records the packet's tag under `epoch` (the previous, the current or — for a relay that takes
   * packets of the next epoch before its own rotation, relay.ts — the next one) and returns true,
   * or returns false if it was already there (a replay). Throws RangeError for any other epoch and
   * OnionOverloadError when the epoch's table is at its cap.
   */
  checkAndInsert(sharedSecret: Uint8Array, epoch: number): boolean {
    return this.#table(epoch, "ReplayCache.checkAndInsert").insert(words(sharedSecret));
  }

  /**
   * Moves to a later epoch; forgets every tag older than the new previous epoch. Tags recorded
   * early under the next epoch stay that epoch's (the new current one's if the cache moves one
   * epoch on, the new previous one's if it moves two): a packet stays refused as a replay for as
   * long as its epoch is live. With
   * `maxTagsPerEpoch`, the new epoch (and later ones) hold up to that many tags (issue 14: CC's
   * exit sees every report of the city in an epoch, more than the default cap at 8,192 meters);
   * the previous epoch keeps its cap. RangeError outside [1, 2^24].
   */
  rotate(epoch: number, maxTagsPerEpoch?: number): void {
    checkEpoch(epoch, "ReplayCache.rotate");
    if (epoch <= this.#epoch) throw new RangeError("ReplayCache.rotate: epochs only move forward");
    if (maxTagsPerEpoch !== undefined) {
      if (
        !Number.isSafeInteger(maxTagsPerEpoch) ||
        maxTagsPerEpoch < 1 ||
        maxTagsPerEpoch > 2 ** 24
      ) {
        throw new RangeError("ReplayCache.rotate: maxTagsPerEpoch must be in [1, 2^24]");
      }
    }
    // The old current table becomes the previous one if it is epoch − 1 (keeping its cap);
    // older tables are forgotten. An empty one is dropped too when the cap does not change
    // (issue 14: a hop's epoch before its first announcement holds no tag — one TagTable object
    // per simulated meter for nothing): `#table` makes it again on demand, with the same cap.
    const keep =
      this.#epoch === epoch - 1 &&
      (this.#current.size > 0 ||
        (maxTagsPerEpoch !== undefined && maxTagsPerEpoch !== this.#maxTags));
    // The next epoch's table, if any, holds epoch `this.#epoch + 1`: it becomes the new current
    // table (re-capped like a new one, but never below the tags it holds), the new previous one,
    // or is too old to keep.
    const next = this.#next;
    const nextEpoch = this.#epoch + 1;
    this.#next = undefined;
    if (keep) this.#previous = this.#current;
    else this.#previous = next !== undefined && nextEpoch === epoch - 1 ? next : undefined;
    if (maxTagsPerEpoch !== undefined) this.#maxTags = maxTagsPerEpoch;
    this.#epoch = epoch;
    if (next !== undefined && nextEpoch === epoch) {
      next.raiseCap(this.#maxTags);
      this.#current = next;
    } else {
      this.#current = new TagTable(this.#maxTags);
    }
  }
}

function checkEpoch(epoch: unknown, fn: string): asserts epoch is number {
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 0 || (epoch as number) > 0xffffffff) {
    throw new RangeError(`${fn}: epoch must be a u32`);
  }
}
