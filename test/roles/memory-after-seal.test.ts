// What a meter and its household keep once the interval's window has closed and the household has
// its batch (issue 14, `sim.peak_rss_mb_100000`: the 100,000-meter run peaks in the billing
// phase, after the seal). Same method as memory-per-meter.test.ts: V8 heap plus array buffers
// after full collections, the slope between two sizes, so the growth per item is asserted, not
// the process's fixed part; each bound sits between the old and the new figure, so the test
// fails if the old shape comes back, not on noise.
import { expect } from "chai";

import { bytesInUse, gcFunction } from "../../offchain/bench/heap.ts";
import type { Meter } from "../../offchain/meter/meter.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { concatBytes } from "../../offchain/crypto/bytes.ts";
import { WINDOW, ccKeys, makeMeter } from "./fixtures.ts";

const T = WINDOW.end - 1n;

/** Bytes per item between `small` and `large` items made by `make` (kept alive until measured). */
function slope<T>(gc: () => void, small: number, large: number, make: (i: number) => T): number {
  const keep: T[] = [];
  for (let i = 0; i < small; i++) keep.push(make(i));
  const atSmall = bytesInUse(gc);
  for (let i = small; i < large; i++) keep.push(make(i));
  const atLarge = bytesInUse(gc);
  if (keep.length !== large) throw new Error("unreachable");
  return (atLarge - atSmall) / (large - small);
}

describe("memory per meter after the seal (issue 14)", function () {
  this.timeout(120_000);
  const gc = gcFunction();

  it("a meter that released an interval keeps what re-signs it, not its K × 138 bytes (≥ 800 B less per meter), and gives back the same bytes", function () {
    const cc = ccKeys();
    const make =
      (release: boolean) =>
      (i: number): Meter => {
        const meter = makeMeter(i, cc);
        meter.reportInterval(1, 1_850n, T);
        if (release) meter.releaseSent(1);
        return meter;
      };
    const kept = slope(gc, 40, 200, make(false));
    const released = slope(gc, 40, 200, make(true));
    // Measured: kept 3,902–3,937 B, released 2,447–2,558 B (K = 8: the 1,104 bytes and their buffer).
    expect(kept - released).to.be.above(800);
    // The same bytes and entries, signed again (deterministic keys and nonces, DESIGN §4.2, §4.3).
    const meter = makeMeter(3, cc);
    const report = meter.reportInterval(1, 1_850n, T);
    meter.reportInterval(2, 2_600n, T + 3_600n);
    const before = meter.reportsSent(1)!.slice();
    meter.releaseSent(1);
    meter.releaseSent(9); // not held: no effect
    expect(meter.reportsSent(1)).to.deep.equal(before);
    expect(before).to.deep.equal(concatBytes(...report.entries.map(encodeMeterReport)));
    for (let k = 1; k <= report.entries.length; k++) {
      expect(meter.resend(1, k)).to.deep.equal(report.entries[k - 1]);
    }
    expect(meter.resend(1, 0)).to.equal(undefined);
    expect(meter.resend(1, report.entries.length + 1)).to.equal(undefined);
    expect(meter.resend(9, 1)).to.equal(undefined);
    // The other interval is untouched: still the kept buffer (the same object each call).
    expect(meter.reportsSent(2)).to.equal(meter.reportsSent(2));
    // A resumed meter that reports a released interval again replaces it.
    meter.resumeAt(1, report.carryInWh);
    const again = meter.reportInterval(1, 1_850n, T);
    expect(again.entries).to.deep.equal(report.entries);
    expect(meter.reportsSent(1)).to.equal(meter.reportsSent(1));
  });
});
