// The synthetic household load model (offchain/sim/load-model.ts) as a `ReadingSource`: the
// default source of a simulated meter. The noise of an interval is drawn from a fork of the given
// rng labelled by meter and interval start, so asking twice (e.g. after a restart) gives the same
// Wh — a meter's past consumption does not change.
import type { Rng } from "../../runtime/rng.ts";
import type { LoadModel } from "../../sim/load-model.ts";
import { checkInterval, ReadingSourceInputError, type ReadingSource } from "./source.ts";

export interface LoadModelSourceInit {
  readonly meterIndex: number;
}

export interface LoadModelSourceComponents {
  readonly model: LoadModel;
  /** Noise stream; forked per interval as `${meterIndex}/${startS}`. */
  readonly rng: Rng;
}

export class LoadModelSource implements ReadingSource {
  readonly #meter: number;
  readonly #model: LoadModel;
  readonly #rng: Rng;

  /** Throws `ReadingSourceInputError` for a negative or non-integer meter index. */
  constructor(init: LoadModelSourceInit, components: LoadModelSourceComponents) {
    if (!Number.isSafeInteger(init?.meterIndex) || init.meterIndex < 0) {
      throw new ReadingSourceInputError("LoadModelSource: meterIndex must be an integer ≥ 0");
    }
    this.#meter = init.meterIndex;
    this.#model = components.model;
    this.#rng = components.rng;
  }

  /** `LoadModel.consumptionWh` over [startS, endS) (Wh, ≥ 0). */
  async consumptionWh(startS: number, endS: number): Promise<bigint> {
    checkInterval(startS, endS, "LoadModelSource.consumptionWh");
    return this.#model.consumptionWh(
      this.#meter,
      startS,
      endS - startS,
      this.#rng.fork(`${this.#meter}/${startS}`),
    );
  }

  async close(): Promise<void> {}
}
