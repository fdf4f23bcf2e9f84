// What both demos (demo.ts, bbnp-demo.ts) need around their scenario runner: option parsing with
// usage errors (exit 2), the chain connection (embedded in-process network or a JSON-RPC URL with
// optional private keys from the environment), timed progress lines, a fixed-width table, and a
// JSON report writer, the HTML run report, and the early check of output paths.
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

import { MultiBar, Presets, type SingleBar } from "cli-progress";
import { HDNodeWallet, Wallet, getAddress, isAddress, type Signer } from "ethers";

import { ChainError, toChainError } from "../chain/errors.ts";
import { connectJsonRpc } from "../chain/provider.ts";
import { makeDirectory } from "../runtime/fs.ts";

import { writeRunReport } from "../report/html.ts";
import { runJsonPieces } from "../report/run.ts";
import type { ProgressSink, ProgressStep } from "../runtime/progress.ts";

export interface Cli {
  /** The program name errors are prefixed with. */
  readonly program: string;
  /** Prints `program: message` and a pointer to `--help` (one line each), and exits with 2. */
  fail(message: string): never;
  /** An integer option in [min, max], or `fallback` when absent. */
  intOption(
    value: string | undefined,
    name: string,
    fallback: number,
    min: number,
    max?: number,
  ): number;
  /** A fraction option in [0, 1), or 0 when absent. */
  fractionOption(value: string | undefined, name: string): number;
}

/**
 * A command-line number in plain decimal notation (`12`, `-3`, `0.25`; with `integer`, digits and
 * an optional sign only), or NaN: `Number()` alone also takes `0x10`, `1e3`, `0b1`, `Infinity`
 * and surrounding blanks, so `--meters 1e3` ran a thousand meters (issue 14's newcomer trial).
 */
export function decimalNumber(value: string, integer = false): number {
  const pattern = integer ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)$/;
  return pattern.test(value) ? Number(value) : NaN;
}

/**
 * The name a script's errors go under: `gridledger <command>` when `gridledger` runs it (`runScript`
 * in main.ts sets `process.argv[1]` so), else `fallback` (the script's own name, `npm run demo`).
 */
export function scriptName(fallback: string): string {
  const invoked = process.argv[1] ?? "";
  return invoked.startsWith("gridledger ") ? invoked : fallback;
}

/** Whether {@link endOnClosedStdout} has installed its listener (once per process). */
let stdoutGuarded = false;

/**
 * Ends the process quietly when its reader closes stdout (`npm run demo | head`): Node would throw
 * EPIPE with a stack trace. Exit 141 (128 + SIGPIPE), as a process the signal ended; `exit`
 * listeners still run (the simulator's temporary store is removed). Installed once.
 */
function endOnClosedStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(141);
    throw err;
  });
}

export function cli(program: string, usage: string): Cli {
  endOnClosedStdout();
  const fail = (message: string): never => {
    console.error(`${program}: ${message}`);
    process.exit(2);
  };
  return {
    program,
    fail,
    intOption(value, name, fallback, min, max = Number.MAX_SAFE_INTEGER) {
      if (value === undefined) return fallback;
      const n = decimalNumber(value, true);
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
        fail(`--${name} must be an integer ${range}, got "${value}"`);
      }
      return n;
    },
    fractionOption(value, name) {
      if (value === undefined) return 0;
      const x = decimalNumber(value);
      if (!(x >= 0 && x < 1)) {
        fail(`--${name} must be a fraction in [0, 1), got "${value}"`);
      }
      return x;
    },
  };
}

/**
 * `args` with `--name -5` written `--name=-5` for every string option `name` of `options`: a
 * negative number after an option that takes a value is that value (`parseArgs` would call it an
 * ambiguous option), so the option's own check names its range (newcomer trial, issue 14). Any
 * other value starting with "-" stays as it is.
 */
