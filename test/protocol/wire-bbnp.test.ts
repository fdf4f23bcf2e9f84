// The BBNP agents' wire messages added for issue 11 (offchain/protocol/wire/messages.ts): the
// round announcement (gateway → users) and the primary-selection reveal phase (gateway → nodes,
// node → nodes). The same property harness as test/protocol/wire.test.ts (test/helpers/wire-fuzz.ts:
// round trip, strictness, random and mutated bytes raise only WireDecodeError), named field errors.
import { expect } from "chai";
import fc from "fast-check";

import { wireFuzzSuite } from "../helpers/wire-fuzz.ts";

import {
  decodeWire,
  encodeWire,
  MAX_BLOCK_REQUEST,
  MAX_CONSENSUS_NODES,
  WIRE_TYPE,
  WIRE_VERSION,
  WireDecodeError,
  WireEncodeError,
  WireFieldError,
  WireTrailingBytesError,
  WireTruncatedError,
  type WireMessage,
} from "../../offchain/protocol/wire/index.ts";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

const message: fc.Arbitrary<WireMessage> = fc.oneof(
  u64.map((round) => ({ type: "bbnpRoundOpen", open: { round } }) as const),
  fc
    .record({ round: u64, seed: bytes(32), gatewaySignature: bytes(96) })
    .map((open) => ({ type: "selectionOpen", open }) as const),
  fc
    .record({
      round: u64,
      from: fc.integer({ min: 0, max: MAX_CONSENSUS_NODES - 1 }),
      signature: bytes(96),
    })
    .map((reveal) => ({ type: "selectionReveal", reveal }) as const),
  fc
    .record({ after: u64, limit: fc.integer({ min: 1, max: MAX_BLOCK_REQUEST }) })
    .map((request) => ({ type: "blockRequest", request }) as const),
);

describe("wire codecs: BBNP agent messages (round open, selection reveal phase, block request)", () => {
  wireFuzzSuite(message, {
    types: [
      WIRE_TYPE.bbnpRoundOpen,
      WIRE_TYPE.selectionOpen,
      WIRE_TYPE.selectionReveal,
      WIRE_TYPE.blockRequest,
    ],
    maxBody: 200,
    prefixes: "all",
    runs: { roundTrip: 1000, strict: 200, random: 3000, mutated: 2000 },
  });

  it("named errors: a node index beyond the bitmap; encoders refuse what the wire cannot carry", () => {
    const ok = encodeWire({
      type: "selectionReveal",
      reveal: { round: 3n, from: 1, signature: new Uint8Array(96) },
    });
    const bad = Uint8Array.from(ok);
    bad[2 + 8] = 0x01; // from = 0x0101 = 257
    expect(() => decodeWire(bad)).to.throw(WireFieldError, /from/);
    // Catch-up requests: a limit of 0 or above MAX_BLOCK_REQUEST is refused both ways.
    const req = encodeWire({ type: "blockRequest", request: { after: 2n, limit: 1 } });
    for (const limit of [0, MAX_BLOCK_REQUEST + 1]) {
      const b = Uint8Array.from(req);
      b[b.length - 2] = limit >> 8;
      b[b.length - 1] = limit & 0xff;
      expect(() => decodeWire(b)).to.throw(WireFieldError, /limit/);
      expect(() => encodeWire({ type: "blockRequest", request: { after: 2n, limit } })).to.throw(
        WireEncodeError,
        /limit/,
      );
    }
    expect(() =>
      encodeWire({
        type: "selectionReveal",
        reveal: { round: 3n, from: MAX_CONSENSUS_NODES, signature: new Uint8Array(96) },
      }),
    ).to.throw(WireEncodeError);
    expect(() =>
      encodeWire({
        type: "selectionOpen",
        open: { round: 1n, seed: new Uint8Array(31), gatewaySignature: new Uint8Array(96) },
      }),
    ).to.throw(WireEncodeError, /seed/);
    expect(() => encodeWire({ type: "bbnpRoundOpen", open: { round: -1n } })).to.throw(
      WireEncodeError,
    );
  });
});
