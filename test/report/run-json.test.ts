// runJsonPieces (offchain/report/run.ts, issue 14, session 10): `--json` writes a city's report in
// pieces instead of one string; the bytes must be runJsonText's exactly.
import { expect } from "chai";
import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { writeJsonReport } from "../../offchain/cli/common.ts";
import { runJsonPieces, runJsonText } from "../../offchain/report/run.ts";

const joined = (report: unknown) => [...runJsonPieces(report)].join("");

describe("runJsonPieces (issue 14, session 10)", function () {
  it("gives runJsonText's bytes for the shapes a report holds and the ones JSON.stringify treats apart", function () {
    const report = {
      scenario: "honest",
      meters: 3,
      big: 12345678901234567890n,
      skipped: undefined,
      fn: () => 1,
      when: new Date(0),
      empty: { list: [], map: {}, nested: [[], [{}]] },
      perInterval: [
        { interval: 1, aggregateWh: 19080850n, rejected: { malformed: 0 }, text: 'a\nb\t"c"' },
        {
          interval: 2,
          values: [1n, null, undefined, () => 2, "x"],
          deep: { a: { b: { c: [1] } } },
        },
      ],
      relayTraffic: Array.from({ length: 5 }, (_, i) => ({ relay: i, forwarded: i * 3 })),
      holes: [undefined, Symbol("s"), , 4], // the third: a hole
      nothing: {},
      list: [],
    };
    expect(joined(report)).to.equal(runJsonText(report));
    for (const top of [null, 1, "s", 7n, [], {}, [1, [2, [3]]], { a: undefined }]) {
      expect(joined(top), String(top)).to.equal(runJsonText(top));
    }
  });

  it("gives runJsonText's bytes for any JSON-like value (property)", function () {
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(
        fc.integer(),
        fc.bigInt(),
        fc.string(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
      ),
      node: fc.oneof(
        { depthSize: "small" },
        tie("leaf"),
        fc.array(tie("node"), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie("node"), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => joined(v) === runJsonText(v)),
      { numRuns: 300 },
    );
  });

  it("writeJsonReport writes those bytes to the file", function () {
    const dir = mkdtempSync(join(tmpdir(), "run-json-"));
    try {
      // More than one ≈ 1 MB piece.
      const report = {
        rows: Array.from({ length: 40_000 }, (_, i) => ({ i, wh: BigInt(i) * 10n })),
      };
      writeJsonReport(join(dir, "r.json"), report);
      expect(readFileSync(join(dir, "r.json"), "utf8")).to.equal(runJsonText(report));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
