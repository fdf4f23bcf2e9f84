// `gridledger devnet`: every role as its own OS process on 127.0.0.1, on `hardhat node` (or
// `--rpc`), with progress per interval and round, the final tables and a ledger audit from chain
// events, and nothing left running afterwards (issue 11 "The devnet"; docs/RUNTIME.md "Devnet").
// Every option is checked before any work; a bad one is one line and exit 2.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Option, type Command } from "commander";
import { HDNodeWallet } from "ethers";

import { connectJsonRpc } from "../chain/provider.ts";
import { makeDirectory } from "../runtime/fs.ts";
import {
  DevnetError,
  parseKillSpec,
  runDevnet,
  writePlan,
  type DevnetProcess,
  type DevnetRunResult,
  type KillSpec,
} from "../node/devnet.ts";
import {
  DEVNET_SCHEMES,
  smokeScheme,
  type DevnetOptions,
  type DevnetSchemeDefinition,
  type PreparedScheme,
  type SchemeAudit,
} from "../node/devnet-schemes.ts";
import { freePort, startHardhatNode, stopHardhatNode } from "../node/hardhat-node.ts";
import { OPERATOR_KEY_ENV, pidAlive } from "../node/runner.ts";
import { Supervisor } from "../node/supervisor.ts";
import { consoleLogger } from "../runtime/log.ts";
import { checkOutputPaths, cli, printTable, writeJsonReport, type Cli } from "./common.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const HARDHAT_DEV_MNEMONIC = "test test test test test test test test test test test junk";
const HARDHAT_CHAIN_ID = 31337n;
const PROG = "gridledger devnet";

interface RawOptions {
  meters: string;
  intervals: string;
  rpc?: string;
  meterProcesses: string;
  nodes: string;
  users: string;
  rounds: string;
  seed: string;
  loss: string;
  dropout: string;
  kill: string[];
  json?: string;
  dataDir?: string;
  keep: boolean;
  smoke: boolean;
  prepareOnly: boolean;
  windowMs: string;
  scheme: string[];
  smokeIntervalMs: string;
  timeout: string;
}

/** The run's validated settings. */
interface Settings {
  readonly options: DevnetOptions;
  readonly schemes: readonly DevnetSchemeDefinition[];
  readonly skipped: readonly { readonly name: string; readonly why: string }[];
  readonly kills: readonly KillSpec[];
  readonly rpc?: string;
  readonly json?: string;
  readonly dir: string;
  readonly ownDir: boolean;
  readonly keep: boolean;
  readonly timeoutMs: number;
  /** `--prepare-only`: the operator key from GRIDLEDGER_OPERATOR_KEY. */
  readonly prepareOnly?: { readonly operatorKey: string };
}

