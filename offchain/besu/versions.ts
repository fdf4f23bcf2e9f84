// Which Besu versions the kit writes for, and what Prague needs on each (DESIGN §2 "Besu"):
//   - 25.5.0 – 25.12.x: Besu fails at start-up unless the genesis `config` names the deposit,
//     withdrawal-request (EIP-7002) and consolidation-request (EIP-7251) contracts (besu PR #8567,
//     "Fail fast on missing system contract addresses", 25.5.0), and from Prague on it treats a
//     block as invalid when the EIP-7002/7251 system calls find no code; the kit writes the three
//     addresses and the two contracts' runtime code into the genesis.
//   - 26.2.0 and later: PoA networks set up no pre-execution or request processors (besu PR #9623),
//     so `pragueTime` alone enables Prague; 26.2.0 also restored QBFT's Shanghai withdrawals
//     validator (besu PR #9830), which 26.1.x lacks: 26.1.x is refused.
// The kit was checked against Besu's documentation and changelog up to 26.9.0 (docs/BESU.md); a
// later version is refused until someone checks it and extends KNOWN_RELEASE_LINES.
import { BesuKitVersionError } from "./errors.ts";

/** The pinned Besu version: the Docker image tag and the version the README tells users to run. */
export const DEFAULT_BESU_VERSION = "26.9.0";

/** What a Besu version needs in the genesis for Prague on QBFT. */
export interface BesuPraguePlan {
  readonly version: string;
  /** True for 25.5 – 25.12: system-contract addresses in `config` and code at 7002/7251. */
  readonly systemContracts: boolean;
}

/** Release lines (major.minor) the kit knows, each with whether it needs the system contracts. */
const KNOWN_RELEASE_LINES: ReadonlyMap<string, boolean> = new Map([
  ...[5, 6, 7, 8, 9, 10, 11, 12].map((minor) => [`25.${minor}`, true] as const),
  ...[2, 3, 4, 5, 6, 7, 8, 9].map((minor) => [`26.${minor}`, false] as const),
]);

/**
 * The Prague plan for `version` ("X.Y.Z", as on Besu's release tags). Throws BesuKitVersionError on
 * a malformed string or a version outside 25.5.0 – 25.12.x and 26.2.0 – 26.9.x.
 */
export function besuPraguePlan(version: string): BesuPraguePlan {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match) {
    throw new BesuKitVersionError(
      `Besu version "${version}" is not of the form X.Y.Z (e.g. ${DEFAULT_BESU_VERSION})`,
    );
  }
  const line = `${Number(match[1])}.${Number(match[2])}`;
  const systemContracts = KNOWN_RELEASE_LINES.get(line);
  if (systemContracts === undefined) {
    throw new BesuKitVersionError(
      `Besu ${version} is not a version the kit was checked against (25.5.0–25.12.x, 26.2.0–26.9.x; default ${DEFAULT_BESU_VERSION})`,
    );
  }
  return { version, systemContracts };
}
