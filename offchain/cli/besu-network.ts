// `gridledger besu-network`: writes a private Besu QBFT network kit (DESIGN §2 "Besu";
// docs/BESU.md). The generator is offchain/besu/ (pure); this module parses the flags, draws keys
// from the OS CSPRNG, reads the compiled registry and writes the kit atomically. Bad input is one
// line `gridledger besu-network: <ErrorName>: <message>` and exit status 2; nothing is written.
import { randomBytes } from "node:crypto";

import type { Command } from "commander";

import { BesuKitError, BesuKitOptionError, BesuKitPortError } from "../besu/errors.ts";
import { readRegistryBuild } from "../besu/artifacts.ts";
import {
  BESU_KIT_DEFAULTS,
  buildBesuKit,
  checkBesuKitInit,
  type BesuKitInit,
} from "../besu/kit.ts";
import { checkOutputDir, writeKit } from "../besu/kit-writer.ts";
import { decimalNumber } from "./common.ts";

interface BesuNetworkFlags {
  validators: string;
  members: string;
  chainId: string;
  blockPeriod: string;
  besuVersion: string;
  host: string;
  p2pPort: string;
  rpcPort: string;
  contractBlock: string;
  out: string;
  force?: boolean;
}

/** A decimal integer flag; anything else (e.g. "4.5", "", "0x10") is a named error. */
function integerFlag(value: string, flag: string, isPort = false): number {
  const n = decimalNumber(value, true);
  if (!Number.isSafeInteger(n)) {
    const Err = isPort ? BesuKitPortError : BesuKitOptionError;
    throw new Err(`${flag} must be an integer, got "${value}"`);
  }
  return n;
}

/** Parses the flags into a checked kit init (throws the kit's named errors). */
export function besuKitInitFromFlags(flags: BesuNetworkFlags): BesuKitInit {
  const init: BesuKitInit = {
    validators: integerFlag(flags.validators, "--validators"),
    members: integerFlag(flags.members, "--members"),
    chainId: integerFlag(flags.chainId, "--chain-id"),
    blockPeriodSeconds: integerFlag(flags.blockPeriod, "--block-period"),
    besuVersion: flags.besuVersion,
    host: flags.host,
    p2pPort: integerFlag(flags.p2pPort, "--p2p-port", true),
    rpcPort: integerFlag(flags.rpcPort, "--rpc-port", true),
    contractBlock: integerFlag(flags.contractBlock, "--contract-block"),
  };
  checkBesuKitInit(init);
  return init;
}

/**
 * Registers `besu-network` on `program`. `ensureBuilt` compiles the contracts when their artifacts
 * are missing (main.ts's).
 */
export function registerBesuNetwork(program: Command, deps: { ensureBuilt: () => void }): void {
  const d = BESU_KIT_DEFAULTS;
  program
    .command("besu-network")
    .description(
      "Write a private Besu QBFT network kit whose validators come from the reputation registry",
    )
    .option("--validators <n>", "QBFT validators (4 to 255)", String(d.validators))
    .option("--members <n>", "extra non-validating nodes for services", String(d.members))
    .option("--chain-id <id>", "chain id", String(d.chainId))
    .option(
      "--block-period <s>",
      "seconds between blocks (QBFT blockperiodseconds)",
      String(d.blockPeriodSeconds),
    )
    .option(
      "--besu-version <x.y.z>",
      "Besu version to write for (25.5.0–25.12.x, 26.2.0–26.9.x)",
      d.besuVersion,
    )
    .option("--host <ip>", "IPv4 address the nodes listen on and advertise", d.host)
    .option("--p2p-port <port>", "P2P port of the first node (node i: port + i)", String(d.p2pPort))
    .option(
      "--rpc-port <port>",
      "JSON-RPC port of the first node (node i: port + i)",
      String(d.rpcPort),
    )
    .option(
      "--contract-block <n>",
      "first block whose validators come from the registry (≥ 1)",
      String(d.contractBlock),
    )
    .option("--out <dir>", "output directory", "besu-net")
    .option("--force", "replace a non-empty output directory that holds a kit written before")
    .action((flags: BesuNetworkFlags) => {
      try {
        const init = besuKitInitFromFlags(flags);
        checkOutputDir(flags.out, flags.force === true);
        deps.ensureBuilt();
        const kit = buildBesuKit(init, {
          random: (n) => new Uint8Array(randomBytes(n)),
          registry: readRegistryBuild(),
        });
        const out = writeKit(kit.files, flags.out, flags.force === true);
        const m = kit.manifest;
        console.log(
          `wrote ${kit.files.length} files to ${out}: ${m.validators.length} validators` +
            (m.nodes.length > m.validators.length
              ? ` + ${m.nodes.length - m.validators.length} members`
              : "") +
            `, chain id ${m.chainId}, Besu ${m.besuVersion}, registry ${m.registry.address} from block ${m.registry.contractBlock}\n` +
            `next: ${out}/README.md`,
        );
      } catch (err) {
        if (!(err instanceof BesuKitError)) throw err;
        console.error(`gridledger besu-network: ${err.name}: ${err.message}`);
        process.exitCode = 2;
      }
    });
}