/** Checks every option (exit 2 with one line on the first bad one); nothing is started. */
function validate(raw: RawOptions): Settings {
  const c: Cli = cli(PROG, "");
  const options: DevnetOptions = {
    meters: c.intOption(raw.meters, "meters", 50, 1, 100_000),
    intervals: c.intOption(raw.intervals, "intervals", 3, 1, 1_000),
    meterProcesses: c.intOption(raw.meterProcesses, "meter-processes", 2, 1, 64),
    nodes: c.intOption(raw.nodes, "nodes", 4, raw.smoke ? 1 : 4, 64),
    users: c.intOption(raw.users, "users", 12, 3, 10_000),
    rounds: c.intOption(raw.rounds, "rounds", 2, 1, 1_000),
    seed: raw.seed,
    loss: c.fractionOption(raw.loss, "loss"),
    smokeIntervalMs: c.intOption(raw.smokeIntervalMs, "smoke-interval-ms", 1_000, 50, 60_000),
    windowMs: c.intOption(raw.windowMs, "window-ms", 10_000, 500, 3_600_000),
    dropout: c.fractionOption(raw.dropout, "dropout"),
  };
  if (Math.round((options.dropout ?? 0) * options.users) >= options.users) {
    c.fail("--dropout leaves nobody reporting");
  }
  if (options.meterProcesses > options.meters) {
    c.fail(`--meter-processes ${options.meterProcesses} exceeds --meters ${options.meters}`);
  }
  if (raw.seed.length === 0) c.fail("--seed must not be empty");
  if (raw.rpc !== undefined && !/^https?:\/\/[^/]/.test(raw.rpc)) {
    c.fail(`--rpc must be an http(s) URL, got "${raw.rpc}"`);
  }
  const timeoutMs = c.intOption(raw.timeout, "timeout", 600, 10, 86_400) * 1000;
  let schemes: DevnetSchemeDefinition[];
  const skipped: { name: string; why: string }[] = [];
  if (raw.smoke) {
    const why = smokeScheme.unavailable();
    if (why !== undefined) c.fail(`--smoke: ${why}`);
    schemes = [smokeScheme];
  } else {
    schemes = [];
    for (const name of raw.scheme) {
      if (!DEVNET_SCHEMES.some((s) => s.name === name)) {
        c.fail(
          `--scheme must be one of ${DEVNET_SCHEMES.map((s) => s.name).join(", ")}, got "${name}"`,
        );
      }
    }
    const wanted = DEVNET_SCHEMES.filter(
      (s) => raw.scheme.length === 0 || raw.scheme.includes(s.name),
    );
    for (const s of wanted) {
      const why = s.unavailable();
      if (why === undefined) schemes.push(s);
      else skipped.push({ name: s.name, why });
    }
  }
  const kills: KillSpec[] = [];
  for (const text of raw.kill) {
    const k = parseKillSpec(text);
    if (k === undefined) c.fail(`--kill must be NAME@J (e.g. cc@2, node3@2), got "${text}"`);
    const owner = schemes.find((s) => s.processNames(options).includes(k.process));
    const elsewhere = skipped.find((q) =>
      DEVNET_SCHEMES.find((s) => s.name === q.name)!
        .processNames(options)
        .includes(k.process),
    );
    if (owner === undefined && elsewhere !== undefined) {
      c.fail(
        `--kill ${text}: ${k.process} belongs to ${elsewhere.name}, which cannot run (${elsewhere.why})`,
      );
    }
    if (owner === undefined) {
      const all = schemes.flatMap((s) => s.processNames(options));
      c.fail(
        `--kill ${text}: no process "${k.process}" in this devnet (${all.join(", ") || "none"})`,
      );
    }
    const { stepName, steps } = owner.steps(options);
    if (k.step > steps) c.fail(`--kill ${text}: the run has ${steps} ${stepName}s`);
    if (kills.some((q) => q.process === k.process && q.step === k.step))
      c.fail(`--kill ${text} given twice`);
    kills.push(k);
  }
  if (schemes.length === 0) {
    console.error(
      `${PROG}: no scheme can run yet: ${skipped.map((k) => `${k.name}: ${k.why}`).join("; ")}. ` +
        "`gridledger devnet --smoke` runs the process plumbing with the diagnostic ping role.",
    );
    process.exit(1);
  }
  checkOutputPaths(c, raw.json, undefined);
  let prepareOnly: { operatorKey: string } | undefined;
  if (raw.prepareOnly) {
    if (raw.dataDir === undefined) c.fail("--prepare-only needs --data-dir (where the configs go)");
    const key = process.env[OPERATOR_KEY_ENV];
    if (key === undefined || key === "") {
      c.fail(
        `--prepare-only needs ${OPERATOR_KEY_ENV} (it seals the key files; the services need it too)`,
      );
    }
    if (raw.rpc === undefined && schemes.some((k) => k.needsChain)) {
      c.fail("--prepare-only needs --rpc (the chain the services will use)");
    }
    if (kills.length > 0) c.fail("--kill makes no sense with --prepare-only");
    prepareOnly = { operatorKey: key };
  }
  let dir: string;
  let ownDir = false;
  if (raw.dataDir !== undefined) {
    dir = resolve(raw.dataDir);
    if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
      c.fail(
        `--data-dir ${raw.dataDir} must be a new or empty directory (a devnet starts from nothing)`,
      );
    }
    try {
      makeDirectory(dir);
    } catch (e) {
      c.fail(
        `--data-dir ${raw.dataDir} cannot be created: ${(e as NodeJS.ErrnoException).code ?? e}`,
      );
    }
  } else {
    dir = mkdtempSync(join(tmpdir(), "gridledger-devnet-"));
    ownDir = true;
  }
  return {
    options,
    schemes,
    skipped,
    kills,
    ...(raw.rpc !== undefined ? { rpc: raw.rpc } : {}),
    ...(raw.json !== undefined ? { json: raw.json } : {}),
    dir,
    ownDir,
    keep: raw.keep,
    timeoutMs,
    ...(prepareOnly !== undefined ? { prepareOnly } : {}),
  };
}

