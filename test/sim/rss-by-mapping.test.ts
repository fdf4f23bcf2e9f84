// offchain/bench/rss-by-mapping.ts (issue 14): how the city runs' resident memory is split by kind
// of mapping (docs/SCALE.md). A synthetic smaps text with one mapping of each kind, and this
// process's own smaps.
import { expect } from "chai";

import { existsSync, readFileSync } from "node:fs";

import { mappingKind, residentByKind } from "../../offchain/bench/rss-by-mapping.ts";

const MIB = 2 ** 20;

/** One smaps record: a mapping of `size` bytes at `start`, named `name`, `rssKb` resident. */
function record(start: number, size: number, name: string, rssKb: number): string {
  const hex = (n: number) => n.toString(16).padStart(12, "0");
  return [
    `${hex(start)}-${hex(start + size)} rw-p 00000000 00:00 0          ${name}`,
    `Size:           ${size / 1024} kB`,
    `Rss:            ${rssKb} kB`,
    `Pss:            ${rssKb} kB`,
    "VmFlags: rd wr mr mw me ac",
  ].join("\n");
}

describe("rss-by-mapping (issue 14)", () => {
  it("names each kind of mapping by its size and name", () => {
    expect(mappingKind(1024 * MIB, "")).to.equal("edr");
    expect(mappingKind(256 * 1024, "")).to.equal("v8");
    expect(mappingKind(64 * MIB, "")).to.equal("arena");
    expect(mappingKind(32 * MIB, "")).to.equal("arena");
    expect(mappingKind(8 * MIB, "")).to.equal("anonL");
    expect(mappingKind(132 * 1024, "")).to.equal("anonS");
    expect(mappingKind(8 * MIB, "[heap]")).to.equal("heap");
    expect(mappingKind(8 * MIB, "/usr/bin/node")).to.equal("file");
    expect(mappingKind(132 * 1024, "[stack]")).to.equal("anonS");
  });

  it("sums the resident kB of each kind and in all", () => {
    const text = [
      record(0x10000000, 1024 * MIB, "", 5000),
      record(0x60000000, 256 * 1024, "", 256),
      record(0x60040000, 256 * 1024, "", 100),
      record(0x70000000, 4 * MIB, "[heap]", 3000),
      record(0x80000000, 2 * MIB, "/usr/lib/libc.so.6", 700),
      record(0x90000000, 64 * MIB, "", 40),
      record(0xa0000000, 3 * MIB, "", 2000),
      record(0xb0000000, 8192, "[stack]", 8),
    ].join("\n");
    expect(residentByKind(text)).to.deep.equal({
      edr: 5000,
      v8: 356,
      heap: 3000,
      file: 700,
      arena: 40,
      anonL: 2000,
      anonS: 8,
      total: 11104,
    });
    expect(() => residentByKind("")).to.throw(RangeError, /no mapping/);
  });

  it("accounts for all of this process's resident set", function () {
    if (!existsSync("/proc/self/smaps")) this.skip();
    const kb = residentByKind(readFileSync("/proc/self/smaps", "utf8"));
    const status = readFileSync("/proc/self/status", "utf8");
    const vmRssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
    // Two reads a moment apart: equal within a few MB.
    expect(Math.abs(kb.total - vmRssKb)).to.be.lessThan(16 * 1024);
    expect(kb.v8).to.be.greaterThan(0);
    expect(kb.file).to.be.greaterThan(0);
  });
});
