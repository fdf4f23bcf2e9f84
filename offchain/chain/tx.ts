// The one way `chain/` sends a transaction: wait for its receipt, record the receipt's block in
// the provider's read fence (provider.ts: later reads see this write), and turn every failure
// into a named `ChainError` (errors.ts).
import type { ContractTransactionReceipt, ContractTransactionResponse, Signer } from "ethers";

import { TransactionDroppedError, chainCall } from "./errors.ts";
import { noteWrite } from "./provider.ts";

/**
 * Sends (awaits `tx`), waits for one confirmation and returns the receipt. Throws
 * `ContractRevertError` (decoded custom error), `OutOfGasError`, `NonceConflictError`,
 * `ChainUnreachableError` or `TransactionDroppedError` (no receipt).
 */
export async function mined(
  tx: Promise<ContractTransactionResponse> | (() => Promise<ContractTransactionResponse>),
): Promise<ContractTransactionReceipt> {
  return chainCall(async () => {
    const response = await (typeof tx === "function" ? tx() : tx);
    const receipt = await response.wait();
    if (!receipt) throw new TransactionDroppedError(`transaction ${response.hash} was dropped`);
    noteWrite(response.provider, receipt);
    return receipt;
  });
}

/**
 * Sends (awaits `tx`) without waiting for it to be mined: resolves with the response once the node
 * accepted the transaction. Throws the same named `ChainError`s as {@link mined} (a node that
 * refuses it at once: `NonceConflictError`, a revert in automine, …).
 */
export function sent(
  tx: Promise<ContractTransactionResponse> | (() => Promise<ContractTransactionResponse>),
): Promise<ContractTransactionResponse> {
  return chainCall(() => (typeof tx === "function" ? tx() : tx));
}

/**
 * The successful receipt of a sent transaction (see {@link sent}), recorded in the read fence.
 * Polls the node every `pollMs` (default 100 ms) for the receipt and for the sender's mined
 * transaction count. Throws as {@link mined} (a reverted receipt: `ContractRevertError`, through
 * ethers' `wait`); `TransactionDroppedError` when the count passed the transaction's nonce without
 * it on two polls in a row (replaced: another transaction took its nonce), or when no receipt
 * arrived within `timeoutMs` (default: no limit). Holds no timer once settled.
 */
export function receiptOf(
  response: ContractTransactionResponse,
  timeoutMs?: number,
  pollMs = 100,
): Promise<ContractTransactionReceipt> {
  return chainCall(async () => {
    const { provider } = response;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    let passed = 0;
    for (;;) {
      if (await provider.getTransactionReceipt(response.hash)) {
        // Mined: ethers' wait returns the receipt at once, or throws its revert.
        const receipt = await response.wait(1);
        if (!receipt) throw new TransactionDroppedError(`transaction ${response.hash} was dropped`);
        noteWrite(provider, receipt);
        return receipt;
      }
      if ((await provider.getTransactionCount(response.from, "latest")) > response.nonce) {
        if (++passed >= 2) {
          throw new TransactionDroppedError(
            `transaction ${response.hash} (nonce ${response.nonce}) was replaced: its nonce is used by another transaction`,
          );
        }
      }
      if (Date.now() >= deadline) {
        throw new TransactionDroppedError(
          `transaction ${response.hash} (nonce ${response.nonce}) not mined within ${timeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  });
}

/**
 * Waits until every transaction `signer` has sent is mined — its `pending` transaction count no
 * longer above its `latest` one — polling every `pollMs` (default 100 ms). A restarted role calls
 * it before reading what the chain holds, so that a transaction its killed predecessor sent and the
 * node still holds is seen as mined, not missed (the chain is the source of truth). Resolves true
 * once settled, false when `timeoutMs` passed first (a transaction stuck in the pool). Throws the
 * named `ChainError`s of {@link chainCall}; a signer without a provider is a TypeError.
 */
export async function settled(signer: Signer, timeoutMs: number, pollMs = 100): Promise<boolean> {
  const provider = signer.provider;
  if (!provider) throw new TypeError("settled: the signer needs a provider");
  const address = await signer.getAddress();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [latest, pending] = await chainCall(() =>
      Promise.all([
        provider.getTransactionCount(address, "latest"),
        provider.getTransactionCount(address, "pending"),
      ]),
    );
    if (pending <= latest) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
