// `gridledger besu-network`: every file of a private Besu QBFT network kit, as data (DESIGN §2
// "Besu"; docs/BESU.md explains each file and field). Pure given its inputs: randomness and the
// compiled registry are injected, and writing the files is kit-writer.ts's job.
import { isIPv4 } from "node:net";

import { dump as dumpYaml } from "js-yaml";
import { stringify as stringifyToml } from "smol-toml";

import { bytesToHex, u256 } from "../crypto/bytes.ts";
import { blsPublicKey, blsRandomSecretKey } from "../crypto/bls.ts";
import type { RandomBytes } from "../crypto/keys.ts";
import { BesuKitOptionError, BesuKitPortError, BesuKitValidatorCountError } from "./errors.ts";
import { qbftGenesis, type QbftGenesis } from "./genesis.ts";
import { enodeUrl, generateBesuNodeKey, type BesuNodeKey } from "./node-keys.ts";
import { registryGenesisAlloc, type RegistryBuild } from "./registry-genesis.ts";
import { readmeText } from "./kit-readme.ts";
import { besuPraguePlan, DEFAULT_BESU_VERSION } from "./versions.ts";

/** Options of `gridledger besu-network` (CLI flags in parentheses). */
export interface BesuKitInit {
  /** QBFT validators, ≥ 4 (`--validators`). */
  readonly validators: number;
  /** Non-validating member nodes (full nodes for services), ≥ 0 (`--members`). */
  readonly members: number;
  readonly chainId: number;
  readonly blockPeriodSeconds: number;
  readonly besuVersion: string;
  /** IPv4 address every node listens on and advertises in its enode (`--host`). */
  readonly host: string;
  /** Node i uses P2P port p2pPort + i and RPC port rpcPort + i (`--p2p-port`, `--rpc-port`). */
  readonly p2pPort: number;
  readonly rpcPort: number;
  /** First block whose validators come from the registry (`--contract-block`, ≥ 1). */
  readonly contractBlock: number;
}

export const BESU_KIT_DEFAULTS: BesuKitInit = {
  validators: 4,
  members: 0,
  chainId: 1337,
  blockPeriodSeconds: 2,
  besuVersion: DEFAULT_BESU_VERSION,
  host: "127.0.0.1",
  p2pPort: 30303,
  rpcPort: 8545,
  contractBlock: 1,
};

/** Injected dependencies: randomness (keys) and the compiled ReputationRegistry. */
export interface BesuKitComponents {
  readonly random: RandomBytes;
  readonly registry: RegistryBuild;
}

/** Where the kit's validator contract (the ReputationRegistry) lives from genesis. */
export const REGISTRY_ADDRESS = "0x0000000000000000000000000000000000007777";
/** Initial reputation of every genesis validator: the BBNP prior 0.5 (1e18 fixed point). */
export const GENESIS_REPUTATION = 5n * 10n ** 17n;
/** GridLedger role accounts the kit creates keys for (all allowlisted, all funded). */
export const KIT_ROLES = ["deployer", "control-center", "service-provider", "gateway"] as const;
export type KitRole = (typeof KIT_ROLES)[number];

/** One node of the kit. */
export interface KitNode {
  readonly name: string;
  readonly validator: boolean;
  readonly address: string;
  readonly publicKey: string;
  readonly enode: string;
  readonly p2pPort: number;
  readonly rpcPort: number;
  /** Validators: the BLS public key registered for them (48-byte compressed G1, 0x-hex). */
  readonly blsPublicKey?: string;
}

/** The machine-readable manifest (`kit.json`). */
export interface KitManifest {
  readonly kit: "gridledger-besu-network";
  readonly version: 1;
  readonly chainId: number;
  readonly besuVersion: string;
  readonly dockerImage: string;
  readonly blockPeriodSeconds: number;
  readonly registry: { readonly address: string; readonly contractBlock: number };
  readonly validators: readonly string[];
  readonly bootnodes: readonly string[];
  readonly accounts: Readonly<Record<KitRole, string>>;
  readonly nodes: readonly KitNode[];
}

/** A file of the kit: path relative to the kit root, content, POSIX mode. */
export interface KitFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

