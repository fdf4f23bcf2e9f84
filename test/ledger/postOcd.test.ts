// The packed OCD calldata (`postOcd`, issue 14): the TS encoder/decoder, the contract's length
// errors, every per-entry check through the packed path, and a differential test against the
// ABI-struct `postSlots` (the previous encoding) on the same chain state: same outcome (the same
// named error and arguments, or success), same storage commitments, byte-identical events and the
// same IntervalReport rebuilt by chain/ledgerReader.ts.
import { expect } from "chai";
import { network } from "hardhat";

import {
  ENTRY_PROBLEM,
  INTERVAL_STATE,
  OCD_PACKED_ENTRY_BYTES,
  OcdPackedLengthError,
  decodeOcdPacked,
  encodeOcdPacked,
  postOcdBatch,
  toOcdEntryStruct,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { readInterval } from "../../offchain/chain/ledgerReader.ts";
import { concatBytes, toHex0x, u32 } from "../../offchain/crypto/bytes.ts";
import { keccak256 } from "../../offchain/crypto/hash.ts";
import { ENTRY_KIND, type LedgerEntry } from "../../offchain/protocol/entry.ts";
import {
  FIXTURE_METERS,
  WINDOW_END,
  WINDOW_START,
  deployBillingLedger,
  fillAndSeal,
  makeOcdEntries,
} from "./fixtures.ts";

const { ethers } = await network.create();

/** A zero-slot pseudonym sorting just after the fixture pseudonym of `rank` (same first 4 bytes). */
function zeroAfter(rank: number, k = 0): Uint8Array {
  const id = keccak256(new TextEncoder().encode(`zero/${rank}/${k}`));
  id.set(u32(rank + 1), 0);
  id[4] = 0xff;
  id[5] = k;
  return id;
}

/** A tiny deterministic generator (xorshift32) so failures reproduce from the seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Outcome of a transaction: its receipt's logs, or the custom error it reverted with. */
async function outcome(
  ledger: BillingLedger,
  send: () => Promise<{ wait(): Promise<unknown> }>,
): Promise<{ ok: true; logs: string[] } | { ok: false; error: string }> {
  try {
    const receipt = (await (await send()).wait()) as {
      logs: { topics: readonly string[]; data: string }[];
    };
    return { ok: true, logs: receipt.logs.map((l) => `${l.topics.join(",")}|${l.data}`) };
  } catch (err) {
    const data = (err as { data?: string }).data;
    if (typeof data !== "string") throw err;
    const parsed = ledger.interface.parseError(data);
    return { ok: false, error: `${parsed?.name}(${parsed?.args.join(",")})` };
  }
}

describe("postOcd (packed OCD calldata)", () => {
  describe("encodeOcdPacked / decodeOcdPacked", () => {
    it("round-trips entries at 121 bytes each, timestamp supplied by the decoder", () => {
      const entries = makeOcdEntries(new Uint8Array(32).fill(7), 3, 4);
      const packed = encodeOcdPacked(entries);
      expect(packed.length).to.equal(4 * OCD_PACKED_ENTRY_BYTES);
      expect(decodeOcdPacked(3, WINDOW_END - 1n, packed)).to.deep.equal(entries);
      expect(encodeOcdPacked([])).to.deep.equal(new Uint8Array(0));
    });

    it("refuses lengths that are not whole entries, and values that do not fit", () => {
      const packed = encodeOcdPacked(makeOcdEntries(new Uint8Array(32), 1, 2));
      for (const bad of [packed.subarray(0, 120), concatBytes(packed, new Uint8Array(1))]) {
        expect(() => decodeOcdPacked(1, 0n, bad)).to.throw(OcdPackedLengthError);
      }
      const [e] = makeOcdEntries(new Uint8Array(32), 1, 1);
      expect(() => encodeOcdPacked([{ ...e, value: 1n << 32n }])).to.throw(RangeError, /u32/);
      expect(() => encodeOcdPacked([{ ...e, kind: ENTRY_KIND.DAP }])).to.throw(RangeError);
      expect(() => encodeOcdPacked([{ ...e, sigPk: e.sigPk.subarray(1) }])).to.throw(RangeError);
    });
  });

  describe("on-chain", () => {
    async function opened() {
      const d = await deployBillingLedger(ethers);
      const cc = d.ledger.connect(d.cc) as BillingLedger;
      await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
      return { d, cc };
    }

    it("refuses truncated entries and trailing bytes with BillingLedgerPackedLength", async () => {
      const { d, cc } = await opened();
      const packed = encodeOcdPacked(makeOcdEntries(d.domain, 1, 2));
      for (const bad of [
        packed.subarray(0, 120),
        packed.subarray(0, 241),
        concatBytes(packed, new Uint8Array([0])),
        new Uint8Array(1),
      ]) {
        await expect(cc.postOcd(1, bad, []))
          .to.be.revertedWithCustomError(cc, "BillingLedgerPackedLength")
          .withArgs(1, bad.length);
      }
      await expect(cc.postOcd(1, "0x", []))
        .to.be.revertedWithCustomError(cc, "BillingLedgerEmptyBatch")
        .withArgs(1);
      // The interval's state is checked first.
      await expect(cc.postOcd(2, packed.subarray(0, 5), []))
        .to.be.revertedWithCustomError(cc, "BillingLedgerIntervalState")
        .withArgs(2, INTERVAL_STATE.None);
      await expect(
        (d.ledger.connect(d.outsider) as BillingLedger).postOcd(1, packed, []),
      ).to.be.revertedWithCustomError(cc, "AccessControlUnauthorizedAccount");
    });

    it("postOcdAfter: CC only, and the same packed-length, empty-batch and state checks as postOcd", async () => {
      // The pipelined variant (issue 14) is a second entry point to the OCD ledger: it must refuse
      // exactly what postOcd refuses, whoever calls it, with the right predecessor.
      const { d, cc } = await opened();
      const zero = toHex0x(new Uint8Array(32));
      const packed = encodeOcdPacked(makeOcdEntries(d.domain, 1, 2));
      for (const caller of [d.outsider, d.sp, d.admin]) {
        await expect(
          (d.ledger.connect(caller) as BillingLedger).postOcdAfter(1, zero, packed, []),
        ).to.be.revertedWithCustomError(cc, "AccessControlUnauthorizedAccount");
      }
      for (const bad of [packed.subarray(0, 120), concatBytes(packed, new Uint8Array([0]))]) {
        await expect(cc.postOcdAfter(1, zero, bad, []))
          .to.be.revertedWithCustomError(cc, "BillingLedgerPackedLength")
          .withArgs(1, bad.length);
      }
      await expect(cc.postOcdAfter(1, zero, "0x", []))
        .to.be.revertedWithCustomError(cc, "BillingLedgerEmptyBatch")
        .withArgs(1);
      await expect(cc.postOcdAfter(2, zero, packed, []))
        .to.be.revertedWithCustomError(cc, "BillingLedgerIntervalState")
        .withArgs(2, INTERVAL_STATE.None);
      // With the right predecessor it posts; the same batch again is refused by name.
      await (await cc.postOcdAfter(1, zero, packed, [])).wait();
      const last = (await cc.intervalRecord(1)).lastId;
      await expect(cc.postOcdAfter(1, zero, packed, []))
        .to.be.revertedWithCustomError(cc, "BillingLedgerPredecessorMismatch")
        .withArgs(1, zero, last);
    });

    it("names the index and problem of a bad entry", async () => {
      const { d, cc } = await opened();
      const good = makeOcdEntries(d.domain, 1, 3);
      const skewed = makeOcdEntries(d.domain, 1, 3, { timestamp: WINDOW_END })[1];
      const cases: [LedgerEntry[], number][] = [
        [
          [
            good[0],
            { ...good[1], signature: { ...good[1].signature, y: good[1].signature.y ^ 1n } },
            good[2],
          ],
          ENTRY_PROBLEM.BadSignature,
        ],
        [[good[0], { ...good[1], value: 101n }, good[2]], ENTRY_PROBLEM.NotACategoryValue],
        // The timestamp is not in the packed form: the ledger's end − 1 makes the meter's
        // signature over another timestamp fail.
        [[good[0], skewed, good[2]], ENTRY_PROBLEM.BadSignature],
        [[good[0], good[0], good[2]], ENTRY_PROBLEM.PseudonymNotIncreasing],
        [
          [
            good[0],
            { ...good[1], sigPk: concatBytes(new Uint8Array([4]), good[1].sigPk.subarray(1)) },
            good[2],
          ],
          ENTRY_PROBLEM.BadSignature,
        ],
      ];
      for (const [batch, problem] of cases) {
        await expect(cc.postOcd(1, encodeOcdPacked(batch), []))
          .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
          .withArgs(1, 1, problem);
      }
      // A zero slot with pseudonym 0 is refused at its own index (entries.length + k).
      await expect(cc.postOcd(1, encodeOcdPacked(good), [toHex0x(new Uint8Array(32))]))
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
        .withArgs(1, 3, ENTRY_PROBLEM.PseudonymNotIncreasing);
    });

    it("merges real entries and zero slots; readInterval rebuilds the posted entries", async () => {
      const { d, cc } = await opened();
      const ocd = makeOcdEntries(d.domain, 1, 6);
      const zeros = [zeroAfter(0), zeroAfter(2, 0), zeroAfter(2, 1), zeroAfter(5)];
      await postOcdBatch(cc, 1, ocd.slice(0, 4), zeros.slice(0, 3));
      await postOcdBatch(cc, 1, ocd.slice(4), zeros.slice(3));
      await fillAndSeal(cc, 1);
      const report = await readInterval(cc, 1);
      expect(report.mismatches).to.deep.equal([]);
      expect(report.ocd).to.deep.equal(ocd);
      expect([...report.zeroSlots].slice(0, 4)).to.deep.equal(zeros);
      expect(report.zeroSlots.size).to.equal(FIXTURE_METERS - 6);
    });
  });

  describe("differential: postOcd vs the ABI-struct postSlots on the same state", () => {
    it("same outcome, commitments, events and IntervalReport for random batches", async () => {
      const d = await deployBillingLedger(ethers);
      const cc = d.ledger.connect(d.cc) as BillingLedger;
      await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
      const pool = makeOcdEntries(d.domain, 1, 40);
      const next = rng(14);
      let rank = 0;
      let accepted = 0;
      for (let round = 0; round < 12; round++) {
        // A batch of the next 1–4 pseudonyms, 0–2 zero slots between them, maybe one fault.
        const n = 1 + Math.floor(next() * 4);
        const real = pool.slice(rank, rank + n).map((e) => ({ ...e }));
        const zeros = Array.from({ length: Math.floor(next() * 3) }, (_, k) =>
          zeroAfter(rank + Math.floor(next() * n), k),
        ).sort((a, b) => Buffer.compare(a, b));
        const fault = Math.floor(next() * 6);
        const at = Math.floor(next() * real.length);
        if (fault === 1) real[at] = { ...real[at], value: 333n };
        if (fault === 2) {
          real[at] = { ...real[at], signature: { ...real[at].signature, y: 0n } };
        }
        if (fault === 3 && at > 0) real[at] = real[at - 1];
        if (fault === 4) real[at] = { ...real[at], sigPk: real[(at + 1) % real.length].sigPk };
        const snapshot = (await ethers.provider.send("evm_snapshot", [])) as string;
        const viaStructs = await outcome(cc, () =>
          cc.postSlots(1, real.map(toOcdEntryStruct), zeros.map(toHex0x)),
        );
        const recStructs = await cc.intervalRecord(1);
        await ethers.provider.send("evm_revert", [snapshot]);
        const viaPacked = await outcome(cc, () =>
          cc.postOcd(1, encodeOcdPacked(real), zeros.map(toHex0x)),
        );
        expect(viaPacked, `round ${round} (fault ${fault})`).to.deep.equal(viaStructs);
        expect(await cc.intervalRecord(1)).to.deep.equal(recStructs);
        if (viaPacked.ok) {
          accepted += real.length;
          rank += n;
        }
      }
      expect(accepted, "the random rounds accept some entries").to.be.greaterThan(5);
      await fillAndSeal(cc, 1);
      const report = await readInterval(cc, 1);
      expect(report.mismatches).to.deep.equal([]);
      expect(report.ocd).to.have.length(accepted);
    });
  });
});
