// Virtual and system clocks: ordering, cancellation, nested scheduling, determinism.
import { expect } from "chai";
import fc from "fast-check";

import { ClockError, SystemClock, VirtualClock, sleep } from "../../offchain/runtime/clock.ts";

describe("VirtualClock", () => {
  it("advance runs due timers in due-time order, FIFO for equal due times, with now() = due", () => {
    const clock = new VirtualClock({ startMs: 1000 });
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 30);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => seen.push(`b1@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`b2@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`late@${clock.now()}`), 100);
    expect(clock.advance(30)).to.equal(4);
    expect(seen).to.deep.equal(["a@1010", "b1@1020", "b2@1020", "c@1030"]);
    expect(clock.now()).to.equal(1030);
    expect(clock.pending).to.equal(1);
    clock.advance(69);
    expect(seen).to.have.length(4);
    expect(clock.now()).to.equal(1099);
    clock.advance(1);
    expect(seen.at(-1)).to.equal("late@1100");
  });

  it("timers scheduled by timers run within the same advance when due", () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
      clock.setTimeout(() => seen.push(clock.now()), 0);
    }, 10);
    clock.advance(15);
    expect(seen).to.deep.equal([10, 10, 15]);
  });

  it("clearTimeout cancels a pending timer", () => {
    const clock = new VirtualClock();
    let ran = false;
    const h = clock.setTimeout(() => (ran = true), 10);
    clock.clearTimeout(h);
    clock.advance(20);
    expect(ran).to.equal(false);
    clock.clearTimeout(h); // idempotent
  });

  it("runUntilIdle jumps to each timer and stops runaway rescheduling", () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 500);
    clock.setTimeout(() => seen.push(clock.now()), 100);
    expect(clock.runUntilIdle()).to.equal(2);
    expect(seen).to.deep.equal([100, 500]);
    const tick = (): void => void clock.setTimeout(tick, 1);
    tick();
    expect(() => clock.runUntilIdle(50)).to.throw(ClockError, /more than 50/);
  });

  it("advanceAsync lets async continuations settle between timers", async () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    clock.setTimeout(() => {
      void (async () => {
        await Promise.resolve();
        seen.push("first-continuation");
        clock.setTimeout(() => seen.push("scheduled-by-continuation"), 1);
      })();
    }, 1);
    clock.setTimeout(() => seen.push("second"), 1);
    const done = sleep(clock, 3).then(() => seen.push("slept"));
    await clock.advanceAsync(5);
    await done;
    expect(seen).to.deep.equal([
      "first-continuation",
      "second",
      "scheduled-by-continuation",
      "slept",
    ]);
    expect(clock.now()).to.equal(5);
  });

  it("advanceAsync with pause stops after the instant whose timers made it hold, time at that instant", async () => {
    const clock = new VirtualClock();
    let waiting = false;
    const ran: number[] = [];
    clock.setTimeout(() => ran.push(clock.now()), 10);
    clock.setTimeout(() => {
      ran.push(clock.now());
      waiting = true; // e.g. an agent now waits for a chain call
    }, 20);
    clock.setTimeout(() => ran.push(clock.now()), 20);
    clock.setTimeout(() => ran.push(clock.now()), 30);
    // The two timers due at 20 are simultaneous: both run (e.g. polls sharing one chain read).
    expect(await clock.advanceAsync(100, () => waiting)).to.equal(3);
    expect(ran).to.deep.equal([10, 20, 20]);
    expect(clock.now(), "the rest of the step not advanced").to.equal(20);
    waiting = false;
    expect(await clock.advanceAsync(100, () => waiting)).to.equal(1);
    expect(ran).to.deep.equal([10, 20, 20, 30]);
    expect(clock.now()).to.equal(120);
  });

  it("rejects negative delays and advancing from inside a timer", () => {
    const clock = new VirtualClock();
    expect(() => clock.setTimeout(() => {}, -1)).to.throw(ClockError, /delayMs/);
    expect(() => clock.advance(Number.NaN)).to.throw(ClockError);
    expect(() => clock.advanceTo(-5)).to.throw(ClockError);
    clock.setTimeout(() => clock.advance(1), 1);
    expect(() => clock.advance(1)).to.throw(ClockError, /inside a timer/);
  });
});

