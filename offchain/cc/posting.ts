// Posting at chain speed (issue 14; docs/SCALE.md "Posting at chain speed"): how CC cuts an
// interval's slots into OCD transactions, and how it keeps several of them in flight.
//
// Pure planning (no I/O): `planOcdBatches` sizes batches from the block gas limit and a gas model
// of `postOcdAfter` measured on the ledger; `planFixedBatches` is the fixed count of before. The
// pipeline (`postOcdPipeline`) sends planned batches through an injected `OcdBatchSender` (explicit
// nonces, chain/oksuz-clients.ts) with at most `window` unconfirmed, each batch naming the last
// pseudonym of the one before it (`postOcdAfter`'s predecessor): the ledger refuses a batch whose
// predecessor is not its last posted pseudonym, so a failed or dropped batch can never leave a gap
// behind a later one, and a batch already on-chain is never posted twice (DESIGN §7: every slot
// once, in pseudonym order).
import type { LedgerEntry } from "../protocol/entry.ts";
import type { PackedPseudonyms } from "../protocol/packed-pseudonyms.ts";
import type { OcdBatchSender, PendingOcdBatch } from "./chain-client.ts";

/** One OCD transaction: real entries and zero slots whose merge increases by pseudonym. */
export interface PlannedOcdBatch {
  readonly entries: readonly LedgerEntry[];
  /**
   * The batch's zero slots: a range of the plan's packed list (`PackedPseudonyms.slice`, the same
   * buffer, no copy; issue 14, session 10).
   */
  readonly zeroIds: PackedPseudonyms;
  /** The batch's first pseudonym (the smaller of its first entry and first zero slot). */
  readonly first: Uint8Array;
  /** The batch's last pseudonym: the predecessor of the next batch. */
  readonly last: Uint8Array;
  /** Modelled gas of the transaction times the margin (its gas limit); 0n for fixed-count plans. */
  readonly gasLimit: bigint;
}

/**
 * Gas of one `postOcdAfter` transaction with `n` real entries and `z` zero slots (BillingLedger,
 * packed calldata): `fixed + entry·n + zero·z + (w² / 512)` with `w = (133·n + 32·z)·2 / 32`
 * memory words (the 133-byte event records and 32-byte zero ids, each held twice: built, then
 * ABI-encoded into the event; EVM memory expansion, yellow paper C_mem). Measured on the in-process
 * chain (prague) for n ≤ 3,000 and z ≤ 10,000: `fixed` is an interval's first batch (its zero →
 * non-zero storage writes), so the model over-estimates later batches by ≈ 90,000 gas;
 * test/roles/cc-posting.test.ts checks it stays within −3 % … +15 % of the measured gas.
 */
export interface OcdGasModel {
  readonly fixed: number;
  readonly entry: number;
  readonly zero: number;
}

/** The measured model (docs/BENCHMARKS.md "Posting at chain speed"). */
export const OCD_GAS_MODEL: OcdGasModel = { fixed: 106_500, entry: 7_377, zero: 1_220 };

/** Modelled gas of a batch of `n` real entries and `z` zero slots (see {@link OcdGasModel}). */
export function ocdBatchGas(n: number, z: number, model: OcdGasModel = OCD_GAS_MODEL): number {
  const words = ((133 * n + 32 * z) * 2) / 32;
  return model.fixed + model.entry * n + model.zero * z + (words * words) / 512;
}

/** How CC sizes its OCD transactions (ControlCenterAgentInit.posting). */
export interface OcdBatchLimits {
  /** The chain's block gas limit (`eth_getBlock("latest").gasLimit`). */
  readonly blockGasLimit: bigint;
  /** Share of the block CC's transactions may take, default 0.95 (room for others'). */
  readonly blockShare?: number;
  /**
   * Upper bound on one transaction's gas, default 2^24 = 16,777,216 (EIP-7825's per-transaction
   * cap from the Osaka fork on; a prague chain such as the Besu genesis accepts up to the block).
   */
  readonly maxTxGas?: number;
  /** Safety margin on the modelled gas (the gas limit sent), default 1.1. */
  readonly margin?: number;
  /** Upper bound on slots (real + zero) per transaction, default 10,000. */
  readonly maxSlots?: number;
  /** Default {@link OCD_GAS_MODEL}. */
  readonly model?: OcdGasModel;
}

