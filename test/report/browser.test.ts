// The run report in a real browser (issue 13): the HTML of a small Oksuz run and of a small BBNP
// run, opened from disk in headless Chromium (Debian's `chromium`, driven by puppeteer-core; no
// browser is downloaded): no console error, no network request (every request other than the page
// itself is recorded and aborted), every expected chart present with title, axis titles and
// non-empty marks, and a screenshot of the first screen under reports/ (linked from the README).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { expect } from "chai";
import puppeteer, { type Browser } from "puppeteer-core";

import { bbnpCharts } from "../../offchain/report/bbnp.ts";
import { writeRunReport } from "../../offchain/report/html.ts";
import { oksuzCharts } from "../../offchain/report/oksuz.ts";
import type { Run } from "../../offchain/report/run.ts";
import { smallBbnpRun, smallOksuzRun } from "./fixtures.ts";

/** The system browser (.ci/run installs Debian's `chromium` when missing); override with CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const REPORTS = fileURLToPath(new URL("../../reports/", import.meta.url));

interface PageCheck {
  readonly consoleErrors: string[];
  readonly requests: string[];
  readonly charts: {
    id: string;
    marks: number;
    axisTitles: number;
    legends: number;
    title: string;
    caption: string;
    tableRows: number;
  }[];
}

/** Opens `url` with every other request recorded and aborted; the page's charts as the DOM has them. */
async function inspect(browser: Browser, url: string, screenshot?: string): Promise<PageCheck> {
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warn") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.setRequestInterception(true);
  page.on("request", (r) => {
    if (r.url() === url) return void r.continue();
    requests.push(r.url());
    void r.abort();
  });
  await page.setViewport({ width: 1280, height: 860, deviceScaleFactor: 1 });
  await page.goto(url, { waitUntil: "load" });
  const charts = await page.$$eval("figure.chart", (figures) =>
    figures.map((f) => ({
      id: f.id,
      // Mark items Vega drew: bars, lines, points, rects, labels (not axes, grid or legends).
      marks: f.querySelectorAll(
        "g.role-mark:not(.role-axis g):not(.role-legend g) > path, g.role-mark:not(.role-axis g):not(.role-legend g) > text",
      ).length,
      axisTitles: f.querySelectorAll(".role-axis-title text").length,
      legends: f.querySelectorAll(".role-legend").length,
      title: f.querySelector(".role-title-text text")?.textContent ?? "",
      caption: f.querySelector("figcaption")?.textContent ?? "",
      tableRows: f.querySelectorAll("table tbody tr").length,
    })),
  );
  if (screenshot) await page.screenshot({ path: screenshot });
  await page.close();
  return { consoleErrors, requests, charts };
}

async function openReport(browser: Browser, run: Run, screenshot: string): Promise<PageCheck> {
  const dir = mkdtempSync(join(tmpdir(), "gridledger-report-"));
  try {
    const file = await writeRunReport(dir, run);
    return await inspect(browser, pathToFileURL(file).href, screenshot);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function expectGoodPage(check: PageCheck, expectedIds: readonly string[]): void {
  expect(check.consoleErrors, "console errors").to.deep.equal([]);
  expect(check.requests, "network requests").to.deep.equal([]);
  expect(check.charts.map((c) => c.id)).to.deep.equal(expectedIds);
  for (const c of check.charts) {
    expect(c.marks, `${c.id}: marks`).to.be.greaterThan(0);
    expect(c.axisTitles, `${c.id}: axis titles`).to.be.at.least(2);
    expect(c.legends, `${c.id}: legend`).to.be.at.least(1);
    expect(c.title, `${c.id}: title`).to.match(/\S/);
    expect(c.caption.length, `${c.id}: caption`).to.be.greaterThan(c.title.length);
    expect(c.tableRows, `${c.id}: table`).to.be.greaterThan(0);
  }
}

describe("report: the HTML report in headless Chromium", function () {
  this.timeout(300_000);
  let browser: Browser;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`,
      );
    }
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
  });
  after(async () => browser?.close());

  it("Oksuz: every chart drawn, no console error, no request; screenshot reports/report-oksuz.png", async () => {
    const run = await smallOksuzRun();
    const check = await openReport(
      browser,
      { kind: "oksuz", run },
      join(REPORTS, "report-oksuz.png"),
    );
    expectGoodPage(
      check,
      oksuzCharts(run).map((c) => c.id),
    );
    expect(check.charts.map((c) => c.id)).to.include.members([
      "oksuz-load",
      "oksuz-price",
      "oksuz-bills",
      "oksuz-anonymity",
      "oksuz-rejected",
      "oksuz-relays",
      "oksuz-packet-sizes",
      "oksuz-gas",
    ]);
  });

  it("BBNP: every chart drawn, no console error, no request; screenshot reports/report-bbnp.png", async () => {
    const run = await smallBbnpRun();
    const check = await openReport(
      browser,
      { kind: "bbnp", run },
      join(REPORTS, "report-bbnp.png"),
    );
    expectGoodPage(
      check,
      bbnpCharts(run).map((c) => c.id),
    );
    expect(check.charts).to.have.length(5);
  });

  it("the checks catch a page that fetches, logs an error or draws an empty chart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gridledger-report-"));
    try {
      const file = join(dir, "bad.html");
      writeFileSync(
        file,
        `<!doctype html><title>bad</title><img src="http://127.0.0.1:9/x.png">
<script>console.error("boom")</script>
<figure class="chart" id="empty"><figcaption>nothing</figcaption><svg></svg><table><tbody></tbody></table></figure>`,
      );
      const check = await inspect(browser, pathToFileURL(file).href);
      expect(check.requests).to.deep.equal(["http://127.0.0.1:9/x.png"]);
      expect(check.consoleErrors).to.include("boom");
      expect(() => expectGoodPage(check, ["empty"])).to.throw();
      expect(() =>
        expectGoodPage({ ...check, consoleErrors: [], requests: [] }, ["empty"]),
      ).to.throw(/empty: marks/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
