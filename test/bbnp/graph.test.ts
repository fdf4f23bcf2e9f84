import { expect } from "chai";
import fc from "fast-check";

import { roundGraph } from "../../offchain/protocol/bbnp/graph.ts";

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe("bbnp neighbour graph (DESIGN §4.7, §6)", () => {
  it("π_t is a bijection of [0, N) and userAt inverts position", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 700 }), seedArb, (n, seed) => {
        const g = roundGraph(n, 2, seed);
        const seen = new Set<number>();
        for (let i = 0; i < n; i++) {
          const p = g.position(i);
          expect(p).to.be.within(0, n - 1);
          expect(g.userAt(p)).to.equal(i);
          seen.add(p);
        }
        expect(seen.size).to.equal(n);
      }),
      { numRuns: 60 },
    );
  });

  it("is symmetric, loop-free, with degree exactly min(h, N − 1) ≥ 1", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 300 }),
        fc.integer({ min: 1, max: 8 }).map((x) => 2 * x),
        seedArb,
        (n, h, seed) => {
          const g = roundGraph(n, h, seed);
          const sets = Array.from({ length: n }, (_, i) => new Set(g.neighboursOf(i)));
          for (let a = 0; a < n; a++) {
            expect(sets[a].size).to.equal(Math.min(h, n - 1));
            expect(sets[a].has(a)).to.equal(false);
            for (const b of sets[a]) expect(sets[b].has(a), `${a}~${b}`).to.equal(true);
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it("changes with the round seed and looks unstructured (neighbours are not id-adjacent)", () => {
    const n = 10_000;
    const a = roundGraph(n, 8, new Uint8Array(32).fill(1));
    const b = roundGraph(n, 8, new Uint8Array(32).fill(2));
    let same = 0;
    let adjacent = 0;
    for (let i = 0; i < 500; i++) {
      const na = a.neighboursOf(i);
      const nb = new Set(b.neighboursOf(i));
      same += na.filter((x) => nb.has(x)).length;
      adjacent += na.filter((x) => Math.abs(x - i) <= 4).length;
    }
    // Expected overlap and id-adjacency for a random 8-regular graph: ≈ 500·8·8/N ≈ 3.
    expect(same).to.be.below(30);
    expect(adjacent).to.be.below(30);
  });

  it("looks up neighbours in O(h) at N = 10^5", () => {
    const g = roundGraph(100_000, 8, new Uint8Array(32).fill(7));
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) g.neighboursOf(i * 10);
    const perLookupUs = ((performance.now() - t0) * 1000) / 10_000;
    expect(perLookupUs).to.be.below(200);
  });

  it("rejects bad parameters at the boundary", () => {
    const seed = new Uint8Array(32);
    expect(() => roundGraph(1, 2, seed)).to.throw(/roundGraph: userCount/);
    expect(() => roundGraph(10, 3, seed)).to.throw(/roundGraph: neighbours/);
    expect(() => roundGraph(10, 2, new Uint8Array(31))).to.throw(/roundGraph: seed/);
    expect(() => roundGraph(10, 2, seed).neighboursOf(10)).to.throw(/out of range/);
  });
});
