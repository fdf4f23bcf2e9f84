// `node test/helpers/ping-main.ts ping --config F --data-dir D`: the CLI's service command for the
// test role (same code path as `gridledger <role>`, offchain/cli/services.ts).
import { Command } from "commander";

import { registerServiceCommand } from "../../offchain/cli/services.ts";
import { pingRole } from "./ping-role.ts";

const program = new Command("ping-main").exitOverride((err) =>
  process.exit(err.exitCode === 0 ? 0 : 2),
);
registerServiceCommand(program, pingRole);
await program.parseAsync(process.argv);
