// Besu node keys (offchain/besu/node-keys.ts): key → public key → enode id → address with known
// answers, and agreement with ethers' independent derivation.
import { expect } from "chai";
import { Wallet } from "ethers";
import fc from "fast-check";

import { BesuKitError } from "../../offchain/besu/errors.ts";
import {
  besuNodeKey,
  enodeUrl,
  generateBesuNodeKey,
  parseKeyFile,
} from "../../offchain/besu/node-keys.ts";
import { hexToBytes } from "../../offchain/crypto/bytes.ts";

/**
 * Known answers: the secret key 1 (its public key is the secp256k1 generator G, SEC 2 §2.4.1; its
 * address is well known), and Hardhat's first default account (Hardhat docs, `hardhat node`).
 */
const VECTORS = [
  {
    key: "0x0000000000000000000000000000000000000000000000000000000000000001",
    publicKey:
      "0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
    address: "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf",
  },
  {
    key: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    publicKey:
      "0x8318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed753547f11ca8696646f2f3acb08e31016afac23e630c5d11f59f61fef57b0d2aa5",
    address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
  },
];

describe("besu: node keys", () => {
  it("derives the known public key, enode id and address", () => {
    for (const v of VECTORS) {
      const k = besuNodeKey(hexToBytes(v.key));
      expect(k.privateKey).to.equal(v.key);
      expect(k.publicKey).to.equal(v.publicKey);
      expect(k.enodeId).to.equal(v.publicKey.slice(2));
      expect(k.address).to.equal(v.address);
      expect(enodeUrl(k.enodeId, "127.0.0.1", 30303)).to.equal(
        `enode://${v.publicKey.slice(2)}@127.0.0.1:30303`,
      );
    }
  });

  it("agrees with ethers' Wallet for any secret key", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (secret) => {
        let k;
        try {
          k = besuNodeKey(secret);
        } catch (err) {
          expect(err).to.be.instanceOf(BesuKitError); // 0 or ≥ n
          return;
        }
        const w = new Wallet(k.privateKey);
        expect(k.address).to.equal(w.address);
        expect("0x04" + k.publicKey.slice(2)).to.equal(w.signingKey.publicKey);
      }),
      { numRuns: 50 },
    );
  });

  it("a key file round-trips (with or without 0x) and refuses anything but 32 bytes of hex", () => {
    const k = besuNodeKey(hexToBytes(VECTORS[1].key));
    expect(parseKeyFile(k.privateKey + "\n")).to.deep.equal(k);
    expect(parseKeyFile(k.privateKey.slice(2))).to.deep.equal(k);
    expect(() => parseKeyFile("0x1234")).to.throw(BesuKitError);
  });

  it("refuses the zero scalar and the group order; generation redraws them", () => {
    expect(() => besuNodeKey(new Uint8Array(32))).to.throw(BesuKitError, /\[1, n-1\]/);
    const n = hexToBytes("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    expect(() => besuNodeKey(n)).to.throw(BesuKitError);
    const draws = [new Uint8Array(32), n, hexToBytes(VECTORS[0].key.slice(2))];
    expect(generateBesuNodeKey(() => draws.shift()!).address).to.equal(VECTORS[0].address);
  });
});
