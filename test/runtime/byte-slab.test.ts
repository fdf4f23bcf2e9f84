import { expect } from "chai";

import { ByteSlab } from "../../offchain/runtime/byte-slab.ts";

describe("runtime/byte-slab", function () {
  it("copies parts concatenated into shared chunks, 8-byte aligned, a new chunk when full", function () {
    const slab = new ByteSlab(64);
    const a = slab.copy(Uint8Array.of(1, 2, 3), Uint8Array.of(4));
    const b = slab.copy(Uint8Array.of(5));
    expect([...a]).to.deep.equal([1, 2, 3, 4]);
    expect([...b]).to.deep.equal([5]);
    expect(b.buffer).to.equal(a.buffer);
    expect(a.byteOffset % 8).to.equal(0);
    expect(b.byteOffset).to.equal(8);
    // The copies are copies: changing a source leaves them alone.
    const source = Uint8Array.of(9, 9);
    const c = slab.copy(source);
    source[0] = 0;
    expect([...c]).to.deep.equal([9, 9]);
    // 24 bytes used; 16 bytes (a quarter of the chunk) fit twice more (to 56), the third opens a
    // new chunk, which the fourth shares.
    const sixteen = new Uint8Array(16).fill(7);
    const fills = [slab.copy(sixteen), slab.copy(sixteen), slab.copy(sixteen)];
    expect(fills.map((f) => f.buffer === a.buffer)).to.deep.equal([true, true, false]);
    expect(fills[1].byteOffset).to.equal(40);
    const next = slab.copy(sixteen);
    expect(next.buffer).to.equal(fills[2].buffer);
    expect(next.byteOffset).to.equal(16);
    expect(slab.stats()).to.deep.equal({ chunks: 2, bytes: 4 + 1 + 2 + 4 * 16 });
  });

  it("gives a string longer than a quarter chunk a buffer of its own, and an empty one a view", function () {
    const slab = new ByteSlab(64);
    const big = slab.copy(new Uint8Array(17).fill(3));
    expect(big.buffer.byteLength).to.equal(17);
    expect(slab.stats().chunks).to.equal(0);
    expect(slab.copy().length).to.equal(0);
  });

  it("refuses bad chunk sizes and non-byte parts", function () {
    for (const bad of [0, 63, 2 ** 30 + 1, 1.5, NaN]) {
      expect(() => new ByteSlab(bad)).to.throw(RangeError, /chunkBytes/);
    }
    const slab = new ByteSlab();
    expect(() => slab.copy([1, 2] as unknown as Uint8Array)).to.throw(TypeError, /bytes/);
  });
});
