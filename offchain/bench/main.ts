// `npm run bench -- [--json FILE] [--quick] [--only PREFIX]`: runs every suite in ./suites and
// writes `{"metrics": {name: {"value", "unit"}}}` (see docs/BENCHMARKS.md).
import { readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { checkOutputPaths, cli, parseOptions } from "../cli/common.ts";

import { createContext, type BenchSuite } from "./harness.ts";

const suitesDir = join(dirname(fileURLToPath(import.meta.url)), "suites");
const suiteNames = readdirSync(suitesDir)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.replace(/\.ts$/, ""))
  .sort();
const USAGE =
  "usage: npm run bench -- [--json FILE] [--quick] [--only SUITE ...]\n" +
  '  --json FILE   write {"metrics": {name: {value, unit}}} to FILE\n' +
  "  --quick       fewer iterations and smaller sizes (smoke run)\n" +
  "  --only SUITE  run only suites whose file name starts with SUITE (repeatable;\n" +
  "                opt-in suites such as city run only when named)\n" +
  `suites: ${suiteNames.join(", ")}`;
const c = cli("bench", USAGE);
const values = parseOptions(c, USAGE, {
  json: { type: "string" },
  quick: { type: "boolean", default: false },
  only: { type: "string", multiple: true },
  help: { type: "boolean", short: "h", default: false },
});
// Checked before the suites run (minutes), not after.
checkOutputPaths(c, values.json, undefined);

const files = suiteNames
  .map((name) => `${name}.ts`)
  .filter((f) => !values.only || values.only.some((p) => f.startsWith(p)));
if (files.length === 0) {
  console.error(`bench: no suite matches ${values.only?.join(", ") ?? "(all)"} in ${suitesDir}`);
  process.exit(2);
}

const { ctx, metrics } = createContext(values.quick, (m) => console.log(m));
const failures: string[] = [];
for (const file of files) {
  const name = file.replace(/\.ts$/, "");
  console.log(`[bench] ${name}${values.quick ? " (quick)" : ""}`);
  const t0 = performance.now();
  try {
    const suite = (await import(pathToFileURL(join(suitesDir, file)).href)) as BenchSuite;
    // Opt-in suites (city scale: many minutes) run only when --only names them.
    if (suite.optIn === true && !values.only?.some((p) => file.startsWith(p))) {
      console.log(`[bench] ${name} skipped (opt-in: --only ${name})`);
      continue;
    }
    await suite.run(ctx);
  } catch (err) {
    failures.push(name);
    console.error(
      `[bench] ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : err}`,
    );
  }
  console.log(`[bench] ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (values.json) {
  writeFileSync(values.json, JSON.stringify({ metrics }, null, 2) + "\n");
  console.log(`[bench] wrote ${Object.keys(metrics).length} metrics to ${values.json}`);
}
if (failures.length > 0) {
  console.error(`[bench] failed suites: ${failures.join(", ")}`);
  process.exit(1);
}
