// The one way `chain/` sends a transaction: wait for its receipt, record the receipt's block in
// the provider's read fence (provider.ts: later reads see this write), and turn every failure
// into a named `ChainError` (errors.ts).
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";

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
 * Throws as {@link mined}; `TransactionDroppedError` as well when no receipt arrived within
 * `timeoutMs` (default: wait as long as it takes).
 */
export function receiptOf(
  response: ContractTransactionResponse,
  timeoutMs?: number,
): Promise<ContractTransactionReceipt> {
  return chainCall(async () => {
    let receipt: ContractTransactionReceipt | null;
    try {
      receipt = await response.wait(1, timeoutMs);
    } catch (err) {
      if ((err as { code?: unknown }).code === "TIMEOUT") {
        throw new TransactionDroppedError(
          `transaction ${response.hash} (nonce ${response.nonce}) not mined within ${timeoutMs} ms`,
        );
      }
      throw err;
    }
    if (!receipt) throw new TransactionDroppedError(`transaction ${response.hash} was dropped`);
    noteWrite(response.provider, receipt);
    return receipt;
  });
}
