// The synthetic household load model (offchain/sim/load-model.ts) as a `ReadingSource`: the
// default source of a simulated meter. The noise of an interval is drawn from a fork of the given
// rng labelled by meter and interval start, so asking twice (e.g. after a restart) gives the same
// Wh — a meter's past consumption does not change.
import type { Rng } from "../../runtime/rng.ts";
import type { LoadModel } from "../../sim/load-model.ts";
import { checkInterval, ReadingSourceInputError, type ReadingSource } from "./source.ts";

export interface LoadModelSourceInit {
  readonly meterIndex: number;
  /**
   * Label of the noise fork for the interval starting at `startS`, default
   * `${meterIndex}/${startS}`. The simulator labels by interval number, as its runs always did, so
   * the same seed keeps the same consumption (offchain/sim/oksuz-agents.ts). Given the meter
   * index too, so one function serves every meter (issue 14: no closure per simulated meter).
   */
  readonly noiseLabel?: (startS: number, meterIndex: number) => string;
}

export interface LoadModelSourceComponents {
  readonly model: LoadModel;
  /** Noise stream; forked per interval (`LoadModelSourceInit.noiseLabel`). */
  readonly rng: Rng;
}

/** `${meterIndex}/${startS}`: the default noise label. */
function defaultNoiseLabel(startS: number, meterIndex: number): string {
  return `${meterIndex}/${startS}`;
}

export class LoadModelSource implements ReadingSource {
  readonly #meter: number;
  readonly #model: LoadModel;
  readonly #rng: Rng;
  readonly #label: (startS: number, meterIndex: number) => string;

  /** Throws `ReadingSourceInputError` for a negative or non-integer meter index. */
  constructor(init: LoadModelSourceInit, components: LoadModelSourceComponents) {
    if (!Number.isSafeInteger(init?.meterIndex) || init.meterIndex < 0) {
      throw new ReadingSourceInputError("LoadModelSource: meterIndex must be an integer ≥ 0");
    }
    this.#meter = init.meterIndex;
    this.#model = components.model;
    this.#rng = components.rng;
    this.#label = init.noiseLabel ?? defaultNoiseLabel;
  }

  /** `LoadModel.consumptionWh` over [startS, endS) (Wh, ≥ 0). */
  async consumptionWh(startS: number, endS: number): Promise<bigint> {
    checkInterval(startS, endS, "LoadModelSource.consumptionWh");
    return this.#model.consumptionWh(
      this.#meter,
      startS,
      endS - startS,
      this.#rng.fork(this.#label(startS, this.#meter)),
    );
  }

  async close(): Promise<void> {}
}
