import { expect } from "chai";

import {
  aggregateCiphertexts,
  decryptSum,
  encryptReading,
  generatePaillierKeys,
  type PaillierKeyPair,
} from "../../offchain/baseline/paillier.ts";
import { readingsFor } from "./fixtures.ts";

describe("EPPA-style Paillier baseline (Lu et al. 2012)", () => {
  let keys: PaillierKeyPair;
  before(async () => {
    keys = await generatePaillierKeys(1024);
  });

  it("aggregates the same readings as BBNP to the exact sum", () => {
    const readings = readingsFor(40, 3n);
    const cts = readings.map((m) => encryptReading(keys.publicKey, m));
    const expected = readings.reduce((a, b) => a + b, 0n);
    expect(decryptSum(keys.privateKey, aggregateCiphertexts(keys.publicKey, cts))).to.equal(
      expected,
    );
  });

  it("is randomised: equal readings give different ciphertexts", () => {
    expect(encryptReading(keys.publicKey, 5n)).to.not.equal(encryptReading(keys.publicKey, 5n));
  });

  it("rejects out-of-range inputs", () => {
    expect(() => encryptReading(keys.publicKey, -1n)).to.throw(/encryptReading/);
    expect(() => aggregateCiphertexts(keys.publicKey, [])).to.throw(/aggregateCiphertexts/);
    expect(() => aggregateCiphertexts(keys.publicKey, [0n])).to.throw(/out of range/);
  });
});
