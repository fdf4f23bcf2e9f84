// The peak of one billing read (issue 14, docs/SCALE.md "The billing phase"): at 100,000 meters SP
// and the users read an interval of ≈ 160,000 entries and 640,000 zero slots, and the reader held
// every decoded event until the audit ran — each zero-slot id a `Uint8Array` view (≈ 100 B besides
// its 32 bytes) in an array — while the audit built a third index of every slot beside the
// report's two. The audit now takes each page of logs as it is decoded (`IntervalAuditor`), so
// what a read holds at any point is the report so far plus one page. Measured as the other memory
// tests do (offchain/bench/heap.ts: V8 heap plus array buffers after full collections), at every
// progress step of two reads of different sizes through the real reader and the in-process
// chain; the slope between their peaks is what a read holds per zero slot at its worst.
import { expect } from "chai";
import { network } from "hardhat";

import { openInterval } from "../../offchain/chain/billing.ts";
import { deployBillingLedger as deployChainLedger } from "../../offchain/chain/deploy.ts";
import { readInterval } from "../../offchain/chain/ledgerReader.ts";
import { bytesInUse, gcFunction } from "../../offchain/bench/heap.ts";
import { toHex0x, u32 } from "../../offchain/crypto/bytes.ts";
import { keccak256 } from "../../offchain/crypto/hash.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import { publicKeyStruct, type BillingLedger } from "../../offchain/chain/billing.ts";
import { WINDOW_END, WINDOW_START, fixtureLedgerConfig, testKey } from "./fixtures.ts";

const { ethers } = await network.create();

/** Meters × K = the slots an interval may hold (K ≤ 64 on the ledger). */
const METERS = 320;
const K = 64;
/** Zero slots per transaction (one log each, one page each with `blockRange: 1`). */
const PER_TX = 2_048;

/** `n` increasing zero-slot ids of interval `interval` (first four bytes: the rank). */
function zeroIds(interval: number, n: number): string[] {
  return Array.from({ length: n }, (_, k) => {
    const id = keccak256(new TextEncoder().encode(`peak/${interval}/${k}`));
    id.set(u32(Math.floor((k * 2 ** 32) / n)), 0);
    return toHex0x(id);
  });
}

describe("memory of one billing read at its peak (issue 14)", function () {
  this.timeout(600_000);
  const gc = gcFunction();
  let ledger: BillingLedger;

  before(async function () {
    const [admin, cc, sp] = await ethers.getSigners();
    ({ ledger } = await deployChainLedger(
      { admin, controlCenter: cc, serviceProvider: sp },
      fixtureLedgerConfig(K),
    ));
    const asCc = ledger.connect(cc) as BillingLedger;
    for (let first = 0; first < METERS; first += 160) {
      const keys = Array.from({ length: 160 }, (_, i) =>
        publicKeyStruct(secp.mulBase(testKey(`peak-meter/${first + i}`), true)),
      );
      await (await asCc.registerMeters(keys)).wait();
    }
    // Interval 1: a few zero slots; interval 2: twenty times as many. Both left open (an open
    // interval may hold fewer slots than K × meters; the audit reads it the same way).
    for (const [interval, n] of [
      [1, PER_TX],
      [2, 10 * PER_TX],
    ] as const) {
      await openInterval(asCc, interval, WINDOW_START, WINDOW_END);
      const ids = zeroIds(interval, n);
      for (let first = 0; first < n; first += PER_TX) {
        await (await asCc.postSlots(interval, [], ids.slice(first, first + PER_TX))).wait();
      }
    }
  });

  /** The most bytes in use at any progress step of reading `interval` (after full collections). */
  async function peakOfRead(interval: number): Promise<{ peak: number; zeroSlots: number }> {
    let peak = 0;
    const report = await readInterval(ledger, interval, {
      blockRange: 1,
      progress: () => void (peak = Math.max(peak, bytesInUse(gc))),
    });
    expect(report.mismatches).to.deep.equal([]);
    return { peak, zeroSlots: report.zeroSlots.size };
  }

  it("a read holds < 80 B per zero slot at its peak (its events are audited page by page)", async function () {
    const small = await peakOfRead(1);
    const large = await peakOfRead(2);
    expect(small.zeroSlots).to.equal(PER_TX);
    expect(large.zeroSlots).to.equal(10 * PER_TX);
    const perSlot = (large.peak - small.peak) / (large.zeroSlots - small.zeroSlots);
    // Measured (2026-11-30): 234 B before (every decoded id held until the audit, and a third
    // index of every slot), 50 B after (the report's zero-slot index: 32 bytes and its hash slots).
    expect(perSlot).to.be.below(80);
  });
});
