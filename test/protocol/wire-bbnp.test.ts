// The BBNP agents' wire messages added for issue 11 (offchain/protocol/wire/messages.ts): the
// round announcement (gateway → users) and the primary-selection reveal phase (gateway → nodes,
// node → nodes). Same properties as test/protocol/wire.test.ts: round trip, strictness (prefix /
// extension), random and mutated bytes raise only the named WireDecodeError, named field errors.
import { expect } from "chai";
import fc from "fast-check";

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

function decodeOrNamedError(b: Uint8Array): WireMessage | WireDecodeError {
  try {
    return decodeWire(b);
  } catch (e) {
    if (e instanceof WireDecodeError) return e;
    throw e;
  }
}

describe("wire codecs: BBNP agent messages (round open, selection reveal phase, block request)", () => {
  it("decode(encode(x)) = x, with the version and the type byte", () => {
    fc.assert(
      fc.property(message, (m) => {
        const b = encodeWire(m);
        expect(b[0]).to.equal(WIRE_VERSION);
        expect(b[1]).to.equal(WIRE_TYPE[m.type as keyof typeof WIRE_TYPE]);
        expect(decodeWire(b)).to.deep.equal(m);
      }),
      { numRuns: 1000 },
    );
  });

  it("strict: every prefix is truncated, every extension has trailing bytes", () => {
    fc.assert(
      fc.property(message, fc.uint8Array({ minLength: 1, maxLength: 8 }), (m, extra) => {
        const b = encodeWire(m);
        for (let k = 0; k < b.length; k++) {
          expect(() => decodeWire(b.subarray(0, k))).to.throw(WireTruncatedError);
        }
        expect(() => decodeWire(Uint8Array.from([...b, ...extra]))).to.throw(
          WireTrailingBytesError,
        );
      }),
      { numRuns: 200 },
    );
  });

  it("random bodies under these type bytes raise only WireDecodeError; what decodes re-encodes", () => {
    const types = [
      WIRE_TYPE.bbnpRoundOpen,
      WIRE_TYPE.selectionOpen,
      WIRE_TYPE.selectionReveal,
      WIRE_TYPE.blockRequest,
    ];
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 200 }), (type, body) => {
        const b = Uint8Array.from([WIRE_VERSION, type, ...body]);
        const r = decodeOrNamedError(b);
        if (!(r instanceof WireDecodeError)) expect(encodeWire(r)).to.deep.equal(b);
      }),
      { numRuns: 3000 },
    );
  });

  it("mutated valid messages decode canonically or fail with the named error", () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 1, max: 255 }), (m, at, x) => {
        const b = encodeWire(m);
        const mutated = Uint8Array.from(b);
        mutated[at % b.length] ^= x;
        const r = decodeOrNamedError(mutated);
        if (!(r instanceof WireDecodeError)) expect(encodeWire(r)).to.deep.equal(mutated);
      }),
      { numRuns: 2000 },
    );
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
