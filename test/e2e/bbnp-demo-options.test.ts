// bbnp-demo refuses bad options before any work (issue 11 "Bad options fail before any work"):
// `--rpc ""`, an unwritable `--json` path and `--consensus 1` are one-line usage errors with exit
// code 2, and nothing is set up or deployed first (no progress line, within a few seconds).
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

function demo(args: readonly string[]) {
  const r = spawnSync(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", "offchain/cli/bbnp-demo.ts", ...args],
    { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("bbnp-demo: bad options fail before any work", function () {
  this.timeout(120_000);

  for (const [label, args, pattern] of [
    ['--rpc ""', ["--rpc", ""], /^bbnp-demo: --rpc must be an http\(s\) URL, got ""$/],
    [
      "an unwritable --json path",
      ["--json", join(ROOT, "no-such-dir", "sub", "run.json")],
      /^bbnp-demo: --json .* is not writable: ENOENT$/,
    ],
    [
      "--consensus 1",
      ["--consensus", "1"],
      /^bbnp-demo: --consensus must be an integer in \[4, 64\], got "1"$/,
    ],
  ] as const) {
    it(`${label}: exit 2, one error line, nothing run`, () => {
      const r = demo([...args, "--users", "4", "--rounds", "1"]);
      expect(r.status).to.equal(2);
      const lines = r.stderr.trim().split("\n");
      // One line: no usage hint, no stack trace (newcomer trial: a second line broke "one line").
      expect(lines, r.stderr).to.have.length(1);
      expect(lines[0]).to.match(pattern);
      expect(r.stderr).to.not.match(/\n\s+at /);
      // Nothing was set up: no progress, no deployment.
      expect(r.stdout).to.not.match(/set-up|deployed|round 1/);
      expect(r.stderr).to.not.match(/set-up|deployed|round 1/);
    });
  }

  it("the checker can fail: good options do run (set-up and a round)", () => {
    const r = demo(["--users", "4", "--rounds", "1", "--min-reporters", "2"]);
    expect(r.status).to.equal(0);
    expect(r.stdout + r.stderr).to.match(/round 1\/1/);
  });
});
