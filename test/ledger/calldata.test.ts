// The natively encoded calldata of the ledger's bulk writes (offchain/chain/calldata.ts, issue 14):
// byte-identical to ethers' `encodeFunctionData` (so gas and state cannot change), range checks
// as strict as the ABI's, reverts through the new send path still named (chain/errors.ts), and
// the garbage it makes bounded per calldata byte — a bound ethers' coder, measured the same way,
// exceeds many times over (it was the billing phase's largest garbage source; docs/SCALE.md).
import { Session } from "node:inspector/promises";

import { expect } from "chai";
import fc from "fast-check";
import { network } from "hardhat";

import {
  ENTRY_PROBLEM,
  encodeOcdPacked,
  openInterval,
  postBills,
  postDap,
  postOcdBatch,
  signBillBatch,
  encodeBillsPacked,
  type BillFields,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import {
  postBillsCalldata,
  postOcdAfterCalldata,
  postOcdCalldata,
} from "../../offchain/chain/calldata.ts";
import { ContractRevertError } from "../../offchain/chain/errors.ts";
import { decodeBillRecords } from "../../offchain/chain/ledgerReader.ts";
import { hexToBytes, toHex0x } from "../../offchain/crypto/bytes.ts";
import { keccak256 } from "../../offchain/crypto/hash.ts";
import { PackedPseudonyms } from "../../offchain/protocol/packed-pseudonyms.ts";
import {
  SP_SIG_SK,
  WINDOW_END,
  WINDOW_START,
  billsFor,
  deployBillingLedger,
  expectedPrice,
  fillAndSeal,
  makeDap,
  makeOcdEntries,
  testKey,
} from "./fixtures.ts";

const { ethers } = await network.create();

/** Deterministic bytes from a label. */
function bytesOf(label: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k += 32) {
    out.set(
      keccak256(new TextEncoder().encode(`${label}/${k}`)).subarray(0, Math.min(32, n - k)),
      k,
    );
  }
  return out;
}

/** `n` bills with fields spread over their whole widths (0, small, 2^64 − 1). */
function billsOf(n: number): BillFields[] {
  const edges = [0n, 1n, 255n, 2n ** 32n, 2n ** 64n - 1n];
  return Array.from({ length: n }, (_, i) => ({
    interval: 3,
    id: bytesOf(`bill/${i}`, 32),
    consumptionWh: edges[i % edges.length],
    timestamp: edges[(i + 1) % edges.length],
    bill: edges[(i + 2) % edges.length],
  }));
}

/**
 * Bytes allocated while `fn` runs — garbage included — from V8's sampling heap profiler with
 * collected objects kept (one sample per 512 bytes on average, so ± a few kB).
 */
async function allocatedBytes(fn: () => unknown | Promise<unknown>): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 512,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await fn();
    const { profile } = await session.post("HeapProfiler.stopSampling");
    let total = 0;
    const stack = [profile.head];
    while (stack.length > 0) {
      const node = stack.pop()!;
      total += node.selfSize;
      stack.push(...node.children);
    }
    return total;
  } finally {
    session.disconnect();
  }
}

