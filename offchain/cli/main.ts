#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072 node --disable-warning=ExperimentalWarning
// `gridledger`: the one command line of GridLedger (package.json "bin"; `npx gridledger --help`).
// Each subcommand lives in its own module under offchain/cli/ and registers itself here; the demos
// (`simulate`, `simulate-bbnp`) keep their own option parsers and are handed the remaining
// arguments unchanged, so `npx gridledger simulate --meters 10` ≡ `npm run demo -- --meters 10`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { Command } from "commander";

import { registerCapacity } from "./capacity.ts";
import { registerDeploy } from "./deploy.ts";
import { registerReport } from "./report.ts";
import { registerBesuNetwork } from "./besu-network.ts";
import { registerVerifyBill } from "./verify-bill.ts";
import { registerServiceCommands } from "./services.ts";
import { registerDevnet } from "./devnet.ts";
import { ROLES } from "../node/roles/index.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Compiles the contracts when their artifacts are missing (a fresh clone after `npm install`):
 * every chain-facing command reads `artifacts/`. Exits with the compiler's status on failure.
 */
export function ensureBuilt(): void {
  if (existsSync(`${root}artifacts/contracts/ledger/BillingLedger.sol/BillingLedger.json`)) return;
  const r = spawnSync("npx", ["hardhat", "build", "--quiet"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    console.error("gridledger: contract build failed (npx hardhat build)");
    process.exit(r.status ?? 1);
  }
}

/** Runs a demo script with `args` as its command line (it parses `process.argv` itself). */
async function runScript(script: string, name: string, args: readonly string[]): Promise<void> {
  ensureBuilt();
  process.argv = [process.argv[0], name, ...args];
  await import(script);
}

const program = new Command("gridledger")
  .description(
    "Privacy-preserving smart-meter aggregation and dynamic billing on a permissioned EVM chain",
  )
  // One line and exit 2 for a usage error (as the demos), the usage only on --help.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .enablePositionalOptions();

program
  .command("simulate")
  .description("Oksuz metering and billing end to end (the demo); --help lists its options")
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .argument("[options...]")
  .action((args: string[]) => runScript("./demo.ts", "gridledger simulate", args));

program
  .command("simulate-bbnp")
  .description("BBNP masked aggregation and consensus end to end; --help lists its options")
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .argument("[options...]")
  .action((args: string[]) => runScript("./bbnp-demo.ts", "gridledger simulate-bbnp", args));

registerDeploy(program);
registerCapacity(program);
registerReport(program);
registerBesuNetwork(program, { ensureBuilt });
registerVerifyBill(program);
registerServiceCommands(program, ROLES);
registerDevnet(program, { ensureBuilt });

program
  .command("bench")
  .description("run the benchmark suites (offchain/bench/main.ts); --help lists its options")
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .argument("[options...]")
  .action((args: string[]) => runScript("../bench/main.ts", "gridledger bench", args));

// Usage errors as the demos print them, `gridledger <command>: message` (`gridledger: message`
// for the program's own, an unknown command), not commander's `error: message` (issue 14's
// newcomer trials: two styles side by side).
for (const [command, name] of [
  [program, program.name()],
  ...program.commands.map((c) => [c, `${program.name()} ${c.name()}`] as const),
] as const) {
  command.configureOutput({
    outputError: (message, write) => write(message.replace(/^error: /, `${name}: `)),
  });
}

await program.parseAsync(process.argv);
