// The ledger reader decodes the three record-carrying events (OcdBatchPosted, OcdZeroSlotsPosted,
// BillBatchPosted) straight from the log's bytes when their ABI encoding is canonical
// (offchain/chain/ledgerReader.ts `decodePackedLog`, issue 14: ethers' decoder builds a `bytes`
// field's hex one byte at a time). It must give exactly what ethers' ABI decoder gives, and leave
// every other encoding (which a dishonest endpoint could serve) to ethers, so that such a log is
// named as before.
import { expect } from "chai";
import { Interface, Log } from "ethers";

import { billingLedgerAbi, type BillingLedger } from "../../offchain/chain/billing.ts";
import {
  decodeBillRecords,
  decodeOcdRecords,
  decodePackedLog,
} from "../../offchain/chain/ledgerReader.ts";
import { bytesToHex, hexToBytes, toHex0x } from "../../offchain/crypto/bytes.ts";
import { keccak256 } from "../../offchain/crypto/hash.ts";

// The decoder reads only the contract's interface.
const iface = new Interface(billingLedgerAbi());
const ledger = { interface: iface } as unknown as BillingLedger;

/** `n` bytes of deterministic noise. */
function noise(n: number, label: string): Uint8Array {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 32) {
    out.set(keccak256(new TextEncoder().encode(`${label}/${o}`)).subarray(0, n - o), o);
  }
  return out;
}

/** A log of `name` with `values`, as a provider returns it. */
function logOf(name: string, values: unknown[], change?: { data?: string; topics?: string[] }) {
  const { data, topics } = iface.encodeEventLog(iface.getEvent(name)!, values);
  return new Log(
    {
      transactionHash: toHex0x(new Uint8Array(32)),
      blockHash: toHex0x(new Uint8Array(32)),
      blockNumber: 7,
      removed: false,
      address: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      data: change?.data ?? data,
      topics: change?.topics ?? topics,
      index: 3,
      transactionIndex: 0,
    },
    null as never,
  );
}

/** A JSON view of an event with byte arrays as hex (for deep equality across decoders). */
function plain(x: unknown): unknown {
  return JSON.parse(
    JSON.stringify(x, (_k, v: unknown) =>
      v instanceof Uint8Array ? bytesToHex(v) : typeof v === "bigint" ? `${v}n` : v,
    ),
  );
}

describe("the ledger reader's decoder of packed-record logs (issue 14)", function () {
  it("knows the ledger's three record-carrying events", function () {
    for (const name of ["OcdBatchPosted", "OcdZeroSlotsPosted", "BillBatchPosted"]) {
      expect(iface.getEvent(name), name).to.not.equal(null);
    }
  });

  it("gives what ethers' ABI decoder gives for each canonical event", function () {
    const entries = noise(133 * 5, "ocd");
    const ids = noise(32 * 7, "zero");
    const items = noise(56 * 3, "bills");
    const cases: [string, unknown[], (a: ReturnType<Interface["parseLog"]>) => unknown][] = [
      [
        "OcdBatchPosted",
        [9, 200, 5, entries],
        (p) => ({
          name: "OcdBatchPosted",
          where: "here",
          interval: 9,
          firstIndex: Number(p!.args.firstIndex),
          count: Number(p!.args.count),
          entries: decodeOcdRecords(9, hexToBytes(p!.args.getValue("entries") as string)),
        }),
      ],
      [
        "OcdZeroSlotsPosted",
        [9, 1_000, 7, ids],
        (p) => ({
          name: "OcdZeroSlotsPosted",
          where: "here",
          interval: 9,
          firstIndex: Number(p!.args.firstIndex),
          count: Number(p!.args.count),
          ids: Array.from({ length: 7 }, (_, k) =>
            hexToBytes(p!.args.ids as string).subarray(32 * k, 32 * k + 32),
          ),
        }),
      ],
      [
        "BillBatchPosted",
        [9, 300, 3, "0x9d3f1c5e0b7a2d4c6e8f0a1b3c5d7e9f1a2b3c4d", 2n ** 255n + 17n, items],
        (p) => ({
          name: "BillBatchPosted",
          where: "here",
          interval: 9,
          firstIndex: Number(p!.args.firstIndex),
          bills: decodeBillRecords(9, hexToBytes(p!.args.items as string)),
          rAddr: hexToBytes(p!.args.rAddr as string),
          y: p!.args.y as bigint,
        }),
      ],
    ];
    for (const [name, values, viaEthers] of cases) {
      const log = logOf(name, values);
      const fast = decodePackedLog(ledger, log, "here");
      expect(fast, name).to.not.equal(undefined);
      expect(plain(fast), name).to.deep.equal(plain(viaEthers(iface.parseLog(log))));
    }
  });

  it("leaves every non-canonical encoding to ethers (dirty words, moved offset, extra topic, bad padding)", function () {
    const entries = noise(133 * 2, "ocd2");
    const { data, topics } = iface.encodeEventLog(iface.getEvent("OcdBatchPosted")!, [
      4,
      0,
      2,
      entries,
    ]);
    const bytes = hexToBytes(data);
    const edit = (f: (b: Uint8Array) => Uint8Array): string => toHex0x(f(bytes.slice()));
    const variants: { data?: string; topics?: string[] }[] = [
      // A high bit in the uint32 firstIndex word (ethers masks it; not canonical).
      { data: edit((b) => ((b[0] = 1), b)) },
      // The bytes' offset pointing one word further, with a word inserted.
      {
        data: edit((b) => {
          const out = new Uint8Array(b.length + 32);
          out.set(b.subarray(0, 96));
          out[95] = 0x80;
          out.set(b.subarray(96), 128);
          return out;
        }),
      },
      // A non-zero padding byte after the records.
      { data: edit((b) => ((b[b.length - 1] = 1), b)) },
      // Trailing data after the padded bytes.
      { data: edit((b) => Uint8Array.from([...b, ...new Uint8Array(32)])) },
      // A third topic; an interval topic with dirty high bytes.
      { topics: [...topics, topics[1]] },
      { topics: [topics[0], "0x01" + topics[1].slice(4)] },
    ];
    for (const [i, change] of variants.entries()) {
      const log = logOf("OcdBatchPosted", [4, 0, 2, entries], change);
      expect(decodePackedLog(ledger, log, "here"), `variant ${i}`).to.equal(undefined);
    }
    // Other events are never decoded here.
    const opened = logOf("OcdSealed", [4, 2, 30n, toHex0x(new Uint8Array(32))]);
    expect(decodePackedLog(ledger, opened, "here")).to.equal(undefined);
  });

  it("names records of the wrong size as the ethers path did", function () {
    const log = logOf("OcdZeroSlotsPosted", [4, 0, 1, noise(33, "odd")]);
    expect(() => decodePackedLog(ledger, log, "here")).to.throw(
      "zero-slot ids not a multiple of 32 bytes",
    );
    const ocd = logOf("OcdBatchPosted", [4, 0, 1, noise(134, "odd")]);
    expect(() => decodePackedLog(ledger, ocd, "here")).to.throw(RangeError, "length not k·133");
  });
});