export function negativeValuesJoined(
  args: readonly string[],
  options: ParseArgsOptionsConfig,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([^=]+)$/.exec(args[i])?.[1];
    const next = args[i + 1];
    if (
      name !== undefined &&
      options[name]?.type === "string" &&
      next !== undefined &&
      /^-(\d|\.\d)/.test(next)
    ) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

/**
 * `parseArgs` (strict, no positionals); usage errors go to `fail`. `options` must declare
 * `help: { type: "boolean", short: "h" }`: `--help` prints the usage and exits 0.
 */
export function parseOptions<const O extends ParseArgsOptionsConfig & { help: object }>(
  c: Cli,
  usage: string,
  options: O,
) {
  const config = {
    options,
    strict: true,
    allowPositionals: false,
    args: negativeValuesJoined(process.argv.slice(2), options),
  } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    // Node's message for `--meters -5` is three lines; one line, naming the way to give it.
    const ambiguous = /^Option '(--[^']+)' argument is ambiguous/.exec((err as Error).message);
    c.fail(
      ambiguous
        ? `${ambiguous[1]} takes a value: a value starting with "-" must be given as ${ambiguous[1]}=VALUE`
        : (err as Error).message,
    );
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed.values;
}

/** Hardhat's well-known development mnemonic: the accounts `npx hardhat node` funds (chain 31337). */
const HARDHAT_DEV_MNEMONIC = "test test test test test test test test test test test junk";
const HARDHAT_CHAIN_ID = 31337n;

/**
 * A JSON-RPC chain: reachability checked (a one-line usage error otherwise), read-after-write safe
 * (chain/provider.ts). Every operator signs with its own private key, never a node-unlocked
 * account: `signer(envName, devIndex, key?)` takes the key given, else `process.env[envName]`; on a Hardhat
 * development chain (chain id 31337) without it, the key of development account `devIndex`
 * derived from Hardhat's public test mnemonic. On any other chain a missing key is a usage error.
 */
export async function connectRpc(c: Cli, url: string) {
  if (!/^https?:\/\/[^/]/.test(url)) c.fail(`--rpc must be an http(s) URL, got "${url}"`);
  let connected: Awaited<ReturnType<typeof connectJsonRpc>>;
  try {
    connected = await connectJsonRpc(url);
  } catch (err) {
    return exitOnChainError(c.program, err); // not a usage error: one named line, exit 1
  }
  const { provider, chainId } = connected;
  const dev = chainId === HARDHAT_CHAIN_ID;
  return {
    provider,
    chainId,
    signer(envName: string, devIndex: number, key = process.env[envName]): Signer {
      if (key) {
        try {
          return new Wallet(key, provider);
        } catch {
          return c.fail(`${envName} is not a 32-byte hex private key`);
        }
      }
      if (!dev) {
        return c.fail(
          `${envName} must hold this operator's private key on chain ${chainId} (${url})`,
        );
      }
      return HDNodeWallet.fromPhrase(
        HARDHAT_DEV_MNEMONIC,
        undefined,
        `m/44'/60'/0'/0/${devIndex}`,
      ).connect(provider);
    },
    label: `${url} (chain ${chainId})`,
    done: async () => provider.destroy(),
  };
}

/** The embedded in-process Hardhat network and its funded signers. */
export async function embeddedChain() {
  const { network } = await import("hardhat");
  const connection = await network.create();
  return {
    signers: await connection.ethers.getSigners(),
    label: "embedded Hardhat network (in-process EDR)",
    done: () => connection.close(),
  };
}

/** A progress printer: call it with a message; `step` takes counted progress from the runners. */
export interface ProgressLog {
  (message: string): void;
  /** Counted progress (runners' `step` hook): a bar per task on a terminal, else plain lines. */
  readonly step: ProgressSink;
  /** Removes the bars (idempotent); called by itself when "intervals" or "rounds" completes. */
  readonly done: () => void;
}

/** Plain-line mode prints a counted step at most this often (ms): a heartbeat for long runs. */
export const PLAIN_STEP_INTERVAL_MS = 2_000;

