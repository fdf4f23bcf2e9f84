// What CC holds per zero slot while it posts an interval (issue 14, session 10; docs/SCALE.md
// "CC's posting state, packed"): at 100,000 meters an interval has ≈ 640,000 zero slots (dummies
// and absence markers, DESIGN §7). Same method as memory-per-meter.test.ts: V8 heap plus array
// buffers after full collections, the slope between two counts of kept results, so the bytes per
// zero slot are asserted, not the process's fixed part. The bound sits between the old figure
// (one `Uint8Array` view per zero slot over a pooled buffer, and the array of them) and the new.
import { expect } from "chai";

import { bytesPerItem, gcFunction } from "../../offchain/bench/heap.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { CATEGORIES, WINDOW, ccKeys, makeControlCenter, makeMeter } from "./fixtures.ts";

const T = WINDOW.end - 1n;

describe("memory of CC's posting state (issue 14, session 10)", function () {
  this.timeout(120_000);
  const gc = gcFunction();

  it("ControlCenter.zeroSlots keeps < 40 B per zero slot (packed: 32 B of pseudonym; one view each was ≈ 130 B), open and released", function () {
    const cc = ccKeys();
    const meters = Array.from({ length: 100 }, (_, i) => makeMeter(i, cc));
    const center = makeControlCenter(meters, cc);
    center.openInterval(7, WINDOW, CATEGORIES);
    // Half the meters report (their dummies are zero slots), half are absent (K markers each).
    for (const m of meters.slice(0, 50)) {
      for (const e of m.reportInterval(7, 1_850n, T).entries) {
        expect(center.admit(encodeMeterReport(e)).accepted).to.equal(true);
      }
    }
    center.closeInterval(7);
    const zeros = (): number => {
      const z = center.zeroSlots(7);
      return "count" in z.ids ? (z.ids.count as number) : (z.ids as unknown as unknown[]).length;
    };
    const count = zeros();
    expect(count).to.be.above(8 * 50);
    const perSlot = () => bytesPerItem(gc, 5, 65, () => center.zeroSlots(7)) / count;
    perSlot(); // warm-up: compiled code paths, first allocations
    const open = perSlot();
    center.releaseInterval(7);
    expect(zeros()).to.equal(count);
    const released = perSlot();
    // Measured (100 meters, ≈ 750 zero slots per result): 136 B per zero slot open, 139 B
    // released before (a view per slot and the array of them); 32 B open, 35 B released after
    // (the packed bytes).
    expect(open, `open: ${open.toFixed(1)} B per zero slot`).to.be.below(40);
    expect(released, `released: ${released.toFixed(1)} B per zero slot`).to.be.below(40);
  });
});
