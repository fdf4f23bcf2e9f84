// The unrolled Keccak-256 against @noble/hashes: every length across three rate blocks (0..410,
// so 135/136/137 and 271/272 are crossed), random inputs, and the well-known empty-input digest.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { expect } from "chai";
import fc from "fast-check";

import { bytesToHex } from "../../offchain/crypto/bytes.ts";
import { keccak256 } from "../../offchain/crypto/keccak.ts";

describe("keccak256 (unrolled Keccak-f[1600])", () => {
  it("empty input: c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470", () => {
    expect(bytesToHex(keccak256(new Uint8Array(0)))).to.equal(
      "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    );
  });

  it("equals @noble/hashes at every length 0..410", () => {
    for (let n = 0; n <= 410; n++) {
      const x = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n * 7 + 0x80) & 0xff);
      expect(keccak256(x), `length ${n}`).to.deep.equal(keccak_256(x));
    }
  });

  it("property: equals @noble/hashes on random inputs; consecutive calls do not interfere", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 100 }), (a, b) => {
        const ha = keccak256(a);
        const hb = keccak256(b);
        expect(ha).to.deep.equal(keccak_256(a));
        expect(hb).to.deep.equal(keccak_256(b));
      }),
      { numRuns: 300 },
    );
  });
});
