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

/** Bigints as decimal strings: the one replacer of a run's JSON. */
const bigintsAsStrings = (_key: string, v: unknown): unknown =>
  typeof v === "bigint" ? v.toString() : v;

/** The JSON text of a report: indented, bigints as decimal strings (what `--json` writes). */
export function runJsonText(report: unknown): string {
  return JSON.stringify(report, bigintsAsStrings, 2) + "\n";
}

/**
 * {@link runJsonText}(report), byte for byte, as a sequence of pieces: the top-level fields and
 * the elements of the arrays and objects directly under them are stringified one at a time
 * (issue 14, session 10: a 100,000-meter run's report is 66 MB of text, and building it whole at
 * the run's end took its size several times over in transient strings). Deeper values go through
 * `JSON.stringify` whole, re-indented for their depth (a JSON string holds no raw newline).
 */
export function* runJsonPieces(report: unknown): Generator<string> {
  yield* pieces(bigintsAsStrings("", toJson(report, "")), 0);
  yield "\n";
}

/** `value` as `JSON.stringify` hands it to the replacer: after its `toJSON`, if it has one. */
function toJson(value: unknown, key: string): unknown {
  const withToJson = value as { toJSON?: (key: string) => unknown } | null;
  return typeof withToJson?.toJSON === "function" ? withToJson.toJSON(key) : value;
}

function* pieces(value: unknown, depth: number): Generator<string> {
  if (depth >= 2 || value === null || typeof value !== "object") {
    // Depth 0: what `runJsonText` concatenates (also "undefined" for an undefined report).
    const text: string = JSON.stringify(value, bigintsAsStrings, 2);
    yield depth === 0 ? String(text) : text.replaceAll("\n", "\n" + "  ".repeat(depth));
    return;
  }
  const pad = "\n" + "  ".repeat(depth + 1);
  const isArray = Array.isArray(value);
  const keys = isArray
    ? Array.from({ length: value.length }, (_, i) => String(i)) // holes too: null, as JSON.stringify
    : Object.keys(value);
  let first = true;
  for (const key of keys) {
    const child = bigintsAsStrings(key, toJson((value as Record<string, unknown>)[key], key));
    const serialisable =
      child !== undefined && typeof child !== "function" && typeof child !== "symbol";
    if (!serialisable && !isArray) continue; // JSON.stringify drops such fields, writes null in arrays
    yield (first ? (isArray ? "[" : "{") : ",") + pad + (isArray ? "" : JSON.stringify(key) + ": ");
    first = false;
    if (serialisable) yield* pieces(child, depth + 1);
    else yield "null";
  }
  yield first ? (isArray ? "[]" : "{}") : "\n" + "  ".repeat(depth) + (isArray ? "]" : "}");
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