/** Invalid posting options (a share, margin, bound or window out of range). */
export class PostingConfigError extends RangeError {
  override name = "PostingConfigError";
}

/** Strict byte order of two 32-byte pseudonyms (−1, 0, 1). */
export function compareIds(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}

/**
 * The per-transaction gas budget of `limits`: the block's share `blockGasLimit × blockShare`
 * split into `k = ⌈share / maxTxGas⌉` equal parts, so that `k` full transactions fit one block
 * (with the 2^24 cap, two per 30M block instead of one at 16.7M and 13M left empty).
 */
export function ocdTxGasBudget(limits: OcdBatchLimits): number {
  const share = limits.blockShare ?? 0.95;
  const maxTxGas = limits.maxTxGas ?? 2 ** 24;
  const margin = limits.margin ?? 1.1;
  if (!(share > 0 && share <= 1)) throw new PostingConfigError("blockShare must be in (0, 1]");
  if (!(maxTxGas > 0)) throw new PostingConfigError("maxTxGas must be positive");
  if (!(margin >= 1)) throw new PostingConfigError("margin must be ≥ 1");
  const block = Number(limits.blockGasLimit) * share;
  return block / Math.ceil(block / maxTxGas);
}

/**
 * Cuts sorted real entries and sorted zero slots (both strictly increasing by pseudonym, after
 * the chain's last posted one) into transactions in merged pseudonym order, each as large as its
 * modelled gas × margin fits the budget ({@link ocdTxGasBudget}) and `maxSlots`. Every batch holds
 * at least one slot. Throws {@link PostingConfigError} for options out of range, or when not even
 * one slot fits the budget (a block gas limit below ≈ 125,000).
 */
export function planOcdBatches(
  entries: readonly LedgerEntry[],
  zeroIds: PackedPseudonyms,
  limits: OcdBatchLimits,
): PlannedOcdBatch[] {
  const budget = ocdTxGasBudget(limits);
  const margin = limits.margin ?? 1.1;
  const maxSlots = limits.maxSlots ?? 10_000;
  const model = limits.model ?? OCD_GAS_MODEL;
  if (!Number.isInteger(maxSlots) || maxSlots < 1) {
    throw new PostingConfigError("maxSlots must be an integer ≥ 1");
  }
  // The gas limit a batch is sent with (rounded up), not the unrounded model, must fit: else a
  // batch within < 1 gas of the budget was planned and sent above it.
  const fits = (n: number, z: number) => Math.ceil(ocdBatchGas(n, z, model) * margin) <= budget;
  if (!fits(1, 0)) {
    throw new PostingConfigError(
      `a transaction budget of ${Math.floor(budget)} gas does not hold one OCD entry`,
    );
  }
  return mergeIntoBatches(
    entries,
    zeroIds,
    (n, z, real) => n + z < maxSlots && (real ? fits(n + 1, z) : fits(n, z + 1)),
  ).map((b) => ({
    ...b,
    gasLimit: BigInt(Math.ceil(ocdBatchGas(b.entries.length, b.zeroIds.count, model) * margin)),
  }));
}

/**
 * The fixed-count plan (ControlCenterAgentInit.batchSize, the behaviour before issue 14): at most
 * `size` real entries and `10 × size` zero slots per transaction, in merged pseudonym order.
 */
export function planFixedBatches(
  entries: readonly LedgerEntry[],
  zeroIds: PackedPseudonyms,
  size: number,
): PlannedOcdBatch[] {
  if (!Number.isInteger(size) || size < 1) {
    throw new PostingConfigError("batchSize must be an integer ≥ 1");
  }
  return mergeIntoBatches(entries, zeroIds, (n, z) => n < size && z < 10 * size).map((b) => ({
    ...b,
    gasLimit: 0n,
  }));
}

