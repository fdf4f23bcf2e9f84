import { expect } from "chai";
import fc from "fast-check";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import {
  preselect,
  randomFromSignature,
  roundRandomMessage,
  selectPrimary,
} from "../../offchain/protocol/primary-selection.ts";
import { toFixed18 } from "../../offchain/protocol/reputation.ts";

const fx = (xs: number[]) => xs.map(toFixed18);

describe("primary selection (BBNP §IV-D.1, DESIGN §5.4)", () => {
  // Γ = [0.9, 0.5, 0.7, 0.2, 0.7]: T = 3.0/5 = 0.6, so nodes 0, 2, 4 are pre-selected.
  const reputations = fx([0.9, 0.5, 0.7, 0.2, 0.7]);
  const randoms = new Map<number, bigint>([
    [0, 10n],
    [1, 99n], // not pre-selected: ignored
    [2, 50n],
    [4, 40n],
  ]);

  it("pre-selects Γ_j ≥ mean, including nodes exactly at the mean", () => {
    expect(preselect(reputations)).to.deep.equal([0, 2, 4]);
    expect(preselect(fx([0.5, 0.5]))).to.deep.equal([0, 1]);
    // 0.1 + 0.1 + 0.1 rounds above 0.3 in floats; integer arithmetic keeps all three.
    expect(preselect(fx([0.1, 0.1, 0.1]))).to.deep.equal([0, 1, 2]);
  });

  it("picks the highest reputation in P, breaking ties by the larger X", () => {
    const sel = selectPrimary({ reputations, randoms, threshold: 30n });
    expect(sel.preselected).to.deep.equal([0, 2, 4]);
    expect(sel.eligible).to.deep.equal([2, 4]); // node 0 has X = 10 < Θ despite Γ = 0.9
    expect(sel.primary).to.equal(2); // Γ_2 = Γ_4 = 0.7, X_2 = 50 > X_4 = 40
    expect(sel.fallback).to.equal(false);
    // P by Γ then X; pre-selected below Θ by X; the rest by Γ.
    expect(sel.order).to.deep.equal([2, 4, 0, 1, 3]);
  });

  it("admits X_q equal to Θ into P and excludes X_q just below", () => {
    expect(selectPrimary({ reputations, randoms, threshold: 40n }).eligible).to.deep.equal([2, 4]);
    expect(selectPrimary({ reputations, randoms, threshold: 41n }).eligible).to.deep.equal([2]);
    expect(selectPrimary({ reputations, randoms, threshold: 10n }).primary).to.equal(0);
  });

  it("falls back to the highest X among the pre-selected when P is empty", () => {
    const sel = selectPrimary({ reputations, randoms, threshold: 100n });
    expect(sel.eligible).to.deep.equal([]);
    expect(sel.fallback).to.equal(true);
    expect(sel.primary).to.equal(2);
    expect(sel.order).to.deep.equal([2, 4, 0, 1, 3]);
  });

  it("never makes a pre-selected node without a revealed random primary", () => {
    const partial = new Map<number, bigint>([
      [2, 5n],
      [4, 7n],
    ]);
    const sel = selectPrimary({ reputations, randoms: partial, threshold: 0n });
    // Node 0 (Γ = 0.9) revealed nothing; Γ_2 = Γ_4 and X_4 = 7 > X_2 = 5.
    expect(sel.primary).to.equal(4);
    expect(sel.order).to.deep.equal([4, 2, 0, 1, 3]);
    expect(() =>
      selectPrimary({ reputations, randoms: new Map([[1, 5n]]), threshold: 0n }),
    ).to.throw(/^selectPrimary: no pre-selected node revealed a random/);
  });

  it("rejects malformed input with errors naming the function", () => {
    expect(() => selectPrimary({ reputations: [], randoms, threshold: 0n })).to.throw(
      /^selectPrimary:/,
    );
    expect(() =>
      selectPrimary({ reputations: [2n * 10n ** 18n], randoms: new Map(), threshold: 0n }),
    ).to.throw(/^selectPrimary: reputations\[0\]/);
    expect(() =>
      selectPrimary({ reputations, randoms: new Map([[9, 1n]]), threshold: 0n }),
    ).to.throw(/^selectPrimary: random for unknown node 9/);
    expect(() => selectPrimary({ reputations, randoms, threshold: -1n })).to.throw(
      /^selectPrimary:/,
    );
  });

  it("satisfies the selection rules and is deterministic for random inputs (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 18n }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), { minLength: 30, maxLength: 30 }),
        fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
        (reps, xs, theta) => {
          const rnd = new Map(reps.map((_, q) => [q, xs[q]] as [number, bigint]));
          const sel = selectPrimary({ reputations: reps, randoms: rnd, threshold: theta });
          const again = selectPrimary({
            reputations: [...reps],
            randoms: new Map(rnd),
            threshold: theta,
          });
          expect(again).to.deep.equal(sel);
          const m = BigInt(reps.length);
          const total = reps.reduce((a, b) => a + b, 0n);
          for (const q of sel.preselected) expect(reps[q] * m >= total).to.equal(true);
          expect([...sel.order].sort((a, b) => a - b)).to.deep.equal(reps.map((_, j) => j));
          expect(sel.order[0]).to.equal(sel.primary);
          for (const q of sel.eligible) expect(xs[q] >= theta).to.equal(true);
          if (sel.eligible.length > 0) {
            expect(sel.eligible).to.include(sel.primary);
            for (const q of sel.eligible) expect(reps[q] <= reps[sel.primary]).to.equal(true);
          } else {
            for (const q of sel.preselected) expect(xs[q] <= xs[sel.primary]).to.equal(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  describe("round randomness wiring", () => {
    it("encodes the round message as tag ‖ domain ‖ uint64_be(t) ‖ seed", () => {
      const domain = new Uint8Array(32).fill(0x11);
      const msg = roundRandomMessage(domain, 258n, Uint8Array.of(0xaa, 0xbb));
      expect(bytesToHex(msg)).to.equal(
        bytesToHex(utf8ToBytes("GridLedger/round")) + "11".repeat(32) + "0000000000000102" + "aabb",
      );
      expect(() => roundRandomMessage(domain, -1n, new Uint8Array())).to.throw(
        /^roundRandomMessage:/,
      );
      expect(() => roundRandomMessage(domain, 1n << 64n, new Uint8Array())).to.throw(
        /^roundRandomMessage:/,
      );
      expect(() => roundRandomMessage(new Uint8Array(31), 1n, new Uint8Array())).to.throw(
        /^roundRandomMessage: domain/,
      );
    });

    it("derives X = int(SHA-256(sig)) big-endian (FIPS 180-2 'abc' vector)", () => {
      expect(randomFromSignature(utf8ToBytes("abc"))).to.equal(
        0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adn,
      );
      const sig = Uint8Array.of(1, 2, 3);
      expect(randomFromSignature(sig)).to.equal(BigInt("0x" + bytesToHex(sha256(sig))));
      expect(() => randomFromSignature(new Uint8Array())).to.throw(/^randomFromSignature:/);
    });
  });
});
