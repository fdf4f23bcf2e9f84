// The BBNP reproduction figures (docs/REPRODUCTION.md): Fig. 9 (reputation per node type over the
// rounds, one panel per group of weight settings) and Fig. 10 (reputation rank of the selected
// primary, ours next to the paper's Table VIII). Pure Vega-Lite specs from `runReproduction`'s
// result; scripts/reproduce.ts renders them with `renderSvg`.
import {
  NODE_TYPES,
  PAPER_VALUES,
  RANK_BUCKETS,
  type ReproductionResult,
} from "../sim/reputation-experiments.ts";
import {
  INTEGER_AXIS,
  NODE_TYPE_COLOURS,
  PALETTE,
  PLOT,
  type Datum,
  type TopLevelSpec,
} from "./chart.ts";

const DASHES = [
  [1, 0],
  [7, 4],
  [2, 3],
  [9, 3, 2, 3],
];

/**
 * Fig. 9 panel: Γ per round of the friendly, intermediate and malicious node of each experiment;
 * colour = node type (as the paper), dash = experiment. Data rows `{experiment, type, round, reputation}`.
 */
export function fig9Spec(
  result: ReproductionResult,
  experiments: readonly string[],
  panel: string,
): TopLevelSpec {
  const values: Datum[] = experiments.flatMap((experiment) =>
    NODE_TYPES.flatMap((type) =>
      result.reputation[experiment][type].map((reputation, round) => ({
        experiment,
        type,
        round,
        reputation,
      })),
    ),
  );
  return {
    title: {
      text: `Fig. 9(${panel}) reproduced: node reputation, ${experiments.join(", ")}`,
      subtitle: "colour: node type (paper Fig. 9); line style: weight setting (Tables VI–VII)",
    },
    width: PLOT.width,
    height: PLOT.height + 40,
    data: { values },
    mark: { type: "line", strokeWidth: 2 },
    encoding: {
      x: { field: "round", type: "quantitative", title: "consensus round", axis: INTEGER_AXIS },
      y: {
        field: "reputation",
        type: "quantitative",
        title: "reputation Γ (0–1)",
        scale: { domain: [0, 1] },
      },
      color: {
        field: "type",
        type: "nominal",
        title: "node type",
        scale: { domain: [...NODE_TYPES], range: NODE_TYPES.map((t) => NODE_TYPE_COLOURS[t]) },
      },
      strokeDash: {
        field: "experiment",
        type: "nominal",
        title: "experiment",
        scale: { domain: [...experiments], range: DASHES.slice(0, experiments.length) },
      },
      detail: { field: "experiment" },
    },
  };
}

const SCENARIOS = ["S1", "S2", "S3"] as const;

/**
 * Fig. 10: times the primary had each reputation rank (50 selections), ours and the paper's side by
 * side; one colour per scenario (ours solid, the paper's lighter), integer y ticks. Data rows
 * `{bucket, scenario, source, count}`.
 */
export function fig10Spec(result: ReproductionResult): TopLevelSpec {
  const paper = PAPER_VALUES.primarySelection;
  const values: Datum[] = SCENARIOS.flatMap((scenario) =>
    RANK_BUCKETS.flatMap((bucket) => [
      {
        bucket,
        scenario,
        source: "ours",
        series: `${scenario} ours`,
        count: result.primarySelection[scenario][bucket],
      },
      {
        bucket,
        scenario,
        source: "paper",
        series: `${scenario} paper`,
        count: paper[scenario][bucket],
      },
    ]),
  );
  const series = SCENARIOS.flatMap((s) => [`${s} ours`, `${s} paper`]);
  return {
    title: {
      text: "Fig. 10 reproduced: reputation rank of the selected primary (50 selections)",
      subtitle:
        "bars of one colour: one scenario, ours (solid) next to the paper's Table VIII (light)",
    },
    width: PLOT.width,
    height: PLOT.height + 40,
    data: { values },
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: {
        field: "bucket",
        type: "ordinal",
        title: "reputation rank of the primary",
        sort: [...RANK_BUCKETS],
        axis: { labelAngle: 0 },
      },
      xOffset: { field: "series", sort: series },
      y: {
        field: "count",
        type: "quantitative",
        title: "times selected (count)",
        axis: INTEGER_AXIS,
      },
      color: {
        field: "scenario",
        type: "nominal",
        title: "scenario",
        scale: { domain: [...SCENARIOS], range: [PALETTE[0], PALETTE[1], PALETTE[4]] },
      },
      opacity: {
        field: "source",
        type: "ordinal",
        title: "source",
        scale: { domain: ["ours", "paper"], range: [1, 0.4] },
      },
    },
  };
}
