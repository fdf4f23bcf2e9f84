// Command-line numbers in plain decimal notation only (offchain/cli/common.ts `decimalNumber`):
// `Number()` alone takes hexadecimal, binary, exponents, `Infinity` and blanks, so `--meters 1e3`
// ran a thousand meters (issue 14's newcomer trial, session 11).
import { expect } from "chai";
import fc from "fast-check";

import { decimalNumber } from "../../offchain/cli/common.ts";

describe("decimalNumber (command-line numbers)", () => {
  it("known answers", () => {
    expect(decimalNumber("12", true)).to.equal(12);
    expect(decimalNumber("-3", true)).to.equal(-3);
    expect(decimalNumber("+7", true)).to.equal(7);
    expect(decimalNumber("0.25")).to.equal(0.25);
    expect(decimalNumber(".5")).to.equal(0.5);
    expect(decimalNumber("3.")).to.equal(3);
    for (const bad of [
      "",
      " 12",
      "12 ",
      "0x10",
      "1e3",
      "0b1",
      "0o7",
      "Infinity",
      "NaN",
      "1_000",
      "1,000",
      "--1",
    ]) {
      expect(decimalNumber(bad), bad).to.be.NaN;
      expect(decimalNumber(bad, true), bad).to.be.NaN;
    }
    expect(decimalNumber("1.5", true)).to.be.NaN;
  });

  it("every safe integer's decimal form reads back; a number's fixed-point form too", () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        expect(decimalNumber(String(n), true)).to.equal(n);
        expect(decimalNumber(String(n))).to.equal(n);
      }),
    );
    fc.assert(
      fc.property(fc.double({ min: -1e15, max: 1e15, noNaN: true }), (x) => {
        const text = x.toFixed(6);
        expect(decimalNumber(text)).to.equal(Number(text));
      }),
    );
  });
});
