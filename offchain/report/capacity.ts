// The capacity chart of docs/SCALE.md: on-chain cost of one Oksuz region against city size
// (meters, log scale) from the capacity model (offchain/sim/capacity.ts) — gas per second, share
// of the network's block space, control-center cores — as a run-report chart (offchain/report/
// chart.ts: Vega-Lite, rendered to static SVG). Pure: the estimates in, a Chart out.
import type { CapacityEstimate } from "../sim/capacity.ts";
import { PLOT, fmtInt, type Chart, type Datum } from "./chart.ts";

/** One city size and its estimate. */
export interface CapacityPoint {
  readonly meters: number;
  readonly estimate: CapacityEstimate;
}

/** City sizes of the chart: 10^3 … 10^7 meters, three points per decade. */
export const CAPACITY_CHART_METERS: readonly number[] = [3, 4, 5, 6, 7].flatMap((d) =>
  d === 7 ? [10 ** 7] : [1, 2, 5].map((m) => m * 10 ** d),
);

/**
 * The chart: three panels sharing the meters axis (log scale), one line each — gas per second
 * (with the network's capacity as a rule), block-space share in % (with 100 % as a rule), and CC
 * cores. `label` says which costs and settings (shown in the title). Throws `RangeError` for no
 * points.
 */
export function capacityChart(points: readonly CapacityPoint[], label: string): Chart {
  if (points.length === 0) throw new RangeError("capacityChart: no points");
  const chainGas = points[0].estimate.chainGasPerSecond;
  const values: Datum[] = points.map(({ meters, estimate: e }) => ({
    meters,
    gasPerSecond: Math.round(e.gasPerSecond),
    sharePct: Math.round(e.blockSpaceShare * 1000) / 10,
    ccCores: e.ccCores,
  }));
  const x = {
    field: "meters",
    type: "quantitative",
    scale: { type: "log" },
    title: "meters in the city (log scale)",
    axis: { format: "~s" },
  } as const;
  const panel = (field: string, title: string, rule: number | undefined, format: string) => ({
    width: PLOT.width,
    height: 140,
    layer: [
      {
        mark: { type: "line", point: true },
        encoding: {
          x,
          y: { field, type: "quantitative", scale: { type: "log" }, title, axis: { format } },
        },
      },
      ...(rule === undefined
        ? []
        : [
            {
              mark: { type: "rule", strokeDash: [4, 3], color: "#d1352b" },
              encoding: { y: { datum: rule, type: "quantitative" } },
            },
          ]),
    ],
  });
  const largest = points[0].estimate.maxMeters;
  return {
    id: "capacity-city",
    title: `On-chain cost against city size (${label})`,
    caption: `Gas per second, block-space share and control-center cores as the city grows; the dashed lines are one network's capacity (${fmtInt(chainGas)} gas/s, 100 %): a network carries ${fmtInt(largest)} meters, past that the city splits into regions (docs/SCALE.md).`,
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v5.json",
      title: { text: `On-chain cost against city size (${label})` },
      data: { values },
      vconcat: [
        panel("gasPerSecond", "gas per second", chainGas, "~s"),
        panel("sharePct", "block space (%)", 100, "~g"),
        panel("ccCores", "CC cores (admission)", undefined, "d"),
      ],
    } as Chart["spec"],
    table: {
      header: ["meters", "gas/s", "block space", "CC cores"],
      rows: values.map((v) => [
        fmtInt(Number(v.meters)),
        fmtInt(Number(v.gasPerSecond)),
        `${v.sharePct} %`,
        String(v.ccCores),
      ]),
    },
  };
}
