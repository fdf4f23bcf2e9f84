// The BBNP section of a run report (issue 13): per round the committed sum against the truth,
// participation, the primary and the certificate's signers, reputation per node, and gas. Pure:
// the run's JSON in, Charts out. Units: Wh, gas units, reputation Γ ∈ [0, 1] (DESIGN §4.7, §5;
// offchain/sim/bbnp.ts `BbnpRunReport`).
import type { NodeBehaviour } from "../consensus/faults.ts";
import { INTEGER_AXIS, NODE_TYPE_COLOURS, PLOT, fmtInt, type Chart, type Datum } from "./chart.ts";
import type { BbnpRun } from "./run.ts";

export type NodeType = keyof typeof NODE_TYPE_COLOURS;

/**
 * A consensus node's type in the sense of the paper's Fig. 9: honest nodes are friendly, a slow
 * node (correct but untimely votes) is intermediate, every other fault is malicious (DESIGN §5.2).
 */
export function nodeType(behaviour: NodeBehaviour): NodeType {
  if (behaviour === "honest") return "friendly";
  return behaviour === "slow" ? "intermediate" : "malicious";
}

function behaviourOf(run: BbnpRun, node: number): NodeBehaviour {
  return run.consensus?.faulty.find((f) => f.node === node)?.behaviour ?? "honest";
}

const SUM_SERIES = ["Σ readings (truth)", "committed on-chain"] as const;

/** Per round: the sum the chain committed against the runner's ground truth. */
export function sumsChart(run: BbnpRun): Chart {
  const values: Datum[] = run.perRound.flatMap((s) => [
    { round: s.round, series: SUM_SERIES[0], wh: Number(s.readingsSumWh) },
    { round: s.round, series: SUM_SERIES[1], wh: Number(s.onChainSum) },
  ]);
  const mismatches = run.perRound.filter((s) => !s.match).map((s) => s.round);
  return {
    id: "bbnp-sums",
    title: "Committed sum against the true sum",
    caption:
      mismatches.length === 0
        ? "The two bars of every round are equal: the gateway learnt only the sum and the chain holds exactly Σ of the readings that reached it."
        : `Rounds ${mismatches.join(", ")} committed a sum that differs from the readings.`,
    spec: {
      title: "Committed sum against the true sum per round",
      width: PLOT.width,
      height: PLOT.height,
      data: { values },
      mark: { type: "bar", tooltip: true },
      encoding: {
        x: { field: "round", type: "ordinal", title: "round t", axis: { labelAngle: 0 } },
        xOffset: { field: "series", sort: [...SUM_SERIES] },
        y: { field: "wh", type: "quantitative", title: "sum of readings (Wh)" },
        color: {
          field: "series",
          type: "nominal",
          sort: [...SUM_SERIES],
          title: "sum",
          scale: { range: ["#9aa5b1", "#4e79a7"] },
        },
      },
    },
    table: {
      header: ["t", "Σ readings Wh", "gateway Wh", "on-chain Wh", "match"],
      rows: run.perRound.map((s) => [
        String(s.round),
        fmtInt(s.readingsSumWh),
        fmtInt(s.gatewaySum),
        fmtInt(s.onChainSum),
        s.match ? "yes" : "NO",
      ]),
    },
  };
}

const PARTICIPATION = ["reporters", "dropouts", "revealed masks"] as const;

/** Per round: users that reported, users missing (recovered around), and masks revealed for them. */
export function participationChart(run: BbnpRun): Chart {
  const values: Datum[] = run.perRound.flatMap((s) => [
    { round: s.round, series: PARTICIPATION[0], users: s.reporters },
    { round: s.round, series: PARTICIPATION[1], users: s.missing.length },
    { round: s.round, series: PARTICIPATION[2], users: s.revealedMasks },
  ]);
  return {
    id: "bbnp-participation",
    title: "Reporters, dropouts and reveals",
    caption: `Of ${run.users} users: who reported, who was missing, and how many pairwise masks neighbours revealed so the sum could still be unmasked (a round with dropouts refreshes every key).`,
    spec: {
      title: "Reporters, dropouts and mask reveals per round",
      width: PLOT.width,
      height: PLOT.height,
      data: { values },
      mark: { type: "bar", tooltip: true },
      encoding: {
        x: { field: "round", type: "ordinal", title: "round t", axis: { labelAngle: 0 } },
        xOffset: { field: "series", sort: [...PARTICIPATION] },
        y: {
          field: "users",
          type: "quantitative",
          title: "users / masks (count)",
          axis: INTEGER_AXIS,
        },
        color: { field: "series", type: "nominal", sort: [...PARTICIPATION], title: "per round" },
      },
    },
    table: {
      header: ["t", "epoch", "reporters", "missing", "reveals", "rejected"],
      rows: run.perRound.map((s) => [
        String(s.round),
        String(s.epoch),
        `${s.reporters}/${run.users}`,
        String(s.missing.length),
        String(s.revealedMasks),
        String(Object.values(s.rejected).reduce((a, b) => a + b, 0)),
      ]),
    },
  };
}

const ROLES = ["primary", "signed the certificate", "not in the certificate"] as const;

