// Usage splitting (DESIGN §7, Oksuz 2020 §5). A region publishes five category values
// c1 < c2 < c3 < c4 < c5 in Wh (c3 the regional average). A meter reports its consumption only in
// chunks whose values are category values, so the OCD ledger shows few distinct values and every
// reported value is shared by many entries (k-anonymity). What does not fill a chunk at the end of
// an interval carries over to the next one (the paper leaves that remainder undefined; DESIGN §6
// fixes it by carrying it), so over a billing period Σ reported = Σ measured − final carry.
//
// Decomposition rule: greedy largest-first. For v = c5, c4, …, c1 take ⌊rest / v⌋ chunks of v.
// After the c1 step rest < c1, so the carry is always below the smallest category. Why greedy:
//  - it is deterministic and needs no randomness, so the CC can recompute and audit it;
//  - it uses few messages (each message is one onion packet, one signature and one ledger entry);
//    a large consumer sends mostly c5 chunks, which are also the values every large consumer sends;
//  - the values below c5 appear at most ⌊(c_{i+1} − 1) / c_i⌋ times per meter and interval, so the
//    per-meter mix of small values is bounded and shared across the region.
// Bound on the number of chunks for total T = measured + carryIn:
//   count ≤ ⌊T / c5⌋ + Σ_{i=1..4} ⌊(c_{i+1} − 1) / c_i⌋
// and also count ≤ ⌊T / c1⌋ (every chunk is at least c1). The message index k is a u16 starting at
// 1 (DESIGN §4.2: x = j·2^16 + k), so at most 65535 messages fit in one interval; inputs that would
// need more are refused with `SplittingTooManyMessagesError` rather than silently truncated.
// Chunks are returned largest first; the sending order is the caller's concern (relays batch and
// shuffle per round, DESIGN §4.6, so the order does not reach the ledger as a timing pattern).

/** The five category values of a region, strictly increasing, in Wh. */
export type UsageCategories = readonly [bigint, bigint, bigint, bigint, bigint];

export interface SplitResult {
  /** Reported chunks, each a category value, largest first. */
  readonly chunks: bigint[];
  /** What did not fill a chunk; 0 ≤ carryOutWh < c1. */
  readonly carryOutWh: bigint;
}

export interface SplitOptions {
  /** Refuse inputs needing more chunks than this (default 65535, the u16 message counter). */
  readonly maxMessagesPerInterval?: number;
}

/** u16 message index k ∈ [1, 65535] (DESIGN §4.2). */
export const MAX_MESSAGES_PER_INTERVAL = 65535;
/** Ledger values are u64 (DESIGN §4.4), so category values must fit. */
const U64_MAX = (1n << 64n) - 1n;

export class SplittingError extends Error {
  override name = "SplittingError";
}

export class SplittingInvalidCategoriesError extends SplittingError {
  override name = "SplittingInvalidCategoriesError";
}

export class SplittingInvalidInputError extends SplittingError {
  override name = "SplittingInvalidInputError";
}

export class SplittingTooManyMessagesError extends SplittingError {
  override name = "SplittingTooManyMessagesError";
  readonly required: bigint;
  readonly max: number;
  constructor(message: string, required: bigint, max: number) {
    super(message);
    this.required = required;
    this.max = max;
  }
}

/** Checks five strictly increasing positive u64 values and returns them as `UsageCategories`. */
export function validateCategories(values: readonly bigint[]): UsageCategories {
  const fn = "validateCategories";
  if (!Array.isArray(values) || values.length !== 5) {
    throw new SplittingInvalidCategoriesError(`${fn}: expected exactly 5 category values`);
  }
  for (let i = 0; i < 5; i++) {
    const v = values[i];
    if (typeof v !== "bigint") {
      throw new SplittingInvalidCategoriesError(`${fn}: c${i + 1} must be a bigint`);
    }
    if (v <= 0n || v > U64_MAX) {
      throw new SplittingInvalidCategoriesError(`${fn}: c${i + 1} = ${v} outside [1, 2^64 − 1]`);
    }
    if (i > 0 && v <= values[i - 1]) {
      throw new SplittingInvalidCategoriesError(
        `${fn}: categories must be strictly increasing (c${i} = ${values[i - 1]}, c${i + 1} = ${v})`,
      );
    }
  }
  return [values[0], values[1], values[2], values[3], values[4]];
}

/** Per-category chunk counts (index 0 ↔ c1) and the carry, without materialising the chunks. */
export function planSplit(
  measuredWh: bigint,
  carryInWh: bigint,
  categories: readonly bigint[],
): {
  readonly counts: readonly [bigint, bigint, bigint, bigint, bigint];
  readonly carryOutWh: bigint;
} {
  const fn = "planSplit";
  const c = validateCategories(categories);
  if (typeof measuredWh !== "bigint" || measuredWh < 0n) {
    throw new SplittingInvalidInputError(`${fn}: measuredWh must be a non-negative bigint`);
  }
  if (typeof carryInWh !== "bigint" || carryInWh < 0n) {
    throw new SplittingInvalidInputError(`${fn}: carryInWh must be a non-negative bigint`);
  }
  let rest = measuredWh + carryInWh;
  const counts: [bigint, bigint, bigint, bigint, bigint] = [0n, 0n, 0n, 0n, 0n];
  for (let i = 4; i >= 0; i--) {
    counts[i] = rest / c[i];
    rest -= counts[i] * c[i];
  }
  return { counts, carryOutWh: rest };
}

