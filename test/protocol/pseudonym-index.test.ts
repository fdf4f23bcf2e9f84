// PseudonymIndex under hostile keys (offchain/protocol/pseudonym-index.ts): a dishonest RPC endpoint
// chooses the zero-slot ids a user's audit indexes, and could aim them all at one slot of the
// prefix hash (their first four bytes), making every look-up linear and the audit O(n²). After
// MAX_PROBES probes the index switches once to a keyed hash it cannot aim at; answers unchanged.
// (The Map-model property test of the plain index is in test/roles/cc-admission-table.test.ts.)
import { expect } from "chai";

import {
  MAX_PROBES,
  PseudonymIndex,
  PseudonymIndexError,
} from "../../offchain/protocol/pseudonym-index.ts";
import { createRng } from "../../offchain/runtime/rng.ts";

/** `n` keys whose first four bytes are all 0x01020304 (one slot of the prefix hash). */
function aimed(n: number, seed: string): Uint8Array[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Uint8Array.of(1, 2, 3, 4, ...rng.bytes(28)));
}

describe("PseudonymIndex against keys aimed at its hash", () => {
  it("switches to its keyed hash once, within MAX_PROBES clashing keys, with the same answers", () => {
    let draws = 0;
    const salt = (n: number) => {
      draws++;
      return createRng(`salt-${draws}`).bytes(n);
    };
    const index = new PseudonymIndex(0, salt);
    const keys = aimed(4_000, "aimed");
    keys.slice(0, MAX_PROBES).forEach((k) => index.insert(k));
    expect(index.keyed, "not before MAX_PROBES + 1 probes").to.equal(false);
    keys.slice(MAX_PROBES).forEach((k) => index.insert(k));
    expect(index.keyed).to.equal(true);
    expect(draws, "one salt for the index's life").to.equal(1);
    // A later insert of a present key still wins; absent keys are absent.
    index.insert(keys[7]);
    keys.forEach((k, e) => expect(index.find(k)).to.equal(e === 7 ? keys.length : e));
    for (const k of aimed(50, "absent")) expect(index.find(k)).to.equal(-1);
    const framed = Uint8Array.of(9, 9, ...keys[99], 9);
    expect(index.find(framed, 2)).to.equal(99);
    expect(index.size).to.equal(keys.length + 1);
    expect(index.keyAt(123)).to.deep.equal(keys[123]);
  });

  it("uniform keys (HMAC/keccak pseudonyms) stay on the prefix hash: no salt is ever drawn", () => {
    const rng = createRng("uniform");
    const index = new PseudonymIndex(0, () => {
      throw new Error("the keyed hash was not needed");
    });
    const keys = Array.from({ length: 100_000 }, () => rng.bytes(32));
    for (const k of keys) index.insert(k);
    expect(index.keyed).to.equal(false);
    expect(index.find(keys[54_321])).to.equal(54_321);
  });

  it("refuses a salt source that does not give 16 bytes (PseudonymIndexError)", () => {
    const index = new PseudonymIndex(0, () => new Uint8Array(3));
    expect(() => aimed(MAX_PROBES + 2, "bad-salt").forEach((k) => index.insert(k))).to.throw(
      PseudonymIndexError,
      /salt source must give 16 bytes/,
    );
  });
});
