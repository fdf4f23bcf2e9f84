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
