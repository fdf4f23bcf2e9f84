// Renders a bench JSON (`npm run bench -- --json FILE`) as the Markdown table of
// docs/BENCHMARKS.md, with each issue's goal and whether this run meets it.
//
//   node scripts/bench-table.ts FILE
import { readFileSync } from "node:fs";

/** Goals stated by the issues (metric → comparison). Everything else is reported without one. */
const GOALS: Record<
  string,
  { readonly op: "<=" | ">="; readonly value: number; readonly issue: string }
> = {
  "gas.schnorr_verify": { op: "<=", value: 5_000, issue: "#2" },
  "gas.ocd_entry": { op: "<=", value: 8_000, issue: "#14" },
  "gas.bc_entry": { op: "<=", value: 6_000, issue: "#3" },
  "cc.admit_per_s": { op: ">=", value: 10_000, issue: "#4" },
  "cc.admit_speedup_pool": { op: ">=", value: 1.7, issue: "#14" },
  "e2e.interval_s_1000": { op: "<=", value: 10, issue: "#4" },
  "e2e.interval_s_10000": { op: "<=", value: 40, issue: "#14" },
  "sim.peak_rss_mb_100000": { op: "<=", value: 2_048, issue: "#14" },
  "gw.aggregate_us_per_user": { op: "<=", value: 4, issue: "#5" },
  "gw.speedup_vs_paillier": { op: ">=", value: 20, issue: "#5" },
  "user.speedup_vs_paillier": { op: ">=", value: 1_000, issue: "#5" },
  "gas.bbnp_round_m100": { op: "<=", value: 300_000, issue: "#6" },
  "relay.rss_mb_after_flood": { op: "<=", value: 10, issue: "#16" },
  "cc.wal_mb_per_100k_reports": { op: "<=", value: 64, issue: "#16" },
};

const file = process.argv[2];
if (!file) {
  console.error("usage: node scripts/bench-table.ts FILE (a bench JSON)");
  process.exit(2);
}
let metrics: Record<string, { value: number; unit: string }>;
try {
  ({ metrics } = JSON.parse(readFileSync(file, "utf8")) as { metrics: typeof metrics });
} catch (err) {
  console.error(`bench-table: cannot read ${file}: ${(err as Error).message.split("\n")[0]}`);
  process.exit(2);
}
if (typeof metrics !== "object" || metrics === null) {
  console.error(`bench-table: ${file} is not a bench run (no "metrics" object)`);
  process.exit(2);
}
const fmt = (x: number): string =>
  Math.abs(x) >= 100 ? Math.round(x).toLocaleString("en-US") : String(Number(x.toPrecision(3)));
const rows = Object.keys(metrics)
  .sort()
  .map((name) => {
    const { value, unit } = metrics[name];
    const goal = GOALS[name];
    const met =
      goal === undefined
        ? ""
        : (goal.op === "<=" ? value <= goal.value : value >= goal.value)
          ? "yes"
          : "**no**";
    const goalText =
      goal === undefined
        ? ""
        : `${goal.op === "<=" ? "≤" : "≥"} ${fmt(goal.value)} (${goal.issue})`;
    return [`\`${name}\``, fmt(value), unit, goalText, met];
  });
const header = ["metric", "value", "unit", "goal", "met"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(line(header));
console.log(
  `| ${widths.map((w, i) => (i === 1 ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")} |`,
);
for (const r of rows) console.log(line(r));
