// QBFT extraData (offchain/besu/extra-data.ts) against Besu's documented vectors (Besu docs,
// "Configure QBFT consensus": the block-header genesis example, the `besu rlp encode` example and
// the contract-mode genesis example), round trips, and refusal of the IBFT 2.0 form.
import { expect } from "chai";
import { decodeRlp } from "ethers";
import fc from "fast-check";

import { QbftExtraDataError } from "../../offchain/besu/errors.ts";
import {
  decodeQbftExtraData,
  encodeQbftExtraData,
  genesisExtraData,
  type QbftExtraData,
} from "../../offchain/besu/extra-data.ts";

const ZERO_VANITY = "0x0000000000000000000000000000000000000000000000000000000000000000";

/** Besu docs, QBFT genesis file, block header validator selection. */
const DOC_GENESIS = {
  validators: [
    "0x64a702e6263b7297a96638cac6ae65e6541f4169",
    "0x3923390ad55e90c237593b3b0e401f3b08a03185",
    "0xaefdb9a738c9f433e5b6b212a6d62f6370c2f692",
    "0xc7eeb9a4e00ce683cf93039b212648e01c6c6b78",
  ],
  extraData:
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e6263b7297a96638cac6ae65e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f433e5b6b212a6d62f6370c2f69294c7eeb9a4e00ce683cf93039b212648e01c6c6b78c080c0",
};

/** Besu docs, "Generate extra data": `besu rlp encode --type=QBFT_EXTRA_DATA` of toEncode.json. */
const DOC_RLP_ENCODE = {
  validators: [
    "0x4592c8e45706cc08b8f44b11e43cba0cfc5892cb",
    "0x06e23768a0f59cf365e18c2e0c89e151bcdedc70",
    "0xc5327f96ee02d7bcbc1bf1236b8c15148971e1de",
    "0xab5e7f4061c605820d3744227eed91ff8e2c8908",
  ],
  extraData:
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f854944592c8e45706cc08b8f44b11e43cba0cfc5892cb9406e23768a0f59cf365e18c2e0c89e151bcdedc7094c5327f96ee02d7bcbc1bf1236b8c15148971e1de94ab5e7f4061c605820d3744227eed91ff8e2c8908c080c0",
};

/** Besu docs, QBFT genesis file, contract validator selection (no validators in the header). */
const DOC_CONTRACT_MODE =
  "0xe5a00000000000000000000000000000000000000000000000000000000000000000c0c080c0";

/**
 * The first vector's validators in IBFT 2.0's form: no vote as the empty string 0x80 and round 0 as
 * four bytes 0x8400000000 (Besu's Ibft2ExtraDataCodec) — valid RLP, not QBFT.
 */
const IBFT2_FORM =
  "0xf87ea00000000000000000000000000000000000000000000000000000000000000000f8549464a702e6263b7297a96638cac6ae65e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f433e5b6b212a6d62f6370c2f69294c7eeb9a4e00ce683cf93039b212648e01c6c6b78808400000000c0";