/** Runs the devnet; resolves with the exit code (0: every audit passed). */
async function devnet(s: Settings): Promise<number> {
  const print = (line: string): void =>
    console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  const t0 = Date.now();
  for (const k of s.skipped) console.log(`NOT RUNNING ${k.name}: ${k.why}`);
  console.log(`devnet runs: ${s.schemes.map((k) => k.title).join("; ")}`);
  console.log(
    `data directory: ${s.dir}${s.ownDir && !s.keep ? " (removed at the end; --keep keeps it)" : ""}`,
  );

  const supervisor = new Supervisor({
    logger: consoleLogger({ component: "supervisor", level: "warn" }),
  });
  let hardhat: Awaited<ReturnType<typeof startHardhatNode>> | undefined;
  const killHardhat = (): void => {
    if (hardhat?.pid !== undefined && hardhat.exitCode === null) {
      try {
        process.kill(-hardhat.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  };
  process.on("exit", killHardhat);
  // An interrupted run (Ctrl-C, SIGTERM: the supervisor stops every child, then exits) removes its
  // own temporary directory too; registered after the supervisor's handlers, so it runs after
  // every child group was killed.
  const removeOwnDir = (): void => {
    if (s.ownDir && !s.keep) rmSync(s.dir, { recursive: true, force: true });
  };
  // The closing line of an interrupted run, as a finished one prints it (newcomer trial: after
  // Ctrl-C nothing said whether the clean-up worked).
  const removeHandlers = supervisor.installExitHandlers((signal) => {
    killHardhat();
    removeOwnDir();
    const left = [...supervisor.allPids()].filter(pidAlive);
    console.log(
      `${signal}: ${supervisor.list().length} role processes${hardhat ? " + hardhat node" : ""} stopped; left running: ${left.length === 0 ? "none" : left.join(", ")}${s.ownDir && !s.keep ? `; removed ${s.dir}` : ""}`,
    );
  });
  process.on("exit", removeOwnDir);
  const operatorKey = s.prepareOnly?.operatorKey ?? randomBytes(32).toString("hex");
  let code = 0;
  try {
    let rpcUrl = s.rpc;
    if (rpcUrl === undefined && s.schemes.some((k) => k.needsChain)) {
      const port = await freePort();
      print(`starting hardhat node on 127.0.0.1:${port}`);
      hardhat = await startHardhatNode(port);
      rpcUrl = `http://127.0.0.1:${port}`;
    } else if (rpcUrl !== undefined) {
      // The devnet signs with Hardhat's funded development accounts: only on a development chain.
      const { provider, chainId } = await connectJsonRpc(rpcUrl);
      provider.destroy();
      if (chainId !== HARDHAT_CHAIN_ID) {
        throw new DevnetError(
          `--rpc ${rpcUrl} is chain ${chainId}; the devnet needs a Hardhat development chain (31337, \`npx hardhat node\`) whose funded accounts it uses`,
        );
      }
    }
    const fundedKey = (i: number): string =>
      HDNodeWallet.fromPhrase(HARDHAT_DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
    const prepared: PreparedScheme[] = [];
    for (const scheme of s.schemes) {
      print(`set-up: ${scheme.title}`);
      prepared.push(
        await scheme.prepare({
          options: s.options,
          ...(rpcUrl ? { rpcUrl } : {}),
          fundedKey,
          print,
        }),
      );
    }
    const contracts = Object.assign({}, ...prepared.map((p) => p.contracts)) as Record<
      string,
      string
    >;
    const plan = {
      dir: s.dir,
      processes: prepared.flatMap((p) => p.processes),
      schemes: prepared.map((p) => p.follow),
      chain: { ...(rpcUrl !== undefined ? { rpcUrl } : {}), contracts },
      seed: s.options.seed,
      operatorKey,
      loss: s.options.loss,
      kills: s.kills,
      command: (p: DevnetProcess, config: string, dataDir: string) => ({
        command: process.execPath,
        args: [
          "--disable-warning=ExperimentalWarning",
          MAIN,
          p.role,
          "--config",
          config,
          "--data-dir",
          dataDir,
        ],
      }),
    };
    if (s.prepareOnly !== undefined) {
      const written = await writePlan(plan, true);
      console.log(
        `\nconfigs and sealed key files written to ${s.dir}; start the services in this order`,
      );
      console.log(`(each in its own terminal, with ${OPERATOR_KEY_ENV} set as now):\n`);
      const group = new Map(plan.processes.map((p) => [p.name, p.group ?? 0]));
      const ordered = [...written.specs].sort((a, b) => group.get(a.name)! - group.get(b.name)!);
      for (const spec of ordered) {
        console.log(
          `npx gridledger ${spec.role} --config ${written.configs[spec.name]} --data-dir ${spec.dataDir}   # health: ${written.healthUrls[spec.name]}`,
        );
      }
      return 0;
    }
    const result: DevnetRunResult = await runDevnet({
      ...plan,
      supervisor,
      timeoutMs: s.timeoutMs,
      print,
    });
    const health = new Map(Object.entries(result.health));
    const audits: { name: string; audit: SchemeAudit }[] = [];
    for (const [i, p] of prepared.entries()) {
      audits.push({ name: s.schemes[i].name, audit: await p.audit(health) });
    }
    for (const { name, audit } of audits) {
      for (const t of audit.tables) {
        console.log(`\n${name}: ${t.title}`);
        printTable(t.header, t.rows);
      }
      for (const line of audit.lines) console.log(line);
      console.log(`${name} ledger digest: ${audit.digest}`);
      if (!audit.ok) code = 1;
    }
    const lost = Object.values(result.health).reduce(
      (n, h) => n + (h?.network.droppedByLoss ?? 0),
      0,
    );
    if (s.options.loss > 0) console.log(`messages dropped by --loss ${s.options.loss}: ${lost}`);
    for (const k of result.kills) {
      console.log(
        `--kill ${k.process}@${k.step}: SIGKILL pid ${k.killedPid} in step ${k.killedInStep}, restarted from its data directory as pid ${k.restartedPid}`,
      );
    }
    print("stopping every process");
    await supervisor.stopAll();
    await stopHardhatNode(hardhat);
    const left = [...supervisor.allPids(), ...(hardhat?.pid ? [hardhat.pid] : [])].filter(pidAlive);
    console.log(
      `processes: ${supervisor.list().length} role processes${hardhat ? " + hardhat node" : ""} stopped; left running: ${left.length === 0 ? "none" : left.join(", ")}`,
    );
    console.log(
      `wall time ${(result.wallMs / 1000).toFixed(1)} s; ${code === 0 ? "audit passed" : "AUDIT FAILED"}`,
    );
    if (s.json !== undefined) {
      writeJsonReport(s.json, {
        seed: s.options.seed,
        options: s.options,
        schemes: Object.fromEntries(
          audits.map(({ name, audit }) => [
            name,
            { digest: audit.digest, ok: audit.ok, audit: audit.json },
          ]),
        ),
        notRunning: s.skipped,
        processes: supervisor.list().map((p) => ({
          name: p.name,
          role: p.role,
          pid: p.pid,
          pids: p.pids,
          restarts: p.restarts,
          exitCode: p.exitCode,
        })),
        kills: result.kills,
        addressBook: result.addressBook,
        stepStartedMs: result.stepStartedMs,
        wallMs: result.wallMs,
        leftRunning: left,
      });
    }
    if (left.length > 0) code = 1;
  } catch (e) {
    const message =
      e instanceof Error
        ? `${e instanceof DevnetError ? "" : e.name + ": "}${e.message}`
        : String(e);
    console.error(`${PROG}: ${message.split("\n")[0]}`);
    code = 1;
  } finally {
    await supervisor.stopAll();
    await stopHardhatNode(hardhat);
    removeHandlers();
    process.off("exit", removeOwnDir);
    if (s.ownDir && !s.keep) removeOwnDir();
    else console.log(`data directories kept in ${s.dir}`);
  }
  return code;
}

/** Adds `devnet` to `program`. */
export function registerDevnet(program: Command, hooks: { ensureBuilt: () => void }): void {
  program
    .command("devnet")
    .description(
      "every role as its own process on 127.0.0.1 over hardhat node, audited from the chain",
    )
    .option("--meters <n>", "meters (Oksuz)", "50")
    .option("--intervals <n>", "metering intervals (Oksuz; ping intervals with --smoke)", "3")
    .option("--meter-processes <k>", "processes the meter fleet is split over", "2")
    .option("--nodes <m>", "consensus nodes (BBNP, ≥ 4; ping processes with --smoke)", "4")
    .option("--users <n>", "BBNP users", "12")
    .option("--rounds <r>", "BBNP rounds", "2")
    .option("--seed <s>", "seed of every key, reading and pseudonym", "devnet")
    .option("--loss <p>", "probability in [0, 1) that a message is dropped on the way out", "0")
    .option(
      "--dropout <p>",
      "BBNP: fraction in [0, 1) of users silent in each round (seeded); the TA service corrects",
      "0",
    )
    .option("--rpc <url>", "use this JSON-RPC node instead of starting hardhat node")
    .addOption(
      new Option(
        "--kill <name@j>",
        "SIGKILL process NAME during interval/round J, restart it (repeatable)",
      )
        .default([])
        .argParser((v: string, prev: string[]) => [...prev, v]),
    )
    .option("--json <file>", "write the run (processes with pid and restart count, audits) as JSON")
    .option("--data-dir <dir>", "root of the processes' data directories (new or empty; kept)")
    .option("--keep", "keep the temporary data directory", false)
    .addOption(
      new Option(
        "--scheme <name>",
        "run only this scheme: oksuz or bbnp (repeatable; default both)",
      )
        .default([])
        .argParser((v: string, prev: string[]) => [...prev, v]),
    )
    .option("--smoke", "run the diagnostic ping role instead of the protocol roles", false)
    .option(
      "--prepare-only",
      "deploy and write every config and sealed key file (GRIDLEDGER_OPERATOR_KEY) to --data-dir, print the commands that start the services, start nothing",
      false,
    )
    .option(
      "--window-ms <ms>",
      "CC's admission window and the gateway's report window per step",
      "10000",
    )
    .option("--smoke-interval-ms <ms>", "interval length of the ping processes", "1000")
    .option("--timeout <s>", "give up after this many seconds", "600")
    .action(async (raw: RawOptions) => {
      const settings = validate(raw);
      if (settings.schemes.some((k) => k.needsChain)) hooks.ensureBuilt();
      process.exit(await devnet(settings));
    });
}
