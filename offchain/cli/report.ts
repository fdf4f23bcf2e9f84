// `gridledger report RUN.json --out DIR`: the HTML report of a saved run (a file written by
// `--json` of `npm run demo`, `npm run demo:bbnp`, `gridledger simulate` or `simulate-bbnp`):
// DIR/index.html (every chart, offline) and DIR/run.json. Registered in main.ts with one line.
import { readFileSync } from "node:fs";

import type { Command } from "commander";

import { writeRunReport } from "../report/html.ts";
import { ReportInputError, parseRun } from "../report/run.ts";

/** Reads, checks and renders `file` into `out`; one-line errors on stderr and exit 1. */
export async function reportCommand(
  file: string,
  options: { readonly out: string },
): Promise<void> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    fail(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let run;
  try {
    run = parseRun(text);
  } catch (err) {
    if (err instanceof ReportInputError) fail(`${file}: ${err.message}`);
    throw err;
  }
  let page: string;
  try {
    page = await writeRunReport(options.out, run);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code) fail(`cannot write ${options.out}: ${e.code} ${e.path ?? ""}`.trimEnd());
    throw err;
  }
  console.log(`HTML report written to ${page}`);
}

function fail(message: string): never {
  console.error(`gridledger report: ${message}`);
  process.exit(1);
}

/** Adds `report RUN.json --out DIR` to the `gridledger` program. */
export function registerReport(program: Command): void {
  program
    .command("report")
    .description(
      "HTML report (charts, offline) of a saved run: writes DIR/index.html and DIR/run.json",
    )
    .argument("<run.json>", "a run written by --json (Oksuz or BBNP)")
    .requiredOption("--out <dir>", "output directory (created if missing)")
    .action(reportCommand);
}
