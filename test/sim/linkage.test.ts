// The global passive observer (offchain/sim/linkage.ts): flow conservation recovers what a meter
// originated, the plug-in Bayes guess recovers counts when packet counts follow them, and it is at
// the ledger-only baseline (0 bits) when every meter originates the same number of packets.
import { expect } from "chai";

import {
  linkageAdversary,
  originatedPackets,
  OriginTally,
  type LinkRecord,
  type MeterTruth,
} from "../../offchain/sim/linkage.ts";

/** Meter `m` sends `n` packets through relays r1 → r2 → cc in interval 0. */
function burst(m: string, n: number, t = 0): LinkRecord[] {
  const out: LinkRecord[] = [];
  for (let k = 0; k < n; k++) {
    out.push({ from: m, to: "r1", timeMs: t, size: 1366 });
    out.push({ from: "r1", to: "r2", timeMs: t + 1, size: 1366 });
    out.push({ from: "r2", to: "cc", timeMs: t + 2, size: 1366 });
  }
  return out;
}

const truth = (chunks: number[]): MeterTruth[] =>
  chunks.map((c, i) => ({
    address: `m${i}`,
    interval: 0,
    chunks: c,
    reportedWh: BigInt(c * 250),
  }));

describe("linkage adversary (global passive observer)", () => {
  it("flow conservation: relays net to zero, a meter to what it originated", () => {
    const o = originatedPackets([...burst("m0", 3), ...burst("m1", 5)], () => 0);
    expect(o.get("m0#0")).to.equal(3);
    expect(o.get("m1#0")).to.equal(5);
    expect(o.get("r1#0")).to.equal(0);
    expect(o.get("r2#0")).to.equal(0);
    expect(originatedPackets(burst("m0", 3), () => undefined).size).to.equal(0);
  });

  it("OriginTally, fed packet by packet, equals originatedPackets over the stored records", () => {
    const records = [...burst("m0", 3), ...burst("m1", 5), ...burst("m2", 1)];
    const tally = new OriginTally();
    for (const r of records) tally.record(r.from, r.to, r.timeMs < 2 ? 0 : 1);
    expect([...tally.originated()].sort()).to.deep.equal(
      [...originatedPackets(records, (t) => (t < 2 ? 0 : 1))].sort(),
    );
  });

  it("recovers chunk counts when each meter sends one packet per chunk (before K slots)", () => {
    const chunks = [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3];
    const records = chunks.flatMap((c, i) => burst(`m${i}`, c));
    const r = linkageAdversary(
      truth(chunks),
      originatedPackets(records, () => 0),
    );
    expect(r.countRecoveredPct).to.equal(100);
    expect(r.countBaselinePct).to.equal(37.5); // the most common count (3) for everyone
    expect(r.bitsLeakedPerMeter).to.be.greaterThan(1.5);
    expect(r.minEntryAnonymitySet).to.equal(5);
  });

  it("is at the ledger-only baseline with K packets per meter whatever the count", () => {
    const chunks = [1, 2, 2, 3, 5, 1, 2, 4, 0];
    const records = chunks.flatMap((_, i) => burst(`m${i}`, 8));
    const r = linkageAdversary(
      truth(chunks),
      originatedPackets(records, () => 0),
    );
    expect(r.distinctObservations).to.equal(1);
    expect(r.countRecoveredPct).to.equal(r.countBaselinePct);
    expect(r.whRecoveredPct).to.equal(r.whBaselinePct);
    expect(r.bitsLeakedPerMeter).to.equal(0);
    expect(r.packetsPerMeterInterval).to.equal(8);
    expect(r.minEntryAnonymitySet).to.equal(chunks.length);
  });

  it("refuses an empty run", () => {
    expect(() => linkageAdversary([], new Map())).to.throw(RangeError);
  });
});
