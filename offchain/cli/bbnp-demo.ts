// `bbnp-demo`: BBNP masked aggregation end to end (offchain/sim/bbnp.ts) on the embedded in-process
// chain (or any JSON-RPC URL): TA set-up, N meters' masked reports, the gateway's checks, recovery
// of dropouts, and each round's sum on the aggregation ledger, written by the gateway or committed
// by M consensus nodes with a quorum certificate. Prints a summary per round.
//
//   node offchain/cli/bbnp-demo.ts [--users N] [--rounds R] [--seed S] [--consensus M]
//        [--faulty F] [--dropout P] [--recovery-dropout Q] [--min-reporters K] [--attack NAME]
//        [--rpc URL] [--json FILE] [--report DIR] [--quiet]
import {
  BBNP_ATTACKS,
  REJECTION_REASONS,
  runBbnp,
  type BbnpAttackName,
  type BbnpChainAccess,
  type BbnpDeployment,
  type BbnpRunReport,
} from "../sim/bbnp.ts";
import {
  addressOption,
  cli,
  type Cli,
  connectRpc,
  deployedContract,
  embeddedChain,
  exitOnChainError,
  scriptName,
  readDeployment,
  parseOptions,
  printTable,
  progressLog,
  writeJsonReport,
  checkOutputPaths,
  writeHtmlReport,
} from "./common.ts";
import { counted } from "../runtime/log.ts";

const USAGE = `usage: npm run demo:bbnp -- [options]   (or: npx gridledger simulate-bbnp [options])
  --users N         smart meters, default 100, in [2, 1048576]
  --rounds R        aggregation rounds (15-minute intervals), default 3
  --seed S          seed of every random choice (keys, load, dropouts, faults), default "gridledger"
  --neighbours H    masking neighbours per user (even ≥ 2), default 8
  --consensus M     commit each round through M consensus nodes, 4 ≤ M ≤ 64 (quorum certificate); default:
                    the gateway records rounds itself (GATEWAY_ROLE)
  --faulty F        faulty nodes among the M (F ≤ ⌊(M − 1)/3⌋), behaviours drawn from the seed
  --dropout P       fraction of users not reporting per round (0 ≤ P < 1), default 0; each round
                    with dropouts runs the recovery protocol (round-specific: no key refresh)
  --recovery-dropout Q
                    probability that a user asked to reveal masks stays silent for the rest of
                    the round (0 ≤ Q < 1), default 0; the gateway drops it and runs another pass
  --min-reporters K minimum counted reporters per round (2 ≤ K ≤ N), default min(10, N); a round
                    below it is aborted: nothing is published
  --attack NAME     inject an adversary in round 1 (replay: round 2): ${BBNP_ATTACKS.join(", ")}
  --rpc URL         a JSON-RPC chain instead of the embedded one (e.g. http://127.0.0.1:8545 for
                    \`npx hardhat node\`). Every operator signs with its own key:
                    GRIDLEDGER_ADMIN_KEY, GRIDLEDGER_GATEWAY_KEY, GRIDLEDGER_NODE_KEYS (comma-
                    separated, one per consensus node); on a Hardhat development chain (id 31337)
                    the development accounts 0, 1, 2.. stand in for missing keys
  --deployment ID   with --rpc: attach to Ignition deployment ID (\`npx gridledger deploy\`):
                    its AggregationLedger (and, with --consensus, the registry bound to it) must
                    hold no round and no member yet
  --ledger ADDR     with --rpc: attach to the AggregationLedger at ADDR (its bound registry with
                    --consensus) instead of deploying
  --json FILE       write the full report as JSON
  --report DIR      write DIR/index.html (charts, offline) and DIR/run.json
  --quiet           no progress lines`;

const c: Cli = cli(scriptName("bbnp-demo"), USAGE);
const values = parseOptions(c, USAGE, {
  users: { type: "string" },
  rounds: { type: "string" },
  seed: { type: "string" },
  neighbours: { type: "string" },
  consensus: { type: "string" },
  faulty: { type: "string" },
  dropout: { type: "string" },
  "recovery-dropout": { type: "string" },
  "min-reporters": { type: "string" },
  attack: { type: "string" },
  rpc: { type: "string" },
  deployment: { type: "string" },
  ledger: { type: "string" },
  json: { type: "string" },
  report: { type: "string" },
  quiet: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
});
const fail: Cli["fail"] = c.fail;
const intOption: Cli["intOption"] = c.intOption;

const users = intOption(values.users, "users", 100, 2, 1 << 20);
const rounds = intOption(values.rounds, "rounds", 3, 1, 1_000_000);
const neighbours = intOption(values.neighbours, "neighbours", 8, 2, 1_000);
if (neighbours % 2 !== 0) fail(`--neighbours must be even, got ${neighbours}`);
const seed = values.seed ?? "gridledger";
const consensusNodes =
  // M ≥ 4: 3f + 1 with f ≥ 1 (DESIGN §5.2), and the registry never serves fewer than 4 validators.
  values.consensus === undefined ? undefined : intOption(values.consensus, "consensus", 4, 4, 64);
