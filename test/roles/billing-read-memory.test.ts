// Bytes the billing read keeps per ledger slot (issue 14: at 100,000 meters the billing phase took
// RSS from 4.3 to 6.3 GB). The audited report of a sealed interval (offchain/protocol/ledger-audit.ts)
// and the users' index over it (offchain/user/user.ts), built once per report and shared by every
// user of a process, are measured as the bench's `mem.*` figures are: V8 heap plus array buffers
// after full collections, at two sizes, and the slope between them. The bulk of a city's slots are
// zero slots (K = 8 slots per meter, ≈ 1.6 real entries): so the interval here is zero slots only,
// and what is asserted is the growth per slot, not the process's fixed part.
import { expect } from "chai";

import { bytesInUse, gcFunction } from "../../offchain/bench/heap.ts";
import { keccak256 } from "../../offchain/crypto/hash.ts";
import { DELIVERY_MODE, INTERVAL_STATE } from "../../offchain/protocol/billing.ts";
import {
  auditInterval,
  type IntervalAuditInput,
  type IntervalReport,
} from "../../offchain/protocol/ledger-audit.ts";
import { User } from "../../offchain/user/user.ts";
import { CATEGORIES, DOMAIN, WINDOW, ccKeys } from "./fixtures.ts";

const ZERO32 = new Uint8Array(32);
const SCHEDULE = { breakpointsWh: [0n], values: [2n], cap: 10n };

/**
 * `n` increasing pseudonyms, uniform in their first four bytes (as HMAC outputs are), the rest
 * pseudo-random: one buffer, sliced per 100-slot log as the reader's decoder does.
 */
function zeroSlotIds(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) {
    const top = Math.floor((i * 2 ** 32) / n);
    const tail = keccak256(new Uint8Array([seed, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff]));
    out.set(tail, 32 * i);
    out[32 * i] = top >>> 24;
    out[32 * i + 1] = (top >>> 16) & 0xff;
    out[32 * i + 2] = (top >>> 8) & 0xff;
    out[32 * i + 3] = top & 0xff;
  }
  return out;
}

/** The events and storage of a sealed interval of `n` zero slots, in logs of 100 slots. */
function sealedInterval(n: number, seed: number): IntervalAuditInput {
  const ids = zeroSlotIds(n, seed);
  const items: IntervalAuditInput["items"][number][] = [
    {
      event: {
        name: "IntervalOpened",
        where: "block 1 index 0",
        interval: 1,
        start: WINDOW.start,
        end: WINDOW.end,
        tariffVersion: 1,
        categoryValues: CATEGORIES,
        mode: DELIVERY_MODE.Relayed,
        schedule: SCHEDULE,
      },
    },
  ];
  for (let first = 0; first < n; first += 100) {
    const count = Math.min(100, n - first);
    const raw = ids.slice(32 * first, 32 * (first + count));
    const batch: Uint8Array[] = [];
    for (let o = 0; o < raw.length; o += 32) batch.push(raw.subarray(o, o + 32));
    items.push({
      event: {
        name: "OcdZeroSlotsPosted",
        where: `block ${2 + first / 100} index 0`,
        interval: 1,
        firstIndex: first,
        count,
        ids: batch,
      },
    });
  }
  items.push({
    event: {
      name: "OcdSealed",
      where: `block ${3 + n / 100} index 0`,
      interval: 1,
      count: 0,
      sumWh: 0n,
      ocdDigest: ZERO32,
    },
  });
  return {
    interval: 1,
    domain: DOMAIN,
    storedDomainSeparator: DOMAIN,
    items,
    stored: {
      state: INTERVAL_STATE.OcdSealed,
      start: WINDOW.start,
      end: WINDOW.end,
      tariffVersion: 1,
      mode: DELIVERY_MODE.Relayed,
      categoryValues: CATEGORIES,
      ocdCount: 0,
      zeroCount: n,
      expectedSlots: n,
      sumWh: 0n,
      ocdDigest: ZERO32,
      billCount: 0,
      billDigest: ZERO32,
      dapCount: 0,
      price: 0n,
      billedTotal: 0n,
    },
  };
}

describe("memory of the billing read per ledger slot (issue 14)", function () {
  this.timeout(180_000);
  const gc = gcFunction();
  const cc = ccKeys();
  const user = new User({
    meterIndex: 0,
    domain: DOMAIN,
    meterBasePublicKey: cc.publicKey,
    spSigPk: cc.publicKey,
  });

  /** The audited report of `n` slots with the users' index built over it (one user's check). */
  function readAndIndex(n: number, seed: number): IntervalReport {
    const report = auditInterval(sealedInterval(n, seed));
    user.verifyInterval(report);
    return report;
  }

  it("an audited interval and the users' index keep < 100 B per zero slot", function () {
    // Small and large: the slope between them is what each slot keeps.
    const keep: IntervalReport[] = [readAndIndex(20_000, 1)];
    const atSmall = bytesInUse(gc);
    keep.push(readAndIndex(100_000, 2));
    const atLarge = bytesInUse(gc);
    const perSlot = (atLarge - atSmall) / 100_000;
    // Measured: 1,028 B before (a view object per id in the report; a 64-character hex string and
    // a Set entry per slot in the users' index), 43 B after (32 bytes in the report's one buffer
    // and its hash slots, which are also the users' look-up).
    expect(perSlot).to.be.below(100);
    // The report is the honest one: every slot kept, nothing named.
    expect(keep[1].mismatches).to.deep.equal([]);
    expect(keep[1].zeroSlots.size).to.equal(100_000);
  });

  it("the audit still names a pseudonym that holds two slots, and reports its progress", function () {
    const input = sealedInterval(300, 3);
    // The first log's first id again at the end of the second log: a duplicate across logs.
    const first = input.items[1];
    const second = input.items[2];
    if (!("event" in first) || !("event" in second)) throw new Error("unreachable");
    const a = first.event;
    const b = second.event;
    if (a.name !== "OcdZeroSlotsPosted" || b.name !== "OcdZeroSlotsPosted") {
      throw new Error("unreachable");
    }
    const steps: [number, number][] = [];
    const report = auditInterval({
      ...input,
      items: [
        input.items[0],
        first,
        { event: { ...b, ids: [...b.ids.slice(0, -1), a.ids[0]] } },
        ...input.items.slice(3),
      ],
      progress: (done, total) => steps.push([done, total]),
    });
    expect(report.mismatches.join("\n")).to.include("pseudonym already holds a slot");
    expect(steps).to.deep.equal([
      [100, 300],
      [200, 300],
      [300, 300],
    ]);
  });
});
