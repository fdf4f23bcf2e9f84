// The chain clients the Oksuz roles declare (offchain/cc/chain-client.ts), implemented over a typed
// BillingLedger connected with the role's signer. Composition roots (offchain/sim/, offchain/node/)
// build them and inject them into the agents; the agents never import this module.
import type { Signer } from "ethers";

import { hexToBytes } from "../crypto/bytes.ts";
import type { ControlCenterChainClient, OcdBatchSender } from "../cc/chain-client.ts";
import type { IntervalCounts, ServiceProviderChainClient } from "../sp/chain-client.ts";
import { sharedUserChainClient, type UserChainClient } from "../user/chain-client.ts";
import type { IntervalStateValue } from "../protocol/billing.ts";
import {
  closeBilling,
  openInterval,
  postBills,
  postDap,
  postOcdBatch,
  publicKeyStruct,
  sealInterval,
  sendOcdAfter,
  type BillingLedger,
} from "./billing.ts";
import { chainCall } from "./errors.ts";
import { readInterval, type ReadIntervalOptions } from "./ledgerReader.ts";
import { readTariff } from "./deploy.ts";
import { mined, receiptOf, settled } from "./tx.ts";

/** Meters per `registerMeters` transaction (stays well under the block gas limit). */
const REGISTER_BATCH = 200;

/** Options of {@link controlCenterChainClient}. */
export interface ControlCenterChainClientOptions {
  /**
   * How long a sent OCD batch may stay unmined before it counts as dropped
   * (`TransactionDroppedError`; CC then reads the chain again). Default 120,000 ms.
   */
  readonly receiptTimeoutMs?: number;
  /** Poll period of `settle` (ms), default 100. */
  readonly settlePollMs?: number;
}

/** CC's signer and its provider (the ledger must be connected with a Signer that has one). */
function signerOf(ledger: BillingLedger): Signer & { provider: NonNullable<Signer["provider"]> } {
  const runner = ledger.runner as Signer | null;
  if (!runner || typeof runner.getAddress !== "function" || !runner.provider) {
    throw new TypeError("controlCenterChainClient: the ledger is not connected with a signer");
  }
  return runner as Signer & { provider: NonNullable<Signer["provider"]> };
}

/**
 * CC's client over `ledger` (connected with CC's signer, which must have a provider). Its OCD
 * senders (`ocdSender`) assign nonces themselves, from one `pending` count: nothing else may send
 * with CC's key while a sender's batches are in flight (the agent posts them alone, then seals).
 */
export function controlCenterChainClient(
  ledger: BillingLedger,
  options: ControlCenterChainClientOptions = {},
): ControlCenterChainClient {
  const receiptTimeoutMs = options.receiptTimeoutMs ?? 120_000;
  const settlePollMs = options.settlePollMs ?? 100;
  return {
    async blockGasLimit() {
      const { provider } = signerOf(ledger);
      const block = await chainCall(() => provider.getBlock("latest"));
      if (!block) throw new TypeError("controlCenterChainClient: the node has no latest block");
      return block.gasLimit;
    },
    async ocdSender(): Promise<OcdBatchSender> {
      const signer = signerOf(ledger);
      const address = await signer.getAddress();
      let nonce = await chainCall(() => signer.provider.getTransactionCount(address, "pending"));
      return {
        async send(interval, predecessor, entries, zeroIds, gasLimit) {
          const response = await sendOcdAfter(
            ledger,
            interval,
            predecessor,
            entries,
            zeroIds.bytes,
            {
              nonce,
              gasLimit,
            },
          );
          nonce++;
          const mined = receiptOf(response, receiptTimeoutMs).then(() => undefined);
          mined.catch(() => {}); // observed by the caller; never an unhandled rejection
          return { mined };
        },
      };
    },
    settle: (timeoutMs) => settled(signerOf(ledger), timeoutMs, settlePollMs),
    meterCount: async () => Number(await ledger.meterCount()),
    async registerMeters(publicKeys, progress) {
      for (let i = 0; i < publicKeys.length; i += REGISTER_BATCH) {
        const slice = publicKeys.slice(i, i + REGISTER_BATCH).map(publicKeyStruct);
        await mined(ledger.registerMeters(slice));
        progress?.(i + slice.length);
      }
    },
    async intervalProgress(interval) {
      const record = await ledger.intervalRecord(interval);
      return {
        state: Number(record.state) as IntervalStateValue,
        lastId: hexToBytes(record.lastId),
        ocdCount: Number(record.ocdCount),
        billCount: Number(record.billCount),
        dapCount: Number(record.dapCount),
      };
    },
    openInterval: async (interval, start, end) =>
      void (await openInterval(ledger, interval, start, end)),
    postOcdBatch: async (interval, entries, zeroIds) =>
      void (await postOcdBatch(ledger, interval, entries, zeroIds.bytes)),
    sealInterval: async (interval) => void (await sealInterval(ledger, interval)),
    postDap: async (interval, entries) => void (await postDap(ledger, interval, entries)),
    postBills: async (batch) => void (await postBills(ledger, batch)),
    closeBilling: async (interval) => void (await closeBilling(ledger, interval)),
  };
}

/** SP's client over `ledger` (connected with SP's signer; reads through the same provider). */
export function serviceProviderChainClient(
  ledger: BillingLedger,
  readOptions: ReadIntervalOptions = {},
): ServiceProviderChainClient {
  return {
    readInterval: (interval) => readInterval(ledger, interval, readOptions),
    intervalCounts: (interval) => intervalCounts(ledger, interval),
    readTariff: (version) => readTariff(ledger, version),
    postDap: async (interval, entries) => void (await postDap(ledger, interval, entries)),
    postBills: async (batch) => void (await postBills(ledger, batch)),
    closeBilling: async (interval) => void (await closeBilling(ledger, interval)),
  };
}

/** Per ledger object: the reader its default-option user clients share (issue 14). */
const sharedReaders = new WeakMap<BillingLedger, UserChainClient>();

/**
 * A user's read-only client over `ledger` (connected with any provider). Clients made over the same
 * `ledger` object with the default read options share one reader (`sharedUserChainClient`:
 * concurrent reads coalesced, final intervals kept), so a simulation's N users, built over one
 * ledger connection, rebuild an interval from events once per poll instead of N times (issue 14:
 * at 500 meters the separate reads were 133 s of a 181 s run and 2.1 GB of peak memory). Each
 * user still audits the report itself; explicit `readOptions` get a reader of their own.
 */
export function userChainClient(
  ledger: BillingLedger,
  readOptions: ReadIntervalOptions = {},
): UserChainClient {
  const own: UserChainClient = {
    readInterval: (interval) => readInterval(ledger, interval, readOptions),
    intervalState: async (interval) => (await intervalCounts(ledger, interval)).state,
  };
  if (Object.keys(readOptions).length > 0) return own;
  let shared = sharedReaders.get(ledger);
  if (shared === undefined) sharedReaders.set(ledger, (shared = sharedUserChainClient(own)));
  return shared;
}

/** Interval `interval`'s state and DAP and bill counts, from one `intervalRecord` storage read. */
async function intervalCounts(ledger: BillingLedger, interval: number): Promise<IntervalCounts> {
  const record = await ledger.intervalRecord(interval);
  return {
    state: Number(record.state) as IntervalStateValue,
    dapCount: Number(record.dapCount),
    billCount: Number(record.billCount),
  };
}
