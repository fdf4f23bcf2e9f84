// `gridledger devnet` as a user runs it (a separate process), in its --smoke configuration: four
// diagnostic ping processes over 127.0.0.1, one SIGKILLed during interval 2 and restarted from its
// data directory. Checks the JSON (role, pid, restart count per process), that the final digest
// equals the same seed's run without the kill, that no process is left behind — after a normal
// end and after the devnet itself is interrupted — and that bad options fail before any work.
//
// Then the protocol devnet of issue 11 "Tests and benchmarks": 12 meters over 2 meter processes, 2
// intervals, CC, SP, the BBNP gateway, the TA service, a 12-user fleet (2 users silent per round,
// `--dropout`) and 4 consensus nodes, node-1 and the gateway SIGKILLed in round 2 and restarted
// (the gateway resumes the open round from its journal); both audits from chain events pass and
// equal the run without the kills.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import { pidAlive } from "../../offchain/node/runner.ts";
import {
  devnet,
  devnetPair,
  expectNothingLeft,
  MAIN,
  type DevnetJson,
} from "../helpers/devnet-run.ts";
import { ROOT } from "../helpers/hardhat-node.ts";

describe("e2e: gridledger devnet (separate processes on 127.0.0.1)", function () {
  this.timeout(180_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "gl-devnet-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("--smoke with --kill ping2@2: restarted from its data dir, same digest as without the kill, nothing left", async () => {
    const common = [
      "--smoke",
      "--nodes",
      "4",
      "--intervals",
      "3",
      "--seed",
      "t1",
      "--smoke-interval-ms",
      "800",
    ];
    const { killed, k, p } = await devnetPair(dir, "smoke", common, ["ping2@2"]);
    expect(k.processes.map((q) => [q.name, q.role])).to.deep.equal([
      ["ping-0", "ping"],
      ["ping-1", "ping"],
      ["ping-2", "ping"],
      ["ping-3", "ping"],
    ]);
    const restarted = k.processes.find((q) => q.name === "ping-2")!;
    expect(restarted.restarts).to.equal(1);
    expect(restarted.pids).to.have.length(2);
    expect(k.processes.filter((q) => q.name !== "ping-2").every((q) => q.restarts === 0)).to.equal(
      true,
    );
    expect(k.kills).to.have.length(1);
    expect(k.kills[0]).to.include({ process: "ping-2", step: 2, killedInStep: 2 });
    expect(k.kills[0].killedPid).to.equal(restarted.pids[0]);
    expect(k.kills[0].restartedPid).to.equal(restarted.pids[1]);
    // Same seed ⇒ same final chains, with or without the crash.
    expect(k.schemes.smoke.ok).to.equal(true);
    expect(k.schemes.smoke.digest).to.equal(p.schemes.smoke.digest);
    expect(killed.stdout).to.match(/--kill ping-2@2: SIGKILL pid \d+ in step 2, restarted/);
    // No process left behind: every pid any process ever had is gone.
    expectNothingLeft([k, p]);
    for (const q of [...k.processes, ...p.processes]) expect(q.exitCode, q.name).to.equal(0);
    expect(killed.stdout).to.match(/left running: none/);
  });

  it("another seed gives another digest", async () => {
    const r = await devnet([
      "--smoke",
      "--nodes",
      "2",
      "--intervals",
      "1",
      "--seed",
      "t2",
      "--smoke-interval-ms",
      "200",
      "--json",
      join(dir, "t2.json"),
    ]);
    expect(r.code, r.stderr).to.equal(0);
    const a = JSON.parse(readFileSync(join(dir, "t2.json"), "utf8")) as DevnetJson;
    const r3 = await devnet([
      "--smoke",
      "--nodes",
      "2",
      "--intervals",
      "1",
      "--seed",
      "t3",
      "--smoke-interval-ms",
      "200",
      "--json",
      join(dir, "t3.json"),
    ]);
    expect(r3.code, r3.stderr).to.equal(0);
    const b = JSON.parse(readFileSync(join(dir, "t3.json"), "utf8")) as DevnetJson;
    expect(a.schemes.smoke.digest).to.not.equal(b.schemes.smoke.digest);
  });

  it("SIGINT to the devnet stops every process it started (exit 130)", async () => {
    const data = join(dir, "interrupted");
    const child = spawn(
      process.execPath,
      [
        "--disable-warning=ExperimentalWarning",
        MAIN,
        "devnet",
        "--smoke",
        "--nodes",
        "3",
        "--intervals",
        "1000",
        "--smoke-interval-ms",
        "200",
        "--data-dir",
        data,
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] },
    );
    let stdout = "";
    child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
    const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const pids: number[] = [];
    const deadline = Date.now() + 60_000;
    while (pids.length < 3 && Date.now() < deadline) {
      pids.length = 0;
      for (const name of ["ping-0", "ping-1", "ping-2"]) {
        const f = join(data, name, "process.json");
        if (existsSync(f)) {
          try {
            pids.push((JSON.parse(readFileSync(f, "utf8")) as { pid: number }).pid);
          } catch {
            // being written
          }
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(pids).to.have.length(3);
    process.kill(child.pid!, "SIGINT");
    expect(await exit).to.equal(130);
    for (const pid of pids) expect(pidAlive(pid), `pid ${pid}`).to.equal(false);
    // It says so, as a finished run does.
    expect(stdout).to.match(/^SIGINT: 3 role processes stopped; left running: none$/m);
    // Its data directories stay (given with --data-dir), unlocked.
    expect(readdirSync(data).sort()).to.include.members(["ping-0", "ping-1", "ping-2"]);
    expect(existsSync(join(data, "ping-0", "LOCK"))).to.equal(false);
  });

  it("SIGTERM to a devnet on its own temporary directory removes that directory (no --keep)", async () => {
    // TMPDIR scopes os.tmpdir() in the child: its "gridledger-devnet-*" directory lands here.
    const tmp = mkdtempSync(join(dir, "tmp-"));
    const child = spawn(
      process.execPath,
      [
        "--disable-warning=ExperimentalWarning",
        MAIN,
        "devnet",
        "--smoke",
        "--nodes",
        "2",
        "--intervals",
        "1000",
        "--smoke-interval-ms",
        "200",
      ],
      { cwd: ROOT, stdio: "ignore", env: { ...process.env, TMPDIR: tmp } },
    );
    const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const deadline = Date.now() + 60_000;
    const running = () => {
      const d = readdirSync(tmp).find((n) => n.startsWith("gridledger-devnet-"));
      return d !== undefined && existsSync(join(tmp, d, "ping-1", "process.json"));
    };
    while (!running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(running(), "the devnet's processes are up").to.equal(true);
    process.kill(child.pid!, "SIGTERM");
    expect(await exit).to.equal(143);
    expect(readdirSync(tmp).filter((n) => n.startsWith("gridledger-devnet-"))).to.deep.equal([]);
  });

  it("bad options fail in one line before any work (exit 2)", async () => {
    const cases: [string[], RegExp][] = [
      [["--smoke", "--kill", "ping9@2"], /--kill ping9@2: no process "ping-9"/],
      [["--smoke", "--kill", "ping1@9", "--intervals", "2"], /the run has 2 intervals/],
      [["--smoke", "--kill", "nonsense"], /--kill must be NAME@J/],
      [["--smoke", "--loss", "1"], /--loss must be a fraction in \[0, 1\)/],
      [["--rpc", ""], /--rpc must be an http\(s\) URL/],
      [["--smoke", "--json", "/proc/none/x.json"], /--json \/proc\/none\/x\.json is not writable/],
      [["--meters", "0"], /--meters must be an integer/],
      [["--nodes", "3"], /--nodes must be an integer in \[4, 64\]/],
      [["--smoke", "--data-dir", ROOT], /--data-dir .* must be a new or empty directory/],
    ];
    const runs = await Promise.all(cases.map(([args]) => devnet(args)));
    for (const [i, [args, re]] of cases.entries()) {
      const r = runs[i];
      expect(r.code, args.join(" ")).to.equal(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).to.have.length(1);
      expect(r.stderr.split("\n")[0], args.join(" ")).to.match(re);
      expect(r.stdout).to.equal("");
    }
  });
});

describe("e2e: gridledger devnet, the protocol roles (12 meters, 2 intervals, 4 nodes)", function () {
  this.timeout(300_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "gl-devnet-protocol-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a consensus node and the gateway killed in round 2 and restarted, 2 of 12 users silent per round (TA process): audits pass, same digests as without the kills, nothing left", async () => {
    const common = [
      "--meters",
      "12",
      "--intervals",
      "2",
      "--meter-processes",
      "2",
      "--users",
      "12",
      "--rounds",
      "2",
      "--nodes",
      "4",
      "--window-ms",
      "4000",
      "--seed",
      "ci",
      "--timeout",
      "240",
      "--dropout",
      "0.17",
    ];
    // One after the other: the machine is shared and the windows are wall-clock.
    const { killed, k, p } = await devnetPair(dir, "protocol", common, ["node1@2", "gateway@2"]);
    expect(k.processes.map((q) => q.role).sort()).to.deep.equal([
      "bbnp-users",
      "cc",
      "gateway",
      "meters",
      "meters",
      "node",
      "node",
      "node",
      "node",
      "sp",
      "ta",
    ]);
    expect(k.processes.find((q) => q.name === "node-1")!.restarts).to.equal(1);
    expect(k.processes.find((q) => q.name === "gateway")!.restarts).to.equal(1);
    expect(k.kills.map((x) => x.process).sort()).to.deep.equal(["gateway", "node-1"]);
    for (const x of k.kills) expect(x).to.include({ step: 2, killedInStep: 2 });
    for (const scheme of ["oksuz", "bbnp"]) {
      expect(k.schemes[scheme].ok, scheme).to.equal(true);
      expect(k.schemes[scheme].digest, scheme).to.equal(p.schemes[scheme].digest);
    }
    expect(killed.stdout).to.match(/ledger audit from events alone .*: no mismatch/);
    // round(0.17 · 12) = 2 users silent per round: every round commits 10 reporters.
    const bbnp = (k.schemes.bbnp as unknown as { audit: { reporters: string }[] }).audit;
    expect(bbnp.map((r) => Number(r.reporters))).to.deep.equal([10, 10]);
    // The TA process answered the dropout corrections (its /health, printed by the audit).
    expect(killed.stdout).to.match(/TA service: [12] dropout correction\(s\) revealed/);
    expect(killed.stdout).to.match(/users: bills verified 24, disputed 0/);
    expectNothingLeft([k, p]);
  });

  it("a meter fleet killed in interval 2 resumes from its data dir (carry, batches): same Oksuz digest, every bill verified", async () => {
    // Regression: a restarted fleet started from carry 0 and had lost its users' batches, so the
    // killed fleet's users never verified their bills (the devnet timed out).
    const common = [
      "--scheme",
      "oksuz",
      "--meters",
      "12",
      "--intervals",
      "2",
      "--meter-processes",
      "2",
      "--window-ms",
      "12000",
      "--seed",
      "fleet",
      "--timeout",
      "180",
    ];
    const { killed, k, p } = await devnetPair(dir, "fleet", common, ["meters-0@2"]);
    expect(k.processes.find((q) => q.name === "meters-0")!.restarts).to.equal(1);
    expect(k.kills[0]).to.include({ process: "meters-0", step: 2, killedInStep: 2 });
    expect(k.schemes.oksuz.ok).to.equal(true);
    expect(k.schemes.oksuz.digest).to.equal(p.schemes.oksuz.digest);
    expect(killed.stdout).to.match(/users: bills verified 24, disputed 0/);
    expectNothingLeft([k, p]);
  });
});
