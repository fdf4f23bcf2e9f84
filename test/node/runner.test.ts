// The runner (offchain/node/runner.ts) as real processes running the test role
// (test/helpers/ping-role.ts) through the CLI's service command: config validation before any
// work, the data-directory lock, key files sealed with the operator key, /health, signals.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import {
  DataDirLockedError,
  LossyTransport,
  ServiceSecretError,
  lockDataDir,
  operatorKey,
  parseRunnerConfig,
  pidAlive,
  writeSecrets,
} from "../../offchain/node/runner.ts";
import { ServiceConfigError } from "../../offchain/node/service.ts";
import { bbnpSetup } from "../../offchain/node/roles/bbnp-setup.ts";
import { VirtualClock } from "../../offchain/runtime/clock.ts";
import { MemoryNetwork } from "../../offchain/runtime/network.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { fetchHealth } from "../../offchain/node/supervisor.ts";
import { freePort, ROOT } from "../helpers/hardhat-node.ts";
import { PING_MAIN, TEST_OPERATOR_KEY, writePingConfig } from "../helpers/ping-fixture.ts";

const NODE_ARGS = ["--disable-warning=ExperimentalWarning", PING_MAIN, "ping"];

function runSync(config: string, dataDir: string, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...NODE_ARGS, "--config", config, "--data-dir", dataDir], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, ...env },
  });
}

async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function processFile(dataDir: string): { pid: number; healthUrl: string } | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, "process.json"), "utf8"));
  } catch {
    return undefined;
  }
}

