// The V8 heap at CC's OCD posting (issue 14, session 9, docs/SCALE.md "Retiring the fleet before
// the posting"): one `runOksuzAgents` city run as offchain/bench/city-run.ts makes it (one
// interval, seed "city", the fleet retired, the same garbage headroom), sampled at CC's first
// "OCD slots posted" step, at `hooks.fleetRetired` (where the tree has it) and at the end: V8
// heap in use as found, live (after a full collection), committed, and the process's RSS.
//
//   node --expose-gc offchain/bench/posting-heap.ts [--meters 4000] [--root DIR]
//
// `--root DIR` runs another checkout's code (e.g. main's, for the figure before a change): its
// simulator, bench chain and heap settings, loaded from DIR. Prints one JSON object on stdout.
import { getHeapStatistics } from "node:v8";
import { resolve } from "node:path";
import { cli, parseOptions } from "../cli/common.ts";

type Sim = typeof import("../sim/oksuz-agents.ts");
type Chain = typeof import("./chain.ts");
type Growth = typeof import("../runtime/heap-growth.ts");

const USAGE = `usage: node --expose-gc offchain/bench/posting-heap.ts [--meters N] [--root DIR]

The V8 heap at CC's OCD posting of one city run (default 4,000 meters), as one JSON object.
  --root DIR   run another checkout's code (e.g. main's, for the figure before a change)`;
const c = cli("posting-heap", USAGE);
const values = parseOptions(c, USAGE, {
  meters: { type: "string" },
  root: { type: "string" },
  help: { type: "boolean", short: "h" },
});
const meters = c.intOption(values.meters, "meters", 4000, 1);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) c.fail("run with node --expose-gc");
const root = resolve(values.root ?? new URL("../..", import.meta.url).pathname);
const { runOksuzAgents } = (await import(`${root}/offchain/sim/oksuz-agents.ts`)) as Sim;
const { benchEthers } = (await import(`${root}/offchain/bench/chain.ts`)) as Chain;
const { limitHeapGrowth } = (await import(`${root}/offchain/runtime/heap-growth.ts`)) as Growth;
limitHeapGrowth();

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
/** The memory now: heap in use as found, then after a full collection (what is live). */
function sample(what: string): Record<string, unknown> {
  const found = process.memoryUsage().heapUsed;
  gc!();
  const after = process.memoryUsage();
  return {
    what,
    heapUsedMb: mb(found),
    liveHeapMb: mb(after.heapUsed),
    heapCommittedMb: mb(getHeapStatistics().total_physical_size),
    rssMb: mb(after.rss),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

const samples: Record<string, unknown>[] = [];
const ethers = await benchEthers();
const [admin, controlCenter, serviceProvider] = await ethers.getSigners();
let live: Awaited<ReturnType<Sim["runOksuzAgents"]>> | undefined;
let closedAtMs: number | undefined;
let posted = false;
const t0 = performance.now();
const run = await runOksuzAgents(
  { meters, intervals: 1, seed: "city", retire: true },
  { admin, controlCenter, serviceProvider },
  {
    watch: (r) => {
      live ??= r;
      const closed = (r.cc as { windowClosed?: number }).windowClosed ?? 0;
      if (closedAtMs === undefined && closed >= 1) closedAtMs = r.virtualMs;
    },
    step: (s) => {
      if (s.task !== "OCD slots posted" || posted) return;
      posted = true;
      samples.push({ ...sample("first OCD batch posted"), retiredMeters: live?.retired.meters });
    },
    // Absent from trees before session 9 (never called there).
    ...{
      fleetRetired: () =>
        samples.push({
          ...sample("fleet retired"),
          windowClosedAtVirtualMs: closedAtMs,
          atVirtualMs: live?.virtualMs,
        }),
    },
  },
);
samples.push({ ...sample("end"), retiredMeters: run.retired.meters });
console.log(
  JSON.stringify({ root, meters, wallS: (performance.now() - t0) / 1000, samples }, null, 1),
);
process.exit(0);
