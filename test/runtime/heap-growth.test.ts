// limitHeapGrowth (offchain/runtime/heap-growth.ts, issue 14): the simulators' bound on V8's
// garbage headroom. What it changes in V8 is measured, not unit-tested (docs/SCALE.md "Garbage
// headroom": 20,000 meters, 1,678 → 1,006 MB peak); here its contract: the range it accepts and
// that a process started with its own `--heap-growing-percent` keeps it.
import { expect } from "chai";

import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

import {
  SIMULATOR_GLIBC_TUNABLES,
  SIMULATOR_HEAP_GROWTH_PERCENT,
  SIMULATOR_LATE_HEAP_GROWTH_PERCENT,
  SIMULATOR_MIMALLOC_OPTIONS,
  limitChainAllocator,
  limitHeapGrowth,
  releaseAfterFleet,
  releaseHeapPages,
  releaseNativeHeap,
} from "../../offchain/runtime/heap-growth.ts";

describe("limitHeapGrowth (issue 14)", function () {
  // The flags V8 would be given (the test process's own heap is left alone).
  let given: string[] = [];
  const setFlags = (flags: string) => void given.push(flags);
  beforeEach(() => (given = []));

  it("sets the simulators' percent by default and returns it", () => {
    expect(limitHeapGrowth(undefined, [], setFlags)).to.equal(SIMULATOR_HEAP_GROWTH_PERCENT);
    expect(limitHeapGrowth(40, ["--disable-warning=ExperimentalWarning"], setFlags)).to.equal(40);
    expect(given).to.deep.equal([
      `--heap-growing-percent=${SIMULATOR_HEAP_GROWTH_PERCENT}`,
      "--heap-growing-percent=40",
    ]);
  });

  it("keeps the process's own --heap-growing-percent, in either spelling", () => {
    expect(limitHeapGrowth(25, ["--heap-growing-percent=60"], setFlags)).to.equal(60);
    expect(limitHeapGrowth(25, ["--heap_growing_percent=15"], setFlags)).to.equal(15);
    expect(limitHeapGrowth(25, ["--heap-growing-percent"], setFlags)).to.equal(undefined);
    expect(given).to.deep.equal([]);
  });

  it("releaseAfterFleet lowers it to the late percent, unless the process chose its own (session 12)", () => {
    releaseAfterFleet([], setFlags);
    releaseAfterFleet(["--heap-growing-percent=60"], setFlags);
    expect(given).to.deep.equal([`--heap-growing-percent=${SIMULATOR_LATE_HEAP_GROWTH_PERCENT}`]);
    expect(SIMULATOR_LATE_HEAP_GROWTH_PERCENT).to.be.below(SIMULATOR_HEAP_GROWTH_PERCENT);
  });

  it("refuses a percent that is not an integer in [1, 300]", () => {
    for (const bad of [0, -5, 301, 2.5, Number.NaN]) {
      expect(() => limitHeapGrowth(bad, [], setFlags)).to.throw(
        RangeError,
        /not an integer in \[1, 300\]/,
      );
    }
  });

  it("npm run demo and the gridledger command start with the simulators' malloc settings", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(pkg.scripts.demo).to.include(`GLIBC_TUNABLES=${SIMULATOR_GLIBC_TUNABLES} node `);
    const main = readFileSync(new URL("../../offchain/cli/main.ts", import.meta.url), "utf8");
    expect(main.split("\n")[0]).to.equal(
      `#!/usr/bin/env -S GLIBC_TUNABLES=${SIMULATOR_GLIBC_TUNABLES} node --disable-warning=ExperimentalWarning`,
    );
  });
});

describe("releaseHeapPages (issue 14)", function () {
  this.timeout(60_000);

  // In a child process, so that the resident sizes are this script's alone: ≈ 130 MB of objects
  // made and dropped; an ordinary full collection frees them into V8's page pool (still resident),
  // and releaseHeapPages returns the pool to the OS.
  const script = `
    import { releaseHeapPages } from ${JSON.stringify(new URL("../../offchain/runtime/heap-growth.ts", import.meta.url).href)};
    import { runInNewContext } from "node:vm";
    import { setFlagsFromString } from "node:v8";
    const rss = () => process.memoryUsage().rss / 2 ** 20;
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc");
    gc();
    const base = rss();
    let keep = [];
    for (let i = 0; i < 1e6; i++) keep.push({ a: i, b: [i] });
    const built = rss();
    keep = undefined;
    gc();
    const collected = rss();
    releaseHeapPages();
    const released = rss();
    releaseHeapPages();
    console.log(JSON.stringify({ base, built, collected, released, again: rss() }));
  `;

  it("gives back the pages a full collection only pooled", () => {
    const out = execFileSync(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script],
      { encoding: "utf8" },
    );
    const m = JSON.parse(out) as Record<
      "base" | "built" | "collected" | "released" | "again",
      number
    >;
    const garbage = m.built - m.base;
    expect(garbage, JSON.stringify(m)).to.be.greaterThan(60);
    // V8's pool: the collection freed the objects, not the pages.
    expect(m.collected - m.base, JSON.stringify(m)).to.be.greaterThan(garbage / 2);
    // Released: back within a fifth of the garbage of where it started; a second call is harmless.
    expect(m.released - m.base, JSON.stringify(m)).to.be.lessThan(garbage / 5);
    expect(m.again - m.base, JSON.stringify(m)).to.be.lessThan(garbage / 5);
  });

  it("runs in this process too (the simulators call it in theirs)", () => {
    expect(() => releaseHeapPages()).to.not.throw();
  });
});

