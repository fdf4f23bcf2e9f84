// An insertion-ordered set of 32-byte pseudonyms with O(1) look-up and no JS object, string or Map
// entry per key (issue 14): CC's admission table (offchain/cc/admission-table.ts), the ledger audit's
// "one slot per pseudonym" check (offchain/protocol/ledger-audit.ts) and the users' index of a
// rebuilt interval (offchain/user/user.ts). Open addressing with linear probing over keys stored
// densely in one buffer; the hash is a key's first four bytes (pseudonyms are HMAC or keccak
// outputs, uniform) and the load factor stays ≤ 1/2, so a look-up probes ≈ 1.5 slots on average.
// A hostile source that chose keys sharing their first four bytes would make look-ups linear (a
// slower audit, never a different answer): CC only inserts keys it computes; a dishonest RPC
// endpoint could serve such zero-slot ids (docs/SECURITY.md "Dishonest RPC endpoint"), at the
// cost of O(n²) time for that one read — not mitigated (a keyed hash would be).
import { expectBytes } from "../crypto/bytes.ts";

export class PseudonymIndexError extends Error {
  override name = "PseudonymIndexError";
}

const MIN_CAPACITY = 16;

function capacityFor(entries: number): number {
  let c = MIN_CAPACITY;
  while (c < 2 * entries) c *= 2;
  return c;
}

/** First four bytes of a 32-byte key at `offset` of `bytes`, as an unsigned 32-bit hash. */
function hashAt(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] << 24) |
      (bytes[offset + 1] << 16) |
      (bytes[offset + 2] << 8) |
      bytes[offset + 3]) >>>
    0
  );
}

/**
 * An insertion-ordered set of 32-byte keys (pseudonyms) with O(1) look-up: entry `e` is the e-th
 * key inserted, stored at bytes `32e…32e+31` of one buffer, and the hash slots hold `e + 1` (0 =
 * empty). Re-inserting a present key makes the slot name the new entry (a later registration of
 * the same key wins, as `Map.set` did); the old entry keeps its bytes but is no longer found.
 */
export class PseudonymIndex {
  #keys: Uint8Array;
  #slots: Uint32Array;
  #mask: number;
  #size = 0;

  /** `expected`: entries to size for without growing (the buffer doubles beyond it). */
  constructor(expected = 0) {
    if (!Number.isInteger(expected) || expected < 0) {
      throw new PseudonymIndexError(`PseudonymIndex: expected ${expected} is not a count`);
    }
    this.#keys = new Uint8Array(32 * Math.max(expected, 8));
    this.#slots = new Uint32Array(capacityFor(expected));
    this.#mask = this.#slots.length - 1;
  }

  /** An index of `keys` (32 bytes each) inserted in order. */
  static of(keys: readonly Uint8Array[]): PseudonymIndex {
    const index = new PseudonymIndex(keys.length);
    for (const key of keys) index.insert(key);
    return index;
  }

  /** Entries inserted (shadowed duplicates included). */
  get size(): number {
    return this.#size;
  }

  /** Bytes held (keys buffer and hash slots), for the memory figures of docs/SCALE.md. */
  get byteLength(): number {
    return this.#keys.byteLength + this.#slots.byteLength;
  }

  /** Appends `key` (32 bytes) as entry `size`, returns its entry number. */
  insert(key: Uint8Array): number {
    expectBytes(key, 32, "PseudonymIndex.insert: key");
    const e = this.#size;
    if (32 * (e + 1) > this.#keys.length) {
      const grown = new Uint8Array(this.#keys.length * 2);
      grown.set(this.#keys);
      this.#keys = grown;
    }
    this.#keys.set(key, 32 * e);
    this.#size++;
    if (2 * this.#size > this.#slots.length) this.#rehash(this.#slots.length * 2);
    else this.#place(e);
    return e;
  }

  #place(e: number): void {
    const keys = this.#keys;
    const slots = this.#slots;
    let s = hashAt(keys, 32 * e) & this.#mask;
    for (;;) {
      const at = slots[s];
      if (at === 0) {
        slots[s] = e + 1;
        return;
      }
      if (this.#equalsEntry(at - 1, keys, 32 * e)) {
        slots[s] = e + 1; // a duplicate: the later entry wins
        return;
      }
      s = (s + 1) & this.#mask;
    }
  }

  #rehash(capacity: number): void {
    this.#slots = new Uint32Array(capacity);
    this.#mask = capacity - 1;
    for (let e = 0; e < this.#size; e++) this.#place(e);
  }

  #equalsEntry(e: number, bytes: Uint8Array, offset: number): boolean {
    const keys = this.#keys;
    const o = 32 * e;
    for (let i = 0; i < 32; i++) if (keys[o + i] !== bytes[offset + i]) return false;
    return true;
  }

  /**
   * The entry of the 32 bytes at `offset` of `bytes`, or −1. No copy: the report's pseudonym is
   * read in place.
   */
  find(bytes: Uint8Array, offset = 0): number {
    if (!(bytes instanceof Uint8Array) || offset < 0 || offset + 32 > bytes.length) {
      throw new PseudonymIndexError("PseudonymIndex.find: need 32 bytes at offset");
    }
    const slots = this.#slots;
    let s = hashAt(bytes, offset) & this.#mask;
    for (;;) {
      const at = slots[s];
      if (at === 0) return -1;
      if (this.#equalsEntry(at - 1, bytes, offset)) return at - 1;
      s = (s + 1) & this.#mask;
    }
  }

  /** Whether `key` is present: false for anything but 32 bytes (no pseudonym). */
  has(key: Uint8Array): boolean {
    return key instanceof Uint8Array && key.length === 32 && this.find(key) >= 0;
  }

  /** Every entry's key in insertion order (copies), shadowed duplicates included. */
  *[Symbol.iterator](): IterableIterator<Uint8Array> {
    for (let e = 0; e < this.#size; e++) yield this.keyAt(e);
  }

  /** Entry `e`'s key (a copy). */
  keyAt(e: number): Uint8Array {
    if (!Number.isInteger(e) || e < 0 || e >= this.#size) {
      throw new PseudonymIndexError(`PseudonymIndex.keyAt: no entry ${e}`);
    }
    return this.#keys.slice(32 * e, 32 * e + 32);
  }
}
