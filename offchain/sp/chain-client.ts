// What the service provider needs of the billing ledger (DESIGN §2; Oksuz §5, §6), declared by the
// role and implemented in `chain/` (offchain/chain/oksuz-clients.ts) or by a test double.
import type { IntervalStateValue, SignedBillBatch } from "../protocol/billing.ts";
import type { LedgerEntry } from "../protocol/entry.ts";
import type { IntervalReport } from "../protocol/ledger-audit.ts";
import type { TariffSchedule } from "../protocol/tariff.ts";

/**
 * SP's access to the billing ledger, connected with SP's key (SP_ROLE). Reads return the audited
 * interval (protocol/ledger-audit.ts); writes resolve once mined and throw the chain's typed error
 * (chain/errors.ts) when they revert.
 */
/** An interval's state and counts as stored in the contract's `IntervalRecord` (DESIGN §2). */
export interface IntervalCounts {
  readonly state: IntervalStateValue;
  /** DAP entries posted. */
  readonly dapCount: number;
  /** Bills in force (after the last `BillingRestarted`). */
  readonly billCount: number;
}

export interface ServiceProviderChainClient {
  /** Interval `interval` rebuilt from events and audited against storage. */
  readInterval(interval: number): Promise<IntervalReport>;
  /**
   * Optional: interval `interval`'s state and counts (one storage read, no event scan). With it
   * SP polls the chain without rebuilding the whole interval at each poll — at 100,000 meters a
   * rebuild decodes and checks ≈ 10⁶ records (issue 14) — and reads the interval in full only
   * when it is sealed and when it is final.
   */
  intervalCounts?(interval: number): Promise<IntervalCounts>;
  /** Tariff version `version` as stored on-chain. */
  readTariff(version: number): Promise<TariffSchedule>;
  /** Direct mode (Oksuz §6): posts SP-signed DAP entries. */
  postDap(interval: number, entries: readonly LedgerEntry[]): Promise<void>;
  /** Direct mode: posts one SP-signed bill batch. */
  postBills(batch: SignedBillBatch): Promise<void>;
  /** Direct mode: finalizes the interval once the bills cover the OCD ledger. */
  closeBilling(interval: number): Promise<void>;
}
