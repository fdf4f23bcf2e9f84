// `npm run demo`: GridLedger's main job. Runs the Oksuz scheme end to end for a small city on the
// embedded in-process chain (or any JSON-RPC URL) and prints a summary per interval.
//
//   npm run demo -- [--meters N] [--intervals J] [--seed S] [--rpc URL] [--json FILE] [--report DIR]
//                   [--direct] [--attack NAME] [--loss P] [--crash J:admission|J:posting]
//                   [--cover N] [--cc-workers N] [--posting MODE] [--pseudonyms-out DIR] [--quiet]
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import {
  ATTACKS,
  runOksuz,
  type AttackName,
  type ChainAccess,
  type OksuzReport,
  type UserBatchDelivery,
} from "../sim/oksuz.ts";
import { MAX_SIMULATED_METERS } from "../sim/oksuz-agents.ts";
import { toHex0x, u256 } from "../crypto/bytes.ts";
import { keyPairFromSecret } from "../crypto/keys.ts";
import { formatPseudonymFile, type PseudonymFile } from "./verify-bill.ts";
import { limitChainAllocator, limitHeapGrowth, releaseAfterFleet } from "../runtime/heap-growth.ts";
import { REJECT_REASONS } from "../cc/control-center.ts";
import {
  addressOption,
  cli,
  type Cli,
  connectRpc,
  deployedContract,
  exitOnChainError,
  scriptName,
  readDeployment,
  embeddedChain,
  parseOptions,
  printTable,
  progressLog,
  writeJsonReport,
  checkOutputDir,
  checkOutputPaths,
  writeHtmlReport,
} from "./common.ts";
import { counted } from "../runtime/log.ts";

const USAGE = `usage: npm run demo -- [options]   (or: npx gridledger simulate [options])
  --meters N        smart meters (each also an onion relay), default 50, 5 to ${MAX_SIMULATED_METERS}
  --intervals J     billing intervals of one hour, default 4, 1 to 1000000
  --seed S          seed of every random choice (keys, load, network), default "gridledger"
  --rpc URL         a JSON-RPC chain instead of the embedded one (e.g. http://127.0.0.1:8545 for
                    \`npx hardhat node\`). Every operator signs with its own key:
                    GRIDLEDGER_ADMIN_KEY, GRIDLEDGER_CC_KEY, GRIDLEDGER_SP_KEY; on a Hardhat
                    development chain (id 31337) development accounts 0, 1, 2 stand in for
                    missing keys
  --deployment ID   with --rpc: attach to Ignition deployment ID (\`npx gridledger deploy\`)
                    instead of deploying a ledger; its BillingLedger must not hold intervals yet
  --ledger ADDR     with --rpc: attach to the BillingLedger at ADDR instead of deploying one
  --json FILE       write the full report as JSON
  --report DIR      write DIR/index.html (charts, offline) and DIR/run.json
  --direct          Oksuz §6 mode: SP publishes prices and bills itself
  --attack NAME     inject an adversary: ${ATTACKS.join(", ")}
  --loss P          packet loss probability on every link (0 ≤ P < 1), default 0
  --crash J:PHASE   kill CC in interval J during "admission" or "posting" and restart it
  --cover N         cover traffic: every relay sends N loop packets per round (default 0)
  --cc-workers N    CC's admission pool: N threads check a relay round's report signatures
                    (default 1: inline, no thread; 2 on this 2-core machine uses both cores)
  --posting MODE    how CC posts OCD: "fixed" (100 entries per transaction, one at a time) or
                    "chain-speed" (batches sized from the block gas limit, 4 in flight); default
                    fixed (the embedded chain pays block-sized transactions in memory: docs/SCALE.md)
  --pseudonyms-out DIR
                    with --rpc: write DIR/meter-<i>.json, household i's pseudonym file (the
                    batches its meter delivered), for \`npx gridledger verify-bill --rpc URL
                    --ledger ADDR --pseudonyms DIR/meter-<i>.json\` (docs/PROTOCOL.md). With
                    --direct also DIR/meter-<i>.key (mode 0600), the simulated household's
                    secret key: give it as GRIDLEDGER_USER_KEY=$(cat DIR/meter-<i>.key)
  --quiet           no progress lines`;

// One process holds the whole simulated city: bound V8's garbage headroom and the in-process
// chain's allocator (issue 14).
limitHeapGrowth();
limitChainAllocator();

const c: Cli = cli(scriptName("demo"), USAGE);
const values = parseOptions(c, USAGE, {
  meters: { type: "string" },
  intervals: { type: "string" },
  seed: { type: "string" },
  rpc: { type: "string" },
  deployment: { type: "string" },
  ledger: { type: "string" },
  json: { type: "string" },
  report: { type: "string" },
  direct: { type: "boolean", default: false },
  attack: { type: "string" },
  loss: { type: "string" },
  crash: { type: "string" },
  cover: { type: "string" },
  posting: { type: "string" },
  "cc-workers": { type: "string" },
  "pseudonyms-out": { type: "string" },
  quiet: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
});
const fail: Cli["fail"] = c.fail;
const pseudonymsOut = values["pseudonyms-out"];

