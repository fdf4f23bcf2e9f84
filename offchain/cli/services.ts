// `gridledger <role> --config FILE --data-dir DIR`: one generic command per registered role
// (offchain/node/roles/index.ts), each handing the process to the runner (offchain/node/runner.ts,
// docs/RUNTIME.md "Services").
import type { Command } from "commander";

import { runServiceMain } from "../node/runner.ts";
import type { RoleDefinition } from "../node/service.ts";

/** Adds `<role> --config F --data-dir D` for `def` to `program`. */
export function registerServiceCommand(program: Command, def: RoleDefinition<unknown>): void {
  program
    .command(def.role)
    .description(def.description)
    .requiredOption("--config <file>", "config file (TOML, or JSON if it ends in .json)")
    .requiredOption("--data-dir <dir>", "data directory (created; locked against a second process)")
    .addHelpText(
      "after",
      "\nKey files in the data directory are sealed with the operator key from\n" +
        "GRIDLEDGER_OPERATOR_KEY. GET /health on 127.0.0.1:<healthPort> reports the status;\n" +
        "SIGINT/SIGTERM stop the service cleanly (a second signal exits at once).",
    )
    .action(async (opts: { config: string; dataDir: string }) => {
      await runServiceMain(
        def,
        { configPath: opts.config, dataDir: opts.dataDir },
        `${program.name()} ${def.role}`,
      );
    });
}

/** Registers every role of `roles`. */
export function registerServiceCommands(
  program: Command,
  roles: readonly RoleDefinition<unknown>[],
): void {
  for (const def of roles) registerServiceCommand(program, def);
}
