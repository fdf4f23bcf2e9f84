// Fixed-width big-endian integers (DESIGN §4 notation) against a byte-by-byte reference.
import { expect } from "chai";
import fc from "fast-check";

import { bytesToHex as nobleBytesToHex } from "@noble/hashes/utils.js";

import { bytesPerItem, gcFunction } from "../../offchain/bench/heap.ts";
import {
  bytesToBigInt,
  bytesToHex,
  toHex0x,
  u256,
  u64,
  uintToBytes,
} from "../../offchain/crypto/bytes.ts";

function referenceEncode(v: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

describe("bytes: fixed-width big-endian integers", () => {
  it("property: uintToBytes equals the byte-by-byte reference and bytesToBigInt inverts it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.bigInt({ min: 0n, max: (1n << 320n) - 1n }),
        (width, raw) => {
          const v = raw & ((1n << BigInt(8 * width)) - 1n);
          const enc = uintToBytes(v, width);
          expect(enc).to.deep.equal(referenceEncode(v, width));
          expect(bytesToBigInt(enc)).to.equal(v);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("edges: 0, 2^(8w) − 1, safe-integer numbers, empty input", () => {
    for (let w = 1; w <= 33; w++) {
      const max = (1n << BigInt(8 * w)) - 1n;
      expect(uintToBytes(0n, w)).to.deep.equal(new Uint8Array(w));
      expect(uintToBytes(max, w)).to.deep.equal(new Uint8Array(w).fill(0xff));
      expect(() => uintToBytes(max + 1n, w)).to.throw(RangeError, /does not fit/);
    }
    expect(uintToBytes(Number.MAX_SAFE_INTEGER, 8)).to.deep.equal(
      referenceEncode(BigInt(Number.MAX_SAFE_INTEGER), 8),
    );
    expect(uintToBytes(0xabcdef, 3)).to.deep.equal(Uint8Array.of(0xab, 0xcd, 0xef));
    expect(u64(1n)).to.deep.equal(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1));
    expect(u256(0x10n)[31]).to.equal(0x10);
    expect(bytesToBigInt(new Uint8Array(0))).to.equal(0n);
    expect(bytesToBigInt(Uint8Array.of(0, 0, 1, 0))).to.equal(256n);
  });

  it("refuses negatives, unsafe numbers and values too wide, naming the caller", () => {
    expect(() => uintToBytes(-1n, 4, "u32")).to.throw(RangeError, /^u32: -1 does not fit/);
    expect(() => uintToBytes(2 ** 53, 8, "u64")).to.throw(
      RangeError,
      /^u64: .* not a safe integer/,
    );
    expect(() => uintToBytes(1.5, 8)).to.throw(RangeError, /not a safe integer/);
  });
});

describe("bytes: hex", () => {
  it("property: bytesToHex gives noble's characters, for views at any offset too", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(8), (raw, cut) => {
        const view = raw.subarray(Math.min(cut, raw.length));
        expect(bytesToHex(view)).to.equal(nobleBytesToHex(view));
        expect(toHex0x(view)).to.equal("0x" + nobleBytesToHex(view));
        expect(bytesToHex(view)).to.equal(bytesToHex(view.slice()));
      }),
      { numRuns: 300 },
    );
    expect(bytesToHex(new Uint8Array([0, 0xab, 0xff]))).to.equal("00abff");
    expect(bytesToHex(new Uint8Array(0))).to.equal("");
  });

  it("bytesToHex throws TypeError for anything but a Uint8Array", () => {
    for (const bad of [[1, 2], "00", new Uint16Array(2), undefined]) {
      expect(() => bytesToHex(bad as unknown as Uint8Array)).to.throw(TypeError, /Uint8Array/);
    }
  });

  it("a hex key kept for long is one flat string, not a rope of two-character pieces (issue 14)", () => {
    // noble's bytesToHex on Node 22 concatenates two characters at a time: V8 keeps the result as
    // a rope, ≈ 1 kB for a 33-byte key (the relay directory kept 100,000 of them). A flat string
    // of 66 characters is ≈ 90 B.
    const gc = gcFunction();
    const key = (i: number) => {
      const k = new Uint8Array(33);
      k[0] = 2;
      new DataView(k.buffer).setUint32(1, i);
      return k;
    };
    const ours = bytesPerItem(gc, 1_000, 6_000, (i) => bytesToHex(key(i)));
    const noble = bytesPerItem(gc, 1_000, 6_000, (i) => nobleBytesToHex(key(i)));
    expect(ours).to.be.below(120);
    expect(noble).to.be.above(3 * ours); // the measure sees the difference (the control)
  });
});
