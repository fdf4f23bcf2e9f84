// `npm run demo`: GridLedger's main job. Runs the Oksuz scheme end to end for a small city on the
// embedded in-process chain (or any JSON-RPC URL) and prints a summary per interval.
//
//   npm run demo -- [--meters N] [--intervals J] [--seed S] [--rpc URL] [--json FILE]
//                   [--direct] [--attack NAME] [--loss P] [--crash J:admission|J:posting] [--quiet]
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { JsonRpcProvider, Wallet, type Signer } from "ethers";

import {
  ATTACKS,
  runOksuz,
  type AttackName,
  type ChainAccess,
  type OksuzReport,
} from "../sim/oksuz.ts";
import { REJECT_REASONS } from "../cc/control-center.ts";

const USAGE = `usage: npm run demo -- [options]
  --meters N        smart meters (each also an onion relay), default 50, at least 5
  --intervals J     billing intervals of one hour, default 4
  --seed S          seed of every random choice (keys, load, network), default "gridledger"
  --rpc URL         a JSON-RPC chain instead of the embedded one (e.g. http://127.0.0.1:8545 for
                    \`npx hardhat node\`); accounts 0,1,2 act as admin, CC and SP unless
                    GRIDLEDGER_ADMIN_KEY, GRIDLEDGER_CC_KEY, GRIDLEDGER_SP_KEY give private keys
  --json FILE       write the full report as JSON
  --direct          Oksuz §6 mode: SP publishes prices and bills itself
  --attack NAME     inject an adversary: ${ATTACKS.join(", ")}
  --loss P          packet loss probability on every link (0 ≤ P < 1), default 0
  --crash J:PHASE   kill CC in interval J during "admission" or "posting" and restart it
  --quiet           no progress lines`;

