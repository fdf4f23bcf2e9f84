// Wire codecs (offchain/protocol/wire/): decode(encode(x)) = x for every message type, strict
// decoding (encode(decode(b)) = b whenever b decodes), random and mutated bytes only ever raise
// the named WireDecodeError, and the framed encodings are byte-identical to the existing encoders.
import { expect } from "chai";
import fc from "fast-check";

import { quantizeReputation } from "../../offchain/consensus/block.ts";
import { BLS_R } from "../../offchain/crypto/bls.ts";
import { u256 } from "../../offchain/crypto/bytes.ts";
import { CURVE_ORDER } from "../../offchain/crypto/secp256k1.ts";
import { ONION_PACKET_SIZE } from "../../offchain/onion/sphinx.ts";
import { BBNP_ORDER } from "../../offchain/protocol/bbnp/params.ts";
import { encodeReport, encodeReveal } from "../../offchain/protocol/bbnp/report.ts";
import { ENTRY_KIND, type LedgerEntry } from "../../offchain/protocol/entry.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { encodeUserBatch } from "../../offchain/protocol/user-batch.ts";
import { wireFuzzSuite } from "../helpers/wire-fuzz.ts";
import {
  decodeWire,
  decodeWireOr,
  encodeWire,
  ENCRYPTED_GGM_KEY_BYTES,
  WIRE_TYPE,
  WIRE_VERSION,
  WireDecodeError,
  WireEncodeError,
  WireFieldError,
  WireTrailingBytesError,
  WireTruncatedError,
  WireUnknownTypeError,
  WireVersionError,
  type WireMessage,
} from "../../offchain/protocol/wire/index.ts";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const counter = fc.integer({ min: 1, max: 0xffff });
const ascending = (arb: fc.Arbitrary<number>, maxLength: number) =>
  fc.uniqueArray(arb, { maxLength }).map((xs) => xs.sort((a, b) => a - b));
const compressedKey = fc
  .tuple(fc.constantFrom(2, 3), bytes(32))
  .map(([p, x]) => Uint8Array.from([p, ...x]));
const belowR = fc.bigInt({ min: 0n, max: BBNP_ORDER - 1n });
const sig = bytes(96);

const scalarArb = fc.bigInt({ min: 1n, max: CURVE_ORDER - 1n });
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString("hex");
/** A DAP entry's fields but id and interval (set by the message). */
const dapFields = fc.record({
  kind: fc.constant(ENTRY_KIND.DAP),
  timestamp: u64,
  value: u64,
  sigPk: compressedKey,
  signature: fc.record({ rAddr: bytes(20), y: scalarArb }),
});
const DAP_DEFAULT = {
  kind: ENTRY_KIND.DAP,
  timestamp: 1n,
  value: 2n,
  sigPk: Uint8Array.from([2, ...new Uint8Array(32).fill(7)]),
  signature: { rAddr: new Uint8Array(20), y: 1n },
};

const entry: fc.Arbitrary<LedgerEntry> = fc.record({
  kind: fc.constant(ENTRY_KIND.OCD),
  interval: u32,
  id: bytes(32),
  timestamp: u64,
  value: u64,
  sigPk: compressedKey,
  signature: fc.record({ rAddr: bytes(20), y: fc.bigInt({ min: 1n, max: CURVE_ORDER - 1n }) }),
});

const block = fc.record({
  round: u64,
  previousDigest: bytes(32),
  sum: fc.bigInt({ min: 0n, max: BLS_R - 1n }),
  gatewaySignature: sig,
  primary: u16,
  reputations: fc.array(
    fc.bigInt({ min: 0n, max: 10n ** 9n }).map((x) => x * 10n ** 9n),
    { maxLength: 20 },
  ),
  epoch: u32,
  reporters: u32,
});

