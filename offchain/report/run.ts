// A run as the report reads it: the scenario runners' reports (offchain/sim/oksuz.ts `OksuzReport`,
// offchain/sim/bbnp.ts `BbnpRunReport`) in their JSON form, bigints as decimal strings, exactly what
// `--json FILE` writes. The report is built from this form only, so a report rendered right after a
// run and one rendered later from the saved file (`gridledger report RUN.json`) are the same.
import type { BbnpRunReport } from "../sim/bbnp.ts";
import type { OksuzReport } from "../sim/oksuz.ts";

/** `T` after `JSON.stringify` with bigints written as decimal strings. */
export type Json<T> = T extends bigint
  ? string
  : T extends readonly (infer U)[]
    ? readonly Json<U>[]
    : T extends object
      ? { readonly [K in keyof T]: Json<T[K]> }
      : T;

export type OksuzRun = Json<OksuzReport>;
export type BbnpRun = Json<BbnpRunReport>;
export type Run =
  | { readonly kind: "oksuz"; readonly run: OksuzRun }
  | { readonly kind: "bbnp"; readonly run: BbnpRun };

/** A run JSON the report cannot use (not JSON, or not a run of either scheme). */
export class ReportInputError extends Error {
  override name = "ReportInputError";
}

/** The JSON text of a report: indented, bigints as decimal strings (what `--json` writes). */
export function runJsonText(report: unknown): string {
  return (
    JSON.stringify(report, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) +
    "\n"
  );
}

const OKSUZ_FIELDS = [
  "perInterval",
  "relayTraffic",
  "categories",
  "tariff",
  "setupGasByOperation",
  "userChecks",
  "relays",
  "network",
] as const;
const BBNP_FIELDS = ["perRound", "totals", "setup", "users", "rounds"] as const;

/**
 * Recognises a run from its JSON text: an Oksuz run has `perInterval`, a BBNP run `perRound`.
 * Throws {@link ReportInputError} for invalid JSON, another shape, or a run written before the
 * report's fields existed (the message names the first missing field).
 */
export function parseRun(text: string): Run {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ReportInputError(`parseRun: not JSON (${(err as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ReportInputError("parseRun: a run report is a JSON object");
  }
  const o = value as Record<string, unknown>;
  const need = (fields: readonly string[], kind: string) => {
    for (const f of fields) {
      if (!(f in o))
        throw new ReportInputError(
          `parseRun: ${kind} run without "${f}" (re-run it with this version)`,
        );
    }
  };
  if ("perInterval" in o) {
    need(OKSUZ_FIELDS, "Oksuz");
    return { kind: "oksuz", run: o as unknown as OksuzRun };
  }
  if ("perRound" in o) {
    need(BBNP_FIELDS, "BBNP");
    return { kind: "bbnp", run: o as unknown as BbnpRun };
  }
  throw new ReportInputError(
    'parseRun: neither an Oksuz run ("perInterval") nor a BBNP run ("perRound")',
  );
}

/** The in-memory report of a run in its JSON form (the same path a saved file takes). */
export function runFromReport(report: OksuzReport | BbnpRunReport): Run {
  return parseRun(runJsonText(report));
}
