// The Oksuz demo refuses a bad `--cc-workers` before any work (issue 14: CC's admission pool as a
// demo option): one usage line, exit code 2, no chain started.
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

/** Runs `script` (a path under the repository) with `args` in Node: its exit code and output. */
function runScript(script: string, args: readonly string[]) {
  const r = spawnSync(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", script, ...args],
    { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const demo = (args: readonly string[]) => runScript("offchain/cli/demo.ts", args);

describe("demo: --cc-workers", function () {
  this.timeout(120_000);

  for (const bad of ["0", "65", "two"]) {
    it(`--cc-workers ${bad}: exit 2, one error line, nothing run`, () => {
      const r = demo(["--cc-workers", bad, "--meters", "5", "--intervals", "1"]);
      expect(r.status).to.equal(2);
      expect(r.stderr.trim().split("\n")).to.have.length(1);
      expect(r.stderr.trim().split("\n")[0]).to.equal(
        `demo: --cc-workers must be an integer in [1, 64], got "${bad}"`,
      );
      expect(r.stdout).to.not.match(/deployed/);
    });
  }
});

describe("demo: --meters (newcomer trial, issue 14)", function () {
  this.timeout(120_000);

  const cases: [string[], string][] = [
    // A negative number is the option's value: its range is named (session 12).
    [["--meters", "-5"], 'demo: --meters must be an integer in [5, 1000000], got "-5"'],
    [["--loss", "-.5"], 'demo: --loss must be a fraction in [0, 1), got "-.5"'],
    // Any other value starting with "-" is still an option to parseArgs.
    [
      ["--meters", "-x"],
      'demo: --meters takes a value: a value starting with "-" must be given as --meters=VALUE',
    ],
    [["--meters=-5"], 'demo: --meters must be an integer in [5, 1000000], got "-5"'],
    [["--meters", "1e9"], 'demo: --meters must be an integer in [5, 1000000], got "1e9"'],
    [["--meters", "1000001"], 'demo: --meters must be an integer in [5, 1000000], got "1000001"'],
    // Not decimal: Number() took them (16 and 1,000 meters ran; session 11's newcomer trial).
    [["--meters", "0x10"], 'demo: --meters must be an integer in [5, 1000000], got "0x10"'],
    [["--meters", "1e3"], 'demo: --meters must be an integer in [5, 1000000], got "1e3"'],
    [["--meters", " 12"], 'demo: --meters must be an integer in [5, 1000000], got " 12"'],
    [["--loss", "0x0"], 'demo: --loss must be a fraction in [0, 1), got "0x0"'],
    // Bounded like BBNP's --rounds (session 13: 99,999,999,999 intervals started a run).
    [
      ["--intervals", "1000001"],
      'demo: --intervals must be an integer in [1, 1000000], got "1000001"',
    ],
  ];
  for (const [args, line] of cases) {
    it(`${args.join(" ")}: exit 2, one error line, nothing run`, () => {
      const r = demo(args.includes("--intervals") ? args : [...args, "--intervals", "1"]);
      expect(r.status).to.equal(2);
      expect(r.stderr.trim().split("\n")).to.deep.equal([line]);
      expect(r.stdout).to.not.match(/deployed/);
    });
  }
});

describe("gridledger: one error style for every command (newcomer trials, issue 14)", function () {
  this.timeout(120_000);

  const gridledger = (args: readonly string[]) => runScript("offchain/cli/main.ts", args);

  const cases: [string[], string][] = [
    // The demos under `gridledger` name the command, not the script.
    [
      ["simulate", "--meters", "-5"],
      'gridledger simulate: --meters must be an integer in [5, 1000000], got "-5"',
    ],
    [
      ["simulate-bbnp", "--users", "abc"],
      'gridledger simulate-bbnp: --users must be an integer in [2, 1048576], got "abc"',
    ],
    // Commander's own errors, as the demos print theirs (was `error: …`).
    [
      ["capacity", "--meters", "1e6"],
      "gridledger capacity: option '--meters <n>' argument '1e6' is invalid. must be an integer in [1, 1,000,000,000]",
    ],
    [["deploy", "--bogus"], "gridledger deploy: unknown option '--bogus'"],
    // The program's own errors too.
    [["nosuch"], "gridledger: unknown command 'nosuch'"],
  ];
  for (const [args, line] of cases) {
    it(`gridledger ${args.join(" ")}: exit 2, one error line`, () => {
      const r = gridledger(args);
      expect(r.status).to.equal(2);
      expect(r.stderr.trim().split("\n")).to.deep.equal([line]);
    });
  }
});

describe("demos: output paths (newcomer trial, session 13)", function () {
  this.timeout(120_000);

  it("a run refused for another option creates none of its output directories", () => {
    const tmp = mkdtempSync(join(tmpdir(), "gl-outputs-"));
    try {
      const report = join(tmp, "report");
      const pseudonyms = join(tmp, "pseudonyms");
      const oksuz = demo(["--report", report, "--pseudonyms-out", pseudonyms, "--meters", "0"]);
      expect(oksuz.status).to.equal(2);
      expect(oksuz.stderr.trim().split("\n")).to.deep.equal([
        'demo: --meters must be an integer in [5, 1000000], got "0"',
      ]);
      const noRpc = demo(["--pseudonyms-out", pseudonyms]);
      expect(noRpc.status).to.equal(2);
      const bbnp = runScript("offchain/cli/bbnp-demo.ts", ["--report", report, "--users", "1"]);
      expect(bbnp.status).to.equal(2);
      expect(readdirSync(tmp)).to.deep.equal([]);
      // A failure after the checks (no chain at --rpc): the empty directories it made are removed.
      for (const script of ["offchain/cli/demo.ts", "offchain/cli/bbnp-demo.ts"]) {
        const r = runScript(script, [
          "--report",
          join(report, "deeper"),
          "--rpc",
          "http://127.0.0.1:1",
        ]);
        expect(r.status, script).to.equal(1);
        expect(r.stderr, script).to.match(/ChainUnreachableError/);
        expect(readdirSync(tmp), script).to.deep.equal([]);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  for (const [script, args, line] of [
    ["offchain/cli/demo.ts", ["--report", ""], "demo: --report is empty: give a directory"],
    ["offchain/cli/demo.ts", ["--json", " "], "demo: --json is empty: give a file"],
    [
      "offchain/cli/bbnp-demo.ts",
      ["--report", ""],
      "bbnp-demo: --report is empty: give a directory",
    ],
  ] as const) {
    it(`${script} ${args.join(" ")}: an empty path is refused, not taken as the working directory`, () => {
      const r = runScript(script, [...args, "--quiet"]);
      expect(r.status).to.equal(2);
      expect(r.stderr.trim().split("\n")).to.deep.equal([line]);
    });
  }
});

describe("demo: its reader closes stdout (`npm run demo | head`, session 13)", function () {
  this.timeout(120_000);

  it("ends with 141 and no stack trace, and leaves no CC store under the temporary directory", async () => {
    const stores = () =>
      new Set(readdirSync(tmpdir()).filter((f) => f.startsWith("gridledger-cc-")));
    const before = stores();
    const child = spawn(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", "offchain/cli/demo.ts", "--meters", "30"],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // Read until the meters are registered (CC's store exists by then), then close the pipe as
    // `head` does.
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (/registered \d+ meters/.test(stdout)) child.stdout.destroy();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, stderr).to.equal(141);
    expect(stderr).to.not.match(/EPIPE|at /);
    expect([...stores()].filter((f) => !before.has(f))).to.deep.equal([]);
  });
});
