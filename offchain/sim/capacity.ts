// Capacity model of one Oksuz region on one permissioned chain (docs/SCALE.md): from measured
// per-entry gas and off-chain costs, what a city of N meters reporting every I minutes needs —
// entries and gas per second, the share of a QBFT network's block space, control-center cores —
// and the largest city one network carries. Pure arithmetic over the figures it is given; the CLI
// (`gridledger capacity`) takes them from a benchmark run (`npm run bench -- --json FILE`).

/** Measured costs the model runs on (units in the names). */
export interface CapacityCosts {
  /** Gas of one real (meter-signed, Schnorr-verified) OCD entry, amortised in a full batch. */
  readonly ocdEntryGas: number;
  /** Gas of one zero-value dummy slot entry (DESIGN §7); equal to `ocdEntryGas` when dummies are not cheaper. */
  readonly ocdDummyEntryGas: number;
  /** Fixed gas of one OCD batch transaction (base cost, calldata header, storage updates). */
  readonly ocdBatchFixedGas: number;
  /** Gas of one bill (BC entry) in a full batch. */
  readonly bcEntryGas: number;
  /** Gas of the interval's DAP entry (relayed mode: one per interval). */
  readonly dapGas: number;
  /** Fixed gas per interval: open, seal, close billing. */
  readonly intervalFixedGas: number;
  /** Control-center admissions per second on one core (signature check dominates). */
  readonly ccAdmitPerSecondPerCore: number;
}

/** The city and the chain. */
export interface CapacityScenario {
  /** Registered meters N (≥ 1). */
  readonly meters: number;
  /** Interval length in minutes (> 0). */
  readonly intervalMinutes: number;
  /** Report slots per meter per interval K (DESIGN §7), ≥ 1. */
  readonly slotsPerMeter: number;
  /** Of the K slots, how many carry real chunks on average (the rest are dummies), in [0, K]. */
  readonly realChunksPerMeter: number;
  /** Block gas limit (Besu genesis: 30,000,000). */
  readonly blockGas: number;
  /** Block period in seconds (QBFT `blockperiodseconds`). */
  readonly blockSeconds: number;
}

export interface CapacityEstimate {
  /** OCD entries per interval: N × K. */
  readonly entriesPerInterval: number;
  readonly entriesPerSecond: number;
  /** OCD entries one block-sized batch holds. */
  readonly entriesPerBatch: number;
  /** Gas per interval by ledger, and in total. */
  readonly gasPerInterval: {
    readonly ocd: number;
    readonly bc: number;
    readonly fixed: number;
    readonly total: number;
  };
  readonly gasPerSecond: number;
  /** Gas the network offers per second: blockGas / blockSeconds. */
  readonly chainGasPerSecond: number;
  /** gasPerSecond / chainGasPerSecond (1 = every block full). */
  readonly blockSpaceShare: number;
  /** Cores the control center needs to admit the interval's reports within the interval. */
  readonly ccCores: number;
  /** Gas per meter per interval, marginal (without the per-interval fixed costs). */
  readonly gasPerMeter: number;
  /** Largest N whose gas fits the network's block space (share ≤ 1). */
  readonly maxMeters: number;
}

/** Input out of range. */
export class CapacityInputError extends RangeError {
  constructor(message: string) {
    super(`capacity: ${message}`);
    this.name = "CapacityInputError";
  }
}

function positive(name: string, x: number): void {
  if (!Number.isFinite(x) || x <= 0) throw new CapacityInputError(`${name} must be > 0, got ${x}`);
}

/**
 * Estimates what `scenario` needs under `costs`. Every interval posts N·K OCD entries (real chunks
 * at `ocdEntryGas`, dummies at `ocdDummyEntryGas`) in block-sized batches, one bill per real entry
 * (N·R: the ledger bills exactly its OCD entries, `billCount == ocdCount`, and zero slots are not
 * OCD entries; docs/PROTOCOL.md), one DAP entry and the fixed open/seal/close; all of it must be
 * mined within the interval. Throws
 * `CapacityInputError` for non-positive sizes or more real chunks than slots.
 */
export function estimateCapacity(
  scenario: CapacityScenario,
  costs: CapacityCosts,
): CapacityEstimate {
  positive("meters", scenario.meters);
  positive("intervalMinutes", scenario.intervalMinutes);
  positive("slotsPerMeter", scenario.slotsPerMeter);
  positive("blockGas", scenario.blockGas);
  positive("blockSeconds", scenario.blockSeconds);
  for (const [k, v] of Object.entries(costs)) positive(k, v as number);
  const { meters, slotsPerMeter: k, realChunksPerMeter: real } = scenario;
  if (!(real >= 0 && real <= k)) {
    throw new CapacityInputError(`realChunksPerMeter must be in [0, ${k}], got ${real}`);
  }
  const seconds = scenario.intervalMinutes * 60;
  const entriesPerBatch = Math.max(
    1,
    Math.floor((scenario.blockGas - costs.ocdBatchFixedGas) / costs.ocdEntryGas),
  );
  const ocdPerMeter = real * costs.ocdEntryGas + (k - real) * costs.ocdDummyEntryGas;
  const bcPerMeter = real * costs.bcEntryGas;
  const fixed = costs.intervalFixedGas + costs.dapGas;
  // Each batch pays its fixed gas in full, the last one too (hence the ceiling).
  const gasFor = (n: number) => {
    const batches = Math.ceil((n * k) / entriesPerBatch);
    const ocd = n * ocdPerMeter + batches * costs.ocdBatchFixedGas;
    const bc = n * bcPerMeter;
    return { ocd, bc, total: ocd + bc + fixed };
  };
  const entriesPerInterval = meters * k;
  const { ocd, bc, total } = gasFor(meters);
  const chainGasPerSecond = scenario.blockGas / scenario.blockSeconds;
  const gasPerSecond = total / seconds;
  // Marginal gas per meter, with its share of batch overheads.
  const gasPerMeter = ocdPerMeter + bcPerMeter + (k * costs.ocdBatchFixedGas) / entriesPerBatch;
  // Largest city: the marginal estimate, then down to where the rounded batches fit too. The
  // rounding adds at most one batch's fixed gas, so this takes at most
  // ⌈ocdBatchFixedGas / gasPerMeter⌉ + 1 steps.
  const capacityGas = chainGasPerSecond * seconds;
  let maxMeters = Math.max(0, Math.floor((capacityGas - fixed) / gasPerMeter));
  while (maxMeters > 0 && gasFor(maxMeters).total > capacityGas) maxMeters--;
  return {
    entriesPerInterval,
    entriesPerSecond: entriesPerInterval / seconds,
    entriesPerBatch,
    gasPerInterval: { ocd, bc, fixed, total },
    gasPerSecond,
    chainGasPerSecond,
    blockSpaceShare: gasPerSecond / chainGasPerSecond,
    ccCores: Math.max(1, Math.ceil(entriesPerInterval / seconds / costs.ccAdmitPerSecondPerCore)),
    gasPerMeter,
    maxMeters,
  };
}