describe("VirtualClock at city scale (issue 14: a timer heap)", () => {
  it("runs timers in (due time, scheduling order) with cancellations, as a sorted model does", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant("set" as const), delay: fc.integer({ min: 0, max: 50 }) }),
            fc.record({ op: fc.constant("clear" as const), pick: fc.nat() }),
            fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 30 }) }),
          ),
          { maxLength: 300 },
        ),
        (ops) => {
          const clock = new VirtualClock();
          const ran: number[] = [];
          // The model: live timers as [due, id], run in sorted order.
          let model: [number, number][] = [];
          const expected: number[] = [];
          const handles: { id: number }[] = [];
          let next = 0;
          const runModel = (to: number) => {
            model.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
            while (model.length > 0 && model[0][0] <= to) expected.push(model.shift()![1]);
          };
          let now = 0;
          for (const o of ops) {
            if (o.op === "set") {
              const id = next++;
              handles.push(clock.setTimeout(() => ran.push(id), o.delay));
              model.push([now + o.delay, id]);
            } else if (o.op === "clear" && handles.length > 0) {
              const i = o.pick % handles.length;
              clock.clearTimeout(handles[i]);
              model = model.filter(([, id]) => id !== i);
            } else if (o.op === "advance") {
              now += o.ms;
              clock.advance(o.ms);
              runModel(now);
            }
            expect(clock.pending).to.equal(model.length);
          }
          clock.runUntilIdle();
          runModel(Infinity);
          expect(ran).to.deep.equal(expected);
          expect(clock.pending).to.equal(0);
          expect(clock.nextDueMs).to.equal(undefined);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("costs O(log n) comparisons per timer: 200,000 timers, half cancelled, in ≤ 40 per timer", () => {
    // The sorted array this replaced moved O(n) elements per insertion and searched O(n) per
    // cancellation; the heap's count grows with log2(n) ≈ 18.
    const n = 200_000;
    const clock = new VirtualClock();
    let ran = 0;
    const handles = [];
    for (let i = 0; i < n; i++) {
      handles.push(clock.setTimeout(() => ran++, (i * 7919) % 10_007));
    }
    for (let i = 0; i < n; i += 2) clock.clearTimeout(handles[i]);
    expect(clock.pending).to.equal(n / 2);
    clock.runUntilIdle();
    expect(ran).to.equal(n / 2);
    expect(clock.comparisons / n).to.be.below(40);
  });
});

describe("VirtualClock handles (issue 14: the timer is its own handle, no id map)", () => {
  it("clearTimeout ignores handles of another clock, forged handles, and timers that ran", () => {
    const a = new VirtualClock();
    const b = new VirtualClock();
    const seen: string[] = [];
    const ha = a.setTimeout(() => seen.push("a"), 10);
    b.setTimeout(() => seen.push("b"), 10);
    b.clearTimeout(ha); // a's timer 1 is not b's timer 1
    b.clearTimeout({ id: ha.id }); // an id alone names no timer
    expect(b.pending).to.equal(1);
    b.advance(10);
    expect(seen).to.deep.equal(["b"]);
    const ran = b.setTimeout(() => seen.push("b2"), 0);
    b.advance(0);
    b.clearTimeout(ran); // already ran: no effect, the count stays right
    b.clearTimeout(ran);
    expect(b.pending).to.equal(0);
    a.clearTimeout(ha);
    a.clearTimeout(ha); // twice: counted once
    expect(a.pending).to.equal(0);
    a.advance(10);
    expect(seen).to.deep.equal(["b", "b2"]);
  });

  it("a kept handle no longer holds its callback once the timer ran or was cancelled", () => {
    // A caller may keep its handles (MeterAgent keeps an interval's timers until the window
    // closes): the handle must not keep what the callback captured alive.
    const clock = new VirtualClock();
    const ran = clock.setTimeout(() => {}, 1);
    const cancelled = clock.setTimeout(() => {}, 5);
    clock.clearTimeout(cancelled);
    clock.advance(5);
    for (const h of [ran, cancelled]) {
      expect((h as unknown as { callback?: unknown }).callback).to.equal(undefined);
    }
  });
});

describe("SystemClock", () => {
  it("SystemClock runs and cancels real timers", async () => {
    const clock = new SystemClock();
    const t0 = clock.now();
    expect(Math.abs(t0 - Date.now())).to.be.lessThan(50);
    let cancelled = false;
    const h = clock.setTimeout(() => (cancelled = true), 5);
    clock.clearTimeout(h);
    await sleep(clock, 20);
    expect(clock.now() - t0).to.be.at.least(15);
    expect(cancelled).to.equal(false);
  });
});
