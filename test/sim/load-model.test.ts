// Synthetic load model: determinism, non-negativity, documented daily shape and magnitudes.
import { expect } from "chai";
import { expectClose } from "../helpers/approx.ts";
import fc from "fast-check";

import { createRng } from "../../offchain/runtime/rng.ts";
import { createLoadModel, LoadModel, LoadModelError } from "../../offchain/sim/load-model.ts";

const DAY = 86400;
const T0 = 1_700_006_400; // a UTC midnight (2023-11-15)

describe("LoadModel", () => {
  it("is deterministic given the model seed and the noise rng", () => {
    const run = (modelSeed: string, noiseSeed: string) => {
      const m = createLoadModel({ seed: modelSeed });
      const rng = createRng(noiseSeed);
      return Array.from({ length: 48 }, (_, k) => m.consumptionWh(k % 5, T0 + 900 * k, 900, rng));
    };
    expect(run("a", "n")).to.deep.equal(run("a", "n"));
    expect(run("a", "n")).to.not.deep.equal(run("b", "n"));
    expect(run("a", "n")).to.not.deep.equal(run("a", "m"));
  });

  it("household factors are pure in (seed, index), independent of query order", () => {
    const a = createLoadModel({ seed: 1 });
    const b = createLoadModel({ seed: 1 });
    const fa = [0, 1, 2, 3].map((i) => a.household(i));
    const fb = [3, 2, 1, 0].map((i) => b.household(i)).reverse();
    expect(fa).to.deep.equal(fb);
  });

  it("property: consumption is a non-negative bigint for any meter, time and length", () => {
    const m = new LoadModel({ seed: "prop", noiseSigma: 2 });
    const rng = createRng("prop-noise");
    fc.assert(
      fc.property(
        fc.nat(10_000),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 7 * DAY }),
        (i, t, len) => {
          const wh = m.consumptionWh(i, t, len, rng);
          return typeof wh === "bigint" && wh >= 0n;
        },
      ),
      { numRuns: 200 },
    );
  });

  it("the reference profile has its documented peaks and night minimum", () => {
    const m = createLoadModel({ seed: 0 });
    const p = (h: number) => m.profileW(h);
    const hours = Array.from({ length: 24 * 60 }, (_, k) => k / 60);
    const argmax = hours.reduce((best, h) => (p(h) > p(best) ? h : best), 0);
    expectClose(argmax, 19, 0.1); // evening peak is the daily maximum
    // Morning peak: a local maximum near 07:30.
    const morning = hours.filter((h) => h >= 5 && h <= 10);
    const morningMax = morning.reduce((best, h) => (p(h) > p(best) ? h : best), 5);
    expectClose(morningMax, 7.5, 0.1);
    expect(p(7.5)).to.be.greaterThan(p(5) + 300);
    expect(p(7.5)).to.be.greaterThan(p(10) + 300);
    // Night (00–05) is the lowest part of the day.
    const night = Math.max(...hours.filter((h) => h < 5).map(p));
    expect(night).to.be.lessThan(Math.min(...hours.filter((h) => h >= 6 && h <= 22).map(p)));
  });

  it("noisy hourly readings averaged over many households peak in the evening, low at night", () => {
    const m = createLoadModel({ seed: "shape" });
    const rng = createRng("shape-noise");
    const byHour = new Array<number>(24).fill(0);
    for (let meter = 0; meter < 60; meter++) {
      for (let h = 0; h < 24; h++)
        byHour[h] += Number(m.consumptionWh(meter, T0 + 3600 * h, 3600, rng));
    }
    const peak = byHour.indexOf(Math.max(...byHour));
    expect(peak).to.be.oneOf([18, 19]);
    expect(byHour[7]).to.be.greaterThan(1.8 * byHour[3]);
    expect(byHour[19]).to.be.greaterThan(3 * byHour[3]);
  });

  it("a reference day is ≈ 10.4 kWh and energy is additive over sub-intervals", () => {
    const m = createLoadModel({ seed: 0, noiseSigma: 0 });
    const scale = m.household(0).scale;
    const day = m.expectedWh(0, T0, DAY) / scale;
    // 200·24 + √(2π)·(500·1 + 150·2.5 + 900·1.5) Wh
    expectClose(day, 4800 + Math.sqrt(2 * Math.PI) * (500 + 375 + 1350), 5);
    let sum = 0;
    for (let q = 0; q < 96; q++) sum += m.expectedWh(0, T0 + 900 * q, 900);
    expectClose(sum, m.expectedWh(0, T0, DAY), 1e-6 * sum);
  });

  it("noise has mean one: the average of many readings approaches the expectation", () => {
    const m = createLoadModel({ seed: "mean" });
    const rng = createRng("mean-noise");
    let total = 0;
    const n = 4000;
    for (let k = 0; k < n; k++) total += Number(m.consumptionWh(3, T0 + 19 * 3600, 3600, rng));
    expectClose(total / n / m.expectedWh(3, T0 + 19 * 3600, 3600), 1, 0.03);
  });

  it("utcOffsetS shifts the local day", () => {
    const utc = createLoadModel({ seed: 0 });
    const cet = createLoadModel({ seed: 0, utcOffsetS: 3600 });
    expect(cet.meanPowerW(0, T0 + 18 * 3600)).to.equal(utc.meanPowerW(0, T0 + 19 * 3600));
  });

  it("household sizes follow the documented distribution and scale grows with size", () => {
    const m = createLoadModel({ seed: "sizes" });
    const counts = [0, 0, 0, 0, 0];
    const scaleBySize = [0, 0, 0, 0, 0];
    for (let i = 0; i < 3000; i++) {
      const h = m.household(i);
      counts[h.size - 1]++;
      scaleBySize[h.size - 1] += h.scale;
    }
    [0.3, 0.33, 0.15, 0.14, 0.08].forEach((p, k) => expectClose(counts[k] / 3000, p, 0.03));
    const mean = scaleBySize.map((s, k) => s / counts[k]);
    for (let k = 1; k < 5; k++) expect(mean[k]).to.be.greaterThan(mean[k - 1]);
  });

  it("rejects invalid parameters and intervals", () => {
    const m = createLoadModel({ seed: 0 });
    const rng = createRng(0);
    expect(() => m.consumptionWh(-1, T0, 900, rng)).to.throw(LoadModelError, /meterIndex/);
    expect(() => m.consumptionWh(0, T0, 0, rng)).to.throw(LoadModelError, /intervalLengthS/);
    expect(() => m.consumptionWh(0, 1.5, 900, rng)).to.throw(LoadModelError, /intervalStart/);
    expect(() => createLoadModel({ seed: 0, noiseSigma: -1 })).to.throw(LoadModelError);
    expect(() =>
      createLoadModel({ seed: 0, evening: { amplitudeW: 1, hour: 25, sigmaH: 1 } }),
    ).to.throw(LoadModelError, /evening/);
  });
});
