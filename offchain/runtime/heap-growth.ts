// Bounded garbage headroom for the simulations that hold a whole city in one process (issue 14,
// docs/SCALE.md "Garbage headroom"). After each full collection V8 sets the next collection's
// limit at the live heap times a growing factor; with a heap limit of 2 GB or more (the default on
// a machine with 16 GB or more of memory) that factor may reach 4, so a run with 300 MB live could
// hold 600 MB of garbage before collecting it: at 20,000 meters the V8 heap reached 895 MB for
// ≈ 280 MB retained. A fixed factor of 1.25 keeps it at 363 MB for ≈ 10 % more CPU (measured at
// 20,000 meters, docs/BENCHMARKS.md).
import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * glibc's malloc settings for the simulators (the `GLIBC_TUNABLES` environment variable, read when
 * the process starts, so `npm run demo` sets it in package.json, the `gridledger` command in its
 * `#!` line and the city bench in its child's environment): allocations of 128 KiB or more (the fleet's 256 KiB slab chunks) are mapped on
 * their own and returned when freed. By default glibc raises that threshold after the first such
 * free, so later chunks come from the main heap, which can only shrink from its top: at 20,000
 * meters it grew 182 → 345 MB through the onion phase, against 193 MB with these settings.
 * Ignored by other C libraries.
 */
export const SIMULATOR_GLIBC_TUNABLES =
  "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072";

/**
 * The in-process chain's allocator settings for the simulators (issue 14, docs/SCALE.md "The
 * in-process chain's allocator"). Hardhat's EDR is Rust with mimalloc 3, which reads `MIMALLOC_*`
 * from the environment when EDR's native module loads — after start-up: `embeddedChain` imports
 * Hardhat on first use — so {@link limitChainAllocator} can set them in-process. By default
 * mimalloc backs its 1 GiB arenas with transparent huge pages (2 MiB resident for any byte used in
 * one) and gives freed pages back to the OS a second after they were freed. At 20,000 meters
 * (one interval, same outcome; chain arenas at most / peak RSS / system CPU): defaults 252 / 877 MB
 * / 9 s; no huge pages 193 / 802 MB / 9 s; and freed pages back after 50 ms 158 / 767 MB / 32 s;
 * after 0 ms 147 / 781 MB / 55 s (the pages are faulted in again: system time).
 */
export const SIMULATOR_MIMALLOC_OPTIONS: Readonly<Record<string, string>> = {
  MIMALLOC_ALLOW_THP: "0",
  MIMALLOC_PURGE_DELAY: "50",
};

/**
 * Sets {@link SIMULATOR_MIMALLOC_OPTIONS} in `env` (the process environment by default) where
 * the process was not started with its own value, and returns the settings in force. Takes effect
 * only if called before the in-process chain's native module is loaded (the simulators call it at
 * start-up, with {@link limitHeapGrowth}); a chain in another process (`--rpc`) is not affected.
 */
export function limitChainAllocator(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const inForce: Record<string, string> = {};
  for (const [name, value] of Object.entries(SIMULATOR_MIMALLOC_OPTIONS)) {
    if (env[name] === undefined) env[name] = value;
    inForce[name] = env[name];
  }
  return inForce;
}

/** The simulators' growing percent: the next full collection at 1.25 × the live heap. */
export const SIMULATOR_HEAP_GROWTH_PERCENT = 25;

/**
 * Fixes V8's old-generation growing factor at `1 + percent / 100` (V8's `--heap-growing-percent`,
 * read at every full collection, so setting it after start-up takes effect from the next one).
 * Leaves the process's own choice alone when it was started with `--heap-growing-percent` (in
 * `process.execArgv`); returns the percent in force then, or undefined when it cannot be read.
 * Throws RangeError for a `percent` that is not an integer in [1, 300]. `setFlags` is V8's
 * `setFlagsFromString` (injected for tests).
 */
