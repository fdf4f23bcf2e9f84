// `node test/helpers/ping-main.ts ping --config F --data-dir D`: the CLI's service command for the
// test role (same code path as `gridledger <role>`, offchain/cli/services.ts).
import { Command } from "commander";

import { registerServiceCommand } from "../../offchain/cli/services.ts";
import { pingRole } from "./ping-role.ts";

import { fileURLToPath as toPath } from "node:url";
import { resolve as resolvePath } from "node:path";

// Hardhat's mocha runner imports every .ts under test/: run only as a script (`node this-file`),
// never on import (it would parse mocha's argv, exit, or keep the runner alive).
if (process.argv[1] !== undefined && resolvePath(process.argv[1]) === toPath(import.meta.url)) {
  await main();
}

async function main(): Promise<void> {
  const program = new Command("ping-main").exitOverride((err) =>
    process.exit(err.exitCode === 0 ? 0 : 2),
  );
  registerServiceCommand(program, pingRole);
  await program.parseAsync(process.argv);
}
