// The control center's compact admission table (issue 14, offchain/cc/admission-table.ts) against
// Map models: the pseudonym index on random inserts and look-ups, and the per-interval tables on
// random meter registrations and interval rotations against ControlCenterPseudonyms (the
// Map-based look-up the table replaced) and the GGM reference for the interval seeds.
import { expect } from "chai";
import fc from "fast-check";

import {
  IntervalTable,
  MeterDirectory,
  PseudonymIndex,
  ReportArena,
} from "../../offchain/cc/admission-table.ts";
import { bytesToHex } from "../../offchain/crypto/bytes.ts";
import { intervalMessageTweak, messageTweak } from "../../offchain/crypto/ggm.ts";
import { keyPairFromSecret } from "../../offchain/crypto/keys.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import { ControlCenterPseudonyms } from "../../offchain/protocol/pseudonym.ts";
import { seedScalar } from "./fixtures.ts";

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe("CC admission table (issue 14)", () => {
  it("PseudonymIndex agrees with a Map model on random inserts (duplicates included) and look-ups", () => {
    // Keys that share their first four bytes (the hash) collide on purpose: long probe runs.
    const clashing = fc
      .uint8Array({ minLength: 28, maxLength: 28 })
      .map((tail) => Uint8Array.of(1, 2, 3, 4, ...tail));
    const op = fc.oneof(
      fc.record({ insert: fc.oneof(key32, clashing) }),
      fc.record({ reinsert: fc.nat() }),
      fc.record({ lookup: fc.oneof(key32, clashing) }),
      fc.record({ lookupKnown: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.nat({ max: 40 }), fc.array(op, { maxLength: 120 }), (expected, ops) => {
        const index = new PseudonymIndex(expected);
        const model = new Map<string, number>();
        const inserted: Uint8Array[] = [];
        const insert = (k: Uint8Array) => {
          const e = index.insert(k);
          expect(e).to.equal(inserted.length);
          inserted.push(k);
          model.set(bytesToHex(k), e); // a later insert of the same key wins
        };
        for (const o of ops) {
          if ("insert" in o) insert(o.insert);
          else if ("reinsert" in o && inserted.length > 0) {
            insert(inserted[o.reinsert % inserted.length]);
          } else if ("lookup" in o) {
            expect(index.find(o.lookup)).to.equal(model.get(bytesToHex(o.lookup)) ?? -1);
          } else if ("lookupKnown" in o && inserted.length > 0) {
            const k = inserted[o.lookupKnown % inserted.length];
            // Read in place at an offset, as CC reads a report's pseudonym.
            const framed = Uint8Array.of(9, 9, 9, 9, 9, ...k, 7);
            expect(index.find(framed, 5)).to.equal(model.get(bytesToHex(k)));
          }
        }
        expect(index.size).to.equal(inserted.length);
        inserted.forEach((k, e) => expect(index.keyAt(e)).to.deep.equal(k));
      }),
      { numRuns: 200 },
    );
  });

  it("interval tables agree with ControlCenterPseudonyms on random registrations and interval rotations", () => {
    const cc = keyPairFromSecret(seedScalar("cc"));
    const meterKeys = Array.from({ length: 10 }, (_, i) => ({
      index: 1000 + 7 * i, // sparse meter indices
      publicKey: keyPairFromSecret(seedScalar(`table-meter-${i}`)).publicKey,
      ggmKey: Uint8Array.from({ length: 32 }, (_, b) => (i * 31 + b) & 0xff),
      basePublicKey: keyPairFromSecret(seedScalar(`table-base-${i}`)).publicKey,
    }));
    const op = fc.oneof(
      fc.constant({ register: true as const }),
      fc.constant({ rotate: true as const }),
      fc.record({ lookupMeter: fc.nat(), interval: fc.nat(), counter: fc.nat() }),
      fc.record({ lookupRandom: key32 }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 40 }), (slots, ops) => {
        const model = new ControlCenterPseudonyms<number>(cc.secretKey, secp);
        const directory = new MeterDirectory();
        const tables = new Map<number, IntervalTable>();
        let registered = 0;
        let next = 0; // next interval to open; at most two open (the current and the last)
        const lookup = (p: Uint8Array) => {
          for (const t of tables.values()) {
            const e = t.find(p);
            if (e !== -1) {
              return {
                meter: directory.indexAt(t.rowOf(e)),
                interval: t.interval,
                counter: t.counterOf(e),
              };
            }
          }
          return undefined;
        };
        for (const o of ops) {
          if ("register" in o && registered < meterKeys.length) {
            const m = meterKeys[registered++];
            model.registerMeter(m.index, m.publicKey);
            directory.add(m.index, m.publicKey, m.ggmKey, m.basePublicKey, cc.secretKey, secp);
          } else if ("rotate" in o) {
            const j = 0xffff_fff0 + next++; // near the u32 edge
            model.indexInterval(j, slots);
            tables.set(j, IntervalTable.build(directory, j, slots));
            const old = j - 2;
            if (tables.delete(old)) model.forgetInterval(old);
          } else if ("lookupMeter" in o && registered > 0 && next > 0) {
            const m = meterKeys[o.lookupMeter % registered];
            const j = 0xffff_fff0 + (o.interval % next);
            const k = 1 + (o.counter % slots);
            const p = model.pseudonym(m.index, j, k);
            expect(lookup(p)).to.deep.equal(model.lookup(p));
          } else if ("lookupRandom" in o) {
            expect(lookup(o.lookupRandom)).to.equal(undefined);
            expect(model.lookup(o.lookupRandom)).to.equal(undefined);
          }
        }
        // Every indexed pseudonym, seed and key of the open tables against the references.
        for (const t of tables.values()) {
          for (let row = 0; row < t.meters; row++) {
            const m = meterKeys[row];
            expect(directory.rowOf(m.index)).to.equal(row);
            expect(directory.basePublicKeyAt(row)).to.deep.equal(m.basePublicKey);
            const k = 1 + (row % slots);
            expect(t.pseudonymAt(row * slots + k - 1)).to.deep.equal(
              model.pseudonym(m.index, t.interval, k),
            );
            expect(intervalMessageTweak(t.seedAt(row), k)).to.equal(
              messageTweak(m.ggmKey, t.interval, k),
            );
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it("refuses a meter index that is not a u32 or already present, and sizes without an object per entry", () => {
    const cc = keyPairFromSecret(seedScalar("cc"));
    const pk = keyPairFromSecret(seedScalar("m")).publicKey;
    const directory = new MeterDirectory();
    directory.add(5, pk, new Uint8Array(32), pk, cc.secretKey, secp);
    expect(() => directory.add(5, pk, new Uint8Array(32), pk, cc.secretKey, secp)).to.throw(
      /^MeterDirectory.add: meter 5 already registered/,
    );
    expect(() => directory.add(-1, pk, new Uint8Array(32), pk, cc.secretKey, secp)).to.throw(
      /^MeterDirectory.add: meter index -1 is not a u32/,
    );
    expect(directory.rowOf(6)).to.equal(-1);
    expect(() => new PseudonymIndex().find(new Uint8Array(31))).to.throw(/^PseudonymIndex.find/);
    // 1,000 entries: keys 32 B each, slots at load ≤ 1/2 (4 B each, power of two).
    const index = new PseudonymIndex(1000);
    expect(index.byteLength).to.equal(32 * 1000 + 4 * 2048);
  });

  it("ReportArena returns every pushed report across chunk boundaries, and refuses a wrong size", () => {
    const arena = new ReportArena(5);
    const model: Uint8Array[] = [];
    for (let i = 0; i < 2_500; i++) {
      const r = Uint8Array.of(i & 0xff, i >> 8, 1, 2, 3);
      arena.push(r);
      model.push(r);
    }
    expect(arena.count).to.equal(model.length);
    for (const i of [0, 1023, 1024, 2047, 2048, 2499]) expect(arena.at(i)).to.deep.equal(model[i]);
    expect(arena.byteLength).to.equal(3 * 1024 * 5); // three chunks, none copied
    expect(() => arena.at(2_500)).to.throw(/^ReportArena.at: no report 2500/);
    expect(() => arena.push(new Uint8Array(4))).to.throw(/^ReportArena.push: report/);
  });
});
