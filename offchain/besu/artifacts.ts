// Reads the compiled ReputationRegistry for the kit (I/O edge of offchain/besu): runtime bytecode
// from its Hardhat artifact and the storage layout from the artifact's build info
// (`artifacts/build-info/<buildInfoId>.output.json`; hardhat.config.ts asks solc for
// `storageLayout`).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { BesuKitRegistryError } from "./errors.ts";
import type { RegistryBuild } from "./registry-genesis.ts";
import type { StorageLayout } from "./storage-layout.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface HardhatArtifact {
  readonly contractName: string;
  readonly deployedBytecode: string;
  readonly deployedLinkReferences?: Record<string, unknown>;
  readonly immutableReferences?: Record<string, unknown>;
  readonly inputSourceName: string;
  readonly buildInfoId: string;
}

/**
 * The registry build from `root` (default: this repository). Throws BesuKitRegistryError when the
 * artifact or its build info is missing, has no storage layout, or needs linking or immutables
 * (which a genesis account cannot carry).
 */
export function readRegistryBuild(
  root: string = REPO_ROOT,
  sourcePath = "consensus/ReputationRegistry.sol",
  name = "ReputationRegistry",
): RegistryBuild {
  const artifactPath = join(root, "artifacts", "contracts", sourcePath, `${name}.json`);
  let artifact: HardhatArtifact;
  try {
    artifact = JSON.parse(readFileSync(artifactPath, "utf8")) as HardhatArtifact;
  } catch {
    throw new BesuKitRegistryError(`${name} is not built: run \`npx hardhat build\` first`);
  }
  if (
    Object.keys(artifact.deployedLinkReferences ?? {}).length ||
    Object.keys(artifact.immutableReferences ?? {}).length
  ) {
    throw new BesuKitRegistryError(
      `${name} has linked libraries or immutables; genesis code cannot carry them`,
    );
  }
  const buildInfoPath = join(
    root,
    "artifacts",
    "build-info",
    `${artifact.buildInfoId}.output.json`,
  );
  let layout: StorageLayout | undefined;
  try {
    const output = JSON.parse(readFileSync(buildInfoPath, "utf8")) as {
      output: { contracts: Record<string, Record<string, { storageLayout?: StorageLayout }>> };
    };
    layout = output.output.contracts[artifact.inputSourceName]?.[name]?.storageLayout;
  } catch {
    throw new BesuKitRegistryError(
      `the build info of ${name} is missing: run \`npx hardhat build\``,
    );
  }
  if (!layout) {
    throw new BesuKitRegistryError(
      `the build info of ${name} has no storageLayout (hardhat.config.ts outputSelection); rebuild with \`npx hardhat build --force\``,
    );
  }
  return { deployedBytecode: artifact.deployedBytecode, storageLayout: layout };
}
