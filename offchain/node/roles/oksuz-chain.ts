// How an Oksuz role process reaches the chain (docs/briefs PLAN "Chain"): the composition root
// connects to `env.chain.rpcUrl` through chain/provider.ts (never its own provider), signs with the
// role's `chain-key` secret, and finds the BillingLedger under `env.chain.contracts`. Tests inject
// an in-process chain instead (the role modules' `create…Service(env, chain)`).
import { Wallet, type Provider, type Signer } from "ethers";

import { connectJsonRpc } from "../../chain/provider.ts";
import { bytesToHex } from "../../crypto/bytes.ts";
import { ledgerDomain } from "../../protocol/entry.ts";
import { ServiceConfigError, type ServiceEnv } from "../service.ts";

/** A role's view of the chain: a provider, its signer when it writes, and the ledger's address. */
export interface OksuzChainAccess {
  readonly provider: Provider;
  /** Absent for read-only roles (users, SP in relayed mode). */
  readonly signer?: Signer;
  /** BillingLedger address. */
  readonly ledger: string;
  readonly chainId: bigint;
}

/** The §4.4 domain of the deployment: keccak256(chainId ‖ ledger), computed, not read. */
export function oksuzDomain(chain: OksuzChainAccess): Uint8Array {
  return ledgerDomain(chain.chainId, chain.ledger);
}

/**
 * Connects from the service env. Throws `ServiceConfigError` when `chain.rpcUrl` or the
 * BillingLedger address is missing, and the provider's named error when the node does not answer.
 */
export async function oksuzChainFromEnv(
  env: ServiceEnv,
  writes: boolean,
): Promise<OksuzChainAccess> {
  const url = env.chain.rpcUrl;
  if (url === undefined) throw new ServiceConfigError("chain.rpcUrl: required by this role");
  const ledger = env.chain.contracts.BillingLedger;
  if (ledger === undefined) {
    throw new ServiceConfigError("chain.contracts.BillingLedger: required by this role");
  }
  const { provider, chainId } = await connectJsonRpc(url);
  const signer = writes
    ? new Wallet("0x" + bytesToHex(env.secret("chain-key")), provider)
    : undefined;
  return { provider, signer, ledger, chainId };
}

/** The signer, or a `ServiceConfigError` saying the role needs one. */
export function requireSigner(chain: OksuzChainAccess, role: string): Signer {
  if (!chain.signer) throw new ServiceConfigError(`${role}: needs a chain signer ("chain-key")`);
  return chain.signer;
}
