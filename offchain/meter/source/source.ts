// Where a meter's consumption comes from (issue 11 "Where a meter's readings come from"; DESIGN §3:
// the meter measures its consumption per interval). A `ReadingSource` answers one question: how
// many Wh did this meter consume in [start, end)? Register-based sources (CSV, SML) answer it as the
// difference of the energy register, the way a real meter is read (IEC 62056 / OBIS 1.8.0).
//
// Register arithmetic (docs/RUNTIME.md "Reading sources"): readings are kept exactly in milli-Wh
// (finer values are floored to 1 mWh). The register at time t is the last reading at or before t,
// and the consumption of [s, e) is ⌊R(e)⌋ − ⌊R(s)⌋ in whole Wh: flooring the register at each
// boundary (not each difference) makes consecutive intervals telescope, so Σ intervals =
// ⌊R(last)⌋ − ⌊R(first)⌋ and no fraction of a Wh is lost or counted twice over time.

/** Consumption of one meter per interval. */
export interface ReadingSource {
  /**
   * Wh consumed in [startS, endS) (unix seconds, integers, start < end). Throws
   * `ReadingSourceNoDataError` when the source cannot answer for that interval and
   * `ReadingSourceRangeError` for a malformed interval.
   */
  consumptionWh(startS: number, endS: number): Promise<bigint>;
  /** Releases files, sockets and devices (idempotent). */
  close(): Promise<void>;
}

export class ReadingSourceError extends Error {
  override name = "ReadingSourceError";
}

/** The interval is not [start, end) with integer unix seconds, start < end. */
export class ReadingSourceRangeError extends ReadingSourceError {
  override name = "ReadingSourceRangeError";
}

/** No register reading covers a boundary of the interval (before the first, or too stale). */
export class ReadingSourceNoDataError extends ReadingSourceError {
  override name = "ReadingSourceNoDataError";
  readonly atS: number;
  constructor(atS: number, message: string) {
    super(message);
    this.atS = atS;
  }
}

/** The energy register went backwards (a meter exchange, a wrong OBIS code, or bad data). */
export class ReadingSourceRegisterDecreasedError extends ReadingSourceError {
  override name = "ReadingSourceRegisterDecreasedError";
}

/** Bad input to a source (a malformed CSV line, an unknown OBIS register, a bad option). */
export class ReadingSourceInputError extends ReadingSourceError {
  override name = "ReadingSourceInputError";
}

/** One value of the energy register. */
export interface RegisterReading {
  /** Unix seconds (may be fractional for live sources). */
  readonly timestampS: number;
  /** Register value in milli-Wh. */
  readonly registerMilliWh: bigint;
}

export function checkInterval(startS: number, endS: number, fn: string): void {
  if (
    !Number.isSafeInteger(startS) ||
    !Number.isSafeInteger(endS) ||
    startS < 0 ||
    endS <= startS
  ) {
    throw new ReadingSourceRangeError(
      `${fn}: interval must be integer unix seconds with 0 ≤ start < end (got [${startS}, ${endS}))`,
    );
  }
}

/**
 * Parses a decimal number of Wh ("15338555.7", "42", "0.001") exactly into milli-Wh, flooring
 * digits beyond the third decimal. Throws `ReadingSourceInputError` for anything else (signs,
 * exponents, spaces, empty).
 */
export function parseDecimalWhToMilliWh(text: string, what: string): bigint {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (m === null) throw new ReadingSourceInputError(`${what}: "${text}" is not a decimal Wh value`);
  const frac = (m[2] ?? "").slice(0, 3).padEnd(3, "0");
  return BigInt(m[1]) * 1000n + BigInt(frac);
}

/** `mantissa · 10^scaler` (OBIS value and scaler) in milli-Wh, floored. */
export function scaledToMilliWh(mantissa: bigint, scaler: number): bigint {
  if (!Number.isInteger(scaler) || scaler < -128 || scaler > 127) {
    throw new ReadingSourceInputError(`scaledToMilliWh: scaler ${scaler} is not an int8`);
  }
  const e = scaler + 3;
  if (e >= 0) return mantissa * 10n ** BigInt(e);
  const d = 10n ** BigInt(-e);
  const q = mantissa / d;
  return mantissa < 0n && q * d !== mantissa ? q - 1n : q;
}

export interface RegisterSeriesInit {
  /**
   * Largest age in seconds of the reading used for a boundary (default: unlimited). A live source
   * sets it (e.g. 2 × the meter's push period) so a dead link is an error, not a zero.
   */
  readonly maxStalenessS?: number;
}

/**
 * Register readings in time order, answering interval consumption (see the header). Appending a
 * reading older than the last or a register below the previous one throws.
 */
export class RegisterSeries {
  readonly #times: number[] = [];
  readonly #values: bigint[] = [];
  readonly #maxStalenessS: number;

  constructor(init: RegisterSeriesInit = {}) {
    const s = init.maxStalenessS ?? Number.POSITIVE_INFINITY;
    if (!(s > 0)) throw new ReadingSourceInputError("RegisterSeries: maxStalenessS must be > 0");
    this.#maxStalenessS = s;
  }

  get length(): number {
    return this.#times.length;
  }

  get last(): RegisterReading | undefined {
    const n = this.#times.length;
    return n === 0
      ? undefined
      : { timestampS: this.#times[n - 1], registerMilliWh: this.#values[n - 1] };
  }

  /**
   * Appends a reading. Throws `ReadingSourceInputError` if it is older than the last one and
   * `ReadingSourceRegisterDecreasedError` if the register went down.
   */
  append(r: RegisterReading): void {
    if (!Number.isFinite(r.timestampS) || r.registerMilliWh < 0n) {
      throw new ReadingSourceInputError(
        "RegisterSeries.append: bad timestamp or negative register",
      );
    }
    const n = this.#times.length;
    if (n > 0) {
      if (r.timestampS < this.#times[n - 1]) {
        throw new ReadingSourceInputError(
          `RegisterSeries.append: reading at ${r.timestampS} s is older than the last (${this.#times[n - 1]} s)`,
        );
      }
      if (r.registerMilliWh < this.#values[n - 1]) {
        throw new ReadingSourceRegisterDecreasedError(
          `register decreased at ${r.timestampS} s: ${r.registerMilliWh} mWh < ${this.#values[n - 1]} mWh`,
        );
      }
    }
    this.#times.push(r.timestampS);
    this.#values.push(r.registerMilliWh);
  }

  /** Register in milli-Wh at time `t`: the last reading at or before `t`. */
  registerAt(t: number): bigint {
    let lo = 0;
    let hi = this.#times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#times[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) throw new ReadingSourceNoDataError(t, `no register reading at or before ${t} s`);
    const age = t - this.#times[lo - 1];
    if (age > this.#maxStalenessS) {
      throw new ReadingSourceNoDataError(
        t,
        `last register reading before ${t} s is ${age} s old (max ${this.#maxStalenessS} s)`,
      );
    }
    return this.#values[lo - 1];
  }

  /** ⌊R(end)⌋ − ⌊R(start)⌋ in Wh (see the header). */
  consumptionWh(startS: number, endS: number): bigint {
    checkInterval(startS, endS, "RegisterSeries.consumptionWh");
    return this.registerAt(endS) / 1000n - this.registerAt(startS) / 1000n;
  }
}
