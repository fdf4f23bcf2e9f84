// The report's page and I/O edges: run recognition, the self-contained HTML (no external
// reference, ids scoped per chart), the CLI's early output-path check and its progress printer.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import {
  checkOutputPaths,
  progressLog,
  PLAIN_STEP_INTERVAL_MS,
  type Cli,
} from "../../offchain/cli/common.ts";
import {
  escapeHtml,
  reportHtml,
  runCharts,
  scopeSvgIds,
  writeRunReport,
} from "../../offchain/report/html.ts";
import { ReportInputError, parseRun, runJsonText } from "../../offchain/report/run.ts";
import { smallOksuzRun } from "./fixtures.ts";

class UsageError extends Error {}
const testCli: Cli = {
  program: "test",
  fail(message: string): never {
    throw new UsageError(message);
  },
  intOption: () => 0,
  fractionOption: () => 0,
};

describe("report: run JSON, page and CLI edges", function () {
  this.timeout(300_000);

  it("parseRun: recognises both schemes and names what is wrong otherwise", () => {
    expect(() => parseRun("{")).to.throw(ReportInputError, /^parseRun: not JSON/);
    expect(() => parseRun("[1]")).to.throw(ReportInputError, /JSON object/);
    expect(() => parseRun('{"a":1}')).to.throw(ReportInputError, /neither an Oksuz run/);
    expect(() => parseRun('{"perInterval":[]}')).to.throw(
      ReportInputError,
      /Oksuz run without "relayTraffic"/,
    );
    expect(() => parseRun('{"perRound":[]}')).to.throw(
      ReportInputError,
      /BBNP run without "totals"/,
    );
  });

  it("runJsonText writes bigints as decimal strings (what --json writes)", () => {
    expect(runJsonText({ a: 2n ** 70n, b: [1n] })).to.equal(
      '{\n  "a": "1180591620717411303424",\n  "b": [\n    "1"\n  ]\n}\n',
    );
  });

  it("writeRunReport: index.html without any external reference, and run.json beside it", async () => {
    const run = await smallOksuzRun();
    const dir = mkdtempSync(join(tmpdir(), "gridledger-report-"));
    try {
      const page = await writeRunReport(join(dir, "out"), { kind: "oksuz", run });
      const html = readFileSync(page, "utf8");
      expect(parseRun(readFileSync(join(dir, "out", "run.json"), "utf8")).run).to.deep.equal(run);
      // Only the link to run.json and the SVG namespace URIs; no src=, no stylesheet, no script.
      expect(html).to.not.match(/<script|<link|src=|@import|url\(http/i);
      const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
      expect(hrefs).to.deep.equal(["run.json"]);
      for (const chart of runCharts({ kind: "oksuz", run })) {
        expect(html).to.contain(`id="${chart.id}"`);
        expect(html).to.contain(escapeHtml(chart.caption));
      }
      expect(html).to.contain("Content-Security-Policy");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reportHtml escapes the run's strings and needs one SVG per chart", async () => {
    const run = await smallOksuzRun();
    const charts = runCharts({ kind: "oksuz", run });
    const html = reportHtml(
      { kind: "oksuz", run: { ...run, scenario: "<b>x</b>" } },
      charts,
      charts.map(() => "<svg></svg>"),
    );
    expect(html).to.contain("&lt;b&gt;x&lt;/b&gt;").and.not.contain("<b>x</b>");
    expect(() => reportHtml({ kind: "oksuz", run }, charts, [])).to.throw(RangeError);
  });

  it("scopeSvgIds prefixes ids and the references to them", () => {
    expect(
      scopeSvgIds('<clipPath id="clip1"/><g clip-path="url(#clip1)"><use href="#clip1"/></g>', "c"),
    ).to.equal('<clipPath id="c-clip1"/><g clip-path="url(#c-clip1)"><use href="#c-clip1"/></g>');
  });

  it("checkOutputPaths: an unwritable --json or --report fails before the run, naming the option", () => {
    const dir = mkdtempSync(join(tmpdir(), "gridledger-paths-"));
    try {
      const file = join(dir, "plain-file");
      writeFileSync(file, "x");
      expect(() => checkOutputPaths(testCli, join(dir, "missing", "run.json"), undefined)).to.throw(
        UsageError,
        /^--json .* is not writable: ENOENT$/,
      );
      expect(() => checkOutputPaths(testCli, dir, undefined)).to.throw(
        UsageError,
        /is a directory/,
      );
      expect(() => checkOutputPaths(testCli, undefined, join(file, "report"))).to.throw(
        UsageError,
        /^--report .* is not a writable directory: (ENOTDIR|EEXIST)$/,
      );
      // Good paths: nothing left behind but the report directory.
      checkOutputPaths(testCli, join(dir, "run.json"), join(dir, "report"));
      expect(existsSync(join(dir, "run.json"))).to.equal(false);
      expect(existsSync(join(dir, "report"))).to.equal(true);
      expect(readFileSync(file, "utf8")).to.equal("x");
      checkOutputPaths(testCli, file, undefined); // an existing file is kept as it is
      expect(readFileSync(file, "utf8")).to.equal("x");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("progressLog off a terminal: messages always, counted steps at most every 2 s", () => {
    const lines: string[] = [];
    const log = progressLog(false, { tty: false, write: (l) => lines.push(l) });
    log("started");
    for (let k = 1; k <= 1000; k++) log.step({ task: "meters prepared", done: k, total: 1000 });
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^\[\d+\.\ds\] started$/);
    const quiet: string[] = [];
    const silent = progressLog(true, { tty: false, write: (l) => quiet.push(l) });
    silent("x");
    silent.step({ task: "rounds", done: 1, total: 1 });
    expect(quiet).to.deep.equal([]);
    expect(PLAIN_STEP_INTERVAL_MS).to.equal(2_000);
  });

  it("progressLog off a terminal: a long run prints a heartbeat step line", async () => {
    const lines: string[] = [];
    const log = progressLog(false, { tty: false, write: (l) => lines.push(l) });
    log("started");
    const t = performance.now();
    while (performance.now() - t < PLAIN_STEP_INTERVAL_MS + 50)
      await new Promise((r) => setTimeout(r, 100));
    log.step({ task: "meters prepared", done: 512, total: 100_000 });
    log.step({ task: "meters prepared", done: 513, total: 100_000 });
    expect(lines).to.have.length(2);
    expect(lines[1]).to.match(/^\[\d+\.\ds\] meters prepared 512\/100000$/);
    // Its completion prints too, at once and once (newcomer trial: logs ended at "13996/16000");
    // a task that never printed stays silent.
    log.step({ task: "meters prepared", done: 100_000, total: 100_000 });
    log.step({ task: "meters prepared", done: 100_000, total: 100_000 });
    log.step({ task: "bills posted", done: 7, total: 7 });
    expect(lines).to.have.length(3);
    expect(lines[2]).to.match(/^\[\d+\.\ds\] meters prepared 100000\/100000$/);
  });
});