describe("native calldata of postOcd, postOcdAfter and postBills (issue 14)", function () {
  this.timeout(300_000);
  let ledger: BillingLedger;

  before(async function () {
    ({ ledger } = await deployBillingLedger(ethers, { configure: false }));
  });

  it("is byte for byte ethers' encodeFunctionData, for every size and edge value", function () {
    const iface = ledger.interface;
    for (const entries of [0, 1, 2, 3, 100]) {
      for (const zeros of [0, 1, 7]) {
        const packed = bytesOf(`packed/${entries}`, entries * 121);
        const ids = Array.from({ length: zeros }, (_, i) => bytesOf(`zero/${i}`, 32));
        for (const interval of [0, 1, 2 ** 32 - 1]) {
          expect(postOcdCalldata(ledger, interval, packed, ids)).to.equal(
            iface.encodeFunctionData("postOcd", [interval, packed, ids.map(toHex0x)]),
          );
          const pred = bytesOf(`pred/${interval}`, 32);
          expect(postOcdAfterCalldata(ledger, interval, pred, packed, ids)).to.equal(
            iface.encodeFunctionData("postOcdAfter", [
              interval,
              toHex0x(pred),
              packed,
              ids.map(toHex0x),
            ]),
          );
        }
      }
    }
    for (const n of [0, 1, 5, 100]) {
      for (const y of [0n, 1n, 2n ** 255n + 12345n, 2n ** 256n - 1n]) {
        const bills = billsOf(n);
        const rAddr = bytesOf(`r/${n}`, 20);
        expect(postBillsCalldata(ledger, 7, bills, rAddr, y)).to.equal(
          iface.encodeFunctionData("postBills", [
            7,
            encodeBillsPacked(bills),
            ethers.getAddress(toHex0x(rAddr)),
            y,
          ]),
        );
      }
    }
  });

  it("packs each bill in 56 bytes, the BillBatchPosted record: a known answer and a round trip through decodeBillRecords", function () {
    const id = Uint8Array.from({ length: 32 }, (_, i) => i);
    const known = encodeBillsPacked([
      { interval: 1, id, consumptionWh: 0x0102n, timestamp: 2n ** 64n - 1n, bill: 0x0a0b0c0dn },
    ]);
    expect(toHex0x(known)).to.equal(
      "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
        "0000000000000102" +
        "ffffffffffffffff" +
        "000000000a0b0c0d",
    );
    const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    const billArb = fc.record({
      interval: fc.constant(5),
      id: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      consumptionWh: u64,
      timestamp: u64,
      bill: u64,
    });
    fc.assert(
      fc.property(fc.array(billArb, { maxLength: 20 }), (bills) => {
        const packed = encodeBillsPacked(bills);
        expect(packed.length).to.equal(56 * bills.length);
        expect(decodeBillRecords(5, packed)).to.deep.equal(bills);
        // The calldata carries exactly these bytes as its `bills` argument.
        const data = hexToBytes(
          postBillsCalldata(ledger, 5, bills, new Uint8Array(20), 1n).slice(2),
        );
        expect(toHex0x(data.subarray(4 + 5 * 32, 4 + 5 * 32 + packed.length))).to.equal(
          toHex0x(packed),
        );
      }),
      { numRuns: 200 },
    );
  });

  it("takes CC's packed zero slots (32·z bytes, a range of one buffer) in one copy: the same calldata as the list of ids (issue 14, session 10)", function () {
    const iface = ledger.interface;
    // A city interval's zero slots in one buffer; batches post ranges of it (byteOffset ≠ 0).
    const all = PackedPseudonyms.fromIds(
      Array.from({ length: 40 }, (_, i) => bytesOf(`packed-zero/${i}`, 32)),
    );
    for (const [start, end] of [
      [0, 0],
      [0, 1],
      [3, 10],
      [17, 40],
      [0, 40],
    ]) {
      const range = all.slice(start, end);
      const ids = [...range].map((id) => new Uint8Array(id)); // the old shape: one array per id
      expect(range.bytes.byteOffset).to.equal(32 * start);
      for (const entries of [0, 2]) {
        const packed = bytesOf(`packed/${entries}`, entries * 121);
        const abiIds = ids.map(toHex0x);
        const pred = bytesOf(`pred/${start}`, 32);
        expect(postOcdCalldata(ledger, 5, packed, range.bytes))
          .to.equal(postOcdCalldata(ledger, 5, packed, ids))
          .and.to.equal(iface.encodeFunctionData("postOcd", [5, packed, abiIds]));
        expect(postOcdAfterCalldata(ledger, 5, pred, packed, range.bytes))
          .to.equal(postOcdAfterCalldata(ledger, 5, pred, packed, ids))
          .and.to.equal(
            iface.encodeFunctionData("postOcdAfter", [5, toHex0x(pred), packed, abiIds]),
          );
      }
    }
    // Packed ids not a whole number of 32-byte words are refused, as a short id is.
    expect(() => postOcdCalldata(ledger, 1, new Uint8Array(0), new Uint8Array(33))).to.throw(
      RangeError,
    );
    expect(() =>
      postOcdAfterCalldata(ledger, 1, new Uint8Array(32), new Uint8Array(0), new Uint8Array(31)),
    ).to.throw(RangeError);
  });

  it("refuses values past their ABI width, as ethers' coder does", function () {
    const id = new Uint8Array(32);
    const bill = (over: Partial<BillFields>): BillFields[] => [
      { interval: 1, id, consumptionWh: 1n, timestamp: 1n, bill: 1n, ...over },
    ];
    const r = new Uint8Array(20);
    expect(() => postOcdCalldata(ledger, 2 ** 32, new Uint8Array(0), [])).to.throw(RangeError);
    expect(() => postOcdCalldata(ledger, -1, new Uint8Array(0), [])).to.throw(RangeError);
    expect(() => postOcdCalldata(ledger, 1, new Uint8Array(0), [new Uint8Array(31)])).to.throw(
      RangeError,
    );
    expect(() =>
      postOcdAfterCalldata(ledger, 1, new Uint8Array(33), new Uint8Array(0), []),
    ).to.throw(RangeError);
    expect(() => postBillsCalldata(ledger, 1, bill({ bill: 2n ** 64n }), r, 0n)).to.throw(
      RangeError,
    );
    expect(() => postBillsCalldata(ledger, 1, bill({ consumptionWh: -1n }), r, 0n)).to.throw(
      RangeError,
    );
    expect(() => encodeBillsPacked(bill({ timestamp: 2n ** 64n }))).to.throw(RangeError);
    expect(() => postBillsCalldata(ledger, 1, bill({ id: new Uint8Array(31) }), r, 0n)).to.throw(
      RangeError,
    );
    expect(() => postBillsCalldata(ledger, 1, bill({}), new Uint8Array(19), 0n)).to.throw(
      RangeError,
    );
    expect(() => postBillsCalldata(ledger, 1, bill({}), r, 2n ** 256n)).to.throw(RangeError);
  });

  it("posts through the ledger: events parse, and a refused batch still names its error", async function () {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await openInterval(cc, 1, WINDOW_START, WINDOW_END);
    const ocd = makeOcdEntries(d.domain, 1, 6);
    // A forged signature through the packed path: the entry's index and problem, named.
    const forged = { ...ocd[2], signature: { ...ocd[2].signature, y: ocd[2].signature.y ^ 1n } };
    const bad = await postOcdBatch(cc, 1, [ocd[0], ocd[1], forged]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(bad).to.be.instanceOf(ContractRevertError);
    expect(
      (bad as ContractRevertError).is(
        "BillingLedgerInvalidEntry",
        1,
        2,
        ENTRY_PROBLEM.BadSignature,
      ),
    ).to.equal(true);
    const posted = await postOcdBatch(cc, 1, ocd);
    expect(posted.logs.map((l) => ("eventName" in l ? l.eventName : undefined))).to.include(
      "OcdBatchPosted",
    );
    await fillAndSeal(cc, 1);
    const price = expectedPrice(ocd);
    await postDap(cc, 1, [makeDap(d.domain, 1, price)]);
    const bills = billsFor(ocd, price);
    // Signed under another key: the ledger's batch-signature error, named with its arguments.
    const wrongKey = signBillBatch(d.domain, 1, 0, bills, testKey("not-sp"));
    const err = await postBills(cc, wrongKey).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ContractRevertError);
    expect((err as ContractRevertError).is("BillingLedgerInvalidBatchSignature", 1, 0)).to.equal(
      true,
    );
    const receipt = await postBills(cc, signBillBatch(d.domain, 1, 0, bills, SP_SIG_SK));
    expect(receipt.status).to.equal(1);
    expect(receipt.logs.map((l) => ("eventName" in l ? l.eventName : undefined))).to.include(
      "BillBatchPosted",
    );
    expect(Number((await cc.intervalRecord(1)).billCount)).to.equal(bills.length);
  });

  it("makes little garbage per calldata byte; ethers' coder made many times the bound", async function () {
    const bills = billsOf(100);
    const rAddr = bytesOf("r", 20);
    const y = 2n ** 255n + 7n;
    const bytes = (postBillsCalldata(ledger, 1, bills, rAddr, y).length - 2) / 2;
    const packed = encodeOcdPacked(makeOcdEntries(new Uint8Array(32), 1, 30));
    const ids = Array.from({ length: 70 }, (_, i) => bytesOf(`z/${i}`, 32));
    const ocdBytes = (postOcdCalldata(ledger, 1, packed, ids).length - 2) / 2;
    const rounds = 20;
    const native = await allocatedBytes(() => {
      for (let k = 0; k < rounds; k++) postBillsCalldata(ledger, 1, bills, rAddr, y);
    });
    const nativeOcd = await allocatedBytes(() => {
      for (let k = 0; k < rounds; k++) postOcdCalldata(ledger, 1, packed, ids);
    });
    const packedBills = encodeBillsPacked(bills);
    const address = ethers.getAddress(toHex0x(rAddr));
    const viaEthers = await allocatedBytes(() => {
      for (let k = 0; k < rounds; k++) {
        ledger.interface.encodeFunctionData("postBills", [1, packedBills, address, y]);
      }
    });
    const ocdViaEthers = await allocatedBytes(() => {
      for (let k = 0; k < rounds; k++) {
        ledger.interface.encodeFunctionData("postOcd", [1, packed, ids.map(toHex0x)]);
      }
    });
    const perByte = (total: number, n: number) => total / rounds / n;
    console.log(
      `      garbage per calldata byte: bills native ${perByte(native, bytes).toFixed(1)} B, ethers ${perByte(viaEthers, bytes).toFixed(1)} B; OCD native ${perByte(nativeOcd, ocdBytes).toFixed(1)} B, ethers ${perByte(ocdViaEthers, ocdBytes).toFixed(1)} B`,
    );
    // The calldata's hex string is 2 bytes per byte (one-byte chars) plus the buffer: ≤ 8 B.
    const BOUND = 8;
    expect(perByte(native, bytes)).to.be.below(BOUND);
    expect(perByte(nativeOcd, ocdBytes)).to.be.below(BOUND);
    // The method sees what it should: the old path, measured the same way, is far past the bound.
    expect(perByte(viaEthers, bytes)).to.be.above(10 * BOUND);
    expect(perByte(ocdViaEthers, ocdBytes)).to.be.above(10 * BOUND);
  });
});
