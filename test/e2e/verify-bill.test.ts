// `gridledger verify-bill` against a `hardhat node` over HTTP: an honest interval verifies (exit 0),
// a pseudonym the ledger lacks and a wrong SP key are disputes (exit 1), bad input is one named line
// (exit 2), and an unreachable node is a named chain error (exit 1).
import { execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";
import { HDNodeWallet, JsonRpcProvider } from "ethers";

import {
  closeBilling,
  openInterval,
  postBills,
  postDap,
  postOcdBatch,
  readDomain,
  sealInterval,
} from "../../offchain/chain/billing.ts";
import { deployBillingLedger } from "../../offchain/chain/deploy.ts";
import { toHex0x } from "../../offchain/crypto/bytes.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import {
  parsePseudonymFile,
  PseudonymFileError,
  verifyBills,
} from "../../offchain/cli/verify-bill.ts";
import {
  billsFor,
  CATEGORY_VALUES,
  CC_PK_SK,
  CC_SIG_SK,
  expectedPrice,
  makeDap,
  makeOcdEntries,
  signBatches,
  SP_PK_SK,
  SP_SIG_SK,
  TARIFF,
  WINDOW_END,
  WINDOW_START,
} from "../ledger/fixtures.ts";
import { freePort, ROOT, startHardhatNode, stopHardhatNode } from "../helpers/hardhat-node.ts";

const run = promisify(execFile);
const DEV_MNEMONIC = "test test test test test test test test test test test junk";