if (values.faulty !== undefined && consensusNodes === undefined) {
  fail("--faulty needs --consensus M");
}
const faulty = intOption(values.faulty, "faulty", 0, 0, 64);
if (consensusNodes !== undefined && faulty > Math.floor((consensusNodes - 1) / 3)) {
  fail(
    `--faulty ${faulty} is more than M = ${consensusNodes} nodes tolerate (⌊(M − 1)/3⌋ = ${Math.floor((consensusNodes - 1) / 3)})`,
  );
}
const dropout = c.fractionOption(values.dropout, "dropout");
if (Math.round(dropout * users) >= users) fail("--dropout leaves nobody reporting");
const recoveryDropout = c.fractionOption(values["recovery-dropout"], "recovery-dropout");
if (recoveryDropout > 0 && values.dropout === undefined) {
  fail("--recovery-dropout applies to the recovery of dropped users: give --dropout P > 0 too");
}
const minReporters =
  values["min-reporters"] === undefined
    ? undefined
    : intOption(values["min-reporters"], "min-reporters", 10, 2, users);
if (values.attack !== undefined && !BBNP_ATTACKS.includes(values.attack as BbnpAttackName)) {
  fail(`unknown attack "${values.attack}"; one of ${BBNP_ATTACKS.join(", ")}`);
}
const attack = values.attack as BbnpAttackName | undefined;
if (attack === "replay" && rounds < 2) fail("--attack replay needs --rounds ≥ 2");

if (values.deployment !== undefined && values.ledger !== undefined) {
  fail("give --deployment or --ledger, not both");
}
if ((values.deployment ?? values.ledger) !== undefined && values.rpc === undefined) {
  fail("--deployment and --ledger need --rpc (the embedded chain starts empty every run)");
}
let deployment: BbnpDeployment | undefined;
if (values.ledger !== undefined) deployment = { ledger: addressOption(c, values.ledger, "ledger") };
if (values.deployment !== undefined) {
  const deployed = readDeployment(c, values.deployment);
  const ledger = deployedContract(deployed, "AggregationLedger");
  if (!ledger)
    fail(
      `deployment "${values.deployment}" has no AggregationLedger (deploy with --module bbnp or all)`,
    );
  deployment = { ledger, registry: deployedContract(deployed, "ReputationRegistry") };
}
// Output paths last: checking a directory creates it, and a run refused for another option must
// leave nothing behind (newcomer trial, session 13).
checkOutputPaths(c, values.json, values.report);

async function chainAccess(): Promise<{
  chain: BbnpChainAccess;
  label: string;
  done: () => Promise<void>;
}> {
  const nodeCount = consensusNodes ?? 0;
  if (values.rpc !== undefined) {
    const rpc = await connectRpc(c, values.rpc);
    // Consensus nodes sign with their own keys: GRIDLEDGER_NODE_KEYS (comma-separated, one per
    // node), or Hardhat's development accounts 2.. on a development chain.
    const nodeKeys = (process.env.GRIDLEDGER_NODE_KEYS ?? "").split(",").filter((k) => k.trim());
    if (nodeKeys.length > 0 && nodeKeys.length < nodeCount) {
      fail(
        `GRIDLEDGER_NODE_KEYS holds ${nodeKeys.length} keys; --consensus ${nodeCount} needs ${nodeCount}`,
      );
    }
    if (nodeKeys.length === 0 && nodeCount > 18) {
      fail(
        `--consensus ${nodeCount} over --rpc needs GRIDLEDGER_NODE_KEYS (development accounts 2..19 cover 18 nodes)`,
      );
    }
    const nodes = Array.from({ length: nodeCount }, (_, j) =>
      rpc.signer("GRIDLEDGER_NODE_KEYS", 2 + j, nodeKeys[j]?.trim()),
    );
    return {
      chain: {
        admin: rpc.signer("GRIDLEDGER_ADMIN_KEY", 0),
        gateway: rpc.signer("GRIDLEDGER_GATEWAY_KEY", 1),
        nodes,
      },
      label: rpc.label,
      done: rpc.done,
    };
  }
  const embedded = await embeddedChain();
  const [admin, gateway, ...nodes] = embedded.signers;
  if (nodes.length < nodeCount) {
    await embedded.done();
    fail(
      `the embedded chain has ${nodes.length + 2} accounts; --consensus ${nodeCount} needs ${2 + nodeCount}`,
    );
  }
  return { chain: { admin, gateway, nodes: nodes.slice(0, nodeCount) }, ...embedded };
}

