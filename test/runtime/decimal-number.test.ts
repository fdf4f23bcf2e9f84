// Command-line numbers in plain decimal notation only (offchain/cli/common.ts `decimalNumber`):
// `Number()` alone takes hexadecimal, binary, exponents, `Infinity` and blanks, so `--meters 1e3`
// ran a thousand meters (issue 14's newcomer trial, session 11).
import { expect } from "chai";
import fc from "fast-check";

import { decimalNumber, negativeValuesJoined } from "../../offchain/cli/common.ts";

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

describe("negativeValuesJoined (a negative number after a value option is its value)", () => {
  const options = {
    meters: { type: "string" },
    loss: { type: "string" },
    json: { type: "string" },
    quiet: { type: "boolean" },
  } as const;

  it("known answers", () => {
    expect(negativeValuesJoined(["--meters", "-5", "--loss", "-.5"], options)).to.deep.equal([
      "--meters=-5",
      "--loss=-.5",
    ]);
    // Not a number, a boolean option, an unknown option, already joined, or last: unchanged.
    for (const args of [
      ["--json", "-x"],
      ["--quiet", "-5"],
      ["--other", "-5"],
      ["--meters=-5"],
      ["--meters"],
      ["-5", "--meters", "7"],
    ]) {
      expect(negativeValuesJoined(args, options)).to.deep.equal(args);
    }
  });

  it("only ever joins an option with the negative number after it (property)", () => {
    const token = fc.oneof(
      fc.constantFrom("--meters", "--loss", "--json", "--quiet", "--other", "-h"),
      fc.integer({ min: -1000, max: 1000 }).map(String),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 8 }), (args) => {
        const out = negativeValuesJoined(args, options);
        // Joining two tokens with "=" and splitting back gives the input.
        expect(
          out.flatMap((t) =>
            /^--(meters|loss|json)=-/.test(t) && !args.includes(t) ? t.split(/=(.*)/s, 2) : [t],
          ),
        ).to.deep.equal(args);
        expect(out.length).to.be.at.most(args.length);
      }),
    );
  });
});
