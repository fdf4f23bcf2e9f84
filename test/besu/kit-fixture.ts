// Shared by the Besu kit tests (exports only): a kit built from a seeded random source and the
// compiled ReputationRegistry, and its files by path.
import { readRegistryBuild } from "../../offchain/besu/artifacts.ts";
import type { GenesisAccount } from "../../offchain/besu/registry-genesis.ts";
import {
  BESU_KIT_DEFAULTS,
  buildBesuKit,
  type BesuKit,
  type BesuKitInit,
} from "../../offchain/besu/kit.ts";
import { createRng } from "../../offchain/runtime/rng.ts";

export interface TestKit extends BesuKit {
  /** File content by path relative to the kit root. */
  readonly file: (path: string) => string;
  readonly paths: ReadonlySet<string>;
}

/** A kit with `overrides` on the defaults, keys from the seed `seed`. */
export function testKit(overrides: Partial<BesuKitInit> = {}, seed = "besu-kit"): TestKit {
  const rng = createRng(seed);
  const kit = buildBesuKit(
    { ...BESU_KIT_DEFAULTS, ...overrides },
    { random: (n) => rng.bytes(n), registry: readRegistryBuild() },
  );
  const byPath = new Map(kit.files.map((f) => [f.path, f.content]));
  return {
    ...kit,
    paths: new Set(byPath.keys()),
    file(path) {
      const content = byPath.get(path);
      if (content === undefined) throw new Error(`testKit: no file ${path} in the kit`);
      return content;
    },
  };
}

/** A JSON-RPC call: `provider.send` of ethers, or a wrapper around EIP-1193 `request`. */
export type RpcSend = (method: string, params: unknown[]) => Promise<unknown>;

/**
 * Loads genesis accounts into a Hardhat chain as Besu would start from them: balance, nonce, code
 * and every storage word (hardhat_setBalance / setNonce / setCode / setStorageAt).
 */
export async function loadGenesisAlloc(
  send: RpcSend,
  alloc: Readonly<Record<string, GenesisAccount>>,
): Promise<void> {
  for (const [address, account] of Object.entries(alloc)) {
    await send("hardhat_setBalance", [address, account.balance]);
    if (account.nonce) await send("hardhat_setNonce", [address, account.nonce]);
    if (account.code) await send("hardhat_setCode", [address, account.code]);
    for (const [slot, value] of Object.entries(account.storage ?? {})) {
      await send("hardhat_setStorageAt", [address, slot, value]);
    }
  }
}