describe("besu: QBFT extraData", () => {
  it("genesisExtraData reproduces Besu's documented genesis vector byte for byte", () => {
    expect(genesisExtraData(DOC_GENESIS.validators)).to.equal(DOC_GENESIS.extraData);
  });

  it("genesisExtraData reproduces Besu's `rlp encode` example (validators kept in the given order)", () => {
    expect(genesisExtraData(DOC_RLP_ENCODE.validators)).to.equal(DOC_RLP_ENCODE.extraData);
  });

  it("genesisExtraData of no validators is the documented contract-mode genesis form", () => {
    expect(genesisExtraData([])).to.equal(DOC_CONTRACT_MODE);
  });

  it("decodeQbftExtraData reads the documented vectors back", () => {
    for (const v of [DOC_GENESIS, DOC_RLP_ENCODE]) {
      const x = decodeQbftExtraData(v.extraData);
      expect(x.vanity).to.equal(ZERO_VANITY);
      expect(x.validators.map((a) => a.toLowerCase())).to.deep.equal(v.validators);
      expect(x.vote).to.equal(null);
      expect(x.round).to.equal(0);
      expect(x.seals).to.deep.equal([]);
    }
    expect(decodeQbftExtraData(DOC_CONTRACT_MODE).validators).to.deep.equal([]);
  });

  it("decodeQbftExtraData rejects the IBFT 2.0 form (vote 0x80, round 0x8400000000), which is valid RLP", () => {
    expect(() => decodeRlp(IBFT2_FORM)).not.to.throw();
    expect(() => decodeQbftExtraData(IBFT2_FORM)).to.throw(QbftExtraDataError, /IBFT 2.0/);
  });

  it("decodeQbftExtraData rejects each IBFT 2.0 field on its own", () => {
    // QBFT vote list, IBFT 2.0 fixed-width round.
    const fixedRound =
      DOC_GENESIS.extraData.slice(0, -6).replace(/^0xf87a/, "0xf87e") + "c08400000000c0";
    expect(() => decodeQbftExtraData(fixedRound)).to.throw(QbftExtraDataError, /round/);
    // IBFT 2.0 vote string, QBFT round.
    const stringVote = DOC_GENESIS.extraData.slice(0, -6) + "8080c0";
    expect(() => decodeQbftExtraData(stringVote)).to.throw(QbftExtraDataError, /vote/);
  });

  it("decodeQbftExtraData rejects truncated input, wrong item counts and wrong field sizes", () => {
    expect(() => decodeQbftExtraData(DOC_GENESIS.extraData.slice(0, -2))).to.throw(
      QbftExtraDataError,
    );
    expect(() => decodeQbftExtraData("0xc0")).to.throw(QbftExtraDataError, /5 items/);
    // A 31-byte vanity.
    expect(() => decodeQbftExtraData("0xe49f" + "00".repeat(31) + "c0c080c0")).to.throw(
      QbftExtraDataError,
      /vanity/,
    );
  });

  it("decode(encode(x)) = x for any validators, vote, round and seals", () => {
    const address = fc
      .uint8Array({ minLength: 20, maxLength: 20 })
      .map((b) => "0x" + Buffer.from(b).toString("hex"));
    const hexOf = (n: number) =>
      fc
        .uint8Array({ minLength: n, maxLength: n })
        .map((b) => "0x" + Buffer.from(b).toString("hex"));
    fc.assert(
      fc.property(
        hexOf(32),
        fc.array(address, { maxLength: 20 }),
        fc.option(
          fc.record({ recipient: address, type: fc.constantFrom("add" as const, "drop" as const) }),
          { nil: null },
        ),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(hexOf(65), { maxLength: 5 }),
        (vanity, validators, vote, round, seals) => {
          const x: QbftExtraData = { vanity, validators, vote, round, seals };
          const y = decodeQbftExtraData(encodeQbftExtraData(x));
          expect(y.vanity).to.equal(vanity);
          expect(y.validators.map((a) => a.toLowerCase())).to.deep.equal(validators);
          expect(y.vote && { ...y.vote, recipient: y.vote.recipient.toLowerCase() }).to.deep.equal(
            vote,
          );
          expect(y.round).to.equal(round);
          expect(y.seals).to.deep.equal(seals);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("encodeQbftExtraData refuses a malformed address, vanity, round or seal", () => {
    expect(() => genesisExtraData(["0x1234"])).to.throw(QbftExtraDataError, /not an address/);
    const base: QbftExtraData = {
      vanity: ZERO_VANITY,
      validators: [],
      vote: null,
      round: 0,
      seals: [],
    };
    expect(() => encodeQbftExtraData({ ...base, vanity: "0x00" })).to.throw(QbftExtraDataError);
    expect(() => encodeQbftExtraData({ ...base, round: -1 })).to.throw(QbftExtraDataError);
    expect(() => encodeQbftExtraData({ ...base, seals: ["0x00"] })).to.throw(QbftExtraDataError);
  });
});
