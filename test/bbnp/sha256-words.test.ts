import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { expect } from "chai";
import fc from "fast-check";

import {
  FastHasher,
  auiBlock,
  blindBlock,
  wordsBelowOrder,
  wordsToBigInt,
} from "../../offchain/protocol/bbnp/fast.ts";
import {
  auiMagnitude,
  blindingTerm,
  reportTag,
  sessionKeyBytes,
} from "../../offchain/protocol/bbnp/masking.ts";
import { BBNP_ORDER, concatBytes, u256 } from "../../offchain/protocol/bbnp/params.ts";
import { hmacSha256, taggedHash } from "../../offchain/crypto/hash.ts";
import {
  SHA256_IV,
  bytesToWords,
  compress,
  hmacKeyStates,
  hmacOneBlock,
  paddedBlock,
  wordsToBytes,
} from "../../offchain/crypto/sha256-words.ts";

describe("bbnp word-level SHA-256 (differential against @noble/hashes)", () => {
  it("taggedHash matches the DESIGN §4 definition SHA256(SHA256(tag) ‖ SHA256(tag) ‖ x)", () => {
    const t = sha256(new TextEncoder().encode("GridLedger/BBNP/k"));
    const x = new Uint8Array([1, 2, 3]);
    expect(taggedHash("GridLedger/BBNP/k", x)).to.deep.equal(
      sha256(new Uint8Array([...t, ...t, ...x])),
    );
  });

  it("hmacOneBlock equals HMAC-SHA256 for any key ≤ 64 bytes and message ≤ 55 bytes", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 55 }),
        (key, msg) => {
          const states = hmacKeyStates(key);
          const out = new Int32Array(8);
          hmacOneBlock(states, 0, paddedBlock(msg, 64), out, 0, new Int32Array(16));
          expect(wordsToBytes(out)).to.deep.equal(hmac(sha256, key, msg));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("FastHasher.sessionKey / reportTag / aui equal the reference masking functions", () => {
    const hasher = new FastHasher();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 48, maxLength: 48 }),
        fc.integer({ min: 0, max: 0xfffffffe }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: BBNP_ORDER - 1n }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (dh, userId, round, masked, pairKeyBytes) => {
          const hi = Number(round >> 32n);
          const lo = Number(round & 0xffffffffn);
          const k = new Int32Array(8);
          hasher.sessionKey(bytesToWords(dh), 0, userId, 0xffffffff, hi, lo, k, 0);
          const refKey = sessionKeyBytes(dh, userId, 0xffffffff, round);
          expect(wordsToBytes(k)).to.deep.equal(refKey);
          const tag = new Int32Array(8);
          hasher.reportTag(k, 0, bytesToWords(u256(masked)), 0, hi, lo, tag, 0);
          expect(wordsToBytes(tag)).to.deep.equal(reportTag(refKey, masked, round));
          const states = hmacKeyStates(pairKeyBytes);
          const aui = new Int32Array(8);
          hasher.aui(states, 0, auiBlock(round), aui, 0);
          expect(wordsToBigInt(aui) % BBNP_ORDER).to.equal(auiMagnitude(pairKeyBytes, round));
          expect(wordsToBytes(aui)).to.deep.equal(
            hmacSha256(
              pairKeyBytes,
              concatBytes(
                new TextEncoder().encode("GridLedger/BBNP/AUI"),
                new Uint8Array(8).map((_, i) => Number((round >> BigInt(56 - 8 * i)) & 0xffn)),
              ),
            ),
          );
          // β_i(t): the same one-block HMAC over the blinding label.
          const blind = new Int32Array(8);
          hasher.aui(states, 0, blindBlock(round), blind, 0);
          expect(wordsToBigInt(blind) % BBNP_ORDER).to.equal(blindingTerm(pairKeyBytes, round));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("compress (unrolled) equals SHA-256 of any two-block message", () => {
    // A 64-byte first block, then a final block with ≤ 55 message bytes and the padding.
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.uint8Array({ maxLength: 55 }),
        (first, rest) => {
          const state = Int32Array.from(SHA256_IV);
          compress(state, 0, bytesToWords(first), 0);
          const last = paddedBlock(rest, 64);
          compress(state, 0, last, 0);
          expect(wordsToBytes(state)).to.deep.equal(sha256(new Uint8Array([...first, ...rest])));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("wordsBelowOrder is exactly C < r at the boundary", () => {
    for (const [v, below] of [
      [BBNP_ORDER - 1n, true],
      [BBNP_ORDER, false],
      [BBNP_ORDER + 1n, false],
      [0n, true],
      [(1n << 256n) - 1n, false],
    ] as const) {
      expect(wordsBelowOrder(bytesToWords(u256(v)), 0), v.toString(16)).to.equal(below);
    }
  });
});