function fail(message: string): never {
  console.error(`demo: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function positiveInt(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    fail(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

let values: ReturnType<typeof parse>["values"];
function parse() {
  return parseArgs({
    options: {
      meters: { type: "string" },
      intervals: { type: "string" },
      seed: { type: "string" },
      rpc: { type: "string" },
      json: { type: "string" },
      direct: { type: "boolean", default: false },
      attack: { type: "string" },
      loss: { type: "string" },
      crash: { type: "string" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
}
try {
  values = parse().values;
} catch (err) {
  fail((err as Error).message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const meters = positiveInt(values.meters, "meters", 50, 5);
const intervals = positiveInt(values.intervals, "intervals", 4);
const seed = values.seed ?? "gridledger";
if (values.attack !== undefined && !ATTACKS.includes(values.attack as AttackName)) {
  fail(`unknown attack "${values.attack}"; one of ${ATTACKS.join(", ")}`);
}
const loss = values.loss === undefined ? 0 : Number(values.loss);
if (!(loss >= 0 && loss < 1)) fail(`--loss must be in [0, 1), got "${values.loss}"`);
let crash: { interval: number; phase: "admission" | "posting" } | undefined;
if (values.crash !== undefined) {
  const m = /^(\d+):(admission|posting)$/.exec(values.crash);
  if (!m) fail(`--crash must look like 1:admission or 2:posting, got "${values.crash}"`);
  crash = { interval: Number(m[1]), phase: m[2] as "admission" | "posting" };
  if (crash.interval >= intervals)
    fail(`--crash interval ${crash.interval} is past the last interval`);
}

async function chainAccess(): Promise<{
  chain: ChainAccess;
  label: string;
  done: () => Promise<void>;
}> {
  if (values.rpc) {
    const provider = new JsonRpcProvider(values.rpc, undefined, { staticNetwork: false });
    try {
      await provider.getBlockNumber();
    } catch (err) {
      fail(`cannot reach ${values.rpc}: ${(err as Error).message.split("\n")[0]}`);
    }
    const keyed = (name: string, index: number): Promise<Signer> => {
      const key = process.env[name];
      return key ? Promise.resolve(new Wallet(key, provider)) : provider.getSigner(index);
    };
    return {
      chain: {
        admin: await keyed("GRIDLEDGER_ADMIN_KEY", 0),
        controlCenter: await keyed("GRIDLEDGER_CC_KEY", 1),
        serviceProvider: await keyed("GRIDLEDGER_SP_KEY", 2),
      },
      label: values.rpc,
      done: async () => provider.destroy(),
    };
  }
  const { network } = await import("hardhat");
  const connection = await network.create();
  const [admin, controlCenter, serviceProvider] = await connection.ethers.getSigners();
  return {
    chain: { admin, controlCenter, serviceProvider },
    label: "embedded Hardhat network (in-process EDR)",
    done: () => connection.close(),
  };
}

const { chain, label, done } = await chainAccess();
const started = performance.now();
const log = values.quiet
  ? () => {}
  : (m: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1)}s] ${m}`);
log(`GridLedger demo: ${meters} meters, ${intervals} intervals, seed "${seed}", chain: ${label}`);
let report: OksuzReport;
try {
  report = await runOksuz(
    {
      meters,
      intervals,
      seed,
      direct: values.direct,
      attack: values.attack as AttackName | undefined,
      network: { loss },
      crash,
    },
    chain,
    { progress: log, now: () => performance.now() },
  );
} finally {
  await done();
}

printSummary(report);
if (values.json) {
  writeFileSync(
    values.json,
    JSON.stringify(report, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) +
      "\n",
  );
  console.log(`\nreport written to ${values.json}`);
}
const allVerified = report.perInterval.every((s) => s.billsDisputed === 0);
if (!report.attack && !allVerified) process.exitCode = 1;
if (
  report.attack &&
  (report.attack.outcome === "undetected" || !report.attack.honestBillsUnaffected)
) {
  process.exitCode = 1;
}

function printSummary(r: OksuzReport): void {
  const rows = r.perInterval.map((s) => {
    const rejected = REJECT_REASONS.filter((reason) => s.rejected[reason] > 0)
      .map((reason) => `${reason} ${s.rejected[reason]}`)
      .join(", ");
    return [
      String(s.interval),
      String(s.entries),
      s.measuredWh,
      s.aggregateWh,
      s.carriedWh,
      s.price,
      `${s.billsVerified}/${s.billsVerified + s.billsDisputed}`,
      String(s.minAnonymitySet),
      rejected || "-",
    ];
  });
  const header = [
    "j",
    "entries",
    "measured Wh",
    "reported Wh",
    "carry Wh",
    "price/Wh",
    "bills ok",
    "min anon",
    "rejected",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => c.padStart(i === cells.length - 1 ? 0 : widths[i])).join("  ");
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of rows) console.log(line(row));
  console.log(
    `\nΣ measured ${r.totals.measuredWh} Wh = Σ reported ${r.totals.reportedWh} Wh + carry ${r.totals.finalCarryWh} Wh: ${r.totals.conserved ? "yes" : "NO"}`,
  );
  console.log(
    `onion packets: ${r.network.packetsSent} sent, all of ${r.network.packetSizes.join("/")} bytes; ` +
      `relays dropped ${
        Object.entries(r.relays)
          .filter(([k, v]) => k.startsWith("dropped.") && v > 0)
          .map(([k, v]) => `${k.slice(8)} ${v}`)
          .join(", ") || "none"
      }`,
  );
  if (r.crash)
    console.log(
      `crash in interval ${r.crash.interval} (${r.crash.phase}): CC restarted from its store: ${r.crash.restarted}`,
    );
  if (r.attack) {
    console.log(
      `attack ${r.attack.name}: ${r.attack.outcome.toUpperCase()} — ${r.attack.evidence}`,
    );
    console.log(`honest users' bills unaffected: ${r.attack.honestBillsUnaffected ? "yes" : "NO"}`);
  }
  console.log(
    `ledger ${r.ledger} (${r.mode} mode); wall time ${(r.wallTimeMs / 1000).toFixed(1)} s`,
  );
}
