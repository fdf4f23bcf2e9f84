// Config files and process specs for the test role (./ping-role.ts) run as processes.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { ProcessSpec } from "../../offchain/node/supervisor.ts";
import { ROOT } from "./hardhat-node.ts";

export const PING_MAIN = join(ROOT, "test", "helpers", "ping-main.ts");
/** A fixed operator key for tests (32 bytes, hex). */
export const TEST_OPERATOR_KEY = "11".repeat(32);

/** Writes `<dir>/<name>.json` with the runner's and the ping role's fields; returns its path. */
export function writePingConfig(
  dir: string,
  name: string,
  fields: Record<string, unknown>,
): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ name, ...fields }, null, 2));
  return path;
}

/** The spec that runs `ping-main.ts ping --config F --data-dir D` with the project's Node. */
export function pingSpec(
  name: string,
  config: string,
  dataDir: string,
  env: Record<string, string> = {},
): ProcessSpec {
  return {
    name,
    role: "ping",
    command: process.execPath,
    args: [
      "--disable-warning=ExperimentalWarning",
      PING_MAIN,
      "ping",
      "--config",
      config,
      "--data-dir",
      dataDir,
    ],
    dataDir,
    env: { GRIDLEDGER_OPERATOR_KEY: TEST_OPERATOR_KEY, ...env },
  };
}
