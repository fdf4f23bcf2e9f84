// What the control center needs of the billing ledger (DESIGN §2; docs/PROTOCOL.md "Interval life
// cycle"), declared by the role and implemented in `chain/` (offchain/chain/oksuz-clients.ts) or by
// a test double. The agent never sees ABIs, providers or signers: it works on protocol types.
import type { IntervalStateValue, SignedBillBatch } from "../protocol/billing.ts";
import type { LedgerEntry } from "../protocol/entry.ts";
import type { PackedPseudonyms } from "../protocol/packed-pseudonyms.ts";

/** The ledger's progress on one interval, as far as CC's posting needs it. */
export interface IntervalProgress {
  /** The stored `IntervalState` (INTERVAL_STATE.None before it is opened). */
  readonly state: IntervalStateValue;
  /** The last pseudonym posted in the interval (32 zero bytes when none): posting resumes after it. */
  readonly lastId: Uint8Array;
  /** Real OCD entries on the ledger (what the bills must cover once sealed). */
  readonly ocdCount: number;
  /** Bills in force (after the last `BillingRestarted`). */
  readonly billCount: number;
  /** DAP entries posted. */
  readonly dapCount: number;
}

/** One OCD batch sent and not yet known to be mined (issue 14 "Posting at chain speed"). */
export interface PendingOcdBatch {
  /**
   * Resolves once the batch is mined and succeeded; rejects with the chain's typed error when it
   * reverted (e.g. `BillingLedgerPredecessorMismatch`), was replaced or dropped, or no receipt came.
   */
  readonly mined: Promise<void>;
}

/** Sends OCD batches with explicit, consecutive nonces of CC's chain key. */
export interface OcdBatchSender {
  /**
   * Sends `postOcdAfter(interval, predecessor, entries, zeroIds)` with the sequence's next nonce
   * and gas limit `gasLimit`, without waiting for it to be mined; resolves once the node accepted
   * it. `predecessor` is the 32-byte pseudonym the batch must follow on the ledger (zero before the
   * interval's first slot). `zeroIds` is a range of CC's packed zero slots (its `bytes` go into the
   * calldata in one copy). Throws the chain's typed error when the node refuses it at once.
   */
  send(
    interval: number,
    predecessor: Uint8Array,
    entries: readonly LedgerEntry[],
    zeroIds: PackedPseudonyms,
    gasLimit: bigint,
  ): Promise<PendingOcdBatch>;
}

/**
 * CC's access to the billing ledger, connected with CC's key (CC_ROLE). Every write resolves once
 * mined and throws the chain's typed error (chain/errors.ts) when it reverts.
 */
export interface ControlCenterChainClient {
  /** Meters in the on-chain directory. */
  meterCount(): Promise<number>;
  /**
   * Appends `publicKeys` (33-byte compressed `pk_i`, in index order) to the on-chain directory,
   * in as many transactions as the block allows; `progress(done)` after each mined one (keys
   * registered so far), if given.
   */
  registerMeters(
    publicKeys: readonly Uint8Array[],
    progress?: (done: number) => void,
  ): Promise<void>;
  intervalProgress(interval: number): Promise<IntervalProgress>;
  /** Opens `interval` with window `[start, end)` (Unix seconds). */
  openInterval(interval: number, start: bigint, end: bigint): Promise<void>;
  /** Posts one batch of real OCD entries and zero slots, whose merge increases by pseudonym. */
  postOcdBatch(
    interval: number,
    entries: readonly LedgerEntry[],
    zeroIds: PackedPseudonyms,
  ): Promise<void>;
  sealInterval(interval: number): Promise<void>;
  /**
   * Optional (issue 14 "Posting at chain speed"): the gas limit of the chain's latest block
   * (`eth_getBlockByNumber("latest").gasLimit`), from which CC sizes its OCD batches.
   */
  blockGasLimit?(): Promise<bigint>;
  /**
   * Optional: a sender of OCD batches whose nonces start at CC's key's `pending` transaction count,
   * read once here. A new sender re-reads it (after a failure, the chain is read again).
   */
  ocdSender?(): Promise<OcdBatchSender>;
  /**
   * Optional: waits until no transaction of CC's key is pending (its `pending` and `latest`
   * transaction counts agree), at most `timeoutMs`; resolves `true` if so, `false` on timeout.
   * CC calls it before reading where posting resumes, so that transactions a killed CC left in
   * flight land first.
   */
  settle?(timeoutMs: number): Promise<boolean>;
  /** Relayed mode (Oksuz §5): posts SP-signed DAP entries (the first one prices the interval). */
  postDap(interval: number, entries: readonly LedgerEntry[]): Promise<void>;
  /** Relayed mode: posts one SP-signed bill batch. */
  postBills(batch: SignedBillBatch): Promise<void>;
  /** Relayed mode: finalizes the interval once the bills cover the OCD ledger. */
  closeBilling(interval: number): Promise<void>;
}
