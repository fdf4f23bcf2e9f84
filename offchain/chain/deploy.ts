// Deploys and configures the billing ledger from the Hardhat build's artifacts with plain ethers,
// so the same code serves the embedded chain, `hardhat node` and any JSON-RPC URL (Besu).
import { readFileSync } from "node:fs";

import { ContractFactory, type Signer } from "ethers";

import { connectBillingLedger, publicKeyStruct, type BillingLedger } from "./billing.ts";
import type { TariffSchedule } from "./tariff.ts";

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
 * one deployment path of the demo, the benchmarks and the tests.
 */
export async function deployBillingLedger(
  signers: BillingLedgerSigners,
  config: BillingLedgerConfig = {},
): Promise<{ ledger: BillingLedger; address: string }> {
  const { abi, bytecode } = readArtifact("ledger/BillingLedger.sol", "BillingLedger");
  const factory = new ContractFactory(abi, bytecode, signers.admin);
  const deployed = await factory.deploy(
    await signers.admin.getAddress(),
    await signers.controlCenter.getAddress(),
    await signers.serviceProvider.getAddress(),
  );
  await deployed.waitForDeployment();
  const address = await deployed.getAddress();
  const ledger = connectBillingLedger(address, signers.admin);
  const wait = async (tx: Promise<{ wait(): Promise<unknown> }>) => (await tx).wait();
  const { tariff, categories, controlCenter, serviceProvider } = config;
  if (tariff) {
    await wait(ledger.setTariff([...tariff.breakpointsWh], [...tariff.values], tariff.cap));
  }
  if (categories) {
    await wait(
      ledger.setCategoryValues(
        categories.map((c) => Number(c)) as [number, number, number, number, number],
      ),
    );
  }
  if (controlCenter) {
    await wait(
      ledger.setControlCenterKeys(
        publicKeyStruct(controlCenter.publicKey),
        publicKeyStruct(controlCenter.sigPublicKey),
      ),
    );
  }
  if (serviceProvider) {
    await wait(
      ledger.setServiceProviderKeys(
        publicKeyStruct(serviceProvider.publicKey),
        publicKeyStruct(serviceProvider.sigPublicKey),
      ),
    );
  }
  if (config.direct) await wait(ledger.setDeliveryMode(1));
  if (config.slotsPerMeter !== undefined) await wait(ledger.setSlotsPerMeter(config.slotsPerMeter));
  return { ledger, address };
}

/** The tariff an interval was opened under (read from the chain, for SP and users). */
export async function readTariff(ledger: BillingLedger, version: number): Promise<TariffSchedule> {
  const [breakpointsWh, values, cap] = await ledger.tariff(version);
  return { breakpointsWh: [...breakpointsWh], values: [...values], cap };
}
