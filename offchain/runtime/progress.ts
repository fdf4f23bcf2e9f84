// Counted progress of a long run (intervals, rounds, meters prepared, batches posted), reported by
// the scenario runners (offchain/sim/) through an injected sink; the CLI draws it as a progress bar
// on a terminal and as plain lines otherwise (offchain/cli/common.ts `progressLog`).

/** `done` of `total` units of `task` are finished (`task` names the unit: "meters prepared"). */
export interface ProgressStep {
  readonly task: string;
  readonly done: number;
  readonly total: number;
}

/** Receives steps in order; a sink must be cheap (runners call it once per meter). */
export type ProgressSink = (step: ProgressStep) => void;
