// The run report (issue 13, DESIGN §3 "writes a JSON + HTML report"): `DIR/index.html`, one file
// that opens offline — static SVG charts rendered at build time, styles inlined, no script, no
// font or image fetched — and `DIR/run.json` beside it, the run exactly as `--json` writes it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { makeDirectory } from "../runtime/fs.ts";

import type { BbnpRunReport } from "../sim/bbnp.ts";
import type { OksuzReport } from "../sim/oksuz.ts";
import { bbnpCharts } from "./bbnp.ts";
import { fmtInt, renderSvg, type Chart, type Table } from "./chart.ts";
import { oksuzCharts } from "./oksuz.ts";
import { runFromReport, runJsonText, type BbnpRun, type OksuzRun, type Run } from "./run.ts";

/** The charts of a run, in reading order (pure). */
export function runCharts(run: Run): Chart[] {
  return run.kind === "oksuz" ? oksuzCharts(run.run) : bbnpCharts(run.run);
}

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** Prefixes every `id` in an SVG and the `url(#…)`/`href="#…"` that refer to it (one page, many SVGs). */
export function scopeSvgIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

function tableHtml(t: Table): string {
  const head = t.header.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = t.rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function figureHtml(chart: Chart, svg: string): string {
  return `<figure class="chart" id="${chart.id}" data-chart="${chart.id}">
<div class="body"><div class="plot" role="img" aria-label="${escapeHtml(chart.title)}">${scopeSvgIds(svg, chart.id)}</div>
<div class="numbers">${tableHtml(chart.table)}</div></div>
<figcaption>${escapeHtml(chart.caption)}</figcaption>
</figure>`;
}

type Fact = readonly [label: string, value: string, tone?: "good" | "bad"];

function factsHtml(facts: readonly Fact[]): string {
  return `<dl class="facts">${facts
    .map(
      ([k, v, tone]) =>
        `<div${tone ? ` class="${tone}"` : ""}><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`,
    )
    .join("")}</dl>`;
}

function oksuzFacts(r: OksuzRun): Fact[] {
  const bills = r.perInterval.reduce((a, s) => a + s.billsVerified, 0);
  const disputed = r.perInterval.reduce((a, s) => a + s.billsDisputed, 0);
  return [
    ["meters × intervals", `${fmtInt(r.meters)} × ${r.intervals}`],
    ["mode", r.mode === "relayed" ? "relayed (CC posts for SP)" : "direct (SP posts, §6)"],
    [
      "Σ measured = Σ reported + carry",
      r.totals.conserved ? "yes" : "NO",
      r.totals.conserved ? "good" : "bad",
    ],
    [
      "bills verified by their users",
      `${fmtInt(bills)}/${fmtInt(bills + disputed)}`,
      disputed === 0 ? "good" : "bad",
    ],
    ["min anonymity set", String(Math.min(...r.perInterval.map((s) => s.minAnonymitySet)))],
    ["onion packets", `${fmtInt(r.network.packetsSent)}, all ${r.network.packetSizes.join("/")} B`],
    ["gas, all intervals", fmtInt(r.perInterval.reduce((a, s) => a + BigInt(s.gasUsed), 0n))],
    ["wall time", `${(r.wallTimeMs / 1000).toFixed(1)} s`],
  ];
}

function bbnpFacts(r: BbnpRun): Fact[] {
  return [
    ["users × rounds", `${fmtInt(r.users)} × ${r.rounds}`],
    [
      "mode",
      r.consensus
        ? `consensus: ${r.consensus.nodes} nodes, ${r.consensus.faulty.length} faulty`
        : "gateway records rounds",
    ],
    [
      "every sum on-chain = Σ readings",
      r.totals.allMatch ? "yes" : "NO",
      r.totals.allMatch ? "good" : "bad",
    ],
    ["Σ readings", `${fmtInt(r.totals.readingsSumWh)} Wh`],
    ["aborted rounds", String(r.totals.aborted)],
    ["gas, all rounds", fmtInt(r.totals.gasUsed)],
    ["median round", `${Math.round(r.totals.medianRoundMs)} ms`],
    ["wall time", `${(r.wallTimeMs / 1000).toFixed(1)} s`],
  ];
}

function oksuzNotes(r: OksuzRun): string {
  const out: string[] = [];
  if (r.attack) {
    const ok = r.attack.outcome !== "undetected" && r.attack.honestBillsUnaffected;
    out.push(`<section class="note ${ok ? "good" : "bad"}" id="attack"><h3>Attack: ${escapeHtml(r.attack.name)} — ${escapeHtml(r.attack.outcome.toUpperCase())}</h3>
<p>${escapeHtml(r.attack.evidence)}</p><p>Honest users' bills unaffected: <b>${r.attack.honestBillsUnaffected ? "yes" : "NO"}</b>.</p></section>`);
  }
  if (r.crash) {
    out.push(`<section class="note ${r.crash.restarted ? "good" : "bad"}" id="crash"><h3>Crash in interval ${r.crash.interval} (${escapeHtml(r.crash.phase)})</h3>
<p>The control center was killed and restarted from its store: <b>${r.crash.restarted ? "yes" : "NO"}</b>.</p></section>`);
  }
  return out.join("\n");
}

function bbnpNotes(r: BbnpRun): string {
  if (!r.attack) return "";
  const a = r.attack;
  const ok = a.detected && a.honestSum;
  return `<section class="note ${ok ? "good" : "bad"}" id="attack"><h3>Attack: ${escapeHtml(a.kind)} on user ${a.victim} in round ${a.round} — ${a.detected ? "DETECTED" : "UNDETECTED"}</h3>
<p>Rejected: ${escapeHtml(a.rejections.map((x) => `user ${x.userId} ${x.reason}`).join(", ") || "nothing")}. Honest sum on-chain: <b>${a.honestSum ? "yes" : "NO"}</b>.</p></section>`;
}

const STYLE = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d0d7de;--bg:#f6f8fa;--good:#1a7f37;--bad:#cf222e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#0d2b45;color:#fff;padding:18px 32px 16px}
header h1{margin:0 0 2px;font-size:22px;font-weight:600}
header p{margin:0;color:#c9d6e3;font-size:13px}
header code{color:#fff}
main{max-width:1320px;margin:0 auto;padding:18px 32px 40px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:10px;margin:0 0 18px}
.facts div{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.facts dt{color:var(--muted);font-size:12px}
.facts dd{margin:2px 0 0;font-size:17px;font-weight:600}
.facts .good dd{color:var(--good)} .facts .bad dd{color:var(--bad)}
h2{font-size:18px;margin:26px 0 10px;padding-bottom:4px;border-bottom:2px solid var(--line)}
.note{background:#fff;border:1px solid var(--line);border-left:5px solid var(--muted);border-radius:6px;padding:6px 14px;margin:0 0 14px}
.note.good{border-left-color:var(--good)} .note.bad{border-left-color:var(--bad)}
.note h3{margin:6px 0;font-size:15px}
.note p{margin:4px 0}
figure.chart{background:#fff;border:1px solid var(--line);border-radius:6px;margin:0 0 16px;padding:10px 14px 12px}
figure.chart figcaption{color:var(--muted);margin:6px 0 0;padding-left:8px;border-left:3px solid #4e79a7}
.body{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
.plot{flex:0 1 auto;min-width:0}
.plot svg{max-width:100%;height:auto;display:block}
.numbers{flex:1 1 280px;max-height:360px;overflow:auto}
table{border-collapse:collapse;font-size:12px;font-variant-numeric:tabular-nums;width:100%}
th,td{padding:3px 8px;border-bottom:1px solid #eaeef2;text-align:right;white-space:nowrap}
th{position:sticky;top:0;background:#f6f8fa;font-weight:600}
th:first-child,td:first-child{text-align:left}
footer{color:var(--muted);font-size:12px;margin-top:24px}
`;

/**
 * The report's HTML for a run and its charts' SVGs (same order as `charts`). Pure; self-contained
 * (no script, no external reference except the link to `run.json` beside it).
 */
export function reportHtml(run: Run, charts: readonly Chart[], svgs: readonly string[]): string {
  if (charts.length !== svgs.length) throw new RangeError("reportHtml: one SVG per chart");
  const r = run.run;
  const isOksuz = run.kind === "oksuz";
  const heading = isOksuz
    ? "GridLedger run: Oksuz metering and billing"
    : "GridLedger run: BBNP aggregation";
  const section = isOksuz
    ? "Oksuz: metering, pricing, billing"
    : "BBNP: masked aggregation and consensus";
  const facts = isOksuz ? oksuzFacts(run.run) : bbnpFacts(run.run);
  const notes = isOksuz ? oksuzNotes(run.run) : bbnpNotes(run.run);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(heading)} (${escapeHtml(r.scenario)})</title>
<style>${STYLE}</style></head>
<body data-kind="${run.kind}">
<header><h1>${escapeHtml(heading)}</h1>
<p>scenario <code>${escapeHtml(r.scenario)}</code> · seed <code>${escapeHtml(r.seed)}</code> · ledger <code>${escapeHtml(r.ledger)}</code> · data: <a href="run.json" style="color:#fff">run.json</a></p></header>
<main>
${factsHtml(facts)}
${notes}
<h2>${escapeHtml(section)}</h2>
${charts.map((c, k) => figureHtml(c, svgs[k])).join("\n")}
<footer>Charts: Vega-Lite specs rendered to SVG at build time (offchain/report/). Every number is in run.json beside this page.</footer>
</main></body></html>
`;
}

/** Renders every chart of a run and the page around them. */
export async function renderReport(run: Run): Promise<string> {
  const charts = runCharts(run);
  const svgs: string[] = [];
  for (const c of charts) svgs.push(await renderSvg(c.spec));
  return reportHtml(run, charts, svgs);
}

/**
 * Writes `dir/index.html` and `dir/run.json` for a run (creating `dir`); returns the page's path.
 * Accepts the runner's in-memory report or an already parsed run; either goes through the JSON
 * form first. Throws what the file system throws (the CLIs check the path before the run).
 */
export async function writeRunReport(
  dir: string,
  report: OksuzReport | BbnpRunReport | Run,
): Promise<string> {
  const run = "kind" in report && "run" in report ? report : runFromReport(report);
  const html = await renderReport(run);
  makeDirectory(dir);
  writeFileSync(join(dir, "run.json"), runJsonText(run.run));
  const page = join(dir, "index.html");
  writeFileSync(page, html);
  return page;
}
