// Anonymity measurement for the OCD ledger (DESIGN §7, Oksuz 2020 §5 "k-anonymized database"):
// within one interval, an entry whose value is shared by k entries hides among k candidates. The
// interval's anonymity is the smallest such k over the values that occur.

export class AnonymityInputError extends Error {
  override name = "AnonymityInputError";
}

function checkValues(values: readonly bigint[], fn: string): void {
  if (!Array.isArray(values)) throw new AnonymityInputError(`${fn}: values must be an array`);
  for (const v of values) {
    if (typeof v !== "bigint") throw new AnonymityInputError(`${fn}: every value must be a bigint`);
  }
}

/** Number of entries per distinct value, in ascending value order. */
export function valueHistogram(values: readonly bigint[]): Map<bigint, number> {
  checkValues(values, "valueHistogram");
  const counts = new Map<bigint, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return new Map([...counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** The smallest number of entries sharing a value (the interval's k); 0 for no entries. */
export function minAnonymitySet(values: readonly bigint[]): number {
  checkValues(values, "minAnonymitySet");
  if (values.length === 0) return 0;
  let min = Infinity;
  for (const n of valueHistogram(values).values()) if (n < min) min = n;
  return min;
}

export interface AnonymityReport {
  /** Number of entries in the interval. */
  readonly entries: number;
  /** Number of distinct values. */
  readonly distinctValues: number;
  /** `minAnonymitySet` of the entries. */
  readonly k: number;
  /** The values whose count equals k (the least protected ones), ascending. */
  readonly weakestValues: bigint[];
}

/** Summary used by the simulation report (DESIGN §3 "Simulation", §7 "Measure and report"). */
export function anonymityReport(values: readonly bigint[]): AnonymityReport {
  const histogram = valueHistogram(values);
  const k = minAnonymitySet(values);
  const weakestValues = [...histogram].filter(([, n]) => n === k).map(([v]) => v);
  return { entries: values.length, distinctValues: histogram.size, k, weakestValues };
}
