// The city bench's growth metric (issue 14): CPU per meter at the largest size over the smallest.
import { expect } from "chai";

import { cpuPerMeterRatio } from "../../offchain/bench/suites/city.ts";

describe("city bench: CPU per meter ratio (issue 14)", () => {
  it("is large / small whatever the order of the sizes, 1.0 for a linear cost", () => {
    const linear = new Map([
      [100_000, 24],
      [10_000, 24],
    ]);
    expect(cpuPerMeterRatio(linear)).to.deep.equal({ small: 10_000, large: 100_000, ratio: 1 });
    // The 79f9d4b figures: 24 ms per meter at 10,000, 38 at 100,000.
    const grew = cpuPerMeterRatio(
      new Map([
        [10_000, 24],
        [30_000, 30],
        [100_000, 38],
      ]),
    );
    expect(grew?.small).to.equal(10_000);
    expect(grew?.large).to.equal(100_000);
    expect(grew?.ratio).to.equal(38 / 24); // plain numbers: the ethers matchers override closeTo
  });

  it("is undefined for fewer than two sizes", () => {
    expect(cpuPerMeterRatio(new Map())).to.equal(undefined);
    expect(cpuPerMeterRatio(new Map([[500, 20]]))).to.equal(undefined);
  });
});
