// Usage splitting (DESIGN §7): conservation, category membership, carry bound, message bound.
import { expect } from "chai";
import fc from "fast-check";

import {
  MAX_MESSAGES_PER_INTERVAL,
  maxChunksFor,
  planSplit,
  splitSeries,
  splitUsage,
  SplittingInvalidCategoriesError,
  SplittingInvalidInputError,
  SplittingTooManyMessagesError,
  validateCategories,
} from "../../offchain/protocol/splitting.ts";

const REGION = [50n, 100n, 200n, 400n, 800n] as const;

/** Five strictly increasing positive values from sorted distinct draws. */
const categoriesArb = fc
  .uniqueArray(fc.bigInt({ min: 1n, max: 5_000n }), { minLength: 5, maxLength: 5 })
  .map((xs) => [...xs].sort((a, b) => (a < b ? -1 : 1)));

const sum = (xs: readonly bigint[]): bigint => xs.reduce((a, b) => a + b, 0n);

describe("splitUsage", () => {
  it("splitUsage with the example region decomposes greedily largest-first", () => {
    const r = splitUsage(1_730n, 30n, REGION);
    // 1760 = 2·800 + 0·400 + 0·200 + 1·100 + 1·50, carry 10
    expect(r.chunks).to.deep.equal([800n, 800n, 100n, 50n]);
    expect(r.carryOutWh).to.equal(10n);
  });

  it("splitUsage below c1 reports nothing and carries everything", () => {
    const r = splitUsage(20n, 29n, REGION);
    expect(r.chunks).to.deep.equal([]);
    expect(r.carryOutWh).to.equal(49n);
  });

  it("property: Σ chunks + carryOut = measured + carryIn, chunks ∈ categories, 0 ≤ carry < c1", () => {
    fc.assert(
      fc.property(
        categoriesArb,
        fc.bigInt({ min: 0n, max: 100_000n }), // ≤ 22k + tail chunks: under the u16 limit
        fc.bigInt({ min: 0n, max: 10_000n }),
        (cats, measured, carryIn) => {
          const r = splitUsage(measured, carryIn, cats);
          expect(sum(r.chunks) + r.carryOutWh).to.equal(measured + carryIn);
          for (const c of r.chunks) expect(cats).to.include(c);
          expect(r.carryOutWh >= 0n && r.carryOutWh < cats[0]).to.equal(true);
          expect(BigInt(r.chunks.length) <= maxChunksFor(measured + carryIn, cats)).to.equal(true);
          // Deterministic: same input, same output.
          expect(splitUsage(measured, carryIn, cats)).to.deep.equal(r);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("property: over a sequence of intervals Σ reported = Σ measured − final carry", () => {
    fc.assert(
      fc.property(
        categoriesArb,
        fc.array(fc.bigInt({ min: 0n, max: 100_000n }), { maxLength: 50 }),
        (cats, series) => {
          const { intervals, finalCarryWh } = splitSeries(series, cats);
          const reported = sum(intervals.flatMap((r) => r.chunks));
          expect(reported).to.equal(sum(series) - finalCarryWh);
          expect(finalCarryWh < cats[0]).to.equal(true);
          for (let i = 1; i < intervals.length; i++) {
            // Each interval's carry feeds the next one.
            const expected = splitUsage(series[i], intervals[i - 1].carryOutWh, cats);
            expect(intervals[i]).to.deep.equal(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("property: the chunk count respects the documented bound exactly at the greedy limit", () => {
    fc.assert(
      fc.property(categoriesArb, fc.bigInt({ min: 0n, max: 10n ** 7n }), (cats, total) => {
        const { counts } = planSplit(total, 0n, cats);
        const n = sum(counts);
        expect(n <= maxChunksFor(total, cats)).to.equal(true);
        expect(n <= total / cats[0]).to.equal(true);
      }),
    );
  });

  it("splitUsage refuses inputs needing more than maxMessagesPerInterval chunks", () => {
    const cats = [1n, 2n, 3n, 4n, 5n];
    // 65535 chunks of 5 fit exactly; one more c1 does not.
    expect(splitUsage(5n * 65535n, 0n, cats).chunks.length).to.equal(MAX_MESSAGES_PER_INTERVAL);
    const err = (() => {
      try {
        splitUsage(5n * 65535n + 1n, 0n, cats);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).to.be.instanceOf(SplittingTooManyMessagesError);
    expect((err as SplittingTooManyMessagesError).required).to.equal(65536n);
    // Huge readings fail fast instead of allocating.
    expect(() => splitUsage(10n ** 30n, 0n, cats)).to.throw(SplittingTooManyMessagesError);
    expect(() => splitUsage(800n * 3n, 0n, REGION, { maxMessagesPerInterval: 2 })).to.throw(
      SplittingTooManyMessagesError,
      /needs 3 chunks/,
    );
    expect(splitUsage(800n * 2n, 0n, REGION, { maxMessagesPerInterval: 2 }).chunks).to.have.length(
      2,
    );
  });

  it("splitUsage rejects negative or non-bigint inputs and bad limits", () => {
    expect(() => splitUsage(-1n, 0n, REGION)).to.throw(SplittingInvalidInputError, /measuredWh/);
    expect(() => splitUsage(1n, -1n, REGION)).to.throw(SplittingInvalidInputError, /carryInWh/);
    expect(() => splitUsage(1 as unknown as bigint, 0n, REGION)).to.throw(
      SplittingInvalidInputError,
    );
    expect(() => splitUsage(1n, 0n, REGION, { maxMessagesPerInterval: 70_000 })).to.throw(
      SplittingInvalidInputError,
      /maxMessagesPerInterval/,
    );
  });
});

describe("validateCategories", () => {
  it("validateCategories accepts five strictly increasing positive values", () => {
    expect(validateCategories([1n, 2n, 3n, 4n, (1n << 64n) - 1n])).to.have.length(5);
  });

  it("validateCategories rejects wrong count, non-increasing, zero, negative and > u64", () => {
    const bad: bigint[][] = [
      [1n, 2n, 3n, 4n],
      [1n, 2n, 3n, 4n, 5n, 6n],
      [1n, 2n, 2n, 4n, 5n],
      [5n, 4n, 3n, 2n, 1n],
      [0n, 2n, 3n, 4n, 5n],
      [-1n, 2n, 3n, 4n, 5n],
      [1n, 2n, 3n, 4n, 1n << 64n],
    ];
    for (const b of bad) {
      expect(() => validateCategories(b), String(b)).to.throw(SplittingInvalidCategoriesError);
      expect(() => splitUsage(10n, 0n, b), String(b)).to.throw(SplittingInvalidCategoriesError);
    }
    expect(() => validateCategories([1, 2, 3, 4, 5] as unknown as bigint[])).to.throw(
      SplittingInvalidCategoriesError,
      /bigint/,
    );
  });
});
