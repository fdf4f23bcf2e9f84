// What both demos (demo.ts, bbnp-demo.ts) need around their scenario runner: option parsing with
// usage errors (exit 2), the chain connection (embedded in-process network or a JSON-RPC URL with
// optional private keys from the environment), timed progress lines, a fixed-width table, and a
// JSON report writer.
import { writeFileSync } from "node:fs";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

import { JsonRpcProvider, Wallet, type Signer } from "ethers";

export interface Cli {
  /** Prints `program: message`, the usage, and exits with 2. */
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

export function cli(program: string, usage: string): Cli {
  const fail = (message: string): never => {
    console.error(`${program}: ${message}\n\n${usage}`);
    process.exit(2);
  };
  return {
    fail,
    intOption(value, name, fallback, min, max = Number.MAX_SAFE_INTEGER) {
      if (value === undefined) return fallback;
      const n = Number(value);
      if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
        const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
        fail(`--${name} must be an integer ${range}, got "${value}"`);
      }
      return n;
    },
    fractionOption(value, name) {
      if (value === undefined) return 0;
      const x = Number(value);
      if (value.trim() === "" || !(x >= 0 && x < 1)) {
        fail(`--${name} must be a fraction in [0, 1), got "${value}"`);
      }
      return x;
    },
  };
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
  const config = { options, strict: true, allowPositionals: false } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    c.fail((err as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed.values;
}

/** A JSON-RPC chain: reachability checked, signers by index or by a private key in `env[name]`. */
export async function connectRpc(c: Cli, url: string) {
  // No response cache: ethers otherwise reuses an `eth_getTransactionCount` answer for 250 ms, and
  // a private-key signer sending transactions back to back signs two with the same nonce (seen with
  // the Besu kit's role keys on `hardhat node`, test/besu/dress-rehearsal.test.ts).
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: false, cacheTimeout: -1 });
  try {
    await provider.getBlockNumber();
  } catch (err) {
    c.fail(`cannot reach ${url}: ${(err as Error).message.split("\n")[0]}`);
  }
  return {
    provider,
    signer(envKey: string | undefined, index: number): Promise<Signer> {
      const key = envKey === undefined ? undefined : process.env[envKey];
      return key ? Promise.resolve(new Wallet(key, provider)) : provider.getSigner(index);
    },
    label: url,
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

/** `[12.3s] message` lines (or nothing with `quiet`). */
export function progressLog(quiet: boolean): (message: string) => void {
  const started = performance.now();
  return quiet
    ? () => {}
    : (m) => console.log(`[${((performance.now() - started) / 1000).toFixed(1)}s] ${m}`);
}

/** Right-aligned columns (the last left-aligned), a dashed rule under the header. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => c.padStart(i === cells.length - 1 ? 0 : widths[i])).join("  ");
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of rows) console.log(line(row));
}

/** Writes `report` as indented JSON (bigints as decimal strings). */
export function writeJsonReport(file: string, report: unknown): void {
  writeFileSync(
    file,
    JSON.stringify(report, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) +
      "\n",
  );
  console.log(`\nreport written to ${file}`);
}