/** The most chunks one interval can need for totals up to `totalWh` (see header bound). */
export function maxChunksFor(totalWh: bigint, categories: readonly bigint[]): bigint {
  const c = validateCategories(categories);
  if (typeof totalWh !== "bigint" || totalWh < 0n) {
    throw new SplittingInvalidInputError("maxChunksFor: totalWh must be a non-negative bigint");
  }
  let tail = 0n;
  for (let i = 0; i < 4; i++) tail += (c[i + 1] - 1n) / c[i];
  const greedyBound = totalWh / c[4] + tail;
  const floorBound = totalWh / c[0];
  return greedyBound < floorBound ? greedyBound : floorBound;
}

/**
 * Splits one interval's consumption plus the carried remainder into category-valued chunks
 * (DESIGN §7). Σ chunks + carryOutWh = measuredWh + carryInWh; 0 ≤ carryOutWh < c1.
 */
export function splitUsage(
  measuredWh: bigint,
  carryInWh: bigint,
  categories: readonly bigint[],
  options: SplitOptions = {},
): SplitResult {
  const max = options.maxMessagesPerInterval ?? MAX_MESSAGES_PER_INTERVAL;
  if (!Number.isSafeInteger(max) || max < 0 || max > MAX_MESSAGES_PER_INTERVAL) {
    throw new SplittingInvalidInputError(
      `splitUsage: maxMessagesPerInterval must be an integer in [0, ${MAX_MESSAGES_PER_INTERVAL}]`,
    );
  }
  const { counts, carryOutWh } = planSplit(measuredWh, carryInWh, categories);
  const total = counts[0] + counts[1] + counts[2] + counts[3] + counts[4];
  // Checked before allocating: a hostile or corrupt reading must not make us build a huge array.
  if (total > BigInt(max)) {
    throw new SplittingTooManyMessagesError(
      `splitUsage: ${measuredWh} + ${carryInWh} Wh needs ${total} chunks, more than ${max} per interval`,
      total,
      max,
    );
  }
  const chunks: bigint[] = [];
  for (let i = 4; i >= 0; i--) {
    for (let n = 0n; n < counts[i]; n++) chunks.push(categories[i]);
  }
  return { chunks, carryOutWh };
}

/**
 * Splits a sequence of interval readings, threading the carry (the meter's view of a billing
 * period). Returns per-interval results and the final carry; Σ reported = Σ measured − final carry.
 */
export function splitSeries(
  measuredWh: readonly bigint[],
  categories: readonly bigint[],
  initialCarryWh = 0n,
  options: SplitOptions = {},
): { readonly intervals: SplitResult[]; readonly finalCarryWh: bigint } {
  if (!Array.isArray(measuredWh)) {
    throw new SplittingInvalidInputError("splitSeries: measuredWh must be an array");
  }
  const intervals: SplitResult[] = [];
  let carry = initialCarryWh;
  for (const m of measuredWh) {
    const r = splitUsage(m, carry, categories, options);
    intervals.push(r);
    carry = r.carryOutWh;
  }
  return { intervals, finalCarryWh: carry };
}

/**
 * `K`, the public number of report slots every meter fills per interval (DESIGN §7, §4.6): enough
 * chunks for a consumption of `peakWh` in one interval, `⌊peakWh / c5⌋ + Σ_{i<5} ⌊(c_{i+1} − 1)/c_i⌋`
 * ({@link maxChunksFor}'s greedy bound). With the demo's categories 50/100/250/500/1000 Wh and an
 * hourly peak of 3 kWh (a household's evening peak), K = 3 + 5 = 8. A higher consumption still
 * reports K chunks and carries the rest ({@link splitIntoSlots}).
 */
export function reportSlotsFor(peakWh: bigint, categories: readonly bigint[]): number {
  const k = maxChunksFor(peakWh, categories);
  if (k < 1n || k > 64n) {
    throw new SplittingInvalidInputError(`reportSlotsFor: K = ${k} outside [1, 64]`);
  }
  return Number(k);
}

/** `K` for the default categories 50/100/250/500/1000 Wh and a 3 kWh peak (see {@link reportSlotsFor}). */
export const DEFAULT_REPORT_SLOTS = 8;

/**
 * {@link splitUsage} capped at `slots` chunks (DESIGN §7): the largest `slots` chunks are reported
 * and every other chunk carries over with the remainder, so Σ chunks + carryOutWh = measuredWh +
 * carryInWh still holds; carryOutWh may then exceed c1.
 */
export function splitIntoSlots(
  measuredWh: bigint,
  carryInWh: bigint,
  categories: readonly bigint[],
  slots: number,
): SplitResult {
  if (!Number.isInteger(slots) || slots < 1 || slots > MAX_MESSAGES_PER_INTERVAL) {
    throw new SplittingInvalidInputError(`splitIntoSlots: slots ${slots} outside [1, 65535]`);
  }
  const { counts, carryOutWh } = planSplit(measuredWh, carryInWh, categories);
  const chunks: bigint[] = [];
  let carry = carryOutWh;
  for (let i = 4; i >= 0; i--) {
    const c = categories[i];
    const room = BigInt(slots - chunks.length);
    const take = counts[i] < room ? counts[i] : room;
    for (let n = 0n; n < take; n++) chunks.push(c);
    carry += (counts[i] - take) * c;
  }
  return { chunks, carryOutWh: carry };
}