export interface BesuKit {
  readonly files: readonly KitFile[];
  readonly manifest: KitManifest;
  readonly genesis: QbftGenesis;
}

/** The kit's allowlists (`permissions_config.toml`, the same file on every node). */
export interface Allowlists {
  readonly "accounts-allowlist": readonly string[];
  readonly "nodes-allowlist": readonly string[];
}

/**
 * Checks `init` (every refusal a named error, before any key is drawn). Throws
 * BesuKitValidatorCountError (< 4 validators, or more than the registry's 255), BesuKitPortError
 * (a port range outside [1, 65535], or P2P and RPC ranges overlapping), BesuKitVersionError,
 * BesuKitOptionError (members, chain id, period, host, transition block).
 */
export function checkBesuKitInit(init: BesuKitInit): void {
  const { validators, members } = init;
  if (!Number.isSafeInteger(validators) || validators < 4 || validators > 255) {
    throw new BesuKitValidatorCountError(
      `--validators must be an integer in [4, 255] (QBFT needs 3f + 1 ≥ 4 to tolerate a fault), got ${validators}`,
    );
  }
  if (!Number.isSafeInteger(members) || members < 0 || members > 64) {
    throw new BesuKitOptionError(`--members must be an integer in [0, 64], got ${members}`);
  }
  const n = validators + members;
  for (const [flag, base] of [
    ["--p2p-port", init.p2pPort],
    ["--rpc-port", init.rpcPort],
  ] as const) {
    if (!Number.isSafeInteger(base) || base < 1 || base + n - 1 > 65535) {
      throw new BesuKitPortError(
        `${flag} ${base}: nodes use ports ${base}..${base + n - 1}, which must lie in [1, 65535]`,
      );
    }
  }
  if (init.p2pPort < init.rpcPort + n && init.rpcPort < init.p2pPort + n) {
    throw new BesuKitPortError(
      `--p2p-port ${init.p2pPort} and --rpc-port ${init.rpcPort} ranges overlap for ${n} nodes`,
    );
  }
  if (!Number.isSafeInteger(init.chainId) || init.chainId < 1 || init.chainId > 2 ** 32 - 1) {
    throw new BesuKitOptionError(
      `--chain-id must be an integer in [1, 2^32 − 1], got ${init.chainId}`,
    );
  }
  if (
    !Number.isSafeInteger(init.blockPeriodSeconds) ||
    init.blockPeriodSeconds < 1 ||
    init.blockPeriodSeconds > 3600
  ) {
    throw new BesuKitOptionError(
      `--block-period must be an integer number of seconds in [1, 3600], got ${init.blockPeriodSeconds}`,
    );
  }
  if (!isIPv4(init.host)) {
    throw new BesuKitOptionError(`--host must be an IPv4 address, got "${init.host}"`);
  }
  if (!Number.isSafeInteger(init.contractBlock) || init.contractBlock < 1) {
    throw new BesuKitOptionError(
      `--contract-block must be an integer ≥ 1 (Besu refuses a transition at block 0), got ${init.contractBlock}`,
    );
  }
  besuPraguePlan(init.besuVersion);
}

/**
 * Builds the whole kit. Validators are ordered by address (ascending, as Besu sorts validators and
 * as `getValidators()` returns them) and named validator-0…; members follow as member-0…. Throws
 * what {@link checkBesuKitInit} throws, and BesuKitRegistryError if the compiled registry does not
 * match the kit's genesis layout.
 */
