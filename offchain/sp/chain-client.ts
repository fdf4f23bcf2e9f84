// What the service provider needs of the billing ledger (DESIGN §2; Oksuz §5, §6), declared by the
// role and implemented in `chain/` (offchain/chain/oksuz-clients.ts) or by a test double.
import type { SignedBillBatch } from "../protocol/billing.ts";
import type { LedgerEntry } from "../protocol/entry.ts";
import type { IntervalReport } from "../protocol/ledger-audit.ts";
import type { TariffSchedule } from "../protocol/tariff.ts";

/**
 * SP's access to the billing ledger, connected with SP's key (SP_ROLE). Reads return the audited
 * interval (protocol/ledger-audit.ts); writes resolve once mined and throw the chain's typed error
 * (chain/errors.ts) when they revert.
 */
export interface ServiceProviderChainClient {
  /** Interval `interval` rebuilt from events and audited against storage. */
  readInterval(interval: number): Promise<IntervalReport>;
  /** Tariff version `version` as stored on-chain. */
  readTariff(version: number): Promise<TariffSchedule>;
  /** Direct mode (Oksuz §6): posts SP-signed DAP entries. */
  postDap(interval: number, entries: readonly LedgerEntry[]): Promise<void>;
  /** Direct mode: posts one SP-signed bill batch. */
  postBills(batch: SignedBillBatch): Promise<void>;
  /** Direct mode: finalizes the interval once the bills cover the OCD ledger. */
  closeBilling(interval: number): Promise<void>;
}
