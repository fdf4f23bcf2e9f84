// The benchmark tools refuse bad input before any work, in one line with exit code 2 (newcomer
// trial of issue 14: they printed Node's stack traces, and `--json` to an unwritable path failed
// only after every suite had run).
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

function tool(script: string, args: readonly string[]) {
  const r = spawnSync(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", script, ...args],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000 },
  );
  return { status: r.status, stdout: r.stdout, lines: r.stderr.trim().split("\n") };
}

describe("bench tools: bad input (issue 14)", function () {
  this.timeout(240_000);

  it("npm run bench: unknown option, missing value, unwritable --json: one line, exit 2, no suite run", () => {
    const cases: [string[], string][] = [
      [["--bogus"], "bench: Unknown option '--bogus'"],
      [["--only"], "bench: Option '--only <value>' argument missing"],
      [
        ["--json", "/nonexistent/x.json", "--only", "billing"],
        "bench: --json /nonexistent/x.json is not writable: ENOENT",
      ],
    ];
    for (const [args, line] of cases) {
      const r = tool("offchain/bench/main.ts", args);
      expect(r.status, args.join(" ")).to.equal(2);
      expect(r.lines, args.join(" ")).to.deep.equal([line]);
      expect(r.stdout).to.not.match(/\[bench\]/);
    }
    const help = tool("offchain/bench/main.ts", ["--help"]);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.match(/suites: .*billing.*city/);
  });

  it("heap-slope, edr-probe, rss-by-mapping: --help, and one line for a bad option", () => {
    for (const script of [
      "heap-slope.ts",
      "edr-probe.ts",
      "rss-by-mapping.ts",
      "posting-heap.ts",
      "city-run.ts",
      "network-send.ts",
    ]) {
      const file = `offchain/bench/${script}`;
      expect(tool(file, ["--help"]).status, script).to.equal(0);
      const bad = tool(file, ["--bogus"]);
      expect(bad.status, script).to.equal(2);
      expect(bad.lines, script).to.have.length(1);
      expect(bad.lines[0], script).to.match(/^[a-z-]+: Unknown option '--bogus'/);
    }
    const out = tool("offchain/bench/rss-by-mapping.ts", [
      "--pid",
      String(process.pid),
      "--out",
      "/nonexistent/x",
    ]);
    expect(out.status).to.equal(2);
    expect(out.lines).to.deep.equal([
      "rss-by-mapping: --out /nonexistent/x is not writable: ENOENT",
    ]);
  });

  it("heap-slope and network-send take plain decimals only: one line, exit 2, before any work", () => {
    // Regression: both parsed with Number(), so `1e3` and `0x10` were numbers.
    const slope = tool("offchain/bench/heap-slope.ts", [
      "a.heapsnapshot",
      "1e3",
      "b.heapsnapshot",
      "2000",
    ]);
    expect(slope.status).to.equal(2);
    expect(slope.lines).to.deep.equal([
      'heap-slope: the meter counts must be integers with 0 < N1 < N2, got "1e3" and "2000"',
    ]);
    const missing = tool("offchain/bench/heap-slope.ts", ["/nonexistent/a", "10", "b", "20"]);
    expect(missing.status).to.equal(2);
    expect(missing.lines).to.deep.equal([
      "heap-slope: cannot read /nonexistent/a as a heap snapshot: ENOENT",
    ]);
    const dir = mkdtempSync(join(tmpdir(), "gl-heap-slope-"));
    try {
      // Not JSON (its parser's message quotes the text, newline included), and JSON with a
      // snapshot.meta but not a snapshot's fields: one line each, no stack trace.
      writeFileSync(join(dir, "bad.heapsnapshot"), "x\n");
      writeFileSync(join(dir, "meta.heapsnapshot"), '{"snapshot":{"meta":{}},"nodes":[]}');
      for (const file of ["bad.heapsnapshot", "meta.heapsnapshot"]) {
        const r = tool("offchain/bench/heap-slope.ts", [join(dir, file), "10", "b", "20"]);
        expect(r.status, file).to.equal(2);
        expect(r.lines, file).to.have.length(1);
        expect(r.lines[0], file).to.match(/^heap-slope: cannot read .* as a heap snapshot: /);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const notSnapshot = tool("offchain/bench/heap-slope.ts", ["package.json", "10", "b", "20"]);
    expect(notSnapshot.status).to.equal(2);
    expect(notSnapshot.lines).to.have.length(1);
    expect(notSnapshot.lines[0]).to.match(
      /^heap-slope: cannot read package\.json as a heap snapshot: /,
    );
    const top = tool("offchain/bench/heap-slope.ts", ["a", "10", "b", "20", "--top", "0x10"]);
    expect(top.status).to.equal(2);
    expect(top.lines).to.deep.equal(["heap-slope: --depth and --top must be integers ≥ 1"]);
    for (const [args, line] of [
      [["--sends", "1e3"], 'network-send: --sends must be an integer ≥ 1, got "1e3"'],
      [["--endpoints", "0x10"], 'network-send: --endpoints must be an integer ≥ 2, got "0x10"'],
      [["--reps", "0"], 'network-send: --reps must be an integer ≥ 1, got "0"'],
      [["--loss", "1"], 'network-send: --loss must be a fraction in [0, 1), got "1"'],
      [["--jitter-ms=-1"], 'network-send: --jitter-ms must be a number ≥ 0, got "-1"'],
      [["--jitter-ms", "-1"], 'network-send: --jitter-ms must be a number ≥ 0, got "-1"'],
    ] as const) {
      const r = tool("offchain/bench/network-send.ts", args);
      expect(r.status, args.join(" ")).to.equal(2);
      expect(r.lines, args.join(" ")).to.deep.equal([line]);
      expect(r.stdout, args.join(" ")).to.equal("");
    }
  });

  it("city-run: a --heap-snapshot phase that no run reaches is an error, not a quiet exit 0", () => {
    const r = tool("offchain/bench/city-run.ts", [
      "--meters",
      "12",
      "--heap-snapshot",
      "no such phase",
    ]);
    expect(r.status).to.equal(2);
    expect(r.lines).to.include(
      'city-run: no phase or counted step "no such phase" in this run: no heap snapshot written',
    );
  });
});
