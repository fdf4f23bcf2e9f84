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

interface VirtualTimer {
  readonly id: number;
  readonly dueMs: number;
  readonly callback: () => void;
}

/**
 * Simulated time. Timers run only inside `advance`/`runUntilIdle`, in order of due time and, for
 * equal due times, in the order they were scheduled (FIFO) — so the interleaving is deterministic.
 * While a timer runs, `now()` equals its due time.
 */
export class VirtualClock implements Clock {
  #nowMs: number;
  #nextId = 1;
  // Kept sorted by (dueMs, id); simulations hold at most thousands of timers, and binary-search
  // insertion keeps this simple and deterministic.
  readonly #queue: VirtualTimer[] = [];
  #running = false;

  constructor(init: VirtualClockInit = {}) {
    const start = init.startMs ?? 0;
    if (!Number.isFinite(start)) throw new ClockError("VirtualClock: startMs must be finite");
    this.#nowMs = start;
  }

  now(): number {
    return this.#nowMs;
  }

  /** Number of timers not yet run. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Due time of the earliest pending timer (undefined when none): where `advanceTo` goes next. */
  get nextDueMs(): number | undefined {
    return this.#queue[0]?.dueMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    checkDelay(delayMs, "VirtualClock.setTimeout");
    if (typeof callback !== "function") {
      throw new ClockError("VirtualClock.setTimeout: callback must be a function");
    }
    const timer: VirtualTimer = { id: this.#nextId++, dueMs: this.#nowMs + delayMs, callback };
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      // Equal due times: the new timer (larger id) goes after existing ones.
      if (this.#queue[mid].dueMs <= timer.dueMs) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    const i = this.#queue.findIndex((t) => t.id === handle.id);
    if (i >= 0) this.#queue.splice(i, 1);
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
    while (this.#queue.length > 0) {
      if (ran >= maxTimers) {
        throw new ClockError(`VirtualClock.runUntilIdle: more than ${maxTimers} timers`);
      }
      ran += this.#runUntil(this.#queue[0].dueMs, 1);
    }
    return ran;
  }

  /**
   * Like `advance`, but yields to the event loop after each timer so promise continuations started
   * by a timer (async handlers) settle before the next timer runs, in a deterministic order.
   */
  async advanceAsync(ms: number): Promise<number> {
    checkDelay(ms, "VirtualClock.advanceAsync");
    const target = this.#nowMs + ms;
    let ran = 0;
    await settle();
    while (this.#queue.length > 0 && this.#queue[0].dueMs <= target) {
      ran += this.#runUntil(this.#queue[0].dueMs, 1);
      await settle();
    }
    this.#nowMs = target;
    return ran;
  }

  #runUntil(target: number, limit = Infinity): number {
    if (this.#running) throw new ClockError("VirtualClock: advance called from inside a timer");
    this.#running = true;
    let ran = 0;
    try {
      while (ran < limit && this.#queue.length > 0 && this.#queue[0].dueMs <= target) {
        const timer = this.#queue.shift() as VirtualTimer;
        this.#nowMs = timer.dueMs;
        ran++;
        timer.callback();
      }
      if (ran < limit || this.#queue.length === 0 || this.#queue[0].dueMs > target) {
        this.#nowMs = Math.max(this.#nowMs, target);
      }
    } finally {
      this.#running = false;
    }
    return ran;
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