describe("node/runner", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "gl-runner-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe("parseRunnerConfig", () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ name: "a b" }, /^name:/],
      [{ healthPort: 70000 }, /^healthPort:/],
      [{ healthPort: 1.5 }, /^healthPort:/],
      [{ addressBook: { cc: "localhost" } }, /^addressBook: cc/],
      [{ addressBook: [] }, /^addressBook:/],
      [{ chain: { rpcUrl: "" } }, /^chain\.rpcUrl:/],
      [{ chain: { rpcUrl: "ws://x" } }, /^chain\.rpcUrl:/],
      [{ chain: { contracts: { BillingLedger: "0x12" } } }, /^chain\.contracts\.BillingLedger:/],
      [{ seed: 5 }, /^seed:/],
      [{ logLevel: "loud" }, /^logLevel:/],
      [{ exitWhenDone: "yes" }, /^exitWhenDone:/],
    ];
    for (const [raw, re] of bad) {
      it(`rejects ${JSON.stringify(raw)} naming the field`, () => {
        expect(() => parseRunnerConfig(raw, "cc"))
          .to.throw(ServiceConfigError)
          .with.property("message")
          .that.matches(re);
      });
    }
    it("defaults: name = role, port 0, info, empty book and contracts", () => {
      const c = parseRunnerConfig({}, "cc");
      expect(c.name).to.equal("cc");
      expect(c.healthPort).to.equal(0);
      expect(c.logLevel).to.equal("info");
      expect(c.addressBook.toJSON()).to.deep.equal({});
      expect(c.chain).to.deep.equal({ contracts: {} });
      expect(c.exitWhenDone).to.equal(false);
    });
  });

  it("operatorKey: ≥ 32 hex bytes are a key, anything else a passphrase, empty is unset", () => {
    expect(operatorKey(TEST_OPERATOR_KEY)).to.have.property("key").with.length(32);
    expect(operatorKey("0x" + TEST_OPERATOR_KEY))
      .to.have.property("key")
      .with.length(32);
    expect(operatorKey("correct horse")).to.deep.equal({ passphrase: "correct horse" });
    expect(operatorKey("")).to.equal(undefined);
    expect(operatorKey(undefined)).to.equal(undefined);
  });

  it("LossyTransport drops about a fraction `loss` of sends, counts them, delivers the rest", async () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork({}, { clock, rng: createRng("net") });
    const a = new LossyTransport(net.endpoint("a"), 0.2, createRng("loss"));
    const b = net.endpoint("b");
    let got = 0;
    b.handle(() => void got++);
    a.start();
    b.start();
    for (let i = 0; i < 2000; i++) a.send("b", new Uint8Array([1]));
    clock.runUntilIdle();
    expect(got + a.dropped).to.equal(2000);
    expect(a.dropped).to.be.within(320, 480); // 400 ± 4σ (σ ≈ 17.9)
    const none = new LossyTransport(net.endpoint("c"), 0, createRng("loss"));
    none.start();
    for (let i = 0; i < 100; i++) none.send("b", new Uint8Array([1]));
    clock.runUntilIdle();
    expect(none.dropped).to.equal(0);
  });

  it("lockDataDir: refuses a live holder, takes over a dead one's lock, releases only its own", () => {
    const release = lockDataDir(dir);
    expect(() => lockDataDir(dir, process.pid + 1)).to.throw(
      DataDirLockedError,
      /in use by process/,
    );
    release();
    expect(existsSync(join(dir, "LOCK"))).to.equal(false);
    // A lock left by a process that no longer exists (SIGKILL) is stale.
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    expect(pidAlive(dead)).to.equal(false);
    writeFileSync(join(dir, "LOCK"), `${dead}\n`);
    const release2 = lockDataDir(dir);
    expect(readFileSync(join(dir, "LOCK"), "utf8").trim()).to.equal(String(process.pid));
    release2();
  });

  it("a bad config file is one line naming the field, exit 2, and creates nothing", () => {
    const cfg = join(dir, "bad.toml");
    writeFileSync(cfg, 'address = "a"\nhealthPort = -1\n');
    const data = join(dir, "data");
    const r = runSync(cfg, data);
    expect(r.status).to.equal(2);
    expect(r.stderr.trim().split("\n")).to.have.length(1);
    expect(r.stderr).to.match(/bad\.toml: healthPort: expected an integer/);
    expect(existsSync(data)).to.equal(false);
    // The role's own fields too.
    writeFileSync(cfg, "intervals = 3\n");
    const r2 = runSync(cfg, data);
    expect(r2.status).to.equal(2);
    expect(r2.stderr).to.match(/bad\.toml: address: expected a non-empty string/);
    // Unparsable TOML, and a file that does not exist.
    writeFileSync(cfg, "address = \n");
    expect(runSync(cfg, data).stderr).to.match(/bad\.toml: not valid TOML/);
    expect(runSync(join(dir, "none.toml"), data).status).to.equal(2);
  });

  it("a role config without the chain it needs names the file and the field, exit 2, creates nothing", () => {
    // Regression: the gateway failed in `create` ("gateway: chain.rpcUrl is required", no file
    // named) after the data directory had been created.
    const setup = bbnpSetup({ seed: "no-chain", users: 4, nodes: 0, rounds: 1 });
    const gateway = setup.processes.find((p) => p.role === "gateway")!;
    const cfg = join(dir, "gateway.json");
    writeFileSync(cfg, JSON.stringify({ ...gateway.config, name: "gateway" }));
    const data = join(dir, "gw-data");
    const main = join(ROOT, "offchain", "cli", "main.ts");
    const run = (file: string) =>
      spawnSync(
        process.execPath,
        [
          "--disable-warning=ExperimentalWarning",
          main,
          "gateway",
          "--config",
          file,
          "--data-dir",
          data,
        ],
        { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
      );
    const r = run(cfg);
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr.trim().split("\n")).to.have.length(1);
    expect(r.stderr).to.match(/gateway\.json: chain\.rpcUrl: required by the gateway role/);
    expect(existsSync(data)).to.equal(false);
    // With the URL but not the contract: the contract's field.
    writeFileSync(
      cfg,
      JSON.stringify({ ...gateway.config, chain: { rpcUrl: "http://127.0.0.1:1" } }),
    );
    const r2 = run(cfg);
    expect(r2.status, r2.stderr).to.equal(2);
    expect(r2.stderr).to.match(
      /gateway\.json: chain\.contracts\.AggregationLedger: required by the gateway role/,
    );
    expect(existsSync(data)).to.equal(false);
  });

  it("a start failure is one line and exit 1; the lock is released", async () => {
    const book = { a: `127.0.0.1:${await freePort()}` };
    const cfg = writePingConfig(dir, "a", { address: "a", addressBook: book, failStart: true });
    const data = join(dir, "data");
    const r = runSync(cfg, data);
    expect(r.status).to.equal(1);
    expect(r.stderr.trim()).to.equal("ping-main ping: ping: failing on purpose");
    expect(existsSync(join(data, "LOCK"))).to.equal(false);
    // This process's address missing from the address book: named.
    const cfg2 = writePingConfig(dir, "b", { address: "b", addressBook: book });
    const r2 = runSync(cfg2, data);
    expect(r2.status).to.equal(2);
    expect(r2.stderr).to.match(/addressBook: no entry for this process's address "b"/);
  });

  it("key files: sealed with the operator key; a wrong or missing key fails the start in one line", async () => {
    const data = join(dir, "data");
    const token = new TextEncoder().encode("very-secret-token-value");
    writeSecrets(data, { token }, TEST_OPERATOR_KEY);
    // Sealed at rest: the value's bytes appear nowhere in the data directory's files.
    for (const f of readdirSync(data)) {
      expect(readFileSync(join(data, f)).includes(Buffer.from(token)), f).to.equal(false);
    }
    expect(() => writeSecrets(data, { x: new Uint8Array(1) }, "22".repeat(32))).to.throw(
      ServiceSecretError,
      /wrong passphrase or key/,
    );
    const book = { a: `127.0.0.1:${await freePort()}` };
    const cfg = writePingConfig(dir, "a", {
      address: "a",
      addressBook: book,
      secret: "token",
      intervals: 1,
      exitWhenDone: true,
    });
    const ok = runSync(cfg, data, { GRIDLEDGER_OPERATOR_KEY: TEST_OPERATOR_KEY });
    expect(ok.status, ok.stderr).to.equal(0);
    const wrong = runSync(cfg, data, { GRIDLEDGER_OPERATOR_KEY: "33".repeat(32) });
    expect(wrong.status).to.equal(1);
    expect(wrong.stderr.trim()).to.match(
      /^ping-main ping: keys\.sqlite: .*wrong passphrase or key$/,
    );
    const missing = runSync(cfg, data, { GRIDLEDGER_OPERATOR_KEY: "" });
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.match(/GRIDLEDGER_OPERATOR_KEY is not set/);
    // A secret the data dir does not hold.
    const cfg2 = writePingConfig(dir, "a", { address: "a", addressBook: book, secret: "other" });
    const absent = runSync(cfg2, data, { GRIDLEDGER_OPERATOR_KEY: TEST_OPERATOR_KEY });
    expect(absent.status).to.equal(1);
    expect(absent.stderr).to.match(/secret "other" is missing/);
  });

  it("serves /health, locks its data dir, stops on SIGTERM (exit 0) and resumes from its store", async () => {
    const book = { a: `127.0.0.1:${await freePort()}`, b: `127.0.0.1:${await freePort()}` };
    const data = { a: join(dir, "da"), b: join(dir, "db") };
    const start = (n: "a" | "b", extra: Record<string, unknown> = {}) => {
      const cfg = writePingConfig(dir, n, {
        address: n,
        peers: [n === "a" ? "b" : "a"],
        intervals: 1000,
        intervalMs: 50,
        addressBook: book,
        ...extra,
      });
      const child = spawn(
        process.execPath,
        [...NODE_ARGS, "--config", cfg, "--data-dir", data[n]],
        {
          cwd: ROOT,
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      return { child, exit };
    };
    const a = start("a");
    const b = start("b");
    try {
      const pa = await waitFor("a's process.json", () => processFile(data.a));
      expect(pa.pid).to.equal(a.child.pid);
      const h = await waitFor("a pongs", async () => {
        const doc = await fetchHealth(pa.healthUrl);
        return doc !== undefined && (doc.status.pongs as number) > 2 ? doc : undefined;
      });
      expect(h).to.include({
        role: "ping",
        name: "a",
        pid: a.child.pid,
        restarts: 0,
        state: "running",
      });
      // A second process on the same data directory is refused.
      const cfgA = join(dir, "a.json");
      const second = runSync(cfgA, data.a);
      expect(second.status).to.equal(1);
      expect(second.stderr).to.match(new RegExp(`in use by process ${a.child.pid}`));
      // SIGTERM: clean stop, exit 0, lock and process.json gone.
      process.kill(a.child.pid!, "SIGTERM");
      expect(await a.exit).to.equal(0);
      expect(existsSync(join(data.a, "LOCK"))).to.equal(false);
      expect(existsSync(join(data.a, "process.json"))).to.equal(false);
      const stoppedAt = (h.status.interval as number) ?? 0;
      // Restart from the same data dir: the counter resumes (never below where it was).
      const a2 = start("a");
      try {
        const pa2 = await waitFor("a2's process.json", () => {
          const p = processFile(data.a);
          return p?.pid === a2.child.pid ? p : undefined;
        });
        const h2 = await waitFor("a2 health", () => fetchHealth(pa2.healthUrl));
        expect(h2.status.interval as number).to.be.at.least(stoppedAt);
        // The log file is per process and appended across runs.
        const log = readFileSync(join(data.a, "a.log"), "utf8");
        expect(log.match(/INFO {2}\[a\] started/g)).to.have.length(2);
      } finally {
        a2.child.kill("SIGKILL");
        await a2.exit;
      }
    } finally {
      a.child.kill("SIGKILL");
      b.child.kill("SIGKILL");
      await Promise.all([a.exit, b.exit]);
    }
  });

  it("a signal while the service starts stops it cleanly once started (exit 0), not by Node's default", async () => {
    // The handlers are installed before the start: a supervisor may signal as soon as it sees
    // the process (before the fix a SIGTERM during start killed it without a clean stop).
    const book = { a: `127.0.0.1:${await freePort()}` };
    const marker = join(dir, "starting-marker");
    const cfg = writePingConfig(dir, "a", {
      address: "a",
      addressBook: book,
      startMarker: marker,
      startDelayMs: 1_500,
    });
    const data = join(dir, "data-early-signal");
    const child = spawn(process.execPath, [...NODE_ARGS, "--config", cfg, "--data-dir", data], {
      cwd: ROOT,
      stdio: "ignore",
    });
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.once("exit", (code, signal) => r({ code, signal })),
    );
    try {
      await waitFor("the start marker", () => (existsSync(marker) ? true : undefined));
      expect(existsSync(join(data, "process.json")), "still starting").to.equal(false);
      process.kill(child.pid!, "SIGTERM");
      expect(await exit).to.deep.equal({ code: 0, signal: null });
      const log = readFileSync(join(data, "a.log"), "utf8");
      expect(log).to.match(/shutting down.*SIGTERM/);
      expect(existsSync(join(data, "process.json")), "removed by the clean stop").to.equal(false);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("a second signal exits at once when stop() hangs", async () => {
    const book = { a: `127.0.0.1:${await freePort()}` };
    const cfg = writePingConfig(dir, "a", { address: "a", addressBook: book, hangOnStop: true });
    const data = join(dir, "data");
    const child = spawn(process.execPath, [...NODE_ARGS, "--config", cfg, "--data-dir", data], {
      cwd: ROOT,
      stdio: "ignore",
    });
    const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    await waitFor("process.json", () => processFile(data));
    process.kill(child.pid!, "SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    expect(pidAlive(child.pid!)).to.equal(true); // stop() hangs
    process.kill(child.pid!, "SIGTERM");
    expect(await exit).to.equal(143);
  });
});