const message: fc.Arbitrary<WireMessage> = fc.oneof(
  bytes(ONION_PACKET_SIZE - 1).map(
    (rest) => ({ type: "onionPacket", packet: Uint8Array.from([0, ...rest]) }) as const,
  ),
  entry.map((e) => ({ type: "meterReport", entry: e }) as const),
  fc
    .record({ interval: u32, meter: u32, counters: ascending(counter, 40) })
    .map((receipt) => ({ type: "ccReceipt", receipt }) as const),
  fc
    .record({ meter: u32, interval: u32, counter })
    .map((request) => ({ type: "ccResendRequest", request }) as const),
  fc
    .record({
      index: u32,
      publicKey: compressedKey,
      encryptedGgmKey: fc
        .tuple(compressedKey, bytes(ENCRYPTED_GGM_KEY_BYTES - 33))
        .map(([e, rest]) => Uint8Array.from([...e, ...rest])),
      basePublicKey: compressedKey,
    })
    .map((registration) => ({ type: "meterRegistration", registration }) as const),
  fc
    .record({ interval: u32, pseudonyms: fc.array(bytes(32), { maxLength: 20 }) })
    .map((batch) => ({ type: "pseudonymBatch", batch }) as const),
  fc
    .record({ interval: u32, start: u64, length: u64, windowMs: u32 })
    .filter(({ start, length }) => length > 0n && start + length < 1n << 64n)
    .map(
      ({ interval, start, length, windowMs }) =>
        ({
          type: "intervalAnnouncement",
          announcement: { interval, start, end: start + length, windowMs },
        }) as const,
    ),
  fc
    .tuple(u32, fc.uniqueArray(bytes(32), { maxLength: 8, selector: hexOf }), fc.array(dapFields))
    .map(([interval, ids, fields]) => ({
      type: "dapEntries" as const,
      dap: {
        interval,
        entries: ids
          .sort((a, b) => hexOf(a).localeCompare(hexOf(b)))
          .map((id, i) => ({ ...(fields[i] ?? fields[0] ?? DAP_DEFAULT), id, interval })),
      },
    })),
  fc
    .record({
      interval: u32,
      firstIndex: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      bills: fc.array(fc.record({ id: bytes(32), timestamp: u64, bill: u64, consumptionWh: u64 }), {
        minLength: 1,
        maxLength: 8,
      }),
      signature: fc.record({ rAddr: bytes(20), y: scalarArb }),
    })
    .map(
      (b) =>
        ({
          type: "billBatch",
          batch: { ...b, bills: b.bills.map((x) => ({ interval: b.interval, ...x })) },
        }) as const,
    ),
  fc.tuple(u32, fc.array(fc.record({ entry, tweak: scalarArb }), { maxLength: 8 })).map(
    ([interval, slots]) =>
      ({
        type: "userBatch",
        interval,
        slots: slots.map((slot) => ({ ...slot, entry: { ...slot.entry, interval } })),
      }) as const,
  ),
  u32.map((interval) => ({ type: "userBatchReceipt", interval }) as const),
  fc
    .record({ userId: u32, round: u64, masked: belowR.map((x) => u256(x)), tag: bytes(32) })
    .map((report) => ({ type: "bbnpReport", report }) as const),
  fc
    .record({ round: u64, userId: u32, peers: ascending(u32, 20) })
    .map((request) => ({ type: "bbnpRevealRequest", request }) as const),
  fc
    .record({ userId: u32, round: u64, peer: u32, mask: belowR, tag: bytes(32) })
    .map((reveal) => ({ type: "bbnpReveal", reveal }) as const),
  fc
    .record({ round: u64, missing: ascending(u32, 20), correction: belowR })
    .map((correction) => ({ type: "bbnpDropoutCorrection", correction }) as const),
  fc
    .record({ round: u64, missing: ascending(u32, 20) })
    .map((request) => ({ type: "bbnpCorrectionRequest", request }) as const),
  fc
    .record({
      type: fc.constant("gateway" as const),
      round: u64,
      sum: fc.bigInt({ min: 0n, max: BLS_R - 1n }),
      reporters: u32,
      gatewaySignature: sig,
    })
    .map((message) => ({ type: "consensus", message }) as const),
  fc
    .record({ type: fc.constant("proposal" as const), round: u64, view: u32, block })
    .map((message) => ({ type: "consensus", message }) as const),
  fc
    .record({
      type: fc.constant("vote" as const),
      round: u64,
      view: u32,
      from: u16,
      digest: bytes(32),
      signature: sig,
    })
    .map((message) => ({ type: "consensus", message }) as const),
  fc
    .record({
      type: fc.constant("committed" as const),
      block,
      certificate: fc.record({
        signers: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
        signature: sig,
      }),
      order: fc.array(u16, { maxLength: 20 }),
    })
    .map((message) => ({ type: "consensus", message }) as const),
);