/** Merges the two sorted lists; `room(n, z, real)` says whether the next slot joins the batch. */
function mergeIntoBatches(
  entries: readonly LedgerEntry[],
  zeroIds: PackedPseudonyms,
  room: (n: number, z: number, real: boolean) => boolean,
): Omit<PlannedOcdBatch, "gasLimit">[] {
  const out: Omit<PlannedOcdBatch, "gasLimit">[] = [];
  let i = 0;
  let k = 0;
  const zeros = zeroIds.count;
  while (i < entries.length || k < zeros) {
    const real: LedgerEntry[] = [];
    const zeroStart = k;
    let first: Uint8Array | undefined;
    let lastReal = false;
    while (i < entries.length || k < zeros) {
      const takeReal =
        k === zeros || (i < entries.length && zeroIds.compareAt(k, entries[i].id) > 0);
      // The first slot always goes in (planOcdBatches checked that one entry fits).
      if (real.length + k > zeroStart && !room(real.length, k - zeroStart, takeReal)) break;
      first ??= takeReal ? entries[i].id : zeroIds.at(k);
      if (takeReal) real.push(entries[i++]);
      else k++;
      lastReal = takeReal;
    }
    // The zero slots are a range of the packed list (no view per slot, issue 14, session 10).
    const last = lastReal ? real[real.length - 1].id : zeroIds.at(k - 1);
    out.push({ entries: real, zeroIds: zeroIds.slice(zeroStart, k), first: first!, last });
  }
  return out;
}

/** Thrown by {@link postOcdPipeline} when a batch failed: what was confirmed, and the first error. */
export class OcdPipelineError extends Error {
  override name = "OcdPipelineError";
  /** Batches (a prefix of the plan) known mined and successful. */
  readonly confirmed: number;
  constructor(confirmed: number, cause: unknown) {
    super(
      `OCD posting stopped after ${confirmed} confirmed batches: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`,
      { cause },
    );
    this.confirmed = confirmed;
  }
}

/**
 * Sends `batches` (planned after pseudonym `predecessor`, 32 bytes) through `sender` in order,
 * each with the previous batch's last pseudonym as predecessor, keeping at most `window`
 * transactions unconfirmed; resolves once every one is mined and succeeded. `beforeSend(k)` runs
 * before batch k is sent (crash injection: what it throws propagates at once, batches in flight
 * stay in flight, as in a killed process). On the first failure (a send refused, or a batch that
 * reverted, was dropped or timed out) it sends nothing more, waits for the batches in flight to
 * settle, and throws {@link OcdPipelineError}; the caller reads the chain and plans again.
 */
export async function postOcdPipeline(
  interval: number,
  predecessor: Uint8Array,
  batches: readonly PlannedOcdBatch[],
  sender: OcdBatchSender,
  window: number,
  beforeSend: (index: number) => void = () => {},
): Promise<void> {
  if (!Number.isInteger(window) || window < 1) {
    throw new PostingConfigError("window must be an integer ≥ 1");
  }
  const inFlight: PendingOcdBatch[] = [];
  let confirmed = 0;
  let previous = predecessor;
  for (let k = 0; k < batches.length; k++) {
    beforeSend(k); // throws past the catch below: a killed CC does not wait for its batches
    try {
      while (inFlight.length >= window) {
        await inFlight[0].mined; // a failed batch stays at the head (not confirmed)
        inFlight.shift();
        confirmed++;
      }
      const b = batches[k];
      inFlight.push(await sender.send(interval, previous, b.entries, b.zeroIds, b.gasLimit));
      previous = b.last;
    } catch (err) {
      throw await stopped(inFlight, confirmed, err);
    }
  }
  try {
    while (inFlight.length > 0) {
      await inFlight[0].mined;
      inFlight.shift();
      confirmed++;
    }
  } catch (err) {
    throw await stopped(inFlight, confirmed, err);
  }
}

/** Lets what is in flight land (or fail) before the caller reads the chain again. */
async function stopped(
  inFlight: readonly PendingOcdBatch[],
  confirmed: number,
  err: unknown,
): Promise<OcdPipelineError> {
  const settled = await Promise.allSettled(inFlight.map((p) => p.mined));
  // The batches in flight that succeeded right after the confirmed prefix extend it.
  let prefix = confirmed;
  for (const s of settled) {
    if (s.status !== "fulfilled") break;
    prefix++;
  }
  return new OcdPipelineError(prefix, err);
}
