// Synthetic household load model for the simulation (DESIGN §3 "Simulation"). Pure and seeded: the
// per-meter household factor is a function of (model seed, meter index), the per-interval noise
// comes from the rng the caller passes, so a scenario is reproducible from its seeds.
//
// Mean power of a reference household at local hour h ∈ [0, 24) (watts):
//   P(h) = base + Σ_{peak ∈ morning, day, evening} A_peak · exp(−d(h, μ_peak)² / (2 σ_peak²))
// with d the circular distance on the 24-hour clock. Defaults (docs/RUNTIME.md):
//   base 200 W (night: fridge, standby); morning 500 W at 07:30, σ 1 h; day 150 W at 13:00, σ 2.5 h;
//   evening 900 W at 19:00, σ 1.5 h — ≈ 10.4 kWh/day, the order of a European household.
// Meter i's household: size n_i ∈ {1..5} persons with probabilities 30/33/15/14/8 %, and
//   scale_i = (n_i / 2)^0.6 · exp(0.2·Z − 0.02)   (sub-linear in size; mean-one lognormal spread).
// Energy of [t, t + L): E = scale_i · (1/3600) ∫ P(h(τ)) dτ, integrated by the midpoint rule on
// steps of at most 60 s, times mean-one lognormal noise exp(σ·Z − σ²/2), σ = 0.25 by default,
// rounded to whole Wh. Non-negative by construction. (Math.exp/cos/log are V8's fdlibm ports, so
// results are bit-identical across platforms for a given Node version.)
import { createRng, nextGaussian, type Rng } from "../runtime/rng.ts";

export class LoadModelError extends Error {
  override name = "LoadModelError";
}

export interface LoadPeak {
  /** Amplitude in W. */
  readonly amplitudeW: number;
  /** Centre, local hour in [0, 24). */
  readonly hour: number;
  /** Width (standard deviation) in hours. */
  readonly sigmaH: number;
}

export interface LoadModelInit {
  /** Seed of the per-meter household factors. */
  readonly seed: string | number;
  readonly baseW?: number;
  readonly morning?: LoadPeak;
  readonly day?: LoadPeak;
  readonly evening?: LoadPeak;
  /** σ of the per-interval lognormal noise (default 0.25; 0 disables noise). */
  readonly noiseSigma?: number;
  /** Local time = UTC + offset, in seconds (default 0). */
  readonly utcOffsetS?: number;
}

export const DEFAULT_LOAD_PROFILE = {
  baseW: 200,
  morning: { amplitudeW: 500, hour: 7.5, sigmaH: 1 },
  day: { amplitudeW: 150, hour: 13, sigmaH: 2.5 },
  evening: { amplitudeW: 900, hour: 19, sigmaH: 1.5 },
  noiseSigma: 0.25,
} as const;

/** Household size distribution (persons 1..5). */
const SIZE_WEIGHTS = [0.3, 0.33, 0.15, 0.14, 0.08];
const SCALE_SPREAD = 0.2;
const MAX_STEP_S = 60;

function checkPeak(p: LoadPeak, name: string): LoadPeak {
  if (
    !Number.isFinite(p?.amplitudeW) ||
    p.amplitudeW < 0 ||
    !Number.isFinite(p.hour) ||
    p.hour < 0 ||
    p.hour >= 24 ||
    !Number.isFinite(p.sigmaH) ||
    p.sigmaH <= 0
  ) {
    throw new LoadModelError(
      `LoadModel: ${name} peak needs amplitudeW ≥ 0, hour in [0, 24), sigmaH > 0`,
    );
  }
  return p;
}

export class LoadModel {
  readonly #rng: Rng;
  readonly #baseW: number;
  readonly #peaks: readonly LoadPeak[];
  readonly #noiseSigma: number;
  readonly #offsetS: number;
  readonly #households = new Map<number, { size: number; scale: number }>();