// At most a million: ≈ 20 kB per simulated meter, one process (docs/SCALE.md).
const meters = c.intOption(values.meters, "meters", 50, 5, MAX_SIMULATED_METERS);
// At most a million intervals (as BBNP's rounds): ten years of 15-minute intervals is 350,400.
const intervals = c.intOption(values.intervals, "intervals", 4, 1, 1_000_000);
const seed = values.seed ?? "gridledger";
if (values.attack !== undefined && !ATTACKS.includes(values.attack as AttackName)) {
  fail(`unknown attack "${values.attack}"; one of ${ATTACKS.join(", ")}`);
}
const loss = c.fractionOption(values.loss, "loss");
if (values.deployment !== undefined && values.ledger !== undefined) {
  fail("give --deployment or --ledger, not both");
}
if ((values.deployment ?? values.ledger) !== undefined && values.rpc === undefined) {
  fail("--deployment and --ledger need --rpc (the embedded chain starts empty every run)");
}
if (pseudonymsOut !== undefined && values.rpc === undefined) {
  fail("--pseudonyms-out needs --rpc (the embedded chain is gone when the run ends)");
}
let ledgerAddress: string | undefined;
if (values.ledger !== undefined) ledgerAddress = addressOption(c, values.ledger, "ledger");
if (values.deployment !== undefined) {
  const deployed = readDeployment(c, values.deployment);
  ledgerAddress = deployedContract(deployed, "BillingLedger");
  if (!ledgerAddress)
    fail(
      `deployment "${values.deployment}" has no BillingLedger (deploy with --module billing or all)`,
    );
}
const coverLoops = c.intOption(values.cover, "cover", 0, 0, 1_000);
const ccWorkers = c.intOption(values["cc-workers"], "cc-workers", 1, 1, 64);
const posting = values.posting;
if (posting !== undefined && posting !== "fixed" && posting !== "chain-speed") {
  fail(`--posting must be "fixed" or "chain-speed", got "${posting}"`);
}
let crash: { interval: number; phase: "admission" | "posting" } | undefined;
if (values.crash !== undefined) {
  const m = /^(\d+):(admission|posting)$/.exec(values.crash);
  if (!m) fail(`--crash must look like 1:admission or 2:posting, got "${values.crash}"`);
  crash = { interval: Number(m[1]), phase: m[2] as "admission" | "posting" };
  if (crash.interval < 1 || crash.interval > intervals)
    fail(
      `--crash interval ${crash.interval} is not in 1…${intervals} (intervals are numbered from 1)`,
    );
}
// Output paths last: checking a directory creates it, and a run refused for another option must
// leave nothing behind (newcomer trial, session 13).
checkOutputPaths(c, values.json, values.report);
if (pseudonymsOut !== undefined) checkOutputDir(c, "pseudonyms-out", pseudonymsOut);

async function chainAccess(): Promise<{
  chain: ChainAccess;
  label: string;
  done: () => Promise<void>;
}> {
  if (values.rpc !== undefined) {
    const rpc = await connectRpc(c, values.rpc);
    return {
      chain: {
        admin: rpc.signer("GRIDLEDGER_ADMIN_KEY", 0),
        controlCenter: rpc.signer("GRIDLEDGER_CC_KEY", 1),
        serviceProvider: rpc.signer("GRIDLEDGER_SP_KEY", 2),
      },
      label: rpc.label,
      done: rpc.done,
    };
  }
  const embedded = await embeddedChain();
  const [admin, controlCenter, serviceProvider] = embedded.signers;
  return { chain: { admin, controlCenter, serviceProvider }, ...embedded };
}

