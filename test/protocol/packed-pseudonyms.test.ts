// CC's zero slots as one packed, sorted list of 32-byte pseudonyms (issue 14, session 10;
// offchain/protocol/packed-pseudonyms.ts): order, views, ranges without a copy, binary search,
// and typed errors for bad input.
import { expect } from "chai";
import fc from "fast-check";

import { bytesToHex } from "../../offchain/crypto/bytes.ts";
import {
  PackedPseudonyms,
  PackedPseudonymsError,
  sortPacked,
} from "../../offchain/protocol/packed-pseudonyms.ts";

/** A 32-byte id whose first bytes are `prefix` (the rest zero). */
function id(...prefix: number[]): Uint8Array {
  const out = new Uint8Array(32);
  out.set(prefix);
  return out;
}

const hex = (ids: Iterable<Uint8Array>) => [...ids].map(bytesToHex);

describe("PackedPseudonyms (issue 14, session 10)", function () {
  it("sorts ids given in any order into one buffer (hex order) and reads them back as views of it", function () {
    const ids = [id(9), id(1, 2), id(1), id(255, 0, 7), id(0, 0, 0, 1)];
    const list = PackedPseudonyms.fromIds(ids);
    expect(list.count).to.equal(5);
    expect(list.bytes.length).to.equal(5 * 32);
    expect(hex(list)).to.deep.equal(hex(ids).sort());
    for (let i = 0; i < list.count; i++) {
      const view = list.at(i);
      expect(view.buffer).to.equal(list.bytes.buffer); // a view, not a copy
      expect(view.byteOffset).to.equal(list.bytes.byteOffset + 32 * i);
      expect(bytesToHex(view)).to.equal(hex(list)[i]);
    }
  });

  it("sorted: packed bytes in any order become a list equal to the checked one, in a new buffer", function () {
    const packed = concat(id(9), id(1, 2), id(1), id(0, 0, 0, 1));
    const list = PackedPseudonyms.sorted(packed);
    expect(list).to.be.instanceOf(PackedPseudonyms);
    expect(list.bytes.buffer).to.not.equal(packed.buffer);
    // What the constructor's order check accepts, and the same as fromIds.
    expect(hex(new PackedPseudonyms(list.bytes))).to.deep.equal(hex(list));
    expect(hex(list)).to.deep.equal(
      hex(PackedPseudonyms.fromIds([id(9), id(1, 2), id(1), id(0, 0, 0, 1)])),
    );
    expect(hex(list.slice(1, 3))).to.deep.equal(hex(list).slice(1, 3));
  });

  it("finds the first pseudonym after an id by binary search, as a scan does", function () {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.uint8Array({ minLength: 32, maxLength: 32 }), {
          maxLength: 60,
          selector: (a) => bytesToHex(a),
        }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (ids, probe) => {
          const list = PackedPseudonyms.fromIds(ids);
          const sorted = hex(list);
          const probes = [probe, new Uint8Array(32), new Uint8Array(32).fill(255), ...list];
          for (const p of probes) {
            const scan = sorted.findIndex((h) => h > bytesToHex(p));
            expect(list.indexAfter(p)).to.equal(scan === -1 ? sorted.length : scan);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("slices a range over the same buffer (no copy), itself sliceable and searchable", function () {
    const list = PackedPseudonyms.fromIds(Array.from({ length: 10 }, (_, i) => id(i * 3)));
    const range = list.slice(2, 7);
    expect(range).to.be.instanceOf(PackedPseudonyms);
    expect(range.count).to.equal(5);
    expect(range.bytes.buffer).to.equal(list.bytes.buffer);
    expect(range.bytes.byteOffset).to.equal(64);
    expect(hex(range)).to.deep.equal(hex(list).slice(2, 7));
    expect(hex(range.slice(1, 3))).to.deep.equal(hex(list).slice(3, 5));
    expect(range.indexAfter(id(6))).to.equal(1); // 6, 9, 12, 15, 18: first above 6 is 9
    expect(range.indexAfter(id(200))).to.equal(5);
    expect(list.slice(4).count).to.equal(6);
    expect(list.slice(0)).to.equal(list);
    expect(list.slice(5, 5).count).to.equal(0);
    expect(PackedPseudonyms.EMPTY.count).to.equal(0);
    expect(PackedPseudonyms.EMPTY.indexAfter(id(1))).to.equal(0);
  });

  it("refuses bad input with PackedPseudonymsError (a RangeError)", function () {
    const bad: [string, () => unknown][] = [
      ["length not 32·n", () => new PackedPseudonyms(new Uint8Array(33))],
      ["not increasing", () => new PackedPseudonyms(concat(id(2), id(1)))],
      ["a duplicate", () => new PackedPseudonyms(concat(id(1), id(1)))],
      ["a duplicate to sort", () => PackedPseudonyms.fromIds([id(4), id(1), id(4)])],
      ["an id not 32 bytes", () => PackedPseudonyms.fromIds([id(1), new Uint8Array(31)])],
      ["sortPacked of 31 bytes", () => sortPacked(new Uint8Array(31))],
      ["sorted of 33 bytes", () => PackedPseudonyms.sorted(new Uint8Array(33))],
      ["sorted with a duplicate", () => PackedPseudonyms.sorted(concat(id(3), id(1), id(3)))],
      ["at past the end", () => PackedPseudonyms.fromIds([id(1)]).at(1)],
      ["at −1", () => PackedPseudonyms.fromIds([id(1)]).at(-1)],
      ["at 0.5", () => PackedPseudonyms.fromIds([id(1)]).at(0.5)],
      ["slice past the end", () => PackedPseudonyms.fromIds([id(1)]).slice(0, 2)],
      ["slice backwards", () => PackedPseudonyms.fromIds([id(1), id(2)]).slice(2, 1)],
      ["indexAfter of 31 bytes", () => PackedPseudonyms.EMPTY.indexAfter(new Uint8Array(31))],
    ];
    for (const [what, fn] of bad) {
      expect(fn, what).to.throw(PackedPseudonymsError);
      expect(fn, what).to.throw(RangeError);
    }
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(32 * parts.length);
  parts.forEach((p, i) => out.set(p, 32 * i));
  return out;
}
