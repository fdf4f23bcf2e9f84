// A sorted list of 32-byte pseudonyms in ONE buffer (issue 14, session 10; docs/SCALE.md "CC's
// posting state, packed"): CC's zero slots of an interval (DESIGN §7) and the ranges of them that
// its OCD batches post. At 100,000 meters an interval has ≈ 640,000 zero slots; one `Uint8Array`
// view each cost ≈ 100 bytes of V8 object besides its 32 bytes of data, the list costs 32.

/** A packed pseudonym list built from bad input (length not 32·n, not strictly increasing). */
export class PackedPseudonymsError extends RangeError {
  override name = "PackedPseudonymsError";
}

/** Strict byte order of `a[ai…ai+32)` and `b[bi…bi+32)` (−1, 0, 1): hex order. */
function compare32(a: Uint8Array, ai: number, b: Uint8Array, bi: number): number {
  for (let i = 0; i < 32; i++) {
    const x = a[ai + i];
    const y = b[bi + i];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Pseudonyms (32 bytes each) strictly increasing in byte order (= hex order), packed back to back
 * in {@link bytes} (`32 · count` bytes). {@link at} makes a view on demand; {@link slice} is a
 * range over the same buffer (no copy). Read-only by convention: never modify {@link bytes}.
 */
export class PackedPseudonyms {
  /** The packed pseudonyms, `32 · count` bytes (a view: read, never modify). */
  readonly bytes: Uint8Array;
  /** Number of pseudonyms. */
  readonly count: number;

  /**
   * The list over `bytes` (`32 · n` bytes, kept, not copied). Throws {@link PackedPseudonymsError}
   * for a length not a multiple of 32, or pseudonyms not strictly increasing.
   */
  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array) || bytes.length % 32 !== 0) {
      throw new PackedPseudonymsError("PackedPseudonyms: length is not a multiple of 32 bytes");
    }
    const count = bytes.length / 32;
    for (let i = 1; i < count; i++) {
      if (compare32(bytes, 32 * (i - 1), bytes, 32 * i) >= 0) {
        throw new PackedPseudonymsError(
          `PackedPseudonyms: pseudonym ${i} does not follow pseudonym ${i - 1} strictly`,
        );
      }
    }
    this.bytes = bytes;
    this.count = count;
  }

  /** The empty list. */
  static readonly EMPTY = new PackedPseudonyms(new Uint8Array(0));

  /**
   * `packed` (`32 · n` bytes of pseudonyms in any order) sorted into a new buffer
   * ({@link sortPacked}), as a list: the sort's duplicate check already proves the order strict, so
   * it is not checked again. Throws {@link PackedPseudonymsError} as {@link sortPacked}.
   */
  static sorted(packed: Uint8Array): PackedPseudonyms {
    return trusted(sortPacked(packed));
  }

  /**
   * `ids` (32 bytes each, any order) copied into one buffer, sorted. Throws
   * {@link PackedPseudonymsError} for an id not 32 bytes or a duplicate. For callers holding views
   * (tests, fixtures); CC builds its lists from packed bytes ({@link sortPacked}).
   */
  static fromIds(ids: Iterable<Uint8Array>): PackedPseudonyms {
    const list = [...ids];
    const bytes = new Uint8Array(32 * list.length);
    list.forEach((id, i) => {
      if (!(id instanceof Uint8Array) || id.length !== 32) {
        throw new PackedPseudonymsError(`PackedPseudonyms.fromIds: id ${i} is not 32 bytes`);
      }
      bytes.set(id, 32 * i);
    });
    return PackedPseudonyms.sorted(bytes);
  }

  /** Pseudonym `i` (a view of {@link bytes}). Throws {@link PackedPseudonymsError} out of range. */
  at(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new PackedPseudonymsError(`PackedPseudonyms.at: no pseudonym ${i} of ${this.count}`);
    }
    return this.bytes.subarray(32 * i, 32 * i + 32);
  }

  /** Byte order of pseudonym `i` against `id` (32 bytes): −1, 0, 1. No view made. */
  compareAt(i: number, id: Uint8Array): number {
    return compare32(this.bytes, 32 * i, id, 0);
  }

  /**
   * Index of the first pseudonym strictly greater than `id` (32 bytes), by binary search:
   * `count` when none is. Throws {@link PackedPseudonymsError} for an id not 32 bytes.
   */
  indexAfter(id: Uint8Array): number {
    if (!(id instanceof Uint8Array) || id.length !== 32) {
      throw new PackedPseudonymsError("PackedPseudonyms.indexAfter: id is not 32 bytes");
    }
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareAt(mid, id) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Pseudonyms `start … end − 1` as a list over the same buffer (no copy; `end` defaults to
   * `count`). Throws {@link PackedPseudonymsError} for a range not within `0 ≤ start ≤ end ≤ count`.
   */
  slice(start: number, end: number = this.count): PackedPseudonyms {
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      start < 0 ||
      start > end ||
      end > this.count
    ) {
      throw new PackedPseudonymsError(
        `PackedPseudonyms.slice: range ${start}…${end} not within 0…${this.count}`,
      );
    }
    if (start === 0 && end === this.count) return this;
    return trusted(this.bytes.subarray(32 * start, 32 * end)); // a range of a sorted list
  }

  /** The pseudonyms in order, as views of {@link bytes}. */
  *[Symbol.iterator](): IterableIterator<Uint8Array> {
    for (let i = 0; i < this.count; i++) yield this.bytes.subarray(32 * i, 32 * i + 32);
  }
}

/** A list over `bytes` (`32 · n` bytes) known strictly increasing: the constructor's check skipped. */
function trusted(bytes: Uint8Array): PackedPseudonyms {
  return Object.create(PackedPseudonyms.prototype, {
    bytes: { value: bytes, enumerable: true },
    count: { value: bytes.length / 32, enumerable: true },
  }) as PackedPseudonyms;
}

/**
 * `packed` (`32 · n` bytes of pseudonyms in any order) sorted into a new buffer of the same size,
 * through an index permutation (4 bytes per pseudonym besides the two buffers; no object per
 * pseudonym). Throws {@link PackedPseudonymsError} for a length not a multiple of 32 or a
 * duplicate pseudonym.
 */
export function sortPacked(packed: Uint8Array): Uint8Array {
  if (packed.length % 32 !== 0) {
    throw new PackedPseudonymsError("sortPacked: length is not a multiple of 32 bytes");
  }
  const n = packed.length / 32;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => compare32(packed, 32 * a, packed, 32 * b));
  const out = new Uint8Array(packed.length);
  for (let i = 0; i < n; i++) {
    const from = 32 * order[i];
    if (i > 0 && compare32(packed, 32 * order[i - 1], packed, from) === 0) {
      throw new PackedPseudonymsError(`sortPacked: duplicate pseudonym at ${i}`);
    }
    out.set(packed.subarray(from, from + 32), 32 * i);
  }
  return out;
}
