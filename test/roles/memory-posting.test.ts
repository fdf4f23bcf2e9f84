// What CC holds per zero slot while it posts an interval (issue 14, session 10; docs/SCALE.md
// "CC's posting state, packed"): at 100,000 meters an interval has ≈ 640,000 zero slots (dummies
// and absence markers, DESIGN §7). Same method as memory-per-meter.test.ts: V8 heap plus array
// buffers after full collections, the slope between two counts of kept results, so the bytes per
// zero slot are asserted, not the process's fixed part. The bound sits between the old figure
// (one `Uint8Array` view per zero slot over a pooled buffer, and the array of them) and the new.
import { expect } from "chai";

import { bytesPerItem, gcFunction } from "../../offchain/bench/heap.ts";
import { planFixedBatches, planOcdBatches } from "../../offchain/cc/posting.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { PackedPseudonyms } from "../../offchain/protocol/packed-pseudonyms.ts";
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

  it("a posting plan keeps < 2 B per zero slot (ranges of the packed list; an array of views per batch was ≥ 8 B)", function () {
    const ids = new Uint8Array(32 * 20_000);
    for (let i = 0; i < 20_000; i++) ids.set([i >> 8, i & 255], 32 * i);
    const zeros = new PackedPseudonyms(ids);
    const perSlot = (plan: () => unknown) => bytesPerItem(gc, 2, 12, plan) / zeros.count;
    const gas = () => planOcdBatches([], zeros, { blockGasLimit: 30_000_000n });
    const fixed = () => planFixedBatches([], zeros, 100); // 20 batches of 1,000 zero slots
    perSlot(gas);
    const byGas = perSlot(gas);
    const byCount = perSlot(fixed);
    // Measured: 0.08 B (by gas, 2 batches) and 0.5 B (fixed, 20 batches) per zero slot.
    expect(byGas, `by gas: ${byGas.toFixed(2)} B per zero slot`).to.be.below(1);
    expect(byCount, `fixed: ${byCount.toFixed(2)} B per zero slot`).to.be.below(2);
  });
});
