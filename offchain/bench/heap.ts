// Heap figures for the memory benchmarks and tests (issue 14, docs/SCALE.md "Memory per role"):
// bytes in use after full collections, so the slope between two sizes is what each item keeps.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** A collectable heap: `gc()` through V8's `--expose-gc` flag, for memory figures only. */
export function gcFunction(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/** V8 heap plus array-buffer bytes in use after two full collections. */
export function bytesInUse(gc: () => void): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * Bytes each item keeps: {@link bytesInUse} after `small` and after `large` items made by `make`
 * (all kept alive until measured), divided by `large − small`, so the fixed part does not count.
 */
export function bytesPerItem<T>(
  gc: () => void,
  small: number,
  large: number,
  make: (i: number) => T,
): number {
  const keep: T[] = [];
  for (let i = 0; i < small; i++) keep.push(make(i));
  const atSmall = bytesInUse(gc);
  for (let i = small; i < large; i++) keep.push(make(i));
  const atLarge = bytesInUse(gc);
  if (keep.length !== large) throw new Error("unreachable");
  return (atLarge - atSmall) / (large - small);
}
