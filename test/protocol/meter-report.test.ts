import { expect } from "chai";
import fc from "fast-check";

import {
  METER_REPORT_SIZE,
  MeterReportDecodeError,
  decodeMeterReport,
  encodeMeterReport,
} from "../../offchain/protocol/meter-report.ts";
import { ENTRY_KIND, ledgerDomain, signEntry, verifyEntry } from "../../offchain/protocol/entry.ts";
import { CURVE_ORDER } from "../../offchain/crypto/secp256k1.ts";

const domain = ledgerDomain(31337n, "0x" + "ab".repeat(20));

describe("meter report encoding", () => {
  it("round-trips any OCD entry and keeps its signature valid", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: CURVE_ORDER - 1n }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (sk, interval, id, timestamp, value) => {
          const entry = signEntry(
            domain,
            { kind: ENTRY_KIND.OCD, interval, id, timestamp, value },
            sk,
          );
          const bytes = encodeMeterReport(entry);
          expect(bytes.length).to.equal(METER_REPORT_SIZE);
          const decoded = decodeMeterReport(bytes);
          expect(decoded).to.deep.equal(entry);
          expect(verifyEntry(domain, decoded)).to.equal(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("refuses non-OCD entries", () => {
    const entry = signEntry(
      domain,
      { kind: ENTRY_KIND.BC, interval: 1, id: new Uint8Array(32), timestamp: 1n, value: 1n },
      5n,
    );
    expect(() => encodeMeterReport(entry)).to.throw(RangeError, /not OCD/);
  });

  it("rejects wrong length, version, key prefix and y out of range", () => {
    const entry = signEntry(
      domain,
      {
        kind: ENTRY_KIND.OCD,
        interval: 1,
        id: new Uint8Array(32).fill(1),
        timestamp: 1n,
        value: 1n,
      },
      7n,
    );
    const good = encodeMeterReport(entry);
    expect(() => decodeMeterReport(good.subarray(1))).to.throw(
      MeterReportDecodeError,
      /expected 138/,
    );
    const badVersion = good.slice();
    badVersion[0] = 9;
    expect(() => decodeMeterReport(badVersion)).to.throw(MeterReportDecodeError, /version/);
    const badPrefix = good.slice();
    badPrefix[53] = 4;
    expect(() => decodeMeterReport(badPrefix)).to.throw(MeterReportDecodeError, /prefix/);
    const zeroY = good.slice();
    zeroY.fill(0, 106);
    expect(() => decodeMeterReport(zeroY)).to.throw(MeterReportDecodeError, /y out of range/);
  });
});