const { chain, label, done } = await chainAccess();
const log = progressLog(values.quiet);
log(
  `GridLedger BBNP demo: ${users} users, ${counted(rounds, "round")}, seed "${seed}", ` +
    (consensusNodes === undefined
      ? "gateway mode"
      : `consensus mode (M = ${consensusNodes}, faulty ${faulty})`) +
    `, dropout ${dropout}, recovery dropout ${recoveryDropout}, chain: ${label}`,
);
let report: BbnpRunReport;
try {
  report = await runBbnp(
    {
      users,
      rounds,
      seed,
      neighbours,
      mode: consensusNodes === undefined ? "gateway" : "consensus",
      deployment,
      consensusNodes,
      faulty,
      dropout,
      recoveryDropout,
      minReporters,
      attack: attack === undefined ? undefined : { kind: attack },
    },
    chain,
    { progress: log, step: log.step, now: () => performance.now() },
  );
} catch (err) {
  await done();
  if (!(err instanceof RangeError)) exitOnChainError(c.program, err);
  console.error(`${c.program}: ${err.message}`); // a scenario the runner refuses (runBbnp checks)
  process.exit(1);
}
await done();

printSummary(report);
if (values.json) writeJsonReport(values.json, report);
if (values.report) await writeHtmlReport(values.report, report);
if (!report.totals.allMatch) process.exitCode = 1;
if (report.attack && (!report.attack.detected || !report.attack.honestSum)) process.exitCode = 1;

function printSummary(r: BbnpRunReport): void {
  const ms = (x: number) => x.toFixed(0);
  const rows = r.perRound.map((s) => {
    const rejected = REJECTION_REASONS.filter((reason) => s.rejected[reason] > 0)
      .map((reason) => `${reason} ${s.rejected[reason]}`)
      .join(", ");
    return [
      String(s.round),
      String(s.epoch),
      `${s.reporters}/${r.users}`,
      s.readingsSumWh,
      s.aborted === undefined ? s.onChainSum : `aborted: ${s.aborted}`,
      s.aborted !== undefined ? "-" : s.match ? "yes" : "NO",
      String(s.excluded.length),
      String(s.passes),
      String(s.revealedMasks),
      s.gasUsed,
      s.primary === undefined ? "-" : String(s.primary),
      ms(s.timings.roundMs),
      ms(s.timings.gatewayMs + s.timings.finalizeMs),
      ms(s.timings.chainMs),
      rejected || "-",
    ];
  });
  const header = [
    "t",
    "epoch",
    "counted",
    "Σ readings Wh",
    "on-chain Wh",
    "match",
    "silent",
    "passes",
    "reveals",
    "gas",
    "primary",
    "round ms",
    "gw ms",
    "chain ms",
    "rejected",
  ];
  printTable(header, rows);
  const t = r.totals;
  // An aborted round publishes nothing (DESIGN §4.7): the equality is over the committed rounds,
  // and the run still fails (exit 1) because a round produced no aggregate.
  const committed = r.perRound.filter((s) => s.aborted === undefined);
  const sum = (xs: readonly string[]) => xs.reduce((a, x) => a + BigInt(x || "0"), 0n);
  const readings = sum(committed.map((s) => s.readingsSumWh));
  const committedMatch = committed.every((s) => s.match);
  console.log(
    `\nΣ readings ${readings} Wh = Σ on-chain ${t.onChainSum}` +
      (t.aborted > 0 ? ` (the ${committed.length} committed rounds)` : "") +
      `: ${committedMatch ? "yes" : "NO"}; ` +
      `gas ${t.gasUsed} (${(values.deployment ?? values.ledger) ? "attach" : "deploy"} ${r.setup.deployGas}); aborted rounds ${t.aborted}` +
      (t.aborted > 0 ? " (nothing published for them; exit 1)" : ""),
  );
  console.log(
    `set-up (untimed in rounds): TA keys ${(r.setup.taKeysMs / 1000).toFixed(1)} s, ` +
      `gateway DH cache ${(r.setup.gatewayDhMs / 1000).toFixed(1)} s; ` +
      `median round ${ms(t.medianRoundMs)} ms, gateway ${t.medianGatewayUsPerUser.toFixed(2)} µs/user`,
  );
  if (r.consensus) {
    console.log(
      `consensus: ${r.consensus.nodes} nodes, faulty ${
        r.consensus.faulty.map((f) => `${f.node} (${f.behaviour})`).join(", ") || "none"
      }; selections recorded on-chain ${r.consensus.selectionsRecorded} (gas ${
        r.consensus.selectionGas
      }); registry ${r.consensus.registry}`,
    );
  }
  if (r.attack) {
    console.log(
      `attack ${r.attack.kind} on user ${r.attack.victim} in round ${r.attack.round}: ` +
        `${r.attack.detected ? "DETECTED" : "UNDETECTED"} — ${r.attack.rejections
          .map((x) => `user ${x.userId} ${x.reason}`)
          .join(", ")}; honest sum on-chain: ${r.attack.honestSum ? "yes" : "NO"}`,
    );
  }
  console.log(`ledger ${r.ledger}; wall time ${(r.wallTimeMs / 1000).toFixed(1)} s`);
}
