// The billing ledger's public tariff (DESIGN §2 "Price", contracts/libraries/Tariff.sol): an integer
// piecewise-linear, non-decreasing, capped price per Wh of an interval's aggregate Σc. The rule
// itself, owned by the protocol: SP prices by it, users and the ledger audit re-check with it, and
// the contract fuzz tests use it as their reference.

/** One tariff version as published by `TariffSet` / returned by `tariff(version)`. */
export interface TariffSchedule {
  /** `x_0 = 0 < x_1 < … < x_k` (Wh). */
  readonly breakpointsWh: readonly bigint[];
  /** `v_0 ≤ v_1 ≤ … ≤ v_k` (price units per Wh). */
  readonly values: readonly bigint[];
  /** Ceiling, `1 ≤ cap ≤ 2^32 − 1`. */
  readonly cap: bigint;
}

export const TARIFF_MAX_BREAKPOINTS = 16;
export const TARIFF_MAX_PRICE = 0xffffffffn;

/** Throws a RangeError unless the schedule is one the contract accepts. */
export function validateTariff(t: TariffSchedule): void {
  const k = t.breakpointsWh.length;
  if (k === 0 || k > TARIFF_MAX_BREAKPOINTS || t.values.length !== k) {
    throw new RangeError("validateTariff: 1..16 breakpoints with as many values");
  }
  if (t.breakpointsWh[0] !== 0n) throw new RangeError("validateTariff: first breakpoint must be 0");
  if (t.cap < 1n || t.cap > TARIFF_MAX_PRICE) throw new RangeError("validateTariff: cap range");
  for (let i = 0; i < k; i++) {
    if (t.values[i] < 0n || t.values[i] > TARIFF_MAX_PRICE) {
      throw new RangeError(`validateTariff: value ${i} out of range`);
    }
    if (i > 0 && t.breakpointsWh[i] <= t.breakpointsWh[i - 1]) {
      throw new RangeError(`validateTariff: breakpoint ${i} not increasing`);
    }
    if (i > 0 && t.values[i] < t.values[i - 1]) {
      throw new RangeError(`validateTariff: value ${i} decreasing`);
    }
  }
}

/** `min(cap, v_i + ⌊(v_{i+1} − v_i)·(x − x_i) / (x_{i+1} − x_i)⌋)` (constant past `x_k`). */
export function tariffPrice(t: TariffSchedule, aggregateWh: bigint): bigint {
  if (aggregateWh < 0n) throw new RangeError("tariffPrice: negative aggregate");
  const b = t.breakpointsWh;
  const v = t.values;
  let i = 0;
  while (i + 1 < b.length && b[i + 1] <= aggregateWh) i++;
  const f =
    i + 1 === b.length
      ? v[i]
      : v[i] + ((v[i + 1] - v[i]) * (aggregateWh - b[i])) / (b[i + 1] - b[i]);
  return f < t.cap ? f : t.cap;
}