/** Per round and node: the primary, the certificate's signers, the nodes left out (DESIGN §5.1). */
export function certificateChart(run: BbnpRun): Chart {
  const nodes = run.consensus?.nodes ?? 0;
  const values: Datum[] = run.perRound.flatMap((s) =>
    Array.from({ length: nodes }, (_, node) => ({
      round: s.round,
      node,
      role: s.primary === node ? ROLES[0] : (s.signers ?? []).includes(node) ? ROLES[1] : ROLES[2],
      type: nodeType(behaviourOf(run, node)),
    })),
  );
  const quorum = nodes - Math.floor((nodes - 1) / 3);
  return {
    id: "bbnp-certificate",
    title: "Primary and certificate signers",
    caption: `Each column is one committed block: its primary and the ≥ 2f+1 = ${quorum} nodes whose BLS votes form the quorum certificate; a faulty node is left out only when its fault shows in its vote (crashed, slow, wrong signature or block); a stalling or equivocating node misbehaves only as primary and otherwise votes honestly.`,
    spec: {
      title: "Primary and certificate signers per round",
      width: Math.min(PLOT.width, Math.max(160, 60 * run.perRound.length)),
      height: Math.min(PLOT.height + 60, Math.max(120, 26 * nodes)),
      data: { values },
      mark: { type: "rect", stroke: "white", strokeWidth: 2, tooltip: true },
      encoding: {
        x: { field: "round", type: "ordinal", title: "round t", axis: { labelAngle: 0 } },
        y: { field: "node", type: "ordinal", title: "consensus node (registry index)" },
        color: {
          field: "role",
          type: "nominal",
          title: "role in the block",
          scale: { domain: [...ROLES], range: ["#b07aa1", "#59a14f", "#e6e8eb"] },
        },
      },
    },
    table: {
      header: ["t", "primary", "view", "signers", "gas"],
      rows: run.perRound.map((s) => [
        String(s.round),
        s.primary === undefined ? "–" : String(s.primary),
        s.view === undefined ? "–" : String(s.view),
        (s.signers ?? []).join(" "),
        fmtInt(s.gasUsed),
      ]),
    },
  };
}

/** Γ per node over the rounds, coloured by node type as in the paper's Fig. 9 (DESIGN §5.3). */
export function reputationChart(run: BbnpRun): Chart {
  const nodes = run.consensus?.nodes ?? 0;
  const values: Datum[] = run.perRound.flatMap((s) =>
    (s.reputations ?? []).map((gamma, node) => ({
      round: s.round,
      node: `node ${node}`,
      type: nodeType(behaviourOf(run, node)),
      reputation: gamma,
    })),
  );
  const types = Object.keys(NODE_TYPE_COLOURS) as NodeType[];
  return {
    id: "bbnp-reputation",
    title: "Reputation per node over the rounds",
    caption:
      "Γ in each committed block (after the previous round's evidence): a node gains with timely correct votes and loses with the misbehaviour the others observed (untimely or wrong votes, DESIGN §5.3) — a stalling or equivocating node is seen only when it is primary; the primary is drawn from nodes above the mean.",
    spec: {
      title: "Reputation Γ per node over the rounds",
      width: PLOT.width,
      height: PLOT.height,
      data: { values },
      mark: { type: "line", point: true, strokeWidth: 2, tooltip: true },
      encoding: {
        x: { field: "round", type: "ordinal", title: "round t", axis: { labelAngle: 0 } },
        y: {
          field: "reputation",
          type: "quantitative",
          title: "reputation Γ (0–1)",
          scale: { zero: false },
        },
        color: {
          field: "type",
          type: "nominal",
          title: "node type (Fig. 9)",
          scale: { domain: types, range: types.map((t) => NODE_TYPE_COLOURS[t]) },
        },
        detail: { field: "node" },
      },
    },
    table: {
      header: ["node", "behaviour", ...run.perRound.map((s) => `t=${s.round}`)],
      rows: Array.from({ length: nodes }, (_, node) => [
        String(node),
        behaviourOf(run, node),
        ...run.perRound.map((s) => (s.reputations?.[node] ?? NaN).toFixed(3)),
      ]),
    },
  };
}

/**
 * Gas per round (recording or committing it), with the round's recovery passes and whether it
 * aborted (an aborted round publishes nothing and costs no gas; DESIGN §4.7).
 */
export function roundGasChart(run: BbnpRun): Chart {
  const values: Datum[] = run.perRound.map((s) => ({
    round: s.round,
    gas: Number(s.gasUsed),
    outcome: s.aborted === undefined ? "committed" : "aborted",
  }));
  return {
    id: "bbnp-gas",
    title: "Gas per round",
    caption:
      run.mode === "consensus"
        ? "commitBlock checks σ_GW and the quorum certificate with EIP-2537 pairings; a view change shows as a taller bar, an aborted round as none."
        : "recordRound checks the gateway's BLS signature with an EIP-2537 pairing; an aborted round publishes nothing.",
    spec: {
      title: "Gas per round",
      width: PLOT.width,
      height: PLOT.height,
      data: { values },
      mark: { type: "bar", tooltip: true },
      encoding: {
        x: { field: "round", type: "ordinal", title: "round t", axis: { labelAngle: 0 } },
        y: { field: "gas", type: "quantitative", title: "gas (units)" },
        color: {
          field: "outcome",
          type: "nominal",
          scale: { domain: ["committed", "aborted"] },
          title: "round",
        },
      },
    },
    table: {
      header: ["t", "gas", "recovery passes", "outcome"],
      rows: run.perRound.map((s) => [
        String(s.round),
        fmtInt(s.gasUsed),
        String(s.passes),
        s.aborted === undefined ? "committed" : `aborted (${s.aborted})`,
      ]),
    },
  };
}

/** Every chart of the BBNP section, in reading order (consensus charts only in consensus mode). */
export function bbnpCharts(run: BbnpRun): Chart[] {
  return [
    sumsChart(run),
    participationChart(run),
    ...(run.consensus ? [certificateChart(run), reputationChart(run)] : []),
    roundGasChart(run),
  ];
}
