// Anonymity measure of DESIGN §7: smallest number of entries sharing a value per interval.
import { expect } from "chai";
import fc from "fast-check";

import {
  AnonymityInputError,
  anonymityReport,
  minAnonymitySet,
  valueHistogram,
} from "../../offchain/protocol/anonymity.ts";
import { splitUsage } from "../../offchain/protocol/splitting.ts";

describe("anonymity", () => {
  it("minAnonymitySet is 0 for an empty interval", () => {
    expect(minAnonymitySet([])).to.equal(0);
  });

  it("minAnonymitySet returns the smallest group size", () => {
    expect(minAnonymitySet([5n, 5n, 7n, 5n, 7n])).to.equal(2);
    expect(minAnonymitySet([5n, 5n, 9n])).to.equal(1);
    expect(minAnonymitySet([3n, 3n, 3n])).to.equal(3);
  });

  it("valueHistogram counts per value in ascending value order", () => {
    const h = valueHistogram([9n, 1n, 9n, 4n, 9n]);
    expect([...h]).to.deep.equal([
      [1n, 1],
      [4n, 1],
      [9n, 3],
    ]);
  });

  it("anonymityReport lists the weakest values", () => {
    expect(anonymityReport([2n, 2n, 3n, 4n, 4n, 4n])).to.deep.equal({
      entries: 6,
      distinctValues: 3,
      k: 1,
      weakestValues: [3n],
    });
  });

  it("property: k equals a brute-force minimum and histogram counts sum to the entry count", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 6n }), { maxLength: 60 }), (values) => {
        const h = valueHistogram(values);
        expect([...h.values()].reduce((a, b) => a + b, 0)).to.equal(values.length);
        const brute =
          values.length === 0
            ? 0
            : Math.min(...values.map((v) => values.filter((w) => w === v).length));
        expect(minAnonymitySet(values)).to.equal(brute);
      }),
    );
  });

  it("split reports of many meters show at most five distinct values", () => {
    const cats = [50n, 100n, 200n, 400n, 800n];
    const values: bigint[] = [];
    for (let m = 0; m < 200; m++) values.push(...splitUsage(BigInt(37 * m + 11), 0n, cats).chunks);
    const r = anonymityReport(values);
    expect(r.distinctValues).to.be.at.most(5);
    expect(r.k).to.be.greaterThan(1);
  });

  it("rejects non-bigint values", () => {
    expect(() => minAnonymitySet([1 as unknown as bigint])).to.throw(AnonymityInputError);
  });
});
