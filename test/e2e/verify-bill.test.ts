// `gridledger verify-bill` against a `hardhat node` over HTTP, on pseudonym files a real run wrote:
// `npm run demo -- --rpc URL --pseudonyms-out DIR` (6 meters, 2 intervals, relayed and direct
// mode), then every household checks its bills from its own file. Honest households verify
// (exit 0); a file whose slot value was edited, or that names another SP key, is a dispute (exit
// 1); bad input is one named line (exit 2); an unreachable node is a named chain error (exit 1).
import { execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";

import { bytesToHex, toHex0x } from "../../offchain/crypto/bytes.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import {
  formatPseudonymFile,
  parsePseudonymFile,
  PseudonymFileError,
  readPseudonymFile,
  verifyBills,
  type PseudonymFile,
} from "../../offchain/cli/verify-bill.ts";
import { DEFAULT_REPORT_SLOTS } from "../../offchain/protocol/splitting.ts";
import { USER_BATCH_SLOT_SIZE, type UserBatchSlot } from "../../offchain/protocol/user-batch.ts";
import { freePort, ROOT, startHardhatNode, stopHardhatNode } from "../helpers/hardhat-node.ts";

const run = promisify(execFile);
const METERS = 6;
const INTERVALS = 2;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a CLI script with the operator and user keys unset (dev accounts on chain 31337). */
async function node(
  script: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const base = { ...process.env };
  for (const k of ["GRIDLEDGER_ADMIN_KEY", "GRIDLEDGER_CC_KEY", "GRIDLEDGER_SP_KEY"])
    delete base[k];
  delete base.GRIDLEDGER_USER_KEY;
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", join(ROOT, script), ...args],
      { cwd: ROOT, timeout: 120_000, env: { ...base, ...env } },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const gridledger = (args: readonly string[], env?: Record<string, string>) =>
  node("offchain/cli/main.ts", args, env);

describe("gridledger verify-bill on the files of `demo --pseudonyms-out` (hardhat node)", function () {
  this.timeout(300_000);
  let child: ChildProcess | undefined;
  let url: string;
  let dir: string;
  let relayed: { ledger: string; dir: string; report: Record<string, unknown> };
  let direct: { ledger: string; dir: string };

  const writeFile = (name: string, content: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
    return path;
  };
  const household = (i: number) => join(relayed.dir, `meter-${i}.json`);
  const jsonOf = (i: number) =>
    JSON.parse(readFileSync(household(i), "utf8")) as Record<string, unknown>;
  const verifyArgs = (ledger: string, file: string, extra: string[] = []) => [
    "verify-bill",
    "--rpc",
    url,
    "--ledger",
    ledger,
    "--pseudonyms",
    file,
    ...extra,
  ];

  async function demo(name: string, extra: string[]) {
    const json = join(dir, `${name}.json`);
    const out = join(dir, name);
    const r = await node("offchain/cli/demo.ts", [
      "--rpc",
      url,
      "--meters",
      String(METERS),
      "--intervals",
      String(INTERVALS),
      "--quiet",
      "--json",
      json,
      "--pseudonyms-out",
      out,
      ...extra,
    ]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`pseudonym files of ${METERS} households written to ${out}`);
    const report = JSON.parse(readFileSync(json, "utf8")) as Record<string, unknown>;
    return { ledger: report.ledger as string, dir: out, report };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "gridledger-verify-bill-"));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = await startHardhatNode(port);
    relayed = await demo("relayed", []);
    direct = await demo("direct", ["--direct"]);
  });

  after(async () => {
    await stopHardhatNode(child);
    rmSync(dir, { recursive: true, force: true });
  });

  it("demo --pseudonyms-out: one version-2 file per household, K-slot batches per interval", () => {
    expect(readdirSync(relayed.dir).sort()).to.deep.equal(
      Array.from({ length: METERS }, (_, i) => `meter-${i}.json`).sort(),
    );
    const bases = new Set<string>();
    for (let i = 0; i < METERS; i++) {
      const json = jsonOf(i);
      expect(json.version).to.equal(2);
      expect(json).to.not.have.property("direct");
      const file = readPseudonymFile(household(i));
      expect(file.meterIndex).to.equal(i);
      expect([...file.intervals.keys()]).to.deep.equal([1, 2]); // 1-based (issue 11)
      for (const slots of file.intervals.values()) {
        expect(slots).to.have.length(DEFAULT_REPORT_SLOTS);
      }
      bases.add(bytesToHex(file.meterBasePublicKey));
      // One format, one parser: the file round-trips.
      expect(formatPseudonymFile(file)).to.deep.equal(json);
    }
    expect(bases.size).to.equal(METERS);
  });

  it("verifyBills: every household verifies, and their consumptions add up to the ledger's Σc", async () => {
    const perInterval = relayed.report.perInterval as { interval: number; aggregateWh: string }[];
    const sum = new Map<number, bigint>();
    for (let i = 0; i < METERS; i++) {
      const checks = await verifyBills({
        rpc: url,
        ledger: relayed.ledger,
        file: readPseudonymFile(household(i)),
      });
      expect(checks.map((c) => c.interval)).to.deep.equal([1, 2]);
      for (const c of checks) {
        expect(c.disputes, `meter ${i} interval ${c.interval}`).to.deep.equal([]);
        expect(c).to.deep.include({ meterIndex: i, missing: 0, verified: true });
        expect(c.slotDisputes).to.deep.equal([]);
        expect(c.postedBill).to.equal(c.expectedBill);
        sum.set(c.interval, (sum.get(c.interval) ?? 0n) + c.consumptionWh);
      }
    }
    for (const s of perInterval) expect(sum.get(s.interval)).to.equal(BigInt(s.aggregateWh));
  });

  it("exit 0 and a verified row per interval for every household's file", async () => {
    for (let i = 0; i < METERS; i++) {
      const r = await gridledger(verifyArgs(relayed.ledger, household(i)));
      expect(r.code, `meter ${i}: ${r.stderr}`).to.equal(0);
      expect(r.stdout.match(/ verified$/gm), r.stdout).to.have.length(INTERVALS);
      expect(r.stdout).to.not.match(/DISPUTED/);
    }
    const one = await gridledger(verifyArgs(relayed.ledger, household(0), ["--interval", "2"]));
    expect(one.code, one.stderr).to.equal(0);
    expect(one.stdout).to.match(/\n\s*2\s+\d+\s+0\s+.*verified/);
    expect(one.stdout.match(/ verified$/gm)).to.have.length(1);
  });

  // Threat: a household edits its own file (lowers a chunk) hoping to dispute CC. The user module
  // compares each slot with the ledger, so the edited slot is a value-altered dispute (exit 1),
  // but the bill still follows the ledger, and the evidence fails checkSlotDispute: the edited
  // slot no longer carries the meter's signature under B_i + t·G, so no third party believes it.
  it("a slot value edited in the file: value-altered dispute whose evidence does not hold, exit 1", async () => {
    const file = readPseudonymFile(household(2));
    const slots = file.intervals.get(1)!;
    const k = slots.findIndex((s) => s.entry.value > 0n);
    expect(k).to.be.at.least(0);
    const edited: UserBatchSlot[] = slots.map((s, n) =>
      n === k ? { ...s, entry: { ...s.entry, value: s.entry.value + 1n } } : s,
    );
    const tampered: PseudonymFile = {
      ...file,
      intervals: new Map([...file.intervals, [1, edited]]),
    };
    const honest = (await verifyBills({ rpc: url, ledger: relayed.ledger, file, interval: 1 }))[0];
    const [check] = await verifyBills({
      rpc: url,
      ledger: relayed.ledger,
      file: tampered,
      interval: 1,
    });
    const pseudonym = bytesToHex(slots[k].entry.id);
    expect(check.verified).to.equal(false);
    expect(check.disputes).to.deep.equal([`slot ${pseudonym.slice(0, 12)}…: value-altered`]);
    expect(check.slotDisputes.map((d) => [d.pseudonym, d.reason])).to.deep.equal([
      [pseudonym, "value-altered"],
    ]);
    expect(check.evidenceHolds).to.deep.equal([false]);
    expect(check.entries).to.equal(honest.entries - 1);
    expect(check.missing).to.equal(0);
    expect(check.consumptionWh).to.equal(honest.consumptionWh);
    expect(check.postedBill).to.equal(check.expectedBill);

    const path = writeFile("edited.json", formatPseudonymFile(tampered));
    const r = await gridledger(verifyArgs(relayed.ledger, path, ["--interval", "1"]));
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout).to.match(/DISPUTED/);
    expect(r.stdout).to.include(`interval 1: slot ${pseudonym.slice(0, 12)}…: value-altered`);
    expect(r.stdout).to.include(
      `interval 1: slot ${pseudonym.slice(0, 12)}… value-altered: evidence does NOT hold`,
    );
  });

  it("a file naming another SP signing key: DAP dispute, exit 1", async () => {
    const path = writeFile("wrong-sp.json", {
      ...jsonOf(1),
      spSigPk: toHex0x(secp.mulBase(12345n, true)),
    });
    const r = await gridledger(verifyArgs(relayed.ledger, path));
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout.match(/DISPUTED$/gm)).to.have.length(INTERVALS);
    expect(r.stdout).to.match(/interval 1: DAP entry not signed by the registered SP key/);
    expect(r.stdout).to.match(/interval 2: DAP entry not signed by the registered SP key/);
  });

  it("direct mode: the file carries pk_SP, the user's key comes from GRIDLEDGER_USER_KEY", async () => {
    const file = join(direct.dir, "meter-3.json");
    const keyPath = join(direct.dir, "meter-3.key");
    expect(statSync(keyPath).mode & 0o777).to.equal(0o600);
    const json = JSON.parse(readFileSync(file, "utf8")) as {
      direct?: { spPublicKey: string; userPublicKey: string };
    };
    expect(json.direct?.spPublicKey).to.match(/^0x0[23][0-9a-f]{64}$/);
    expect(json.direct?.userPublicKey).to.match(/^0x0[23][0-9a-f]{64}$/);
    const key = readFileSync(keyPath, "utf8").trim();
    expect(key).to.match(/^0x[0-9a-f]{64}$/);
    const ok = await gridledger(verifyArgs(direct.ledger, file), { GRIDLEDGER_USER_KEY: key });
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout.match(/ verified$/gm)).to.have.length(INTERVALS);
    const noKey = await gridledger(verifyArgs(direct.ledger, file));
    expect(noKey.code).to.equal(2);
    expect(noKey.stderr.trim()).to.match(
      /^gridledger verify-bill: VerifyBillOptionError: direct mode: GRIDLEDGER_USER_KEY must hold/,
    );
    // Regression (last session's review): meter 2's household key against meter 3's file found
    // household 2's DAP entry (same price) and printed "verified" for a bill it never checked.
    const otherKey = readFileSync(join(direct.dir, "meter-2.key"), "utf8").trim();
    expect(otherKey).to.not.equal(key);
    const wrongKey = await gridledger(verifyArgs(direct.ledger, file), {
      GRIDLEDGER_USER_KEY: otherKey,
    });
    expect(wrongKey.code, wrongKey.stdout).to.equal(2);
    expect(wrongKey.stderr.trim()).to.match(
      /^gridledger verify-bill: VerifyBillOptionError: GRIDLEDGER_USER_KEY is not this household's key/,
    );
    expect(wrongKey.stdout).to.not.match(/verified/);
  });

  it("bad input: one named line, exit 2", async () => {
    const good = jsonOf(0);
    const batch0 = (good.intervals as Record<string, string>)["1"];
    const withBatch = (name: string, hex: string) =>
      writeFile(name, { ...good, intervals: { 1: hex } });
    const cases: [string[], RegExp][] = [
      [["--ledger", "0x1234"], /VerifyBillOptionError: --ledger must be an address/],
      // Well-formed addresses that hold no BillingLedger (newcomer trial: an ethers stack trace).
      [
        ["--ledger", "0x" + "00".repeat(19) + "01"],
        /VerifyBillOptionError: --ledger 0x0+1: no contract at this address/,
      ],
      [
        ["--ledger", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"], // a wallet (dev account 0)
        /VerifyBillOptionError: --ledger 0xf39F.*: no contract at this address/,
      ],
      [["--rpc", ""], /VerifyBillOptionError: --rpc must not be empty/],
      [["--interval", "x"], /VerifyBillOptionError: --interval must be a u32, got "x"/],
      [["--interval", "9"], /VerifyBillOptionError: --interval 9 is not in the pseudonym file/],
      [["--pseudonyms", join(dir, "nope.json")], /PseudonymFileError: cannot read .*nope\.json/],
      [["--pseudonyms", writeFile("bad.json", "{not json")], /PseudonymFileError: .*not JSON/],
      [
        ["--pseudonyms", writeFile("v1.json", { ...good, version: 1 })],
        /PseudonymFileError: .*version must be 2/,
      ],
      [
        ["--pseudonyms", writeFile("extra.json", { ...good, pseudonyms: [] })],
        /PseudonymFileError: .*unknown field "pseudonyms"/,
      ],
      [
        ["--pseudonyms", withBatch("short.json", batch0.slice(0, -2))],
        new RegExp(
          `PseudonymFileError: .*intervals\\.1 must be 0x \\+ a user batch of K × ${USER_BATCH_SLOT_SIZE} bytes`,
        ),
      ],
      [
        ["--pseudonyms", withBatch("nothex.json", "0x" + "zz".repeat(USER_BATCH_SLOT_SIZE))],
        /PseudonymFileError: .*intervals\.1 must be 0x \+ 340 hex digits/,
      ],
      [
        // A well-sized batch whose first slot has report version 0x09.
        ["--pseudonyms", withBatch("version.json", "0x09" + batch0.slice(4))],
        /PseudonymFileError: .*intervals\.1: decodeMeterReport: unknown version 9/,
      ],
      [
        ["--pseudonyms", writeFile("moved.json", { ...good, intervals: { 2: batch0 } })],
        /PseudonymFileError: .*intervals\.2 holds an entry of interval 1/,
      ],
    ];
    for (const [override, expected] of cases) {
      const opts: Record<string, string> = {
        "--rpc": url,
        "--ledger": relayed.ledger,
        "--pseudonyms": household(0),
      };
      for (let i = 0; i < override.length; i += 2) opts[override[i]] = override[i + 1];
      const r = await gridledger(["verify-bill", ...Object.entries(opts).flat()]);
      expect(r.code, `${override.join(" ")}: ${r.stderr}`).to.equal(2);
      const lines = r.stderr.trim().split("\n");
      expect(lines.length, r.stderr).to.equal(1);
      expect(lines[0]).to.match(expected);
    }
  });

  it("an unreachable node is a named chain error, exit 1", async () => {
    const port = await freePort();
    const r = await gridledger([
      "verify-bill",
      "--rpc",
      `http://127.0.0.1:${port}`,
      "--ledger",
      relayed.ledger,
      "--pseudonyms",
      household(0),
    ]);
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split("\n")).to.have.length(1);
    expect(r.stderr).to.match(/^gridledger verify-bill: ChainUnreachableError/);
  });

  it("demo refuses an unwritable --pseudonyms-out, or one without --rpc, before the run, exit 2", async () => {
    const blocker = writeFile("a-file", "x");
    const embedded = await node("offchain/cli/demo.ts", [
      "--quiet",
      "--pseudonyms-out",
      join(dir, "embedded"),
    ]);
    expect(embedded.code).to.equal(2);
    expect(embedded.stderr).to.match(/^demo: --pseudonyms-out needs --rpc/);
    expect(embedded.stdout).to.equal("");
    const r = await node("offchain/cli/demo.ts", [
      "--rpc",
      url,
      "--meters",
      "5",
      "--intervals",
      "1",
      "--quiet",
      "--pseudonyms-out",
      join(blocker, "sub"),
    ]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(
      /^demo: --pseudonyms-out .*a-file\/sub is not a writable directory: ENOTDIR/,
    );
    expect(r.stdout).to.equal("");
  });

  it("parsePseudonymFile refuses a pseudonym listed twice and a non-u32 interval", () => {
    const good = jsonOf(0);
    const batch0 = (good.intervals as Record<string, string>)["1"];
    expect(() =>
      parsePseudonymFile({ ...good, intervals: { 1: batch0 + batch0.slice(2) } }),
    ).to.throw(PseudonymFileError, /listed twice/);
    expect(() => parsePseudonymFile({ ...good, intervals: { "-1": batch0 } })).to.throw(
      PseudonymFileError,
      /not a u32/,
    );
    expect(() => parsePseudonymFile({ ...good, intervals: {} })).to.throw(
      PseudonymFileError,
      /no intervals/,
    );
    expect(() =>
      parsePseudonymFile({ ...good, meterBasePublicKey: "0x04" + "00".repeat(32) }),
    ).to.throw(PseudonymFileError, /meterBasePublicKey must be a compressed key/);
    // Direct mode names the household: a file without its pk_U is refused, not guessed.
    const spPublicKey = good.spSigPk;
    expect(() => parsePseudonymFile({ ...good, direct: { spPublicKey } })).to.throw(
      PseudonymFileError,
      /direct\.userPublicKey must be 0x \+ 66 hex digits/,
    );
    const withBoth = { ...good, direct: { spPublicKey, userPublicKey: spPublicKey } };
    expect(parsePseudonymFile(withBoth).direct?.userPublicKey).to.have.length(33);
  });
});
