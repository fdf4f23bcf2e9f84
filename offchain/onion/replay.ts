// Replay cache of DESIGN §4.6. A relay remembers a tag of every shared secret it accepted and
// drops a packet whose shared secret it has seen (the same ephemeral key to the same relay means
// the same packet, or a tampered copy the HMAC already rejects). Memory is bounded by epochs: the
// associated data binds every packet to an epoch (report.ts `onionAssociatedData`), relays accept
// only the current and the previous epoch, so a packet of an older epoch fails its HMAC and its tag
// can be forgotten. This is Sphinx's replay-cache-until-key-rotation, with the epoch in the AD
// instead of rotating the relay key.
import { bytesToHex } from "../crypto/bytes.ts";
import { taggedHash } from "../crypto/hash.ts";

/** Bytes of the tag kept per packet: 128 bits make accidental collisions negligible. */
export const REPLAY_TAG_SIZE = 16;

/**
 * Tag = TH("GridLedger/onion-replay", ss) truncated: the cache never holds the shared secrets
 * themselves, so dumping it does not let anyone decrypt recorded layers.
 */
export function replayTag(sharedSecret: Uint8Array): string {
  if (!(sharedSecret instanceof Uint8Array) || sharedSecret.length !== 32) {
    throw new TypeError("replayTag: shared secret must be 32 bytes");
  }
  return bytesToHex(
    taggedHash("GridLedger/onion-replay", sharedSecret).subarray(0, REPLAY_TAG_SIZE),
  );
}

export class ReplayCache {
  #epoch: number;
  readonly #tags = new Map<number, Set<string>>();

  constructor(epoch: number) {
    checkEpoch(epoch, "ReplayCache");
    this.#epoch = epoch;
    this.#tags.set(epoch, new Set());
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Tags held (current + previous epoch). */
  get size(): number {
    let n = 0;
    for (const s of this.#tags.values()) n += s.size;
    return n;
  }

  /**
   * Records the packet's tag under `epoch` (the current or the previous one) and returns true, or
   * returns false if it was already there (a replay). Throws for any other epoch.
   */
  checkAndInsert(sharedSecret: Uint8Array, epoch: number): boolean {
    if (epoch !== this.#epoch && epoch !== this.#epoch - 1) {
      throw new RangeError(`ReplayCache.checkAndInsert: epoch ${epoch} is not live`);
    }
    let set = this.#tags.get(epoch);
    if (set === undefined) {
      set = new Set();
      this.#tags.set(epoch, set);
    }
    const tag = replayTag(sharedSecret);
    if (set.has(tag)) return false;
    set.add(tag);
    return true;
  }

  /** Moves to a later epoch; forgets every tag older than the new previous epoch. */
  rotate(epoch: number): void {
    checkEpoch(epoch, "ReplayCache.rotate");
    if (epoch <= this.#epoch) throw new RangeError("ReplayCache.rotate: epochs only move forward");
    this.#epoch = epoch;
    for (const e of [...this.#tags.keys()]) if (e < epoch - 1) this.#tags.delete(e);
    if (!this.#tags.has(epoch)) this.#tags.set(epoch, new Set());
  }
}

function checkEpoch(epoch: number, fn: string): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > 0xffffffff) {
    throw new RangeError(`${fn}: epoch must be a u32`);
  }
}