describe("releaseNativeHeap (issue 14, session 10)", function () {
  this.timeout(60_000);

  // In a child process started with the simulators' glibc settings: ≈ 200 MB of 1 kB array
  // buffers in the C heap, 1 in 50 kept (the holes a retired fleet leaves below live buffers),
  // the rest collected: glibc keeps the freed pages resident until malloc_trim gives them back.
  const heapGrowth = new URL("../../offchain/runtime/heap-growth.ts", import.meta.url).href;
  const rssByMapping = new URL("../../offchain/bench/rss-by-mapping.ts", import.meta.url).href;
  const script = (trim: boolean) => `
    import { releaseHeapPages, releaseNativeHeap } from ${JSON.stringify(heapGrowth)};
    import { residentByKind } from ${JSON.stringify(rssByMapping)};
    import { readFileSync } from "node:fs";
    const heapMb = () => residentByKind(readFileSync("/proc/self/smaps", "utf8")).heap / 1024;
    let all = [];
    for (let i = 0; i < 200_000; i++) all.push(new Uint8Array(1000 + (i % 7)));
    const kept = all.filter((_, i) => i % 50 === 0);
    all = undefined;
    releaseHeapPages(); // the buffers are garbage now: their C memory is freed
    const freed = heapMb();
    const t0 = performance.now();
    const trimmed = ${trim} ? releaseNativeHeap() : false;
    const ms = performance.now() - t0;
    console.log(JSON.stringify({ freed, after: heapMb(), trimmed, ms, kept: kept.length }));
  `;
  const run = (trim: boolean) =>
    JSON.parse(
      execFileSync(
        process.execPath,
        ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script(trim)],
        {
          encoding: "utf8",
          env: { ...process.env, GLIBC_TUNABLES: SIMULATOR_GLIBC_TUNABLES },
        },
      ),
    ) as { freed: number; after: number; trimmed: boolean; ms: number; kept: number };

  it("gives back the free pages between live buffers that glibc keeps resident (the control: without it they stay)", function () {
    const without = run(false);
    const withTrim = run(true);
    const m = JSON.stringify({ without, withTrim });
    expect(without.kept, m).to.equal(4_000);
    // Freed but resident: most of the ≈ 200 MB the buffers took.
    expect(without.freed, m).to.be.greaterThan(150);
    expect(without.after, m).to.be.greaterThan(150);
    expect(withTrim.trimmed, m).to.equal(true);
    // What stays is the 4,000 kept buffers' pages (one per 4 KiB page at most: ≤ 16 MB) and the
    // process's own small allocations.
    expect(withTrim.after, m).to.be.lessThan(withTrim.freed / 3);
  });

  it("runs in this process too (the simulators call it in theirs), and again", function () {
    releaseNativeHeap();
    expect(() => releaseNativeHeap()).to.not.throw();
  });
});

describe("limitChainAllocator (issue 14)", function () {
  this.timeout(60_000);

  it("sets the simulators' mimalloc options where the environment has none, and keeps its own", () => {
    const env: NodeJS.ProcessEnv = { MIMALLOC_PURGE_DELAY: "250", PATH: "/bin" };
    expect(limitChainAllocator(env)).to.deep.equal({
      ...SIMULATOR_MIMALLOC_OPTIONS,
      MIMALLOC_PURGE_DELAY: "250",
    });
    expect(env).to.deep.equal({
      ...SIMULATOR_MIMALLOC_OPTIONS,
      MIMALLOC_PURGE_DELAY: "250",
      PATH: "/bin",
    });
  });

  it("reaches the chain's allocator when set in-process before the chain loads", () => {
    // mimalloc prints its options when MIMALLOC_VERBOSE is set; the child starts without ours.
    const env: NodeJS.ProcessEnv = { ...process.env, MIMALLOC_VERBOSE: "1" };
    for (const name of Object.keys(SIMULATOR_MIMALLOC_OPTIONS)) delete env[name];
    const script = `
      import { limitChainAllocator } from ${JSON.stringify(new URL("../../offchain/runtime/heap-growth.ts", import.meta.url).href)};
      import { createRequire } from "node:module";
      limitChainAllocator();
      createRequire(${JSON.stringify(import.meta.url)})("@nomicfoundation/edr");
    `;
    // mimalloc writes them to stderr.
    const { stderr: out, status } = spawnSync(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script],
      { encoding: "utf8", env },
    );
    expect(status, out).to.equal(0);
    expect(out).to.match(/option 'allow_thp': 0\b/);
    expect(out).to.match(/option 'purge_delay': 50\b/);
  });
});
