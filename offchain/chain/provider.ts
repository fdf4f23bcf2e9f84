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
import { JsonRpcProvider, type Provider, type TransactionReceipt } from "ethers";

import { ChainUnreachableError, StaleReadError } from "./errors.ts";

/** Poll interval for receipts and head catch-up on a JSON-RPC node (ms). */
const POLLING_MS = 100;

/**
 * The project's JSON-RPC provider for `url`: no response cache (read-after-write), the network
 * detected once (`staticNetwork`), receipts polled every 100 ms. Throws `ChainUnreachableError`
 * when the URL is not an http(s)/ws URL.
 */
export function jsonRpcProvider(url: string): JsonRpcProvider {
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
    staticNetwork: true,
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
  const provider = jsonRpcProvider(url);
  let timer: NodeJS.Timeout | undefined;
  try {
    const probe = Promise.all([provider.send("eth_chainId", []), provider.getBlockNumber()]);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const [chainIdHex] = (await Promise.race([probe, timeout])) as [string, number];
    return { provider, chainId: BigInt(chainIdHex) };
  } catch (err) {
    provider.destroy();
    const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new ChainUnreachableError(url, reason.replace(/\s*\(.*$/, ""));
  } finally {
    clearTimeout(timer);
  }
}

// Per-provider fence: the highest block of a receipt this process has seen through `chain/`.
const fences = new WeakMap<object, number>();

function fenceKey(provider: Provider): object {
  // Signers of one node share a provider; Hardhat's wrapper forwards to one object as well.
  return provider;
}

/** Records that a write landed in `receipt.blockNumber` (called by every write in `chain/`). */
export function noteWrite(
  provider: Provider | null | undefined,
  receipt: TransactionReceipt,
): void {
  if (!provider) return;
  const key = fenceKey(provider);
  fences.set(key, Math.max(fences.get(key) ?? -1, receipt.blockNumber));
}

/** The fence of `provider`: the last block this process wrote to through it (−1 if none). */
export function writeFence(provider: Provider): number {
  return fences.get(fenceKey(provider)) ?? -1;
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
