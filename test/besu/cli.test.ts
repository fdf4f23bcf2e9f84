// `gridledger besu-network` end to end (offchain/cli/besu-network.ts, offchain/besu/kit-writer.ts):
// a kit is written whole; bad input is one named line on stderr, a non-zero exit and nothing
// written; a non-empty --out is kept unless --force.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { BesuKitOutputExistsError } from "../../offchain/besu/errors.ts";
import { writeKit } from "../../offchain/besu/kit-writer.ts";

const MAIN = fileURLToPath(new URL("../../offchain/cli/main.ts", import.meta.url));

function gridledger(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", MAIN, "besu-network", ...args],
    {
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("besu: gridledger besu-network", function () {
  this.timeout(300_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "gridledger-besu-cli-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the whole kit; the key files are owner-only", () => {
    const out = join(dir, "net");
    const r = gridledger("--validators", "4", "--members", "1", "--chain-id", "777", "--out", out);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/wrote \d+ files .* 4 validators \+ 1 members, chain id 777/);
    const manifest = JSON.parse(readFileSync(join(out, "kit.json"), "utf8"));
    expect(manifest.nodes).to.have.length(5);
    expect(JSON.parse(readFileSync(join(out, "genesis.json"), "utf8")).config.chainId).to.equal(
      777,
    );
    expect(statSync(join(out, "validator-0", "key")).mode & 0o777).to.equal(0o600);
    expect(statSync(join(out, "start-local.sh")).mode & 0o777).to.equal(0o755);
    expect(readdirSync(dir)).to.deep.equal(["net"]); // no staging directory left behind
  });

  for (const [args, name] of [
    [["--validators", "3"], "BesuKitValidatorCountError"],
    [["--p2p-port", "70000"], "BesuKitPortError"],
    [["--rpc-port", "abc"], "BesuKitPortError"],
    [["--validators", "4e0"], "BesuKitOptionError"],
    [["--chain-id", " 777"], "BesuKitOptionError"],
    [["--besu-version", "24.12.0"], "BesuKitVersionError"],
    [["--host", "example.org"], "BesuKitOptionError"],
  ] as const) {
    it(`${args.join(" ")}: one line naming ${name}, exit 2, nothing written`, () => {
      const out = join(dir, "net");
      const r = gridledger(...args, "--out", out);
      expect(r.status).to.equal(2);
      expect(r.stderr.trimEnd().split("\n")).to.have.length(1);
      expect(r.stderr).to.match(new RegExp(`^gridledger besu-network: ${name}: `));
      expect(existsSync(out)).to.equal(false);
      expect(readdirSync(dir)).to.deep.equal([]);
    });
  }

  it("refuses an existing non-empty --out and leaves it as it was; --force replaces a kit only", () => {
    const out = join(dir, "net");
    mkdirSync(out);
    writeFileSync(join(out, "mine.txt"), "keep me");
    const r = gridledger("--out", out);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/^gridledger besu-network: BesuKitOutputExistsError: .*--force/);
    expect(readdirSync(out)).to.deep.equal(["mine.txt"]);
    // Not a kit: --force refuses too (newcomer trial, session 13: it replaced any directory).
    const notKit = gridledger("--out", out, "--force");
    expect(notKit.status).to.equal(2);
    expect(notKit.stderr.trimEnd().split("\n")).to.deep.equal([
      `gridledger besu-network: BesuKitOutputExistsError: --out ${out} is not a kit (no kit.json of besu-network's): --force replaces only a kit written before`,
    ]);
    expect(readdirSync(out)).to.deep.equal(["mine.txt"]);
    // A kit.json of somebody else's (newcomer re-trial, session 13: "{}" was enough).
    for (const manifest of ["{}", "not json", '{"kit": "other"}']) {
      writeFileSync(join(out, "kit.json"), manifest);
      const fake = gridledger("--out", out, "--force");
      expect(fake.status, manifest).to.equal(2);
      expect(fake.stderr, manifest).to.match(/BesuKitOutputExistsError: .* is not a kit/);
      expect(readdirSync(out).sort(), manifest).to.deep.equal(["kit.json", "mine.txt"]);
    }
    rmSync(join(out, "kit.json"));
    // A kit written before, with a file of the user's beside it: --force replaces it whole.
    rmSync(join(out, "mine.txt"));
    expect(gridledger("--out", out).status).to.equal(0);
    writeFileSync(join(out, "mine.txt"), "stale");
    const forced = gridledger("--out", out, "--force", "--chain-id", "778");
    expect(forced.status, forced.stderr).to.equal(0);
    expect(existsSync(join(out, "mine.txt"))).to.equal(false);
    expect(readFileSync(join(out, "genesis.json"), "utf8")).to.include('"chainId": 778');
    expect(readdirSync(dir)).to.deep.equal(["net"]);
  });

  it("--out '' is refused, and --force never replaces the working directory or one holding it", () => {
    // Regression (newcomer trial, session 13): "" resolved to the working directory, and
    // `--out '' --force` replaced it with a kit.
    const here = join(dir, "here");
    const inner = join(here, "sub");
    mkdirSync(inner, { recursive: true });
    writeFileSync(join(inner, "precious.txt"), "keep me");
    const run = (cwd: string, ...args: string[]) =>
      spawnSync(
        process.execPath,
        ["--disable-warning=ExperimentalWarning", MAIN, "besu-network", ...args],
        { cwd, encoding: "utf8" },
      );
    for (const args of [
      ["--out", ""],
      ["--out", "", "--force"],
      ["--out", " ", "--force"],
    ]) {
      const r = run(inner, ...args);
      expect(r.status, JSON.stringify(args)).to.equal(2);
      expect(r.stderr.trimEnd().split("\n"), JSON.stringify(args)).to.deep.equal([
        "gridledger besu-network: BesuKitOutputError: --out is empty: give the kit's directory",
      ]);
    }
    // Even a kit: not while it holds the working directory.
    writeFileSync(join(inner, "kit.json"), '{"kit": "gridledger-besu-network"}');
    for (const out of [".", "..", inner]) {
      const r = run(inner, "--out", out, "--force");
      expect(r.status, out).to.equal(2);
      expect(r.stderr, out).to.match(
        /^gridledger besu-network: BesuKitOutputExistsError: --out .* holds the working directory: --force will not replace it\n$/,
      );
    }
    expect(readdirSync(inner).sort()).to.deep.equal(["kit.json", "precious.txt"]);
  });

  it("an empty existing --out is used without --force", () => {
    const out = join(dir, "empty");
    mkdirSync(out);
    expect(gridledger("--out", out).status).to.equal(0);
    expect(existsSync(join(out, "kit.json"))).to.equal(true);
  });

  it("writeKit: a failure part-way leaves neither the output nor a staging directory", () => {
    const out = join(dir, "net");
    const files = [
      { path: "a.txt", content: "a", mode: 0o644 },
      { path: "../escape.txt", content: "b", mode: 0o644 },
    ];
    expect(() => writeKit(files, out, false)).to.throw(/escapes the kit/);
    expect(readdirSync(dir)).to.deep.equal([]);
    mkdirSync(out);
    // A kit written before (its manifest's marker): --force may replace it.
    writeFileSync(join(out, "kit.json"), '{"kit": "gridledger-besu-network"}');
    expect(() => writeKit(files, out, true)).to.throw(/escapes the kit/);
    expect(readdirSync(out)).to.deep.equal(["kit.json"]); // --force with a failing kit keeps the old one
    expect(() => writeKit(files.slice(0, 1), out, false)).to.throw(BesuKitOutputExistsError);
  });
});
