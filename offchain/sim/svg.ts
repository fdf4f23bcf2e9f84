// A tiny, dependency-free SVG writer for the reproduction figures (line charts and grouped bars).
// Pure: data in, SVG text out; number formatting is fixed so the output is byte-stable.

export type Series = { readonly name: string; readonly values: readonly number[] };

export type LineChartSpec = {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** y-axis range; x runs over value indices 0..n−1. */
  readonly yMin: number;
  readonly yMax: number;
  readonly series: readonly Series[];
};

export type BarChartSpec = {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly categories: readonly string[];
  /** One series per group member; values[k] belongs to categories[k]. */
  readonly series: readonly Series[];
};

const PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"];
const DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4"];
const W = 640;
const H = 400;
const M = { left: 60, right: 150, top: 40, bottom: 50 };

function fmt(x: number): string {
  return (Math.round(x * 100) / 100).toString();
}

function escapeXml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function frame(spec: { title: string; xLabel: string; yLabel: string }, body: string[]): string {
  const plotH = H - M.top - M.bottom;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(spec.title)}</text>`,
    `<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text x="16" y="${M.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.top + plotH / 2})">${escapeXml(spec.yLabel)}</text>`,
    ...body,
    `</svg>`,
    "",
  ].join("\n");
}

function yAxis(yMin: number, yMax: number, ticks: number): string[] {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const out: string[] = [];
  for (let k = 0; k <= ticks; k++) {
    const v = yMin + ((yMax - yMin) * k) / ticks;
    const y = M.top + plotH - (plotH * k) / ticks;
    out.push(
      `<line x1="${M.left}" y1="${fmt(y)}" x2="${M.left + plotW}" y2="${fmt(y)}" stroke="#ddd"/>`,
    );
    out.push(`<text x="${M.left - 6}" y="${fmt(y + 4)}" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + plotH}" stroke="black"/>`,
  );
  out.push(
    `<line x1="${M.left}" y1="${M.top + plotH}" x2="${M.left + plotW}" y2="${M.top + plotH}" stroke="black"/>`,
  );
  return out;
}

function legend(series: readonly Series[], kind: "line" | "bar"): string[] {
  const x = W - M.right + 12;
  return series.flatMap((s, k) => {
    const y = M.top + 10 + k * 18;
    const color = PALETTE[k % PALETTE.length];
    const mark =
      kind === "line"
        ? `<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${color}" stroke-width="2" stroke-dasharray="${DASHES[Math.floor(k / PALETTE.length) % DASHES.length]}"/>`
        : `<rect x="${x}" y="${y - 6}" width="22" height="12" fill="${color}"/>`;
    return [mark, `<text x="${x + 28}" y="${y + 4}">${escapeXml(s.name)}</text>`];
  });
}

/** A line chart; series k gets colour k mod 7 and a dash pattern per block of 7. */
export function lineChartSvg(spec: LineChartSpec): string {
  if (!(spec.yMax > spec.yMin)) throw new RangeError("lineChartSvg: yMax must exceed yMin");
  const n = Math.max(2, ...spec.series.map((s) => s.values.length));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const px = (i: number) => M.left + (plotW * i) / (n - 1);
  const py = (v: number) => M.top + plotH - (plotH * (v - spec.yMin)) / (spec.yMax - spec.yMin);
  const body = yAxis(spec.yMin, spec.yMax, 5);
  const step = Math.max(1, Math.ceil((n - 1) / 10));
  for (let i = 0; i < n; i += step) {
    body.push(`<text x="${fmt(px(i))}" y="${M.top + plotH + 16}" text-anchor="middle">${i}</text>`);
  }
  spec.series.forEach((s, k) => {
    const pts = s.values.map((v, i) => `${fmt(px(i))},${fmt(py(v))}`).join(" ");
    const dash = DASHES[Math.floor(k / PALETTE.length) % DASHES.length];
    body.push(
      `<polyline points="${pts}" fill="none" stroke="${PALETTE[k % PALETTE.length]}" stroke-width="2" stroke-dasharray="${dash}"/>`,
    );
  });
  return frame(spec, [...body, ...legend(spec.series, "line")]);
}

/** A grouped bar chart with one group per category. */
export function barChartSvg(spec: BarChartSpec): string {
  const yMax = Math.max(1, ...spec.series.flatMap((s) => s.values));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const body = yAxis(0, yMax, 5);
  const groupW = plotW / Math.max(1, spec.categories.length);
  const barW = (groupW * 0.8) / Math.max(1, spec.series.length);
  spec.categories.forEach((c, g) => {
    const gx = M.left + g * groupW;
    body.push(
      `<text x="${fmt(gx + groupW / 2)}" y="${M.top + plotH + 16}" text-anchor="middle">${escapeXml(c)}</text>`,
    );
    spec.series.forEach((s, k) => {
      const v = s.values[g] ?? 0;
      const h = (plotH * v) / yMax;
      const x = gx + groupW * 0.1 + k * barW;
      body.push(
        `<rect x="${fmt(x)}" y="${fmt(M.top + plotH - h)}" width="${fmt(barW)}" height="${fmt(h)}" fill="${PALETTE[k % PALETTE.length]}"/>`,
      );
      body.push(
        `<text x="${fmt(x + barW / 2)}" y="${fmt(M.top + plotH - h - 3)}" text-anchor="middle" font-size="10">${fmt(v)}</text>`,
      );
    });
  });
  return frame(spec, [...body, ...legend(spec.series, "bar")]);
}
