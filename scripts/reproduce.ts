// `npm run reproduce`: re-runs BBNP §VI-C/§VI-D (Tables VI–VIII, Figs. 9–10) with fixed seeds and
// writes reports/reproduction.json, reports/fig9-{a,b,c}.svg and reports/fig10.svg.
// All logic lives in offchain/sim/reputation-experiments.ts; this file only does I/O.

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
import { barChartSvg, lineChartSvg } from "../offchain/sim/svg.ts";

const reportsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "reports");

function fig9(result: ReproductionResult, experiments: readonly string[], panel: string): string {
  return lineChartSvg({
    title: `Fig. 9(${panel}) reproduced: node reputation, ${experiments.join(", ")}`,
    xLabel: "consensus round",
    yLabel: "reputation Γ",
    yMin: 0,
    yMax: 1,
    series: experiments.flatMap((e) =>
      NODE_TYPES.map((t) => ({ name: `${e} ${t}`, values: result.reputation[e][t] })),
    ),
  });
}

function fig10(result: ReproductionResult): string {
  const paper = PAPER_VALUES.primarySelection;
  const names = ["S1", "S2", "S3"] as const;
  return barChartSvg({
    title: "Fig. 10 reproduced: reputation rank of the selected primary (50 selections)",
    xLabel: "reputation rank of the primary",
    yLabel: "times selected",
    categories: RANK_BUCKETS,
    series: [
      ...names.map((s) => ({
        name: `ours ${s}`,
        values: RANK_BUCKETS.map((b) => result.primarySelection[s][b]),
      })),
      ...names.map((s) => ({ name: `paper ${s}`, values: RANK_BUCKETS.map((b) => paper[s][b]) })),
    ],
  });
}

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
writeFileSync(join(reportsDir, "fig9-a.svg"), fig9(result, ["E1", "E2"], "a"));
writeFileSync(join(reportsDir, "fig9-b.svg"), fig9(result, ["E3", "E4"], "b"));
writeFileSync(join(reportsDir, "fig9-c.svg"), fig9(result, ["E5", "E6", "E7"], "c"));
writeFileSync(join(reportsDir, "fig10.svg"), fig10(result));
printComparison(result);
console.log(`\nwrote ${reportsDir}/reproduction.json, fig9-{a,b,c}.svg, fig10.svg`);
