// Read-after-write consistency on real JSON-RPC chains (docs/RUNTIME.md "Real chains").
//
// Two things made reads stale over HTTP, and both are closed here for every caller:
// - ethers v6's AbstractProvider answers an identical request from a 250 ms cache, so an
//   `eth_blockNumber` right after a mined transaction could return the block before it. Every
//   JSON-RPC provider of the project comes from `jsonRpcProvider`, which disables that cache
//   (`cacheTimeout: -1`); a test fails if another module constructs one.
// - A node behind a load balancer, or a provider whose head lags, can still answer from an older
//   block. Every write made through `chain/` records its receipt's block in a per-provider fence
//   (`noteWrite`); every reader asks `readHead`, which returns a block at or after the fence (and
//   after the caller's own `minBlock`), waiting a bounded time for the node to catch up.
import {
  FetchRequest,
  JsonRpcProvider,
  Network,
  type Provider,
  type TransactionReceipt,
} from "ethers";

import { ChainUnreachableError, StaleReadError } from "./errors.ts";

/** Poll interval for receipts and head catch-up on a JSON-RPC node (ms). */
const POLLING_MS = 100;

/**
 * The project's JSON-RPC provider for `url`: no response cache (read-after-write), the network
 * fixed (`chainId` when known, else detected once), receipts polled every 100 ms. Throws
 * `ChainUnreachableError` when the URL is not an http(s) URL.
 */
export function jsonRpcProvider(url: string, chainId?: bigint): JsonRpcProvider {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ChainUnreachableError(url, "not a URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ChainUnreachableError(url, `unsupported scheme "${parsed.protocol}" (http or https)`);
  }
  const provider = new JsonRpcProvider(url, undefined, {
    staticNetwork: chainId === undefined ? true : Network.from(chainId),
    cacheTimeout: -1,
    pollingInterval: POLLING_MS,
  });
  provider.pollingInterval = POLLING_MS;
  return provider;
}

/**
 * Connects to `url` and checks that a node answers (`eth_chainId`, `eth_blockNumber`) within
 * `timeoutMs`. Returns the provider and its chain id; throws `ChainUnreachableError` otherwise
 * (the provider is destroyed first).
 */
export async function connectJsonRpc(
  url: string,
  timeoutMs = 10_000,
): Promise<{ provider: JsonRpcProvider; chainId: bigint }> {
  jsonRpcProvider(url).destroy(); // URL checks
  // Probe with one plain request first: ethers' provider would retry a dead URL forever.
  const request = new FetchRequest(url);
  request.timeout = timeoutMs;
  request.setHeader("content-type", "application/json");
  request.body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
  let chainId: bigint;
  try {
    const response = await request.send();
    response.assertOk();
    const result = (response.bodyJson as { result?: unknown }).result;
    if (typeof result !== "string" || !/^0x[0-9a-fA-F]+$/.test(result)) {
      throw new Error("not a JSON-RPC node (no chain id in the answer to eth_chainId)");
    }
    chainId = BigInt(result);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new ChainUnreachableError(url, reason.replace(/\s*\(.*$/, ""));
  }
  const provider = jsonRpcProvider(url, chainId);
  try {
    await provider.getBlockNumber();
  } catch (err) {
    provider.destroy();
    throw new ChainUnreachableError(url, (err as Error).message.split("\n")[0]);
  }
  return { provider, chainId };
}

// Per-provider fence: the highest block of a receipt this process has seen through `chain/`
// (signers of one node share their provider object).
const fences = new WeakMap<Provider, number>();

/** Records that a write landed in `receipt.blockNumber` (called by every write in `chain/`). */
export function noteWrite(
  provider: Provider | null | undefined,
  receipt: TransactionReceipt,
): void {
  if (!provider) return;
  fences.set(provider, Math.max(fences.get(provider) ?? -1, receipt.blockNumber));
}

/** The fence of `provider`: the last block this process wrote to through it (−1 if none). */
export function writeFence(provider: Provider): number {
  return fences.get(provider) ?? -1;
}

/**
 * A block number to read at: the node's head, which is at or after both this process's last
 * write through `provider` and `minBlock`. Waits up to `timeoutMs` for a lagging node, then
 * throws `StaleReadError` (a node that does not show our own write is not one to read from).
 */
export async function readHead(
  provider: Provider,
  minBlock = -1,
  timeoutMs = 10_000,
): Promise<number> {
  const target = Math.max(minBlock, writeFence(provider));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const head = await provider.getBlockNumber();
    if (head >= target) return head;
    if (Date.now() >= deadline) throw new StaleReadError(head, target);
    await new Promise((resolve) => setTimeout(resolve, POLLING_MS));
  }
}