export function buildBesuKit(init: BesuKitInit, components: BesuKitComponents): BesuKit {
  checkBesuKitInit(init);
  const { random } = components;
  const prague = besuPraguePlan(init.besuVersion);
  const validatorKeys = Array.from({ length: init.validators }, () =>
    generateBesuNodeKey(random),
  ).sort((a, b) => compareAddresses(a.address, b.address));
  const memberKeys = Array.from({ length: init.members }, () => generateBesuNodeKey(random));
  const blsSecrets = validatorKeys.map(() => blsRandomSecretKey(random));
  const blsPublic = blsSecrets.map((sk) => blsPublicKey(sk));
  const roleKeys = Object.fromEntries(
    KIT_ROLES.map((role) => [role, generateBesuNodeKey(random)]),
  ) as Record<KitRole, BesuNodeKey>;

  const nodeKeys = [...validatorKeys, ...memberKeys];
  const nodes: KitNode[] = nodeKeys.map((key, i) => {
    const validator = i < init.validators;
    return {
      name: validator ? `validator-${i}` : `member-${i - init.validators}`,
      validator,
      address: key.address,
      publicKey: key.publicKey,
      enode: enodeUrl(key.enodeId, init.host, init.p2pPort + i),
      p2pPort: init.p2pPort + i,
      rpcPort: init.rpcPort + i,
      ...(validator ? { blsPublicKey: "0x" + bytesToHex(blsPublic[i]) } : {}),
    };
  });
  const validators = nodes.filter((n) => n.validator).map((n) => n.address);
  const bootnodes = nodes.slice(0, 2).map((n) => n.enode);
  const accounts = Object.fromEntries(KIT_ROLES.map((r) => [r, roleKeys[r].address])) as Record<
    KitRole,
    string
  >;

  const contractAlloc = registryGenesisAlloc(components.registry, {
    address: REGISTRY_ADDRESS,
    admin: accounts.deployer,
    nodes: validatorKeys.map((k, j) => ({ account: k.address, blsPublicKey: blsPublic[j] })),
    initialReputation: GENESIS_REPUTATION,
  });
  const genesis = qbftGenesis({
    chainId: init.chainId,
    blockPeriodSeconds: init.blockPeriodSeconds,
    validators,
    validatorContract: { address: REGISTRY_ADDRESS, fromBlock: init.contractBlock },
    contractAlloc,
    fundedAccounts: [...Object.values(accounts), ...validators],
    prague,
  });
  const manifest: KitManifest = {
    kit: "gridledger-besu-network",
    version: 1,
    chainId: init.chainId,
    besuVersion: prague.version,
    dockerImage: `hyperledger/besu:${prague.version}`,
    blockPeriodSeconds: init.blockPeriodSeconds,
    registry: { address: REGISTRY_ADDRESS, contractBlock: init.contractBlock },
    validators,
    bootnodes,
    accounts,
    nodes,
  };

  const allowlists: Allowlists = {
    // Role holders and the deployer send GridLedger's transactions; consensus nodes (the
    // validators' accounts) commit BBNP rounds. Member nodes send no transactions of their own.
    "accounts-allowlist": [...Object.values(accounts), ...validators].map((a) => a.toLowerCase()),
    "nodes-allowlist": nodes.map((n) => n.enode),
  };
  const permissions = stringifyToml(allowlists) + "\n";

  const files: KitFile[] = [
    { path: "genesis.json", content: JSON.stringify(genesis, null, 2) + "\n", mode: 0o644 },
    { path: "kit.json", content: JSON.stringify(manifest, null, 2) + "\n", mode: 0o644 },
  ];
  nodeKeys.forEach((key, i) => {
    const node = nodes[i];
    const dir = node.name;
    files.push(
      { path: `${dir}/key`, content: key.privateKey + "\n", mode: 0o600 },
      { path: `${dir}/key.pub`, content: key.publicKey + "\n", mode: 0o644 },
      { path: `${dir}/address`, content: key.address + "\n", mode: 0o644 },
      { path: `${dir}/enode`, content: node.enode + "\n", mode: 0o644 },
      { path: `${dir}/config.toml`, content: nodeConfigToml(init, node, bootnodes), mode: 0o644 },
      { path: `${dir}/permissions_config.toml`, content: permissions, mode: 0o644 },
    );
    if (node.validator) {
      files.push(
        {
          path: `${dir}/bls.key`,
          content: "0x" + bytesToHex(u256(blsSecrets[i])) + "\n",
          mode: 0o600,
        },
        { path: `${dir}/bls.pub`, content: node.blsPublicKey + "\n", mode: 0o644 },
      );
    }
  });
  for (const role of KIT_ROLES) {
    files.push({
      path: `accounts/${role}.key`,
      content: roleKeys[role].privateKey + "\n",
      mode: 0o600,
    });
  }
  files.push(
    { path: "docker-compose.yml", content: dockerCompose(manifest), mode: 0o644 },
    { path: "start-local.sh", content: startScript(manifest), mode: 0o755 },
    { path: "README.md", content: readmeText(manifest), mode: 0o644 },
    {
      path: ".gitignore",
      content:
        "# Node databases and every secret key of the kit\n*/data/\nlogs/\n*/key\n*/bls.key\naccounts/\n",
      mode: 0o644,
    },
  );
  return { files, manifest, genesis };
}

