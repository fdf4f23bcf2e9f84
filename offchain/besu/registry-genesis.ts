// The reputation registry as genesis state (DESIGN §2 "Besu"): Besu calls the validator contract's
// `getValidators()` on the state of the block *before* a contract-mode block, so for a transition at
// block B ≥ 1 the registry must already hold the genesis validators at block B − 1; deploying it by
// transaction would come too late for an early transition. The kit therefore writes the registry's
// runtime bytecode and the storage its constructor plus one `addNode` per genesis validator would
// leave (ReputationRegistry.sol): slots from the compiler's storage layout (storage-layout.ts), the
// BLS key table as code-store contracts (CodeStore.sol: code `0x00 ‖ data`) at the addresses the
// registry's own CREATEs would use. test/besu/registry-genesis.test.ts checks the result word for
// word against a registry built by transactions.
import { getAddress, getCreateAddress } from "ethers";

import { bytesToHex, concatBytes } from "../crypto/bytes.ts";
import { blsAggregatePublicKeys, g1ToEip2537 } from "../crypto/bls.ts";
import { keccak256 } from "../crypto/keccak.ts";
import { packReputations } from "../consensus/block.ts";
import { BesuKitRegistryError } from "./errors.ts";
import { layoutStorage, mapping, type StorageLayout } from "./storage-layout.ts";

/** What the kit needs from the compiled registry (artifact + build info). */
export interface RegistryBuild {
  /** Runtime bytecode, 0x-hex (no immutables, no libraries to link). */
  readonly deployedBytecode: string;
  readonly storageLayout: StorageLayout;
}

/** A genesis consensus node: its validator address and BLS public key (48-byte compressed G1). */
export interface RegistryGenesisNode {
  readonly account: string;
  readonly blsPublicKey: Uint8Array;
}

export interface RegistryGenesisInit {
  /** Where the registry lives (the `validatorcontractaddress`). */
  readonly address: string;
  /** Holder of DEFAULT_ADMIN_ROLE and REGULATOR_ROLE (the constructor's `admin`). */
  readonly admin: string;
  /** The genesis validators in registry order (the kit: ascending address, Besu's order). */
  readonly nodes: readonly RegistryGenesisNode[];
  /** Initial reputation of every node, 1e18 fixed point (DESIGN §5; the BBNP prior 0.5). */
  readonly initialReputation: bigint;
}

/** A genesis `alloc` account. */
export interface GenesisAccount {
  readonly balance: string;
  readonly nonce?: string;
  readonly code?: string;
  readonly storage?: Record<string, string>;
  readonly comment?: string;
}

/** Key-table entries per code chunk (RoundConfig.CHUNK_ENTRIES: 128 × 128 B = 16 KiB < EIP-170). */
export const KEY_TABLE_CHUNK_ENTRIES = 128;
/** `keccak256("REGULATOR_ROLE")` (ReputationRegistry.REGULATOR_ROLE). */
export const REGULATOR_ROLE =
  "0x" + bytesToHex(keccak256(new TextEncoder().encode("REGULATOR_ROLE")));
/** OpenZeppelin AccessControl's DEFAULT_ADMIN_ROLE. */
export const DEFAULT_ADMIN_ROLE = "0x" + "00".repeat(32);

/**
 * The registry's genesis accounts: the registry (runtime code, storage, nonce 1 + key-table
 * chunks) and one code-store account per key-table chunk. Every node has the same initial
 * reputation, so all of them are validators (ReputationVector.validatorsFromValues: Γ_j·M ≥ ΣΓ).
 * Throws BesuKitRegistryError on fewer than one node, more than the registry holds, a duplicate
 * account or key, or a storage layout the kit does not know (a changed contract: see docs/BESU.md).
 */
