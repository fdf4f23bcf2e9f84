// The control center's admission table at city scale (issue 14; DESIGN §4.2 and §4.5): the
// pseudonym look-up P_{i,j,k} → (meter, interval, counter) and the per-meter key material held in
// typed arrays, with no JS object, string or Map entry per pseudonym or per meter.
//
//   - MeterDirectory: one row per registered meter (registration order = "ordinal"): the meter's
//     index, `B_i` (33 bytes), `K_i` (32), `A_i = H1(sk_CC·pk_i)` (32) and `ID_i = H1(pk_i)` (32),
//     and a u32 → ordinal open-addressing map for the meter index;
//   - IntervalTable: one per open interval, entries numbered `e = ordinal·K + (k − 1)` so meter and
//     counter are arithmetic on `e`: the pseudonyms (32 bytes each, dense), a flag byte (admitted,
//     faulted) each, the interval seed `K_{i,j}` of every meter (32 bytes, ggm.ts) and the hash index;
//   - PseudonymIndex (offchain/protocol/pseudonym-index.ts, shared with the ledger audit and the
//     users' check): open addressing with linear probing over 32-byte keys stored densely. A
//     pseudonym is an HMAC output, uniform, so its first four bytes are the hash; the load factor
//     stays ≤ 1/2, so a look-up probes ≈ 1.5 slots on average (O(1)); a key only CC can compute
//     is never inserted by a sender, so no one can aim at a long probe run.
// The maps these replace (ControlCenterPseudonyms: a 64-character hex string key and an object per
// pseudonym; a MessageKeyDeriver with its 1.5 kB cached path per meter) stay the reference the
// property tests compare with (test/roles/cc-admission-table.test.ts).
import { concatBytes, expectBytes, u16, u32 } from "../crypto/bytes.ts";
import { ggmIntervalSeed } from "../crypto/ggm.ts";
import { hmacSha256Keyed } from "../crypto/hash.ts";
import { identityOf } from "../crypto/keys.ts";
import { type Secp256k1Backend } from "../crypto/secp256k1.ts";
import { controlCenterPseudonymKey, PSEUDONYM_LABEL } from "../protocol/pseudonym.ts";
import { PseudonymIndex } from "../protocol/pseudonym-index.ts";

// The index is shared with the ledger audit and the users' check (issue 14); its home is protocol/.
export { PseudonymIndex, PseudonymIndexError } from "../protocol/pseudonym-index.ts";

export class AdmissionTableError extends Error {
  override name = "AdmissionTableError";
}

const MIN_CAPACITY = 16;

/** u32 → ordinal, open addressing (meter index → row of the {@link MeterDirectory}). */
class U32Index {
  #keys = new Uint32Array(MIN_CAPACITY);
  /** ordinal + 1; 0 = empty. */
  #values = new Uint32Array(MIN_CAPACITY);
  #size = 0;

  get byteLength(): number {
    return this.#keys.byteLength + this.#values.byteLength;
  }

