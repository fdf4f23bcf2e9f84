// An insertion-ordered set of 32-byte pseudonyms with O(1) look-up and no JS object, string or Map
// entry per key (issue 14): CC's admission table (offchain/cc/admission-table.ts), the ledger audit's
// "one slot per pseudonym" check (offchain/protocol/ledger-audit.ts) and the users' index of a
// rebuilt interval (offchain/user/user.ts). Open addressing with linear probing over keys stored
// densely in one buffer; the hash is a key's first four bytes (pseudonyms are HMAC or keccak
// outputs, uniform) and the load factor stays ≤ 1/2, so a look-up probes ≈ 1.5 slots on average.
// Hostile keys: a dishonest RPC endpoint (docs/SECURITY.md "Dishonest RPC endpoint") could serve
// zero-slot ids that share their first four bytes, which would make every look-up linear and one
// interval's audit O(n²). An insertion that probes more than MAX_PROBES slots (which uniform keys
// practically never do) therefore switches the index, once, to a keyed hash — SHA-256 of a secret
// random salt and the key — that the source cannot aim at, and rehashes: at most O(MAX_PROBES²)
// extra work before the switch, O(1) look-ups after.
import { expectBytes } from "../crypto/bytes.ts";
import { sha256 } from "../crypto/hash.ts";

export class PseudonymIndexError extends Error {
  override name = "PseudonymIndexError";
}

const MIN_CAPACITY = 16;

function capacityFor(entries: number): number {
  let c = MIN_CAPACITY;
  while (c < 2 * entries) c *= 2;
  return c;
}

/**
 * Probes past which an insertion switches the index to its keyed hash. With uniform keys at load
 * ≤ 1/2 a probe run this long has probability far below 2^-40 per insertion.
 */
export const MAX_PROBES = 128;

/** Bytes of the keyed hash's secret salt. */
const SALT_BYTES = 16;

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

/** Injected randomness for the keyed hash's salt (default: Web Crypto's `getRandomValues`). */
export type SaltSource = (length: number) => Uint8Array;

const webCryptoSalt: SaltSource = (length) => crypto.getRandomValues(new Uint8Array(length));

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
  readonly #saltSource: SaltSource;
  /** salt ‖ key, hashed in keyed mode (undefined: the plain prefix hash). */
  #salted: Uint8Array | undefined;

  /**
   * `expected`: entries to size for without growing (the buffer doubles beyond it); `salt`: the
   * keyed hash's randomness, drawn only if hostile keys force the switch (see the file comment).
   * Throws PseudonymIndexError for an `expected` that is not a count.
   */
  constructor(expected = 0, salt: SaltSource = webCryptoSalt) {
    if (!Number.isInteger(expected) || expected < 0) {
      throw new PseudonymIndexError(`PseudonymIndex: expected ${expected} is not a count`);
    }
    this.#keys = new Uint8Array(32 * Math.max(expected, 8));
    this.#slots = new Uint32Array(capacityFor(expected));
    this.#mask = this.#slots.length - 1;
    this.#saltSource = salt;
  }

  /** An index of `keys` (32 bytes each) inserted in order. */
  static of(keys: readonly Uint8Array[], salt?: SaltSource): PseudonymIndex {
    const index = new PseudonymIndex(keys.length, salt);
    for (const key of keys) index.insert(key);
    return index;
  }

  /** Whether hostile keys switched the index to its keyed hash. */
  get keyed(): boolean {
    return this.#salted !== undefined;
  }

  /** The slot hash of the 32 bytes at `offset` of `bytes`, in the index's current mode. */
  #hash(bytes: Uint8Array, offset: number): number {
    const salted = this.#salted;
    if (salted === undefined) return hashAt(bytes, offset);
    salted.set(bytes.subarray(offset, offset + 32), SALT_BYTES);
    return hashAt(sha256(salted), 0);
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
    let s = this.#hash(keys, 32 * e) & this.#mask;
    for (let probes = 0; ; probes++) {
      const at = slots[s];
      if (at === 0) {
        slots[s] = e + 1;
        return;
      }
      if (this.#equalsEntry(at - 1, keys, 32 * e)) {
        slots[s] = e + 1; // a duplicate: the later entry wins
        return;
      }
      if (probes >= MAX_PROBES && this.#salted === undefined) {
        // Keys aimed at the prefix hash: switch to the keyed hash and place everything again.
        const salt = this.#saltSource(SALT_BYTES);
        if (!(salt instanceof Uint8Array) || salt.length !== SALT_BYTES) {
          throw new PseudonymIndexError(
            `PseudonymIndex: the salt source must give ${SALT_BYTES} bytes`,
          );
        }
        this.#salted = new Uint8Array(SALT_BYTES + 32);
        this.#salted.set(salt);
        this.#rehash(slots.length);
        return;
      }
      s = (s + 1) & this.#mask;
    }
  }

  /** Places entries 0 … size − 1 in a fresh table of `capacity` slots (e's own slot included). */
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
    let s = this.#hash(bytes, offset) & this.#mask;
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

  /**
   * Writes entry `e`'s key into `out` at byte `offset` (32 bytes; no allocation, issue 14).
   * Throws `PseudonymIndexError` for no entry `e`, `RangeError` if `out` has no room.
   */
  writeKeyAt(e: number, out: Uint8Array, offset: number): void {
    if (!Number.isInteger(e) || e < 0 || e >= this.#size) {
      throw new PseudonymIndexError(`PseudonymIndex.writeKeyAt: no entry ${e}`);
    }
    out.set(this.#keys.subarray(32 * e, 32 * e + 32), offset);
  }
}
