// `gridledger deploy`: deploys GridLedger's contracts with Hardhat Ignition (ignition/modules/) to
// any configured network, after checking the parameters, so a bad parameter fails in one line
// before any transaction. Deployments are recorded in Ignition's journal
// (`ignition/deployments/<id>/`), which the demos attach to with `--deployment <id>`.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import type { Command } from "commander";

import { connectJsonRpc } from "../chain/provider.ts";
import { blsPublicKey, blsRandomSecretKey, g1ToEip2537 } from "../crypto/bls.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** Ignition module per `--module` value. */
export const DEPLOY_MODULES = {
  billing: { file: "ignition/modules/BillingLedger.ts", ids: ["BillingLedger"] },
  bbnp: { file: "ignition/modules/Bbnp.ts", ids: ["Bbnp"] },
  all: { file: "ignition/modules/GridLedger.ts", ids: ["BillingLedger", "Bbnp"] },
} as const;
export type DeployModule = keyof typeof DEPLOY_MODULES;

/** With an existing registry (`--registry`, `--kit`): the modules that bind to it instead. */
const ON_REGISTRY = {
  billing: DEPLOY_MODULES.billing,
  bbnp: { file: "ignition/modules/BbnpOnRegistry.ts", ids: ["BbnpOnRegistry"] },
  all: {
    file: "ignition/modules/GridLedgerOnRegistry.ts",
    ids: ["BillingLedger", "BbnpOnRegistry"],
  },
} as const;

type ModuleSpec = { readonly file: string; readonly ids: readonly string[] };

/** A deployment parameter that cannot be used (checked before Ignition runs). */
export class DeployParameterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeployParameterError";
  }
}