  constructor(init: LoadModelInit) {
    if (typeof init?.seed !== "string" && typeof init?.seed !== "number") {
      throw new LoadModelError("LoadModel: seed must be a string or number");
    }
    this.#rng = createRng(`GridLedger/load-model/${init.seed}`);
    this.#baseW = init.baseW ?? DEFAULT_LOAD_PROFILE.baseW;
    if (!Number.isFinite(this.#baseW) || this.#baseW < 0) {
      throw new LoadModelError("LoadModel: baseW must be ≥ 0");
    }
    this.#peaks = [
      checkPeak(init.morning ?? DEFAULT_LOAD_PROFILE.morning, "morning"),
      checkPeak(init.day ?? DEFAULT_LOAD_PROFILE.day, "day"),
      checkPeak(init.evening ?? DEFAULT_LOAD_PROFILE.evening, "evening"),
    ];
    this.#noiseSigma = init.noiseSigma ?? DEFAULT_LOAD_PROFILE.noiseSigma;
    if (!Number.isFinite(this.#noiseSigma) || this.#noiseSigma < 0 || this.#noiseSigma > 2) {
      throw new LoadModelError("LoadModel: noiseSigma must be in [0, 2]");
    }
    this.#offsetS = init.utcOffsetS ?? 0;
    if (!Number.isSafeInteger(this.#offsetS) || Math.abs(this.#offsetS) > 14 * 3600) {
      throw new LoadModelError("LoadModel: utcOffsetS must be an integer within ±14 h");
    }
  }

  /** Household size and scale factor of meter `meterIndex` (pure in seed and index). */
  household(meterIndex: number): { readonly size: number; readonly scale: number } {
    if (!Number.isSafeInteger(meterIndex) || meterIndex < 0) {
      throw new LoadModelError("household: meterIndex must be a non-negative integer");
    }
    let h = this.#households.get(meterIndex);
    if (h === undefined) {
      const r = this.#rng.fork(`household/${meterIndex}`);
      const u = r.nextFloat();
      let size = SIZE_WEIGHTS.length;
      for (let acc = 0, k = 0; k < SIZE_WEIGHTS.length; k++) {
        acc += SIZE_WEIGHTS[k];
        if (u < acc) {
          size = k + 1;
          break;
        }
      }
      const spread = Math.exp(SCALE_SPREAD * nextGaussian(r) - (SCALE_SPREAD * SCALE_SPREAD) / 2);
      h = { size, scale: (size / 2) ** 0.6 * spread };
      this.#households.set(meterIndex, h);
    }
    return h;
  }

  /** Reference-household mean power (W) at local hour `hour` ∈ [0, 24). */
  profileW(hour: number): number {
    let p = this.#baseW;
    for (const peak of this.#peaks) {
      const d0 = Math.abs(hour - peak.hour);
      const d = Math.min(d0, 24 - d0);
      p += peak.amplitudeW * Math.exp(-(d * d) / (2 * peak.sigmaH * peak.sigmaH));
    }
    return p;
  }

  /** Meter's mean power (W) at unix time `timeS`. */
  meanPowerW(meterIndex: number, timeS: number): number {
    const local = (((timeS + this.#offsetS) % 86400) + 86400) % 86400;
    return this.household(meterIndex).scale * this.profileW(local / 3600);
  }

  /** Expected energy (Wh, not rounded, no noise) of [start, start + length). */
  expectedWh(meterIndex: number, intervalStart: number, intervalLengthS: number): number {
    checkInterval(intervalStart, intervalLengthS, "expectedWh");
    const steps = Math.ceil(intervalLengthS / MAX_STEP_S);
    const dt = intervalLengthS / steps;
    let joules = 0;
    for (let k = 0; k < steps; k++) {
      joules += this.meanPowerW(meterIndex, intervalStart + (k + 0.5) * dt) * dt;
    }
    return joules / 3600;
  }

  /** Measured consumption of meter `meterIndex` over the interval, with noise drawn from `rng`. */
  consumptionWh(
    meterIndex: number,
    intervalStart: number,
    intervalLengthS: number,
    rng: Rng,
  ): bigint {
    const expected = this.expectedWh(meterIndex, intervalStart, intervalLengthS);
    const s = this.#noiseSigma;
    const noise = s === 0 ? 1 : Math.exp(s * nextGaussian(rng) - (s * s) / 2);
    return BigInt(Math.max(0, Math.round(expected * noise)));
  }
}

function checkInterval(start: number, length: number, fn: string): void {
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new LoadModelError(`${fn}: intervalStart must be a non-negative integer (unix s)`);
  }
  if (!Number.isSafeInteger(length) || length <= 0 || length > 366 * 86400) {
    throw new LoadModelError(`${fn}: intervalLengthS must be an integer in [1, 366 days]`);
  }
}

/** Convenience: `new LoadModel(init)`. */
export function createLoadModel(init: LoadModelInit): LoadModel {
  return new LoadModel(init);
}