export function limitHeapGrowth(
  percent: number = SIMULATOR_HEAP_GROWTH_PERCENT,
  execArgv: readonly string[] = process.execArgv,
  setFlags: (flags: string) => void = setFlagsFromString,
): number | undefined {
  if (!Number.isInteger(percent) || percent < 1 || percent > 300) {
    throw new RangeError(`limitHeapGrowth: percent ${percent} is not an integer in [1, 300]`);
  }
  const own = execArgv.find((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
  if (own !== undefined) {
    const value = Number(own.split("=")[1]);
    return Number.isInteger(value) ? value : undefined;
  }
  setFlags(`--heap-growing-percent=${percent}`);
  return percent;
}

/** V8's `gc` extension function (with `--expose-gc`), as {@link releaseHeapPages} calls it. */
type GcFunction = (options: {
  readonly type: "major";
  readonly execution: "sync";
  readonly flavor: "last-resort";
}) => void;

let gcFunction: GcFunction | undefined;

/**
 * Returns to the OS the V8 heap pages the collector holds free (issue 14, docs/SCALE.md "V8's
 * page pool"). V8 keeps the pages a collection frees in a pool for reuse, committed and resident
 * (`node --trace-gc` prints it: "pooled: N MB"), so the V8 heap's resident size is the high-water
 * mark of its committed size, whatever the live heap is now: at 20,000 meters 199 MB of the 319 MB
 * of V8 pages at the run's end were pooled. A "last resort" full collection (what V8 runs before
 * an out-of-memory error: several memory-reducing mark-compacts, then the pool released) gives
 * them back. Synchronous: about one full collection of the live heap per call, so the simulators
 * call it at phase boundaries only (when the fleet has retired), never per message.
 * It turns on V8's `--expose-gc` for contexts created from then on, to reach the `gc` function
 * from a fresh one (the process's own global gets none).
 */
export function releaseHeapPages(): void {
  if (gcFunction === undefined) {
    setFlagsFromString("--expose-gc");
    gcFunction = runInNewContext("gc") as GcFunction;
  }
  gcFunction({ type: "major", execution: "sync", flavor: "last-resort" });
}

/** glibc's `malloc_trim`, once loaded; null where the C library has none. */
let mallocTrim: ((pad: number) => number) | null | undefined;

/**
 * Returns to the OS the free pages inside the C heap (glibc's `malloc_trim(0)`, called through the
 * koffi FFI; issue 14, docs/SCALE.md "The C heap's free pages"). glibc gives memory back by itself
 * only from the top of its heap: the small array buffers of a retired fleet (relays' replay
 * tables, kept reports, keys: ≈ 2.3 kB per meter) leave holes below live ones that stay resident
 * for the rest of the run. At 10,000 meters, after the seal, the call took the C heap from 73 to
 * 50 MB; 200,000 freed 1 kB buffers with one in 50 kept (test/runtime/heap-growth.test.ts): 228 →
 * 24 MB in ≈ 0.1 s, the FFI's loading included. Synchronous: the simulators call it at phase
 * boundaries only (with {@link releaseHeapPages}, when the fleet has retired). Returns whether
 * anything was given back; false, doing nothing, where the C library is not glibc (musl, macOS,
 * Windows) or the FFI cannot load.
 */
export function releaseNativeHeap(): boolean {
  if (mallocTrim === undefined) {
    try {
      const koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
      mallocTrim = koffi.load("libc.so.6").func("int malloc_trim(size_t pad)") as (
        pad: number,
      ) => number;
    } catch {
      mallocTrim = null;
    }
  }
  return mallocTrim !== null && mallocTrim(0) === 1;
}

/**
 * What the simulators call once their fleet has retired (`OksuzAgentsHooks.fleetRetired`): V8's
 * pooled pages ({@link releaseHeapPages}), then the C heap's free pages ({@link releaseNativeHeap}),
 * in that order, since the collection frees the array buffers whose memory the trim returns.
 */
export function releaseFreedMemory(): void {
  releaseHeapPages();
  releaseNativeHeap();
}

/**
 * The simulators' growing percent once the fleet has retired: the next full collection at 1.10 ×
 * the live heap (issue 14, session 12). What is left then (the households, CC's and SP's billing
 * state) changes slowly, and the V8 pages of that phase were the high-water mark of 1.25 × its
 * live heap: at 100,000 meters V8 held 632 MB of pages from SP's audit to the end, at the run's
 * peak, after the release at the fleet's retirement had left 554 MB.
 */
export const SIMULATOR_LATE_HEAP_GROWTH_PERCENT = 10;

/**
 * What the simulators call once their fleet has retired (`OksuzAgentsHooks.fleetRetired`): the
 * growing percent lowered to {@link SIMULATOR_LATE_HEAP_GROWTH_PERCENT} (unless the process was
 * started with its own, as {@link limitHeapGrowth}), then {@link releaseFreedMemory}, whose full
 * collection sets the next limit with it. `execArgv` and `setFlags` as in {@link limitHeapGrowth}
 * (injected for tests). Costs more full collections in the billing phase.
 */
export function releaseAfterFleet(
  execArgv: readonly string[] = process.execArgv,
  setFlags: (flags: string) => void = setFlagsFromString,
): void {
  limitHeapGrowth(SIMULATOR_LATE_HEAP_GROWTH_PERCENT, execArgv, setFlags);
  releaseFreedMemory();
}
