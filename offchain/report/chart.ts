// What every chart of a run report is (DESIGN §3 "writes a JSON + HTML report"): a Vega-Lite spec
// (a pure function of the run's JSON; its data inline as `data.values`), a title, a one-line
// caption that says what to look for, and a table of the exact numbers. `renderSvg` compiles the
// spec and renders it with Vega's headless renderer (no canvas, no DOM, no network: the data are
// inline and nothing is loaded), so the HTML carries static SVG and needs no script.
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export type { TopLevelSpec };

/** A table of exact numbers shown beside a chart; cells are display strings. */
export interface Table {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface Chart {
  /** Stable id (HTML `id`, test selector): `oksuz-load`, `bbnp-reputation`, … */
  readonly id: string;
  readonly title: string;
  /** One line: what the chart shows and what to look for. */
  readonly caption: string;
  /** Its data are `data.values` (the rows plotted, in the run's units). */
  readonly spec: TopLevelSpec;
  readonly table: Table;
}

/** One row of a chart's inline data. */
export type Datum = Readonly<Record<string, string | number | boolean | null>>;

export class ChartRenderError extends Error {
  override name = "ChartRenderError";
}

/** The rows a chart plots (its `data.values`). */
export function chartData(chart: Pick<Chart, "spec">): readonly Datum[] {
  const data = (chart.spec as { data?: { values?: unknown } }).data;
  if (!data || !Array.isArray(data.values)) {
    throw new ChartRenderError("chartData: spec has no inline data.values");
  }
  return data.values as Datum[];
}

/** Series colours (Tableau 10): one per series, stable across charts. */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
] as const;

/**
 * BBNP's node types (paper Fig. 9: friendly, intermediate, malicious), one colour each, used by
 * the reproduction of Fig. 9 and by the run report's reputation chart alike.
 */
export const NODE_TYPE_COLOURS = {
  friendly: "#2e8b57",
  intermediate: "#e8a33d",
  malicious: "#d1352b",
} as const;

/** Width and height of a chart's plot area (px). */
export const PLOT = { width: 520, height: 240 } as const;

/** The look of every chart (fonts, sizes, grid) — one place. */
export const CHART_CONFIG = {
  font: "Helvetica, Arial, sans-serif",
  background: "white",
  padding: 8,
  view: { stroke: "#d0d4d9" },
  title: { fontSize: 15, fontWeight: 600, anchor: "start", offset: 10, color: "#1f2328" },
  axis: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 500,
    titleColor: "#333",
    labelColor: "#444",
    gridColor: "#eceef1",
    domainColor: "#888",
    tickColor: "#888",
  },
  legend: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 500,
    orient: "right",
    labelLimit: 260,
    titleLimit: 260,
  },
  range: { category: [...PALETTE] },
  bar: { discreteBandSize: { band: 0.8 } },
} as const;

/**
 * Compiles a Vega-Lite spec and renders it to an SVG string with Vega's headless renderer.
 * Text widths are estimated (no canvas), which only affects label-overlap avoidance. Throws
 * {@link ChartRenderError} naming the spec's title when Vega-Lite or Vega refuses it.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const title =
    typeof spec.title === "object" && spec.title !== null && "text" in spec.title
      ? String(spec.title.text)
      : String(spec.title ?? "");
  let view: vega.View | undefined;
  const warnings: string[] = [];
  const logger = collectingLogger(warnings);
  try {
    const compiled = compile(
      { ...spec, config: { ...CHART_CONFIG, ...spec.config } } as TopLevelSpec,
      { logger },
    );
    view = new vega.View(vega.parse(compiled.spec), { renderer: "none", logger });
    const svg = await view.toSVG();
    if (warnings.length > 0) throw new Error(warnings.join("; "));
    return svg;
  } catch (err) {
    throw new ChartRenderError(`renderSvg: chart "${title}": ${(err as Error).message}`);
  } finally {
    view?.finalize();
  }
}

/** Integer axis (whole-number ticks only): rounds, intervals, node indices, counts. */
export const INTEGER_AXIS = { tickMinStep: 1, format: "d" } as const;

/** Thousands separators for table cells ("1,234,567"); decimal strings stay exact. */
export function fmtInt(x: string | number | bigint): string {
  const s = typeof x === "string" ? x : x.toString();
  const neg = s.startsWith("-");
  const digits = neg ? s.slice(1) : s;
  if (!/^\d+$/.test(digits)) return s;
  return (neg ? "−" : "") + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A Vega/Vega-Lite logger that keeps warnings and errors (a clean chart logs none). */
function collectingLogger(into: string[]): vega.LoggerInterface {
  let level = vega.Warn;
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...a: readonly unknown[]) {
      into.push(a.map(String).join(" "));
      return logger;
    },
    warn(...a: readonly unknown[]) {
      into.push(a.map(String).join(" "));
      return logger;
    },
    info: () => logger,
    debug: () => logger,
  };
  return logger as unknown as vega.LoggerInterface;
}
