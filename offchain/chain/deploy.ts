// Deploys and configures the billing ledger from the Hardhat build's artifacts with plain ethers,
// so the same code serves the embedded chain, `hardhat node` and any JSON-RPC URL (Besu).
import { readFileSync } from "node:fs";

import { ContractFactory, type Signer } from "ethers";

import { connectBillingLedger, publicKeyStruct, type BillingLedger } from "./billing.ts";
import { ChainError, chainCall } from "./errors.ts";
import { noteWrite } from "./provider.ts";
import { mined } from "./tx.ts";
import type { TariffSchedule } from "../protocol/tariff.ts";

/** An existing deployment is not what the caller needs (no code, missing role, used ledger…). */
export class DeploymentMismatchError extends ChainError {}

interface Artifact {
  abi: ConstructorParameters<typeof ContractFactory>[0];
  bytecode: string;
}

/** Reads `artifacts/contracts/<path>/<name>.json` (run `npx hardhat build` first). */
export function readArtifact(sourcePath: string, name: string): Artifact {
  const url = new URL(`../../artifacts/contracts/${sourcePath}/${name}.json`, import.meta.url);
  try {
    return JSON.parse(readFileSync(url, "utf8")) as Artifact;
  } catch {
    throw new Error(`readArtifact: ${name} not built; run \`npx hardhat build\` first`);
  }
}

/** What the admin configures after deployment; each part is applied only when given. */
export interface BillingLedgerConfig {
  readonly tariff?: TariffSchedule;
  readonly categories?: readonly bigint[];
  readonly controlCenter?: { readonly publicKey: Uint8Array; readonly sigPublicKey: Uint8Array };
  readonly serviceProvider?: { readonly publicKey: Uint8Array; readonly sigPublicKey: Uint8Array };
  /** Paper §6: SP publishes prices and bills itself. */
  readonly direct?: boolean;
  /** `K`, report slots per meter per interval (DESIGN §7); required before opening intervals. */
  readonly slotsPerMeter?: number;
}

export interface BillingLedgerSigners {
  readonly admin: Signer;
  readonly controlCenter: Signer;
  readonly serviceProvider: Signer;
}

/**
 * Deploys a BillingLedger with roles for the three signers and applies `config` as the admin. The
 * one deployment path of the demo, the benchmarks and the tests. Throws `ChainError`s (errors.ts).
 */
export async function deployBillingLedger(
  signers: BillingLedgerSigners,
  config: BillingLedgerConfig = {},
): Promise<{ ledger: BillingLedger; address: string }> {
  const { abi, bytecode } = readArtifact("ledger/BillingLedger.sol", "BillingLedger");
  const factory = new ContractFactory(abi, bytecode, signers.admin);
  const address = await chainCall(async () => {
    const deployed = await factory.deploy(
      await signers.admin.getAddress(),
      await signers.controlCenter.getAddress(),
      await signers.serviceProvider.getAddress(),
    );
    const receipt = await deployed.deploymentTransaction()?.wait();
    if (receipt) noteWrite(signers.admin.provider, receipt);
    return deployed.getAddress();
  });
  // A fresh ledger starts in relayed mode: set the mode only when it differs.
  return attachBillingLedger(address, signers, { ...config, direct: config.direct || undefined });
}

/**
 * Attaches to a BillingLedger deployed earlier (`npx gridledger deploy`, Ignition) and applies
 * `config` as the admin. Checks, before any write, that code is deployed at `address` and that the
 * three signers hold DEFAULT_ADMIN_ROLE, CC_ROLE and SP_ROLE; throws `DeploymentMismatchError`
 * naming what differs, or a `ChainError`.
 */
export async function attachBillingLedger(
  address: string,
  signers: BillingLedgerSigners,
  config: BillingLedgerConfig = {},
): Promise<{ ledger: BillingLedger; address: string }> {
  const provider = signers.admin.provider;
  if (!provider) throw new TypeError("attachBillingLedger: the admin signer needs a provider");
  const ledger = connectBillingLedger(address, signers.admin);
  await chainCall(async () => {
    if ((await provider.getCode(address)) === "0x") {
      throw new DeploymentMismatchError(`no contract at ${address} on this chain`);
    }
    const roles: [string, Signer][] = [
      [await ledger.DEFAULT_ADMIN_ROLE(), signers.admin],
      [await ledger.CC_ROLE(), signers.controlCenter],
      [await ledger.SP_ROLE(), signers.serviceProvider],
    ];
    const names = ["admin", "control center", "service provider"];
    for (const [i, [role, signer]] of roles.entries()) {
      const account = await signer.getAddress();
      if (!(await ledger.hasRole(role, account))) {
        throw new DeploymentMismatchError(
          `the ${names[i]} account ${account} lacks its role on the BillingLedger at ${address}`,
        );
      }
    }
  });
  const { tariff, categories, controlCenter, serviceProvider } = config;
  if (tariff) {
    await mined(ledger.setTariff([...tariff.breakpointsWh], [...tariff.values], tariff.cap));
  }
  if (categories) {
    await mined(
      ledger.setCategoryValues(
        categories.map((c) => Number(c)) as [number, number, number, number, number],
      ),
    );
  }
  if (controlCenter) {
    await mined(
      ledger.setControlCenterKeys(
        publicKeyStruct(controlCenter.publicKey),
        publicKeyStruct(controlCenter.sigPublicKey),
      ),
    );
  }
  if (serviceProvider) {
    await mined(
      ledger.setServiceProviderKeys(
        publicKeyStruct(serviceProvider.publicKey),
        publicKeyStruct(serviceProvider.sigPublicKey),
      ),
    );
  }
  if (config.direct !== undefined) await mined(ledger.setDeliveryMode(config.direct ? 1 : 0));
  if (config.slotsPerMeter !== undefined)
    await mined(ledger.setSlotsPerMeter(config.slotsPerMeter));
  return { ledger, address };
}

/** The tariff an interval was opened under (read from the chain, for SP and users). */
export async function readTariff(ledger: BillingLedger, version: number): Promise<TariffSchedule> {
  const [breakpointsWh, values, cap] = await ledger.tariff(version);
  return { breakpointsWh: [...breakpointsWh], values: [...values], cap };
}