const { chain, label, done } = await chainAccess();
const log = progressLog(values.quiet);
// What each household's meter delivered (DESIGN §7), kept for its pseudonym file.
const households = new Map<number, { file: PseudonymFile; userSecretKey?: bigint }>();
const keepUserBatch = (d: UserBatchDelivery): void => {
  if (d.slots.length === 0) return;
  let household = households.get(d.meterIndex);
  if (household === undefined) {
    household = {
      file: {
        meterIndex: d.meterIndex,
        meterBasePublicKey: d.meterBasePublicKey,
        spSigPk: d.spSigPk,
        intervals: new Map(),
        direct: d.direct && {
          spPublicKey: d.direct.spPublicKey,
          userPublicKey: keyPairFromSecret(d.direct.userSecretKey).publicKey,
        },
      },
      userSecretKey: d.direct?.userSecretKey,
    };
    households.set(d.meterIndex, household);
  }
  (household.file.intervals as Map<number, typeof d.slots>).set(d.interval, d.slots);
};
log(
  `GridLedger demo: ${meters} meters, ${counted(intervals, "interval")}, seed "${seed}", chain: ${label}`,
);
let report: OksuzReport;
try {
  report = await runOksuz(
    {
      meters,
      intervals,
      seed,
      ledger: ledgerAddress,
      direct: values.direct,
      attack: values.attack as AttackName | undefined,
      network: { loss },
      crash,
      cover: coverLoops > 0 ? { loopsPerRound: coverLoops } : undefined,
      ccWorkers,
      posting,
    },
    chain,
    {
      progress: log,
      step: log.step,
      now: () => performance.now(),
      userBatch: pseudonymsOut === undefined ? undefined : keepUserBatch,
      // The fleet's heap is garbage before CC posts: give V8's pooled pages back, and keep the
      // billing phase's V8 pages nearer its live heap (issue 14).
      fleetRetired: releaseAfterFleet,
    },
  );
} catch (err) {
  await done();
  exitOnChainError(c.program, err);
}
await done();

printSummary(report);
if (values.json) writeJsonReport(values.json, report);
if (values.report) await writeHtmlReport(values.report, report);
if (pseudonymsOut !== undefined) writePseudonymFiles(pseudonymsOut);
const allVerified = report.perInterval.every((s) => s.billsDisputed === 0);
if (!report.attack && !allVerified) process.exitCode = 1;
if (!report.delivery.complete) {
  console.error(`${c.program}: data lost: ${report.delivery.reason}`);
  process.exitCode = 1;
}
if (
  report.attack &&
  (report.attack.outcome === "undetected" || !report.attack.honestBillsUnaffected)
) {
  process.exitCode = 1;
}

/** DIR/meter-<i>.json per household (and DIR/meter-<i>.key, 0600, in direct mode). */
function writePseudonymFiles(dir: string): void {
  for (const [i, { file, userSecretKey }] of households) {
    writeFileSync(join(dir, `meter-${i}.json`), JSON.stringify(formatPseudonymFile(file), null, 2));
    if (userSecretKey !== undefined) {
      const keyPath = join(dir, `meter-${i}.key`);
      writeFileSync(keyPath, toHex0x(u256(userSecretKey)) + "\n", { mode: 0o600 });
      chmodSync(keyPath, 0o600);
    }
  }
  console.log(`pseudonym files of ${households.size} households written to ${dir}/meter-<i>.json`);
}

function printSummary(r: OksuzReport): void {
  const rows = r.perInterval.map((s) => {
    const rejected = REJECT_REASONS.filter((reason) => s.rejected[reason] > 0)
      .map((reason) => `${reason} ${s.rejected[reason]}`)
      .join(", ");
    return [
      String(s.interval),
      String(s.entries),
      `${s.zeroSlots}/${s.absenceMarkers}/${s.missingMeters}`,
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
    "zero/absent/missing",
    "measured Wh",
    "reported Wh",
    "carry Wh",
    "price/Wh",
    "bills ok",
    "min anon",
    "rejected",
  ];
  printTable(header, rows);
  console.log(
    `\nΣ measured ${r.totals.measuredWh} Wh = Σ reported ${r.totals.reportedWh} Wh + carry ${r.totals.finalCarryWh} Wh: ${r.totals.conserved ? "yes" : "NO"}`,
  );
  console.log(
    `onion packets: ${r.network.packetsSent} sent, all of ${r.network.packetSizes.join("/")} bytes; ` +
      `wire messages ${r.network.messagesSent} sent, lost on links ${r.network.dropped.lost ?? 0}` +
      (r.network.dropped["destination-down"]
        ? `, undeliverable ${r.network.dropped["destination-down"]}`
        : "") +
      `; relays dropped ${
        Object.entries(r.relays)
          .filter(([k, v]) => k.startsWith("dropped.") && v > 0)
          .map(([k, v]) => `${k.slice(8)} ${v}`)
          .join(", ") || "none"
      }` +
      (r.relays.coverSent > 0
        ? `; cover loops ${r.relays.coverSent} sent, ${r.relays.loopsReturned} back`
        : ""),
  );
  const l = r.linkage;
  console.log(
    `global passive observer: ${l.packetsPerMeterInterval.toFixed(1)} packets per meter and interval ` +
      `(${l.distinctObservations} distinct); chunk count right for ${l.countRecoveredPct.toFixed(1)} % ` +
      `(most common count: ${l.countBaselinePct.toFixed(1)} %), reported Wh right for ` +
      `${l.whRecoveredPct.toFixed(1)} % (most common: ${l.whBaselinePct.toFixed(1)} %), ` +
      `${l.bitsLeakedPerMeter.toFixed(3)} of ${l.countEntropyBits.toFixed(2)} bits leaked per meter, ` +
      `min anonymity set per entry ${l.minEntryAnonymitySet}`,
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
