import { expect } from "chai";
import fc from "fast-check";

import { bytesToHex, hexToBytes } from "../../offchain/crypto/bytes.ts";
import {
  bigSizeLength,
  decodeBigSize,
  decodeTlvStream,
  encodeBigSize,
  encodeTlvStream,
  TlvError,
} from "../../offchain/onion/tlv.ts";

// BOLT #1 Appendix A, "BigSize Decoding Tests" / "BigSize Encoding Tests".
const BIGSIZE_VECTORS: [bigint, string][] = [
  [0n, "00"],
  [252n, "fc"],
  [253n, "fd00fd"],
  [65535n, "fdffff"],
  [65536n, "fe00010000"],
  [4294967295n, "feffffffff"],
  [4294967296n, "ff0000000100000000"],
  [18446744073709551615n, "ffffffffffffffffff"],
];
const BIGSIZE_NON_MINIMAL = ["fd00fc", "fe0000ffff", "ff00000000ffffffff"];
const BIGSIZE_TRUNCATED = ["", "fd", "fd00", "feffff", "ffffffffff", "ff00000000"];

describe("onion/tlv", function () {
  describe("BigSize", function () {
    for (const [value, hex] of BIGSIZE_VECTORS) {
      it(`${value} ↔ ${hex}`, function () {
        expect(bytesToHex(encodeBigSize(value))).to.equal(hex);
        expect(decodeBigSize(hexToBytes(hex))).to.deep.equal({ value, length: hex.length / 2 });
      });
    }

    it("rejects non-minimal encodings", function () {
      for (const hex of BIGSIZE_NON_MINIMAL) {
        expect(() => decodeBigSize(hexToBytes(hex)), hex).to.throw(TlvError, /not minimally/);
      }
    });

    it("rejects truncated encodings", function () {
      for (const hex of BIGSIZE_TRUNCATED) {
        expect(() => decodeBigSize(hexToBytes(hex)), hex).to.throw(TlvError, /truncated/);
      }
    });

    it("round-trips every u64 and bigSizeLength matches the encoding", function () {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => {
          const enc = encodeBigSize(v);
          expect(enc.length).to.equal(bigSizeLength(v));
          expect(decodeBigSize(enc)).to.deep.equal({ value: v, length: enc.length });
        }),
      );
      expect(() => encodeBigSize(2n ** 64n)).to.throw(TlvError, /^bigSizeLength/);
      expect(() => encodeBigSize(-1)).to.throw(TlvError);
    });
  });

  describe("TLV streams", function () {
    it("round-trips records with increasing types", function () {
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.bigInt({ min: 0n, max: 2n ** 40n }), { maxLength: 6 }),
          fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 6, maxLength: 6 }),
          (types, values) => {
            const records = [...types]
              .sort((a, b) => (a < b ? -1 : 1))
              .map((type, i) => ({ type, value: values[i] }));
            const decoded = decodeTlvStream(encodeTlvStream(records));
            expect(decoded.map((r) => r.type)).to.deep.equal(records.map((r) => r.type));
            decoded.forEach((r, i) =>
              expect(bytesToHex(r.value)).to.equal(bytesToHex(records[i].value)),
            );
          },
        ),
      );
    });

    it("refuses to encode and decode out-of-order or duplicate types", function () {
      const a = { type: 4n, value: Uint8Array.of(1) };
      const b = { type: 2n, value: Uint8Array.of(2) };
      expect(() => encodeTlvStream([a, b])).to.throw(TlvError, /increasing/);
      expect(() => encodeTlvStream([a, a])).to.throw(TlvError, /increasing/);
      const swapped = hexToBytes("040101" + "020102");
      expect(() => decodeTlvStream(swapped)).to.throw(TlvError, /increasing/);
      const duplicate = hexToBytes("020101" + "020102");
      expect(() => decodeTlvStream(duplicate)).to.throw(TlvError, /increasing/);
    });

    it("rejects a record longer than the stream and a truncated header", function () {
      expect(() => decodeTlvStream(hexToBytes("0205aabb"))).to.throw(TlvError, /exceeds/);
      expect(() => decodeTlvStream(hexToBytes("02"))).to.throw(TlvError, /truncated/);
      expect(() => decodeTlvStream(hexToBytes("02fd0001"))).to.throw(TlvError, /not minimally/);
    });
  });
});