type Parameters = Record<string, Record<string, unknown>>;

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * Checks `params` for `module` and completes it: role addresses must be non-zero 20-byte hex;
 * a missing `Bbnp.initialGatewayKey` becomes the public key of a fresh secret that is discarded
 * (nobody can sign for key epoch 0 until the trusted authority's key is rotated in). Returns a
 * new object; throws `DeployParameterError` naming the parameter.
 */
export function completeDeployParameters(
  module: ModuleSpec,
  params: Parameters,
  random: (n: number) => Uint8Array = (n) => randomBytes(n),
): Parameters {
  const out: Parameters = JSON.parse(JSON.stringify(params)) as Parameters;
  for (const id of module.ids) out[id] ??= {};
  if (module.ids.includes("BbnpOnRegistry")) {
    const registry = out.BbnpOnRegistry.registry;
    if (typeof registry !== "string" || !ADDRESS.test(registry) || /^0x0{40}$/.test(registry)) {
      throw new DeployParameterError(
        `BbnpOnRegistry.registry must be the existing ReputationRegistry's address, got ${JSON.stringify(registry ?? null)}`,
      );
    }
  }
  if (module.ids.includes("BillingLedger")) {
    for (const role of ["controlCenter", "serviceProvider", "admin"] as const) {
      const value = out.BillingLedger[role];
      if (value === undefined && role === "admin") continue;
      if (typeof value !== "string" || !ADDRESS.test(value)) {
        throw new DeployParameterError(
          `BillingLedger.${role} must be the ${role} operator's address (0x + 40 hex digits), got ${JSON.stringify(value ?? null)}`,
        );
      }
      if (/^0x0{40}$/.test(value)) {
        throw new DeployParameterError(
          `BillingLedger.${role} is the zero address: set the ${role} operator's address`,
        );
      }
    }
  }
  const bbnpId = module.ids.find((id) => id === "Bbnp" || id === "BbnpOnRegistry");
  if (bbnpId !== undefined) {
    const key = out[bbnpId].initialGatewayKey;
    if (key === undefined) {
      const secret = blsRandomSecretKey(random);
      out[bbnpId].initialGatewayKey =
        "0x" + Buffer.from(g1ToEip2537(blsPublicKey(secret))).toString("hex");
    } else if (typeof key !== "string" || !/^0x[0-9a-fA-F]{256}$/.test(key)) {
      throw new DeployParameterError(
        `${bbnpId}.initialGatewayKey must be a 128-byte EIP-2537 G1 point (0x + 256 hex digits)`,
      );
    }
  }
  return out;
}

/**
 * What a Besu kit (`npx gridledger besu-network --out DIR`, DIR/kit.json) gives a deployment: the
 * role accounts and the genesis registry as parameters, the deployer's key file and the first
 * node's RPC URL. Throws `DeployParameterError` when DIR holds no kit.
 */
export function readKit(dir: string): {
  parameters: Parameters;
  deployerKeyFile: string;
  rpcUrl: string;
} {
  let kit: {
    kit?: string;
    registry: { address: string };
    accounts: Record<string, string>;
    bootnodes: string[];
    nodes: { rpcPort: number }[];
  };
  try {
    kit = JSON.parse(readFileSync(join(dir, "kit.json"), "utf8")) as typeof kit;
  } catch {
    throw new DeployParameterError(
      `${dir} holds no Besu kit (kit.json); write one with \`npx gridledger besu-network --out ${dir}\``,
    );
  }
  if (kit.kit !== "gridledger-besu-network") {
    throw new DeployParameterError(
      `${join(dir, "kit.json")} is not a GridLedger Besu kit manifest`,
    );
  }
  const host = /@([^:]+):\d+$/.exec(kit.bootnodes[0] ?? "")?.[1] ?? "127.0.0.1";
  return {
    parameters: {
      BillingLedger: {
        controlCenter: kit.accounts["control-center"],
        serviceProvider: kit.accounts["service-provider"],
      },
      BbnpOnRegistry: { registry: kit.registry.address },
    },
    deployerKeyFile: join(dir, "accounts", "deployer.key"),
    rpcUrl: `http://${host}:${kit.nodes[0].rpcPort}`,
  };
}

/** Reads a parameters file (JSON object of module ids). Throws `DeployParameterError`. */
export function readDeployParameters(file: string): Parameters {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new DeployParameterError(`cannot read parameters file ${file}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new DeployParameterError(`${file} is not JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new DeployParameterError(`${file} must hold a JSON object of module parameters`);
  }
  return parsed as Parameters;
}

/** Registers `gridledger deploy`. */
export function registerDeploy(program: Command): void {
  program
    .command("deploy")
    .description("Deploy GridLedger's contracts with Hardhat Ignition to a configured network")
    .option(
      "--network <name>",
      "Hardhat network: localhost (npx hardhat node) or besu",
      "localhost",
    )
    .option(
      "--rpc <url>",
      "with --network localhost: the node's URL (default http://127.0.0.1:8545)",
    )
    .option("--module <name>", "billing (Oksuz), bbnp (BBNP + registry) or all", "all")
    .option(
      "--parameters <file>",
      "Ignition parameters (default ignition/parameters/<network>.json)",
    )
    .option("--deployment-id <id>", "Ignition deployment id (default chain-<chainId>)")
    .option(
      "--registry <address>",
      "bind the aggregation ledger to this existing ReputationRegistry instead of deploying one",
    )
    .option(
      "--kit <dir>",
      "deploy to a Besu kit's network (npx gridledger besu-network): its role accounts, genesis registry, deployer key and node URL",
    )
    .action(
      async (
        opts: {
          network: string;
          rpc?: string;
          module: string;
          parameters?: string;
          deploymentId?: string;
          registry?: string;
          kit?: string;
        },
        command: Command,
      ) => {
        const fail = (message: string): never => {
          console.error(`gridledger deploy: ${message}`);
          process.exit(2);
        };
        if (!(opts.module in DEPLOY_MODULES)) {
          fail(
            `--module must be one of ${Object.keys(DEPLOY_MODULES).join(", ")}, got "${opts.module}"`,
          );
        }
        if (opts.kit !== undefined) {
          if (command.getOptionValueSource("network") === "cli" && opts.network !== "besu") {
            fail("--kit deploys to the kit's network: use --network besu or leave --network out");
          }
          opts.network = "besu";
        }
        let kit: ReturnType<typeof readKit> | undefined;
        try {
          kit = opts.kit === undefined ? undefined : readKit(opts.kit);
        } catch (err) {
          if (err instanceof DeployParameterError) fail(err.message);
          throw err;
        }
        if (opts.registry !== undefined && !ADDRESS.test(opts.registry)) {
          fail(
            `--registry must be a contract address (0x + 40 hex digits), got "${opts.registry}"`,
          );
        }
        const onRegistry = kit !== undefined || opts.registry !== undefined;
        const module: ModuleSpec = (onRegistry ? ON_REGISTRY : DEPLOY_MODULES)[
          opts.module as DeployModule
        ];
        if (opts.rpc !== undefined && opts.network !== "localhost") {
          fail(
            "--rpc applies to --network localhost; other networks take their URL from the Hardhat config",
          );
        }
        if (opts.rpc !== undefined && !/^https?:\/\/./.test(opts.rpc)) {
          fail(`--rpc must be an http(s) URL, got "${opts.rpc}"`);
        }
        const defaultFile = join(root, "ignition", "parameters", `${opts.network}.json`);
        // A kit brings its own parameters; a parameters file given as well overrides them.
        const file =
          opts.parameters ??
          (kit === undefined && existsSync(defaultFile) ? defaultFile : undefined);
        let params: Parameters;
        try {
          const given = file ? readDeployParameters(file) : {};
          const merged: Parameters = { ...(kit?.parameters ?? {}) };
          for (const [id, values] of Object.entries(given))
            merged[id] = { ...merged[id], ...values };
          if (opts.registry !== undefined) {
            merged.BbnpOnRegistry = { ...merged.BbnpOnRegistry, registry: opts.registry };
          }
          params = completeDeployParameters(module, merged);
        } catch (err) {
          if (err instanceof DeployParameterError)
            fail(`${err.message}${file ? ` (${file})` : ""}`);
          throw err;
        }
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          HARDHAT_IGNITION_CONFIRM_DEPLOYMENT: "yes",
        };
        if (kit) {
          if (!env.BESU_RPC_URL) env.BESU_RPC_URL = kit.rpcUrl;
          if (!env.BESU_DEPLOYER_KEY) {
            try {
              env.BESU_DEPLOYER_KEY = readFileSync(kit.deployerKeyFile, "utf8").trim();
            } catch {
              fail(`cannot read the kit's deployer key ${kit.deployerKeyFile}`);
            }
          }
        }
        if (opts.rpc) env.GRIDLEDGER_RPC_URL = opts.rpc;
        // The node must answer before Ignition starts (Hardhat's own message is three lines).
        const url =
          opts.network === "localhost"
            ? (opts.rpc ?? process.env.GRIDLEDGER_RPC_URL ?? "http://127.0.0.1:8545")
            : opts.network === "besu"
              ? env.BESU_RPC_URL
              : undefined;
        if (url !== undefined) {
          try {
            (await connectJsonRpc(url)).provider.destroy();
          } catch (err) {
            console.error(`gridledger deploy: ${(err as Error).name}: ${(err as Error).message}`);
            process.exit(1);
          }
        }
        let status = 0;
        const dir = mkdtempSync(join(tmpdir(), "gridledger-deploy-"));
        try {
          const paramsFile = join(dir, "parameters.json");
          writeFileSync(paramsFile, JSON.stringify(params, null, 2));
          const args = [
            "hardhat",
            "ignition",
            "deploy",
            module.file,
            "--network",
            opts.network,
            "--parameters",
            paramsFile,
          ];
          if (opts.deploymentId) args.push("--deployment-id", opts.deploymentId);
          const r = spawnSync("npx", args, { cwd: root, stdio: "inherit", env });
          status = r.status ?? 1;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        if (status !== 0) {
          console.error(
            `gridledger deploy: Ignition failed (exit ${status}); its message is above`,
          );
          process.exit(status);
        }
      },
    );
}