/** Ascending by address bytes (Besu's `Address` order; equal to lowercase-hex order). */
export function compareAddresses(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A node's `config.toml` (Besu reads every CLI option as a TOML key without `--`). Paths are
 * relative to the node's directory, which both the start script and docker-compose use as the
 * working directory.
 */
export function nodeConfigToml(
  init: BesuKitInit,
  node: KitNode,
  bootnodes: readonly string[],
): string {
  const config = {
    "data-path": "data",
    "genesis-file": "../genesis.json",
    "node-private-key-file": "key",
    "p2p-host": init.host,
    "p2p-port": node.p2pPort,
    "rpc-http-enabled": true,
    "rpc-http-host": init.host,
    "rpc-http-port": node.rpcPort,
    "rpc-http-api": ["ETH", "NET", "QBFT", "WEB3", "TXPOOL"],
    "host-allowlist": [...new Set(["localhost", "127.0.0.1", init.host])],
    "min-gas-price": 0,
    "revert-reason-enabled": true,
    "sync-mode": "FULL",
    bootnodes: [...bootnodes],
    "permissions-nodes-config-file-enabled": true,
    "permissions-nodes-config-file": "permissions_config.toml",
    "permissions-accounts-config-file-enabled": true,
    "permissions-accounts-config-file": "permissions_config.toml",
  };
  return (
    `# Besu ${init.besuVersion} configuration of ${node.name} (GridLedger besu-network; docs/BESU.md)\n` +
    stringifyToml(config) +
    "\n"
  );
}

function dockerCompose(m: KitManifest): string {
  const services: Record<string, unknown> = {};
  for (const node of m.nodes) {
    services[node.name] = {
      image: m.dockerImage,
      container_name: `gridledger-${node.name}`,
      // Host networking: the enodes in the allowlist carry the host address and per-node ports,
      // exactly as with start-local.sh (Linux Docker Engine, or Docker Desktop ≥ 4.34 with host
      // networking enabled).
      network_mode: "host",
      user: "${KIT_UID:-1000}:${KIT_GID:-1000}",
      working_dir: `/kit/${node.name}`,
      volumes: ["./:/kit"],
      command: ["--config-file=config.toml"],
      restart: "unless-stopped",
    };
  }
  return (
    `# GridLedger besu-network: ${m.nodes.length} Besu ${m.besuVersion} nodes (docs/BESU.md)\n` +
    dumpYaml({ name: "gridledger-besu", services }, { lineWidth: 120 })
  );
}

function startScript(m: KitManifest): string {
  const lines = [
    "#!/usr/bin/env sh",
    `# Starts the ${m.nodes.length} nodes of this kit with a local Besu ${m.besuVersion} binary`,
    "# (BESU=/path/to/besu ./start-local.sh; default: besu on PATH). Logs in logs/, pids in logs/*.pid;",
    "# stop with: kill $(cat logs/*.pid)",
    "set -eu",
    'cd "$(dirname "$0")"',
    'BESU="${BESU:-besu}"',
    'command -v "$BESU" >/dev/null 2>&1 || { echo "start-local.sh: $BESU not found (set BESU=/path/to/besu)" >&2; exit 1; }',
    "mkdir -p logs",
  ];
  for (const node of m.nodes) {
    lines.push(
      `(cd ${node.name} && nohup "$BESU" --config-file=config.toml > ../logs/${node.name}.log 2>&1 & echo $! > ../logs/${node.name}.pid)`,
      `echo "started ${node.name} (pid $(cat logs/${node.name}.pid)), RPC http://${hostOf(node.enode)}:${node.rpcPort}"`,
    );
  }
  return lines.join("\n") + "\n";
}

function hostOf(enode: string): string {
  return enode.slice(enode.indexOf("@") + 1, enode.lastIndexOf(":"));
}
