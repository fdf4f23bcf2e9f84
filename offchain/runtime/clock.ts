// Time as an injected dependency (DESIGN §1: protocol logic has no clock of its own). Agents take a
// `Clock`; production passes `SystemClock`, simulations pass `VirtualClock`, whose time moves only
// when the scenario advances it, so a run is a deterministic function of its seed.

export class ClockError extends Error {
  override name = "ClockError";
}

/** Opaque handle returned by `setTimeout`. */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Milliseconds since the unix epoch (virtual or real). */
  now(): number;
  /** Runs `callback` once, `delayMs` (≥ 0) from now. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a pending timer; no effect if it already ran or was cancelled. */
  clearTimeout(handle: TimerHandle): void;
}

function checkDelay(delayMs: number, fn: string): void {
  if (typeof delayMs !== "number" || !Number.isFinite(delayMs) || delayMs < 0) {
    throw new ClockError(`${fn}: delayMs must be a finite number ≥ 0`);
  }
}

/** Wall-clock time and Node's timers. */
export class SystemClock implements Clock {
  #nextId = 1;
  readonly #timers = new Map<number, ReturnType<typeof setTimeout>>();

  now(): number {
    return Date.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    checkDelay(delayMs, "SystemClock.setTimeout");
    const id = this.#nextId++;
    const t = setTimeout(() => {
      this.#timers.delete(id);
      callback();
    }, delayMs);
    this.#timers.set(id, t);
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const t = this.#timers.get(handle.id);
    if (t !== undefined) {
      clearTimeout(t);
      this.#timers.delete(handle.id);
    }
  }
}

export interface VirtualClockInit {
  /** Initial time in ms since the epoch (default 0). */
  readonly startMs?: number;
}

/**
 * A pending timer; also the handle `setTimeout` returns (no separate handle object or id map per
 * timer: a city holds hundreds of thousands). `callback` is dropped once the timer ran or was
 * cancelled, so a caller keeping its handles keeps nothing the callback captured.
 */
class VirtualTimer implements TimerHandle {
  readonly id: number;
  readonly dueMs: number;
  callback: (() => void) | undefined;
  cancelled = false;
  readonly clock: VirtualClock;

  constructor(clock: VirtualClock, id: number, dueMs: number, callback: () => void) {
    this.clock = clock;
    this.id = id;
    this.dueMs = dueMs;
    this.callback = callback;
  }
}

/** Heap order: earlier due time first; equal due times in scheduling order (smaller id). */
function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.id < b.id);
}

/**
 * Simulated time. Timers run only inside `advance`/`runUntilIdle`, in order of due time and, for
 * equal due times, in the order they were scheduled (FIFO) — so the interleaving is deterministic.
 * While a timer runs, `now()` equals its due time.
 *
 * Pending timers are a binary min-heap on (due time, id): `setTimeout` and running a timer cost
 * O(log n) and `clearTimeout` O(1) (the timer is marked and skipped when it reaches the top; the
 * heap is rebuilt without the cancelled ones when they are more than half of it). A city-scale
 * simulation holds hundreds of thousands of timers (every packet in flight is one): the sorted
 * array this replaces cost O(n) per insertion, run and cancellation (issue 14). The handle is the
 * heap entry itself, so a timer is one object (no handle object, no entry in an id → timer map).
 */
export class VirtualClock implements Clock {
  #nowMs: number;
  #nextId = 1;
  readonly #heap: VirtualTimer[] = [];
  /** Pending (scheduled, not run, not cancelled) timers. */
  #live = 0;
  #running = false;
  /** Heap comparisons so far: the cost measure of the complexity tests (no effect on the run). */
  #comparisons = 0;

  constructor(init: VirtualClockInit = {}) {
    const start = init.startMs ?? 0;
    if (!Number.isFinite(start)) throw new ClockError("VirtualClock: startMs must be finite");
    this.#nowMs = start;
  }

  now(): number {
    return this.#nowMs;
  }

  /** Number of timers not yet run (cancelled ones excluded). */
  get pending(): number {
    return this.#live;
  }

  /** Heap comparisons made so far (a deterministic cost count for complexity tests). */
  get comparisons(): number {
    return this.#comparisons;
  }

