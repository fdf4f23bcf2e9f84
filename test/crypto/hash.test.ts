// The word-level paths of sha256 (≤ 119 bytes), taggedHash and hmacSha256Keyed (≤ 55 bytes) and
// their node:crypto paths (longer inputs) against @noble/hashes, across the block boundaries.
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { expect } from "chai";
import fc from "fast-check";

import {
  hmacSha256Concat,
  hmacSha256Keyed,
  sha256 as gridSha256,
  SHA256_SHORT_MAX,
  taggedHash,
} from "../../offchain/crypto/hash.ts";

const referenceTagged = (tag: string, x: Uint8Array): Uint8Array => {
  const t = sha256(new TextEncoder().encode(tag));
  return sha256(new Uint8Array([...t, ...t, ...x]));
};

describe("hash: one-block word-level paths", () => {
  it("taggedHash equals SHA256(SHA256(tag) ‖ SHA256(tag) ‖ x) at every length 0..130", () => {
    for (let n = 0; n <= 130; n++) {
      const x = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 0xff);
      expect(taggedHash("GridLedger/GGM", x), `length ${n}`).to.deep.equal(
        referenceTagged("GridLedger/GGM", x),
      );
    }
  });

  it("property: taggedHash equals the reference for random tags and inputs (0xff bytes included)", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.uint8Array({ maxLength: 120 }),
        (tag, x) => {
          expect(taggedHash(tag, x)).to.deep.equal(referenceTagged(tag, x));
        },
      ),
      { numRuns: 300 },
    );
    expect(taggedHash("t", new Uint8Array(55).fill(0xff))).to.deep.equal(
      referenceTagged("t", new Uint8Array(55).fill(0xff)),
    );
  });

  it("hmacSha256Keyed equals HMAC-SHA256 at every message length 0..130, calls interleaved", () => {
    const a = hmacSha256Keyed(new Uint8Array(32).fill(7));
    const b = hmacSha256Keyed(new Uint8Array(70).fill(0x80)); // key longer than a block
    for (let n = 0; n <= 130; n++) {
      const m = Uint8Array.from({ length: n }, (_, i) => (i * 17 + 3 * n) & 0xff);
      expect(a(m), `a, length ${n}`).to.deep.equal(hmac(sha256, new Uint8Array(32).fill(7), m));
      expect(b(m), `b, length ${n}`).to.deep.equal(hmac(sha256, new Uint8Array(70).fill(0x80), m));
    }
  });

  it("results are fresh arrays: a caller may wipe one without changing the next", () => {
    const first = taggedHash("GridLedger/H3", new Uint8Array(32));
    const copy = Uint8Array.from(first);
    first.fill(0);
    expect(taggedHash("GridLedger/H3", new Uint8Array(32))).to.deep.equal(copy);
  });

  it("sha256 equals the reference at every length 0..300 (one, two and node:crypto blocks)", () => {
    expect(SHA256_SHORT_MAX).to.equal(119);
    for (let n = 0; n <= 300; n++) {
      const x = Uint8Array.from({ length: n }, (_, i) => (i * 29 + 7 * n) & 0xff);
      expect(gridSha256(x), `length ${n}`).to.deep.equal(sha256(x));
      expect(gridSha256(x.fill(0xff)), `length ${n}, 0xff`).to.deep.equal(sha256(x));
    }
  });

  it("property: sha256 equals the reference, and calls do not share a result array", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (x, y) => {
        const hx = gridSha256(x);
        const hy = gridSha256(y);
        expect(hx).to.deep.equal(sha256(x));
        expect(hy).to.deep.equal(sha256(y));
      }),
      { numRuns: 300 },
    );
  });

  it("hmacSha256Concat(key, a, b) equals HMAC-SHA256(key, a ‖ b), empty parts included", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 1400 }),
        fc.uint8Array({ maxLength: 40 }),
        (key, a, b) => {
          expect(hmacSha256Concat(key, a, b)).to.deep.equal(
            hmac(sha256, key, new Uint8Array([...a, ...b])),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