describe("wire codecs", () => {
  wireFuzzSuite(message, {
    types: Object.values(WIRE_TYPE),
    maxBody: 1500,
    rawBytes: true,
    prefixes: "one",
    runs: { roundTrip: 2000, strict: 500, random: 5000, mutated: 3000 },
  });

  it("decodeWireOr: the message when it decodes; otherwise refuse(the named error) and undefined", () => {
    // The receive path of every role (cc, meter, user, gateway, consensus node, BBNP user).
    fc.assert(
      fc.property(message, fc.uint8Array({ minLength: 1, maxLength: 64 }), (m, junk) => {
        const refused: WireDecodeError[] = [];
        const ok = decodeWireOr(encodeWire(m), (e) => refused.push(e));
        expect(ok).to.deep.equal(decodeWire(encodeWire(m)));
        const bad = new Uint8Array([WIRE_VERSION + 1, ...junk]);
        expect(decodeWireOr(bad, (e) => refused.push(e))).to.equal(undefined);
        expect(refused).to.have.length(1);
        expect(refused[0]).to.be.instanceOf(WireVersionError);
      }),
      { numRuns: 200 },
    );
  });

  it("frames the existing encoders byte for byte (no twin encodings)", () => {
    fc.assert(
      fc.property(entry, (e) => {
        const b = encodeWire({ type: "meterReport", entry: e });
        expect(Buffer.from(b.subarray(2)).equals(Buffer.from(encodeMeterReport(e)))).to.equal(true);
      }),
      { numRuns: 100 },
    );
    const report = { userId: 7, round: 9n, masked: u256(5n), tag: new Uint8Array(32).fill(1) };
    expect(encodeWire({ type: "bbnpReport", report }).subarray(2)).to.deep.equal(
      encodeReport(report),
    );
    const reveal = { userId: 7, round: 9n, peer: 8, mask: 11n, tag: new Uint8Array(32).fill(2) };
    expect(encodeWire({ type: "bbnpReveal", reveal }).subarray(2)).to.deep.equal(
      encodeReveal(reveal),
    );
  });

  it("named errors for version, type and field violations", () => {
    const good = encodeWire({
      type: "ccResendRequest",
      request: { meter: 1, interval: 2, counter: 3 },
    });
    expect(() => decodeWire(Uint8Array.from([2, ...good.subarray(1)]))).to.throw(WireVersionError);
    expect(() => decodeWire(Uint8Array.from([WIRE_VERSION, 0xee]))).to.throw(WireUnknownTypeError);
    const zeroCounter = Uint8Array.from(good);
    zeroCounter[zeroCounter.length - 1] = 0;
    zeroCounter[zeroCounter.length - 2] = 0;
    expect(() => decodeWire(zeroCounter)).to.throw(WireFieldError, /counter 0/);
    // A receipt whose counters are not strictly ascending is not canonical.
    const receipt = encodeWire({
      type: "ccReceipt",
      receipt: { interval: 1, meter: 1, counters: [1, 2] },
    });
    receipt[receipt.length - 1] = 1; // counters [1, 1]
    expect(() => decodeWire(receipt)).to.throw(WireFieldError, /ascending/);
    // An onion packet with another version byte.
    const onion = encodeWire({ type: "onionPacket", packet: new Uint8Array(ONION_PACKET_SIZE) });
    onion[2] = 1;
    expect(() => decodeWire(onion)).to.throw(WireFieldError, /version/);
    // A BBNP mask at or above r.
    const rev = encodeWire({
      type: "bbnpReveal",
      reveal: { userId: 1, round: 1n, peer: 2, mask: 1n, tag: new Uint8Array(32) },
    });
    rev.set(u256(BBNP_ORDER), 2 + 16);
    expect(() => decodeWire(rev)).to.throw(WireFieldError, /mask/);
  });

  it("Oksuz service messages: named errors for every field the decoder refuses", () => {
    const announcement = encodeWire({
      type: "intervalAnnouncement",
      announcement: { interval: 1, start: 100n, end: 200n, windowMs: 5_000 },
    });
    const swapped = Uint8Array.from(announcement);
    swapped.set(announcement.subarray(6, 14), 14); // end := start
    expect(() => decodeWire(swapped)).to.throw(WireFieldError, /end not after start/);

    const sigPk = Uint8Array.from([3, ...new Uint8Array(32).fill(9)]);
    const dapEntry = (idByte: number): LedgerEntry => ({
      kind: ENTRY_KIND.DAP,
      interval: 4,
      id: new Uint8Array(32).fill(idByte),
      timestamp: 7n,
      value: 5n,
      sigPk,
      signature: { rAddr: new Uint8Array(20).fill(1), y: 3n },
    });
    const dap = encodeWire({
      type: "dapEntries",
      dap: { interval: 4, entries: [dapEntry(1), dapEntry(2)] },
    });
    const unordered = Uint8Array.from(dap);
    unordered.set(new Uint8Array(32).fill(1), 2 + 4 + 2 + 133); // second id := first id
    expect(() => decodeWire(unordered)).to.throw(WireFieldError, /ascending/);
    const zeroY = Uint8Array.from(dap);
    zeroY.set(new Uint8Array(32), 2 + 4 + 2 + 101); // first entry's y := 0
    expect(() => decodeWire(zeroY)).to.throw(WireFieldError, /dap\.y/);
    const badPrefix = Uint8Array.from(dap);
    badPrefix[2 + 4 + 2 + 48] = 4;
    expect(() => decodeWire(badPrefix)).to.throw(WireFieldError, /sigPk prefix/);
    expect(() =>
      encodeWire({ type: "dapEntries", dap: { interval: 5, entries: [dapEntry(1)] } }),
    ).to.throw(WireEncodeError, /another interval/);

    const bill = {
      interval: 4,
      id: new Uint8Array(32),
      timestamp: 1n,
      bill: 6n,
      consumptionWh: 3n,
    };
    const batch = encodeWire({
      type: "billBatch",
      batch: {
        interval: 4,
        firstIndex: 0,
        bills: [bill],
        signature: { rAddr: new Uint8Array(20), y: 1n },
      },
    });
    const empty = Uint8Array.from([...batch.subarray(0, 14), 0, 0, ...batch.subarray(16 + 56)]);
    expect(() => decodeWire(empty)).to.throw(WireFieldError, /empty batch/);
    const hugeIndex = Uint8Array.from(batch);
    hugeIndex.fill(0xff, 6, 14);
    expect(() => decodeWire(hugeIndex)).to.throw(WireFieldError, /firstIndex/);
    expect(() =>
      encodeWire({
        type: "billBatch",
        batch: {
          interval: 4,
          firstIndex: 0,
          bills: [],
          signature: { rAddr: new Uint8Array(20), y: 1n },
        },
      }),
    ).to.throw(WireEncodeError, /empty/);

    const slot = {
      entry: {
        kind: ENTRY_KIND.OCD,
        interval: 4,
        id: new Uint8Array(32).fill(5),
        timestamp: 9n,
        value: 50n,
        sigPk,
        signature: { rAddr: new Uint8Array(20), y: 2n },
      },
      tweak: 11n,
    };
    const userBatch = encodeWire({ type: "userBatch", interval: 4, slots: [slot] });
    expect(userBatch.subarray(8)).to.deep.equal(encodeUserBatch([slot]));
    const otherInterval = Uint8Array.from(userBatch);
    otherInterval[5] = 5; // the batch says interval 5, its slot 4
    expect(() => decodeWire(otherInterval)).to.throw(WireFieldError, /another interval/);
    const zeroTweak = Uint8Array.from(userBatch);
    zeroTweak.fill(0, userBatch.length - 32);
    expect(() => decodeWire(zeroTweak)).to.throw(WireFieldError, /tweak/);
  });

  it("encoders refuse values the wire cannot carry", () => {
    expect(() =>
      encodeWire({ type: "ccReceipt", receipt: { interval: 1, meter: 1, counters: [2, 1] } }),
    ).to.throw(WireEncodeError);
    expect(() => encodeWire({ type: "onionPacket", packet: new Uint8Array(1365) })).to.throw(
      WireEncodeError,
    );
    const b = {
      round: 1n,
      previousDigest: new Uint8Array(32),
      sum: 1n,
      gatewaySignature: new Uint8Array(96),
      primary: 0,
      reputations: [10n ** 18n - 1n], // not a multiple of 1e9: would not survive the wire
      epoch: 1,
      reporters: 10,
    };
    expect(quantizeReputation(b.reputations[0])).to.not.equal(b.reputations[0]);
    expect(() =>
      encodeWire({
        type: "consensus",
        message: { type: "proposal", round: 1n, view: 0, block: b },
      }),
    ).to.throw(WireEncodeError, /quantized/);
    expect(() =>
      encodeWire({
        type: "bbnpDropoutCorrection",
        correction: { round: 1n, missing: [], correction: BBNP_ORDER },
      }),
    ).to.throw(WireEncodeError);
    expect(() =>
      encodeWire({ type: "bbnpCorrectionRequest", request: { round: 1n, missing: [2, 1] } }),
    ).to.throw(WireEncodeError, /ascending/);
    // Strict decoding: a request whose D is not strictly ascending is refused with the named error.
    const ok = encodeWire({
      type: "bbnpCorrectionRequest",
      request: { round: 1n, missing: [1, 2] },
    });
    const swapped = Uint8Array.from(ok);
    swapped[swapped.length - 1] = 1; // D = [1, 1]
    expect(() => decodeWire(swapped)).to.throw(WireDecodeError, /ascending/);
  });
});