/**
 * `[12.3s] message` lines (or nothing with `quiet`). Counted steps (`log.step`) draw a cli-progress
 * bar per task when stderr is a terminal; otherwise (CI logs, pipes) they print as plain
 * `[12.3s] meters prepared 5000/100000` lines, at most one per {@link PLAIN_STEP_INTERVAL_MS}, so a
 * short run prints what it printed before and a long one shows it is alive; a task that printed a
 * line also prints its last one (`N/N`) when it completes, so a log shows where each phase ended.
 */
export function progressLog(
  quiet: boolean,
  options: { readonly tty?: boolean; readonly write?: (line: string) => void } = {},
): ProgressLog {
  const started = performance.now();
  const stamp = () => `[${((performance.now() - started) / 1000).toFixed(1)}s]`;
  const write = options.write ?? ((line: string) => console.log(line));
  if (quiet) return Object.assign(() => {}, { step: () => {}, done: () => {} });
  const tty = options.tty ?? process.stderr.isTTY === true;
  if (!tty) {
    let lastPrinted = -Infinity;
    // Tasks with a printed line, and the count printed last.
    const printed = new Map<string, number>();
    const log = (m: string) => {
      lastPrinted = performance.now();
      write(`${stamp()} ${m}`);
    };
    const step = (s: ProgressStep) => {
      const last = printed.get(s.task);
      const completes = s.done === s.total && last !== undefined && last !== s.done;
      if (!completes && performance.now() - lastPrinted < PLAIN_STEP_INTERVAL_MS) return;
      printed.set(s.task, s.done);
      log(`${s.task} ${s.done}/${s.total}`);
    };
    return Object.assign(log, { step, done: () => {} });
  }
  let bars: MultiBar | undefined;
  const byTask = new Map<string, SingleBar>();
  const done = () => {
    bars?.stop();
    bars = undefined;
    byTask.clear();
  };
  process.once("exit", done);
  const log = (m: string) => {
    if (bars) bars.log(`${stamp()} ${m}\n`);
    else write(`${stamp()} ${m}`);
  };
  const step = (s: ProgressStep) => {
    bars ??= new MultiBar(
      {
        format: " {task} |{bar}| {value}/{total} {percentage}% eta {eta_formatted}",
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
    let bar = byTask.get(s.task);
    if (!bar) byTask.set(s.task, (bar = bars.create(s.total, 0, { task: s.task.padEnd(20) })));
    if (bar.getTotal() !== s.total) bar.setTotal(s.total);
    bar.update(s.done);
    if ((s.task === "intervals" || s.task === "rounds") && s.done === s.total) done();
  };
  return Object.assign(log, { step, done });
}

/** Right-aligned columns (the last left-aligned), a dashed rule under the header. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => c.padStart(i === cells.length - 1 ? 0 : widths[i])).join("  ");
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of rows) console.log(line(row));
}

/**
 * Writes `report` as indented JSON (bigints as decimal strings; `runJsonText`'s bytes), in pieces
 * of ≈ 1 MB rather than one string (issue 14: a city's report is tens of MB of text).
 */
export function writeJsonReport(file: string, report: unknown): void {
  const fd = openSync(file, "w");
  try {
    let buffered = "";
    for (const piece of runJsonPieces(report)) {
      buffered += piece;
      if (buffered.length >= 1 << 20) {
        writeSync(fd, buffered);
        buffered = "";
      }
    }
    writeSync(fd, buffered);
  } finally {
    closeSync(fd);
  }
  console.log(`\nreport written to ${file}`);
}

/**
 * The contract addresses of Ignition deployment `id` (`ignition/deployments/<id>/
 * deployed_addresses.json`, written by `npx gridledger deploy`), keyed by future id
 * (`BillingLedger#BillingLedger`, `Bbnp#AggregationLedger`, `Bbnp#ReputationRegistry`). A missing
 * deployment is a usage error.
 */
export function readDeployment(c: Cli, id: string): Record<string, string> {
  if (!/^[\w.-]+$/.test(id)) c.fail(`--deployment must be an Ignition deployment id, got "${id}"`);
  const file = new URL(`../../ignition/deployments/${id}/deployed_addresses.json`, import.meta.url);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  } catch {
    return c.fail(
      `no Ignition deployment "${id}" (ignition/deployments/${id}/deployed_addresses.json); deploy with \`npx gridledger deploy\``,
    );
  }
}

/**
 * The address of `contract` (`BillingLedger`, `AggregationLedger`, `ReputationRegistry`) in a
 * deployment read by `readDeployment`, whichever module deployed it (`Bbnp#…`,
 * `BbnpOnRegistry#…`); undefined if the deployment has none.
 */
export function deployedContract(
  deployed: Record<string, string>,
  contract: string,
): string | undefined {
  const key = Object.keys(deployed).find((k) => k.endsWith(`#${contract}`));
  return key === undefined ? undefined : deployed[key];
}

/** A 20-byte hex address option, or a usage error. */
export function addressOption(c: Cli, value: string, name: string): string {
  if (!isAddress(value))
    c.fail(`--${name} must be a contract address (0x + 40 hex digits), got "${value}"`);
  return getAddress(value.toLowerCase());
}

/**
 * Ends the program on a failure the user can act on: a chain error (revert decoded by name,
 * unreachable node, nonce clash, out of gas) or a deployment mismatch prints one line
 * `program: ErrorName: message` and exits 1. Anything else is a bug and is rethrown.
 */
export function exitOnChainError(program: string, err: unknown): never {
  const e = toChainError(err);
  if (e instanceof ChainError) {
    console.error(`${program}: ${e.name}: ${e.message}`);
    process.exit(1);
  }
  throw e;
}

/**
 * Checks, before a run starts, that `--json FILE` and `--report DIR` can be written: creates DIR
 * (and FILE's folder must exist), writes and removes a probe file, and fails with a one-line usage
 * error naming the option otherwise (a run's results are not lost to a bad path at the end).
 */
export function checkOutputPaths(
  c: Cli,
  json: string | undefined,
  report: string | undefined,
): void {
  if (json !== undefined) {
    if (json.trim() === "") c.fail("--json is empty: give a file");
    if (existsSync(json) && statSync(json).isDirectory()) c.fail(`--json ${json} is a directory`);
    const existed = existsSync(json);
    try {
      closeSync(openSync(json, "a"));
      if (!existed) rmSync(json);
    } catch (err) {
      c.fail(
        `--json ${json} is not writable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  if (report !== undefined) checkOutputDir(c, "report", report);
}

/**
 * Creates `dir` (with parents) and probes that a file can be written in it, before a long run;
 * exits through `c.fail` ("--OPTION DIR is not a writable directory: CODE") otherwise.
 */
export function checkOutputDir(c: Cli, option: string, dir: string): void {
  // "" would be the working directory: a typo or an unset variable, never meant.
  if (dir.trim() === "") c.fail(`--${option} is empty: give a directory`);
  try {
    const created = makeDirectory(dir); // not mkdirSync({ recursive }): it spins for ever under /proc
    // A run that fails later (an unreachable --rpc, a refused option) leaves no empty directory
    // of ours behind (newcomer re-trial, session 13); one it wrote into is kept.
    if (created.length > 0) {
      process.once("exit", (code) => {
        if (code === 0) return;
        for (const d of created.reverse()) {
          try {
            rmdirSync(d);
          } catch {
            return; // not empty (the run wrote into it), or already gone
          }
        }
      });
    }
    const probe = join(dir, `.gridledger-probe-${process.pid}`);
    writeFileSync(probe, "");
    rmSync(probe);
  } catch (err) {
    c.fail(
      `--${option} ${dir} is not a writable directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Writes the run's HTML report (`DIR/index.html`, `DIR/run.json`; offchain/report/html.ts). */
export async function writeHtmlReport(
  dir: string,
  report: Parameters<typeof writeRunReport>[1],
): Promise<void> {
  const page = await writeRunReport(dir, report);
  console.log(`HTML report written to ${page}`);
}
