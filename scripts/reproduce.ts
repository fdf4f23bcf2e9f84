// `npm run reproduce`: re-runs BBNP §VI-C/§VI-D (Tables VI–VIII, Figs. 9–10) with fixed seeds and
// writes reports/reproduction.json, reports/fig9-{a,b,c}.svg and reports/fig10.svg.
// The experiments live in offchain/sim/reputation-experiments.ts and the figures' Vega-Lite specs in
// offchain/report/reproduction.ts; this file only does I/O.

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  NODE_TYPES,
  PAPER_VALUES,
  RANK_BUCKETS,
  runReproduction,
} from "../offchain/sim/reputation-experiments.ts";
import type { ReproductionResult } from "../offchain/sim/reputation-experiments.ts";
import { renderSvg } from "../offchain/report/chart.ts";
import { fig10Spec, fig9Spec } from "../offchain/report/reproduction.ts";

const reportsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "reports");

function last(xs: readonly number[]): string {
  return xs[xs.length - 1].toFixed(2);
}

function printComparison(result: ReproductionResult): void {
  const finals = PAPER_VALUES.reputationFinal as Record<string, Partial<Record<string, number>>>;
  console.log("Fig. 9 — final reputation (start 0.53)");
  console.log("exp  node          ours   paper");
  for (const e of Object.keys(result.reputation)) {
    for (const t of NODE_TYPES) {
      const paper = finals[e]?.[t];
      console.log(
        `${e.padEnd(4)} ${t.padEnd(13)} ${last(result.reputation[e][t]).padStart(5)}  ${paper === undefined ? "  (fig)" : paper.toFixed(2).padStart(6)}`,
      );
    }
  }
  console.log("\nTable VIII — reputation rank of the selected primary (ours / paper)");
  console.log(`exp  ${RANK_BUCKETS.map((b) => b.padStart(9)).join("")}`);
  for (const s of ["S1", "S2", "S3"] as const) {
    const ours = result.primarySelection[s];
    const paper = PAPER_VALUES.primarySelection[s];
    console.log(`${s}   ${RANK_BUCKETS.map((b) => `${ours[b]}/${paper[b]}`.padStart(9)).join("")}`);
  }
}

const result = runReproduction();
mkdirSync(reportsDir, { recursive: true });
writeFileSync(join(reportsDir, "reproduction.json"), JSON.stringify(result, null, 2) + "\n");
const panels = [
  ["a", ["E1", "E2"]],
  ["b", ["E3", "E4"]],
  ["c", ["E5", "E6", "E7"]],
] as const;
for (const [panel, experiments] of panels) {
  writeFileSync(
    join(reportsDir, `fig9-${panel}.svg`),
    await renderSvg(fig9Spec(result, experiments, panel)),
  );
}
writeFileSync(join(reportsDir, "fig10.svg"), await renderSvg(fig10Spec(result)));
printComparison(result);
console.log(`\nwrote ${reportsDir}/reproduction.json, fig9-{a,b,c}.svg, fig10.svg`);