  /** Due time of the earliest pending timer (undefined when none): where `advanceTo` goes next. */
  get nextDueMs(): number | undefined {
    return this.#top()?.dueMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    checkDelay(delayMs, "VirtualClock.setTimeout");
    if (typeof callback !== "function") {
      throw new ClockError("VirtualClock.setTimeout: callback must be a function");
    }
    const timer = new VirtualTimer(this, this.#nextId++, this.#nowMs + delayMs, callback);
    this.#live++;
    this.#push(timer);
    return timer;
  }

  /** Cancels `handle` if it is a pending timer of this clock; otherwise does nothing. */
  clearTimeout(handle: TimerHandle): void {
    if (!(handle instanceof VirtualTimer) || handle.clock !== this) return;
    if (handle.cancelled || handle.callback === undefined) return; // cancelled, or already ran
    handle.cancelled = true;
    handle.callback = undefined;
    this.#live--;
    // Cancelled timers wait in the heap until they reach the top; keep them under half of it.
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#live) this.#rebuild();
  }

  /**
   * Moves time forward by `ms`, running every timer that becomes due (including timers scheduled
   * by those timers) in order. Returns the number of timers run.
   */
  advance(ms: number): number {
    checkDelay(ms, "VirtualClock.advance");
    return this.#runUntil(this.#nowMs + ms);
  }

  /** Moves time to `timeMs` (≥ now), running due timers. */
  advanceTo(timeMs: number): number {
    if (!Number.isFinite(timeMs) || timeMs < this.#nowMs) {
      throw new ClockError("VirtualClock.advanceTo: time must be finite and not in the past");
    }
    return this.#runUntil(timeMs);
  }

  /**
   * Runs timers until none is left (jumping time to each), at most `maxTimers` of them so a
   * self-rescheduling timer cannot hang the simulation. Returns the number run.
   */
  runUntilIdle(maxTimers = 1_000_000): number {
    let ran = 0;
    for (let top = this.#top(); top !== undefined; top = this.#top()) {
      if (ran >= maxTimers) {
        throw new ClockError(`VirtualClock.runUntilIdle: more than ${maxTimers} timers`);
      }
      ran += this.#runUntil(top.dueMs, 1);
    }
    return ran;
  }

  /**
   * Like `advance`, but yields to the event loop after each timer so promise continuations started
   * by a timer (async handlers) settle before the next timer runs, in a deterministic order.
   * With `pause`, checked once the timers due at one instant have run and settled: when it holds,
   * returns with time at that instant (the rest of `ms` not advanced) — a driver stops the clock
   * while an agent waits for something outside it (a chain call), whatever the step. Timers due at
   * the same instant always run together (simultaneous polls still share one chain read).
   */
  async advanceAsync(ms: number, pause?: () => boolean): Promise<number> {
    checkDelay(ms, "VirtualClock.advanceAsync");
    const target = this.#nowMs + ms;
    let ran = 0;
    await settle();
    for (let top = this.#top(); top !== undefined && top.dueMs <= target; top = this.#top()) {
      ran += this.#runUntil(top.dueMs, 1);
      await settle();
      if (pause !== undefined && (this.#top()?.dueMs ?? Infinity) > this.#nowMs && pause()) {
        return ran;
      }
    }
    this.#nowMs = target;
    return ran;
  }

  #runUntil(target: number, limit = Infinity): number {
    if (this.#running) throw new ClockError("VirtualClock: advance called from inside a timer");
    this.#running = true;
    let ran = 0;
    try {
      for (let top = this.#top(); ran < limit && top !== undefined && top.dueMs <= target;) {
        this.#pop();
        this.#live--;
        this.#nowMs = top.dueMs;
        ran++;
        const callback = top.callback as () => void;
        top.callback = undefined;
        callback();
        top = this.#top();
      }
      const next = this.#top();
      if (ran < limit || next === undefined || next.dueMs > target) {
        this.#nowMs = Math.max(this.#nowMs, target);
      }
    } finally {
      this.#running = false;
    }
    return ran;
  }

  // ---- the heap ---------------------------------------------------------------------------------

  /** The earliest live timer, dropping cancelled ones from the top. */
  #top(): VirtualTimer | undefined {
    while (this.#heap.length > 0 && this.#heap[0].cancelled) this.#pop();
    return this.#heap[0];
  }

  #less(a: VirtualTimer, b: VirtualTimer): boolean {
    this.#comparisons++;
    return before(a, b);
  }

  #push(timer: VirtualTimer): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(timer, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = timer;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop() as VirtualTimer;
    if (heap.length > 0) this.#siftDown(0, last);
  }

  #siftDown(start: number, timer: VirtualTimer): void {
    const heap = this.#heap;
    const n = heap.length;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.#less(heap[child + 1], heap[child])) child++;
      if (!this.#less(heap[child], timer)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = timer;
  }

  /** Drops cancelled timers and restores the heap order (O(n), Floyd's construction). */
  #rebuild(): void {
    const heap = this.#heap;
    let w = 0;
    for (const t of heap) if (!t.cancelled) heap[w++] = t;
    heap.length = w;
    for (let i = (w >> 1) - 1; i >= 0; i--) this.#siftDown(i, heap[i]);
  }
}

/** Lets pending promise continuations run (one macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves after `ms` on the given clock (virtual or real). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimeout(resolve, ms);
  });
}