  static #hash(key: number): number {
    return Math.imul(key ^ (key >>> 16), 0x45d9f3b) >>> 0;
  }

  get(key: number): number {
    const mask = this.#keys.length - 1;
    for (let s = U32Index.#hash(key) & mask; ; s = (s + 1) & mask) {
      if (this.#values[s] === 0) return -1;
      if (this.#keys[s] === key) return this.#values[s] - 1;
    }
  }

  /** Adds a key that is not present. */
  add(key: number, ordinal: number): void {
    if (2 * (this.#size + 1) > this.#keys.length) {
      const keys = this.#keys;
      const values = this.#values;
      this.#keys = new Uint32Array(keys.length * 2);
      this.#values = new Uint32Array(keys.length * 2);
      for (let s = 0; s < keys.length; s++) if (values[s] !== 0) this.#put(keys[s], values[s]);
    }
    this.#put(key, ordinal + 1);
    this.#size++;
  }

  #put(key: number, value: number): void {
    const mask = this.#keys.length - 1;
    let s = U32Index.#hash(key) & mask;
    while (this.#values[s] !== 0) s = (s + 1) & mask;
    this.#keys[s] = key;
    this.#values[s] = value;
  }
}

/** Bytes per directory row: B_i (33) ‖ K_i (32) ‖ A_i (32) ‖ ID_i (32). */
const ROW = 129;
const ROW_B = 0;
const ROW_K = 33;
const ROW_A = 65;
const ROW_ID = 97;

/**
 * The registered meters' key material in one buffer, one 129-byte row per meter in registration
 * order, plus the meter index → row map. `K_i` stays in memory as it did in the cached GGM path;
 * the agent keeps it sealed at rest (runtime/secret-box.ts).
 */
export class MeterDirectory {
  #rows = new Uint8Array(ROW * 64);
  #indices = new Uint32Array(64);
  readonly #byIndex = new U32Index();
  #count = 0;

  get count(): number {
    return this.#count;
  }

  /** Bytes held, for the memory figures of docs/SCALE.md. */
  get byteLength(): number {
    return this.#rows.byteLength + this.#indices.byteLength + this.#byIndex.byteLength;
  }

  /**
   * Adds meter `index` (a u32) with its public key `pk_i` (33 bytes), `K_i` (32) and `B_i` (33,
   * validated by the caller); computes `A_i = H1(sk_CC·pk_i)` (one ECDH) and `ID_i`. Returns the
   * row. Throws AdmissionTableError if the index is not a u32 or already present.
   */
  add(
    index: number,
    publicKey: Uint8Array,
    ggmKey: Uint8Array,
    basePublicKey: Uint8Array,
    ccSecretKey: bigint,
    backend: Secp256k1Backend,
  ): number {
    if (!Number.isInteger(index) || index < 0 || index > 0xffff_ffff) {
      throw new AdmissionTableError(`MeterDirectory.add: meter index ${index} is not a u32`);
    }
    if (this.#byIndex.get(index) !== -1) {
      throw new AdmissionTableError(`MeterDirectory.add: meter ${index} already registered`);
    }
    expectBytes(ggmKey, 32, "MeterDirectory.add: ggmKey");
    expectBytes(basePublicKey, 33, "MeterDirectory.add: basePublicKey");
    const pseudonymKey = controlCenterPseudonymKey(ccSecretKey, publicKey, backend);
    const id = identityOf(publicKey);
    const row = this.#count;
    if (row === this.#indices.length) {
      const rows = new Uint8Array(this.#rows.length * 2);
      rows.set(this.#rows);
      this.#rows = rows;
      const indices = new Uint32Array(this.#indices.length * 2);
      indices.set(this.#indices);
      this.#indices = indices;
    }
    const o = ROW * row;
    this.#rows.set(basePublicKey, o + ROW_B);
    this.#rows.set(ggmKey, o + ROW_K);
    this.#rows.set(pseudonymKey, o + ROW_A);
    this.#rows.set(id, o + ROW_ID);
    pseudonymKey.fill(0);
    this.#indices[row] = index;
    this.#byIndex.add(index, row);
    this.#count++;
    return row;
  }

  /** The row of meter `index`, or −1. */
  rowOf(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index > 0xffff_ffff) return -1;
    return this.#byIndex.get(index);
  }

  /** The meter index of a row. */
  indexAt(row: number): number {
    return this.#indices[row];
  }

  /** `B_i` of a row (a view: do not modify). */
  basePublicKeyAt(row: number): Uint8Array {
    return this.#rows.subarray(ROW * row + ROW_B, ROW * row + ROW_B + 33);
  }

  /** `K_i` of a row (a view: do not modify or keep). */
  ggmKeyAt(row: number): Uint8Array {
    return this.#rows.subarray(ROW * row + ROW_K, ROW * row + ROW_K + 32);
  }

  /**
   * `P_{i,j,k}` for `k = 1…slots` of a row's meter (DESIGN §4.5:
   * `HMAC(A_i, "GridLedger/P" ‖ ID_i ‖ u32 j ‖ u16 k)`), written at `out[offset…]`, 32 bytes each.
   */
  writePseudonyms(
    row: number,
    interval: number,
    slots: number,
    out: Uint8Array,
    offset: number,
  ): void {
    const o = ROW * row;
    const mac = hmacSha256Keyed(this.#rows.subarray(o + ROW_A, o + ROW_A + 32));
    const message = concatBytes(
      PSEUDONYM_LABEL,
      this.#rows.subarray(o + ROW_ID, o + ROW_ID + 32),
      u32(interval),
      u16(0),
    );
    const at = message.length - 2;
    for (let k = 1; k <= slots; k++) {
      message[at] = k >>> 8;
      message[at + 1] = k & 0xff;
      out.set(mac(message), offset + 32 * (k - 1));
    }
  }
}

/** Flag bits of an {@link IntervalTable} entry. */
export const ENTRY_ADMITTED = 1;
/** A signed faulty report under this pseudonym was already counted (faults count once). */
export const ENTRY_FAULTED = 2;
/**
 * The admitted report was a meter's dummy (value 0, DESIGN §7): CC posts only its pseudonym, so
 * it keeps the flag and not the report (issue 14: 80 % of a city's slots).
 */
export const ENTRY_DUMMY = 4;

/**
 * One interval's pseudonyms of the meters registered when it opened, K slots each: entry
 * `e = row·K + (k − 1)`, its flags, and each meter's interval seed `K_{i,j}` (the only GGM
 * material admission needs for this interval). Built once, never resized.
 */
export class IntervalTable {
  readonly interval: number;
  /** K, slots per meter. */
  readonly slots: number;
  /** Meters (directory rows 0…meters−1) indexed. */
  readonly meters: number;
  readonly #index: PseudonymIndex;
  readonly #flags: Uint8Array;
  readonly #seeds: Uint8Array;

  private constructor(interval: number, slots: number, meters: number) {
    this.interval = interval;
    this.slots = slots;
    this.meters = meters;
    this.#index = new PseudonymIndex(meters * slots);
    this.#flags = new Uint8Array(meters * slots);
    this.#seeds = new Uint8Array(32 * meters);
  }

  /**
   * Indexes interval `interval` for every meter of `directory`, counters 1…`slots`: K HMACs and
   * 32 GGM steps per meter (the CC does this when the interval opens).
   */
  static build(directory: MeterDirectory, interval: number, slots: number): IntervalTable {
    if (!Number.isInteger(slots) || slots < 1 || slots > 65535) {
      throw new AdmissionTableError(`IntervalTable.build: slots ${slots} outside [1, 65535]`);
    }
    const table = new IntervalTable(interval, slots, directory.count);
    const scratch = new Uint8Array(32 * slots);
    for (let row = 0; row < directory.count; row++) {
      directory.writePseudonyms(row, interval, slots, scratch, 0);
      for (let k = 0; k < slots; k++) table.#index.insert(scratch.subarray(32 * k, 32 * k + 32));
      const seed = ggmIntervalSeed(directory.ggmKeyAt(row), interval);
      table.#seeds.set(seed, 32 * row);
      seed.fill(0);
    }
    return table;
  }

  /** Bytes held, for the memory figures of docs/SCALE.md. */
  get byteLength(): number {
    return this.#index.byteLength + this.#flags.byteLength + this.#seeds.byteLength;
  }

  /** The entry of the pseudonym at `bytes[offset…offset+31]`, or −1 (O(1)). */
  find(bytes: Uint8Array, offset = 0): number {
    return this.#index.find(bytes, offset);
  }

  /** Directory row of entry `e`. */
  rowOf(e: number): number {
    return Math.floor(e / this.slots);
  }

  /** Counter k (1-based) of entry `e`. */
  counterOf(e: number): number {
    return (e % this.slots) + 1;
  }

  /** Entry `e`'s pseudonym (a copy). */
  pseudonymAt(e: number): Uint8Array {
    return this.#index.keyAt(e);
  }

  /** Writes entry `e`'s pseudonym into `out` at byte `offset` (32 bytes, no allocation). */
  writePseudonymAt(e: number, out: Uint8Array, offset: number): void {
    this.#index.writeKeyAt(e, out, offset);
  }

  /** `K_{i,j}` of a row (a view: do not modify or keep). */
  seedAt(row: number): Uint8Array {
    return this.#seeds.subarray(32 * row, 32 * row + 32);
  }

  has(e: number, flag: number): boolean {
    return (this.#flags[e] & flag) !== 0;
  }

  set(e: number, flag: number): void {
    this.#flags[e] |= flag;
  }

  /** Entries admitted among a row's K slots. */
  admittedOfRow(row: number): number {
    let n = 0;
    for (let e = row * this.slots; e < (row + 1) * this.slots; e++) {
      if (this.#flags[e] & ENTRY_ADMITTED) n++;
    }
    return n;
  }

  /** Zeroes the interval seeds (the interval is closed: no more signature checks). */
  wipeSeeds(): void {
    this.#seeds.fill(0);
  }
}

/** Reports per chunk of a {@link ReportArena} (≈ 141 kB of 138-byte reports). */
const ARENA_CHUNK = 1024;

/**
 * Admitted reports of one interval, back to back in fixed chunks of {@link ARENA_CHUNK} reports
 * (the reports are fixed-size, protocol/meter-report.ts): the entries CC posts, decoded on demand.
 * Chunks are never copied, and at most one is partly empty.
 */
export class ReportArena {
  readonly #size: number;
  readonly #chunks: Uint8Array[] = [];
  #count = 0;

  constructor(reportSize: number) {
    this.#size = reportSize;
  }

  get count(): number {
    return this.#count;
  }

  get byteLength(): number {
    return this.#chunks.length * this.#size * ARENA_CHUNK;
  }

  push(report: Uint8Array): void {
    expectBytes(report, this.#size, "ReportArena.push: report");
    const slot = this.#count % ARENA_CHUNK;
    if (slot === 0) this.#chunks.push(new Uint8Array(this.#size * ARENA_CHUNK));
    this.#chunks[this.#chunks.length - 1].set(report, this.#size * slot);
    this.#count++;
  }

  /** Report `i` (a view: do not modify). */
  at(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.#count) {
      throw new AdmissionTableError(`ReportArena.at: no report ${i}`);
    }
    const slot = i % ARENA_CHUNK;
    return this.#chunks[Math.floor(i / ARENA_CHUNK)].subarray(
      this.#size * slot,
      this.#size * (slot + 1),
    );
  }
}
