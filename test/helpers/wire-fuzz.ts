// The wire codecs' property harness (offchain/protocol/wire/), shared by test/protocol/wire.test.ts
// and wire-bbnp.test.ts: for an arbitrary of messages, decode(encode(x)) = x with the version and
// type bytes; strictness (a prefix is truncated, an extension has trailing bytes); random bodies
// under the given type bytes and mutated valid messages raise only the named WireDecodeError, and
// whatever decodes re-encodes to the same bytes (canonical decoding).
import { expect } from "chai";
import fc from "fast-check";

import {
  decodeWire,
  encodeWire,
  WIRE_TYPE,
  WIRE_VERSION,
  WireDecodeError,
  WireTrailingBytesError,
  WireTruncatedError,
  type WireMessage,
} from "../../offchain/protocol/wire/index.ts";

/** Only the named error may escape a decoder. */
export function decodeOrNamedError(b: Uint8Array): WireMessage | WireDecodeError {
  try {
    return decodeWire(b);
  } catch (e) {
    if (e instanceof WireDecodeError) return e;
    throw e;
  }
}

export interface WireFuzzOptions {
  /** Type bytes whose random bodies are fuzzed. */
  readonly types: readonly number[];
  /** Longest random body (bytes). */
  readonly maxBody: number;
  /** Also fuzz fully random byte strings (any version and type byte). */
  readonly rawBytes?: boolean;
  /** Strictness: check every prefix (small messages) or one random prefix per run. */
  readonly prefixes: "all" | "one";
  /** Runs per property: round trip, strictness, random bodies, mutations. */
  readonly runs: { roundTrip: number; strict: number; random: number; mutated: number };
}

/** Defines the four properties as `it` cases in the calling `describe`. */
export function wireFuzzSuite(message: fc.Arbitrary<WireMessage>, o: WireFuzzOptions): void {
  it("decode(encode(x)) = x, with the version and the type byte", () => {
    fc.assert(
      fc.property(message, (m) => {
        const b = encodeWire(m);
        expect(b[0]).to.equal(WIRE_VERSION);
        // A message type with sub-types (consensus) has one type byte per sub-type.
        const own = (WIRE_TYPE as Readonly<Record<string, number>>)[m.type];
        if (own !== undefined) expect(b[1]).to.equal(own);
        else expect(Object.values(WIRE_TYPE)).to.include(b[1]);
        expect(decodeWire(b)).to.deep.equal(m);
      }),
      { numRuns: o.runs.roundTrip },
    );
  });

  it("strict: a prefix is truncated, an extension has trailing bytes", () => {
    fc.assert(
      fc.property(
        message,
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        (m, cut, extra) => {
          const b = encodeWire(m);
          const cuts = o.prefixes === "all" ? [...b.keys()] : [cut % b.length];
          for (const k of cuts) {
            expect(() => decodeWire(b.subarray(0, k))).to.throw(WireTruncatedError);
          }
          expect(() => decodeWire(Uint8Array.from([...b, ...extra]))).to.throw(
            WireTrailingBytesError,
          );
        },
      ),
      { numRuns: o.runs.strict },
    );
  });

  it("random bytes raise only WireDecodeError; whatever decodes re-encodes to itself", () => {
    const typed = fc
      .tuple(fc.constantFrom(...o.types), fc.uint8Array({ maxLength: o.maxBody }))
      .map(([t, body]) => Uint8Array.from([WIRE_VERSION, t, ...body]));
    const input = o.rawBytes ? fc.oneof(fc.uint8Array({ maxLength: 200 }), typed) : typed;
    fc.assert(
      fc.property(input, (b) => {
        const r = decodeOrNamedError(b);
        if (!(r instanceof WireDecodeError)) {
          expect(Buffer.from(encodeWire(r)).equals(Buffer.from(b))).to.equal(true);
        }
      }),
      { numRuns: o.runs.random },
    );
  });

  it("mutated valid messages decode canonically or fail with the named error", () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 1, max: 255 }), (m, at, x) => {
        const b = Uint8Array.from(encodeWire(m));
        b[at % b.length] ^= x;
        const r = decodeOrNamedError(b);
        if (!(r instanceof WireDecodeError)) {
          expect(Buffer.from(encodeWire(r)).equals(Buffer.from(b))).to.equal(true);
        }
      }),
      { numRuns: o.runs.mutated },
    );
  });
}