export function registryGenesisAlloc(
  build: RegistryBuild,
  init: RegistryGenesisInit,
): Record<string, GenesisAccount> {
  const m = init.nodes.length;
  const keyTables = build.storageLayout.storage.find((v) => v.label === "_keyTables");
  const maxChunks = Number(
    /\[(\d+)\]$/.exec(build.storageLayout.types?.[keyTables?.type ?? ""]?.label ?? "")?.[1] ?? NaN,
  );
  if (!Number.isInteger(maxChunks)) {
    throw new BesuKitRegistryError("registryGenesisAlloc: the registry has no _keyTables array");
  }
  if (m < 1 || m + 1 > maxChunks * KEY_TABLE_CHUNK_ENTRIES) {
    throw new BesuKitRegistryError(`registryGenesisAlloc: ${m} nodes do not fit the registry`);
  }
  const accounts = init.nodes.map((n) => getAddress(n.account));
  if (new Set(accounts).size !== m) {
    throw new BesuKitRegistryError("registryGenesisAlloc: duplicate node account");
  }
  const keys = init.nodes.map((n) => g1ToEip2537(n.blsPublicKey));
  const keyHashes = keys.map((k) => "0x" + bytesToHex(keccak256(k)));
  if (new Set(keyHashes).size !== m) {
    throw new BesuKitRegistryError("registryGenesisAlloc: duplicate BLS key");
  }
  const registry = getAddress(init.address);
  const admin = getAddress(init.admin);

  // Key table `aggregate ‖ key_0 ‖ … ‖ key_{M−1}` (EIP-2537 G1, 128 B each) in chunks.
  const aggregate = g1ToEip2537(blsAggregatePublicKeys(init.nodes.map((n) => n.blsPublicKey)));
  const table = [aggregate, ...keys];
  const chunkCount = Math.ceil(table.length / KEY_TABLE_CHUNK_ENTRIES);
  const chunkAddresses: string[] = [];
  const alloc: Record<string, GenesisAccount> = {};
  for (let c = 0; c < chunkCount; c++) {
    // The registry's c-th CREATE (a contract's nonce starts at 1, EIP-161).
    const chunkAddress = getCreateAddress({ from: registry, nonce: 1 + c });
    chunkAddresses.push(chunkAddress);
    const entries = table.slice(c * KEY_TABLE_CHUNK_ENTRIES, (c + 1) * KEY_TABLE_CHUNK_ENTRIES);
    alloc[chunkAddress] = {
      comment: `GridLedger reputation registry: BLS key table chunk ${c} (CodeStore)`,
      balance: "0x0",
      nonce: "0x1",
      code: "0x00" + bytesToHex(concatBytes(...entries)),
    };
  }

  const reputations = init.nodes.map(() => init.initialReputation);
  let storage: Record<string, string>;
  try {
    storage = layoutStorage(build.storageLayout, {
      _roles: mapping([
        [DEFAULT_ADMIN_ROLE, { hasRole: mapping([[admin, true]]), adminRole: DEFAULT_ADMIN_ROLE }],
        [REGULATOR_ROLE, { hasRole: mapping([[admin, true]]), adminRole: DEFAULT_ADMIN_ROLE }],
      ]),
      _nodes: accounts.map((account, j) => ({ account, keyHash: keyHashes[j] })),
      _indexPlusOne: mapping(accounts.map((a, j) => [a, BigInt(j + 1)] as const)),
      _accountOfKey: mapping(keyHashes.map((h, j) => [h, accounts[j]] as const)),
      _keyTables: Array.from({ length: maxChunks }, (_, c) =>
        c < chunkCount ? chunkAddresses[c] : "0x" + "00".repeat(20),
      ),
      _reputationsHash: "0x" + bytesToHex(keccak256(packReputations(reputations))),
      _validatorBitmap: (1n << BigInt(m)) - 1n,
      _ledger: "0x" + "00".repeat(20),
      // One membership epoch per genesis `addNode`; no membership change pending.
      _epoch: BigInt(m),
      _pending: { account: "0x" + "00".repeat(20), initialReputation: 0n, kind: 0n },
      _pendingKey: "0x",
    });
  } catch (err) {
    throw new BesuKitRegistryError(
      `registryGenesisAlloc: the compiled ReputationRegistry does not match the kit's genesis layout (${(err as Error).message}); update offchain/besu/registry-genesis.ts`,
    );
  }
  alloc[registry] = {
    comment: "GridLedger ReputationRegistry: QBFT validator contract (getValidators)",
    balance: "0x0",
    nonce: "0x" + (1 + chunkCount).toString(16),
    code: build.deployedBytecode,
    storage,
  };
  return alloc;
}