async function gridledger(args: readonly string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", join(ROOT, "offchain/cli/main.ts"), ...args],
      { cwd: ROOT, timeout: 120_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("gridledger verify-bill (HTTP JSON-RPC, hardhat node)", function () {
  this.timeout(300_000);
  let node: ChildProcess | undefined;
  let provider: JsonRpcProvider | undefined;
  let url: string;
  let dir: string;
  let ledgerAddress: string;
  let mine: string[];
  const spSigPk = toHex0x(secp.mulBase(SP_SIG_SK, true));

  const writeFile = (name: string, content: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
    return path;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "gridledger-verify-bill-"));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    node = await startHardhatNode(port);
    provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
    const wallet = (i: number) =>
      HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider!);
    const [admin, cc, sp] = [wallet(0), wallet(1), wallet(2)];
    const { ledger, address } = await deployBillingLedger(
      { admin, controlCenter: cc, serviceProvider: sp },
      {
        tariff: TARIFF,
        categories: CATEGORY_VALUES,
        serviceProvider: {
          publicKey: secp.mulBase(SP_PK_SK, true),
          sigPublicKey: secp.mulBase(SP_SIG_SK, true),
        },
        controlCenter: {
          publicKey: secp.mulBase(CC_PK_SK, true),
          sigPublicKey: secp.mulBase(CC_SIG_SK, true),
        },
      },
    );
    ledgerAddress = address;
    const domain = await readDomain(ledger);
    const asCc = ledger.connect(cc) as typeof ledger;
    // One complete interval: 6 entries, priced, billed in 2 SP-signed batches, closed.
    await openInterval(asCc, 1, WINDOW_START, WINDOW_END);
    const ocd = makeOcdEntries(domain, 1, 6);
    await postOcdBatch(asCc, 1, ocd);
    await sealInterval(asCc, 1);
    const price = expectedPrice(ocd);
    await postDap(asCc, 1, [makeDap(domain, 1, price)]);
    // Relayed mode: CC carries SP's signed batches to the chain (DESIGN §4.4).
    for (const batch of signBatches(domain, billsFor(ocd, price), 4)) await postBills(asCc, batch);
    await closeBilling(asCc, 1);
    // This household's meter produced entries 1, 3 and 4.
    mine = [1, 3, 4].map((k) => toHex0x(ocd[k].id));
  });

  after(async () => {
    provider?.destroy();
    await stopHardhatNode(node);
    rmSync(dir, { recursive: true, force: true });
  });

  it("verifyBills: the user's entries, consumption and bill match the ledger", async () => {
    const file = parsePseudonymFile({ version: 1, meterIndex: 7, spSigPk, intervals: { 1: mine } });
    const [check] = await verifyBills({ rpc: url, ledger: ledgerAddress, file });
    expect(check.disputes).to.deep.equal([]);
    expect(check).to.deep.include({ interval: 1, entries: 3, missing: 0, verified: true });
    expect(check.postedBill).to.equal(check.expectedBill);
    expect(check.expectedBill > 0n).to.equal(true);
  });

  it("exit 0 and a verified row for honest bills", async () => {
    const path = writeFile("ok.json", {
      version: 1,
      meterIndex: 7,
      spSigPk,
      intervals: { 1: mine },
    });
    const r = await gridledger([
      "verify-bill",
      "--rpc",
      url,
      "--ledger",
      ledgerAddress,
      "--pseudonyms",
      path,
      "--interval",
      "1",
    ]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/\n\s*1\s+3\s+0\s+.*verified/);
  });

  it("exit 1 with the dispute named when a pseudonym is missing from the ledger", async () => {
    const path = writeFile("missing.json", {
      version: 1,
      meterIndex: 7,
      spSigPk,
      intervals: { 1: [...mine, "0x" + "ab".repeat(32)] },
    });
    const r = await gridledger([
      "verify-bill",
      "--rpc",
      url,
      "--ledger",
      ledgerAddress,
      "--pseudonyms",
      path,
    ]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/DISPUTED/);
    expect(r.stdout).to.match(/1 of my reports are missing from the OCD ledger/);
  });

  it("exit 1 when the bills are not signed by the SP key the user holds", async () => {
    const other = toHex0x(secp.mulBase(12345n, true));
    const path = writeFile("wrong-sp.json", {
      version: 1,
      meterIndex: 7,
      spSigPk: other,
      intervals: { 1: mine },
    });
    const r = await gridledger([
      "verify-bill",
      "--rpc",
      url,
      "--ledger",
      ledgerAddress,
      "--pseudonyms",
      path,
    ]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/DAP entry not signed by the registered SP key/);
  });

  it("bad input: one named line, exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["--ledger", "0x1234"], /VerifyBillOptionError: --ledger must be an address/],
      [["--rpc", ""], /VerifyBillOptionError: --rpc must not be empty/],
      [["--interval", "x"], /VerifyBillOptionError: --interval must be a u32/],
      [["--interval", "9"], /VerifyBillOptionError: --interval 9 is not in the pseudonym file/],
      [["--pseudonyms", join(dir, "nope.json")], /PseudonymFileError: cannot read/],
      [["--pseudonyms", writeFile("bad.json", "{not json")], /PseudonymFileError: .*not JSON/],
      [
        [
          "--pseudonyms",
          writeFile("short.json", {
            version: 1,
            meterIndex: 0,
            spSigPk,
            intervals: { 1: ["0x12"] },
          }),
        ],
        /PseudonymFileError: .*intervals\.1\[0\] must be 0x \+ 64 hex digits/,
      ],
    ];
    const good = writeFile("good.json", {
      version: 1,
      meterIndex: 7,
      spSigPk,
      intervals: { 1: mine },
    });
    for (const [override, expected] of cases) {
      const opts: Record<string, string> = {
        "--rpc": url,
        "--ledger": ledgerAddress,
        "--pseudonyms": good,
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
    const path = writeFile("ok2.json", {
      version: 1,
      meterIndex: 7,
      spSigPk,
      intervals: { 1: mine },
    });
    const r = await gridledger([
      "verify-bill",
      "--rpc",
      `http://127.0.0.1:${port}`,
      "--ledger",
      ledgerAddress,
      "--pseudonyms",
      path,
    ]);
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split("\n")).to.have.length(1);
    expect(r.stderr).to.match(/ChainUnreachableError/);
  });

  it("parsePseudonymFile refuses duplicates, unknown fields and a wrong version", () => {
    const base = { version: 1, meterIndex: 0, spSigPk, intervals: { 1: mine } };
    expect(() => parsePseudonymFile({ ...base, version: 2 })).to.throw(
      PseudonymFileError,
      /version/,
    );
    expect(() => parsePseudonymFile({ ...base, extra: 1 })).to.throw(
      PseudonymFileError,
      /unknown field/,
    );
    expect(() => parsePseudonymFile({ ...base, intervals: { 1: mine, 2: [mine[0]] } })).to.throw(
      PseudonymFileError,
      /listed twice/,
    );
    expect(() => parsePseudonymFile({ ...base, intervals: { "-1": [] } })).to.throw(
      PseudonymFileError,
      /not a u32/,
    );
    expect(() => parsePseudonymFile({ ...base, spSigPk: "0x04" + "00".repeat(32) })).to.throw(
      PseudonymFileError,
      /compressed/,
    );
  });
});
