// A global passive observer (DESIGN §4.6: "every run measures a global passive observer's
// success"; issue "K report slots"). It sees every link's (from, to, time, size) in the simulator's
// network records and the public ledger, and tries to learn each meter's chunk count — which
// carries most of a meter's consumption (before K slots: ≈ 1.9 of ≈ 4.6–5.2 bits, every meter's
// count recovered) — and its reported Wh.
//
// Observation: per meter and interval, the packets it originated = packets it put on the wire −
// packets it was handed (relays forward each packet they receive exactly once per interval, loops
// included), i.e. flow conservation, robust to batching and shuffling. The adversary is given the
// best model the run can teach it: the empirical joint distribution of (observation, true count)
// and (observation, true Wh) over every other meter-interval of the run, and guesses the most
// likely value for each observation (a Bayes classifier; observations seen fewer than MIN_CLASS
// times get the overall most common value, so noise such as loops in flight or resends is not
// mistaken for a leak). Its baseline, from the ledger alone, guesses
// the most common count / Wh for everyone. Bits leaked per meter = the mutual information
// I(count; observation), Miller–Madow bias-corrected, clamped at 0. Pure and deterministic.

/** One packet on one link, as a link observer sees it. */
export interface LinkRecord {
  readonly from: string;
  readonly to: string;
  readonly timeMs: number;
  readonly size: number;
}

/** What the run knows about one meter in one interval (ground truth, for scoring only). */
export interface MeterTruth {
  readonly address: string;
  readonly interval: number;
  readonly chunks: number;
  readonly reportedWh: bigint;
}

export interface LinkageResult {
  /** Meter-intervals scored. */
  readonly samples: number;
  /** % of meter-intervals whose chunk count the observer guesses right. */
  readonly countRecoveredPct: number;
  /** % the ledger-only baseline gets right (the most common count). */
  readonly countBaselinePct: number;
  /** % of meter-intervals whose exact reported Wh the observer guesses right. */
  readonly whRecoveredPct: number;
  /** % the ledger-only baseline gets right (the most common Wh). */
  readonly whBaselinePct: number;
  /** Plug-in mutual information between chunk count and observation, bits per meter-interval. */
  readonly bitsLeakedPerMeter: number;
  /** Entropy of the chunk count itself (what there was to leak), bits. */
  readonly countEntropyBits: number;
  /** Mean packets a meter originates per interval. */
  readonly packetsPerMeterInterval: number;
  /** Distinct observations (1: every meter looks the same). */
  readonly distinctObservations: number;
  /**
   * Smallest per-entry anonymity set: for a real ledger entry, the meters the observer cannot rule
   * out as its author (those whose observation class contains a meter with ≥ 1 chunk).
   */
  readonly minEntryAnonymitySet: number;
}

/**
 * Originated packets per (address, interval) from link records, `intervalOf` mapping a record's
 * time to its interval (undefined: outside every interval, ignored).
 */
export function originatedPackets(
  records: readonly LinkRecord[],
  intervalOf: (timeMs: number) => number | undefined,
): Map<string, number> {
  const tally = new OriginTally();
  for (const r of records) {
    const j = intervalOf(r.timeMs);
    if (j !== undefined) tally.record(r.from, r.to, j);
  }
  return tally.originated();
}

/**
 * The observer's view kept as it happens (issue 14: a city run puts millions of packets on the
 * wire, and a record per packet grew without bound): per (address, interval), packets put on the
 * wire minus packets handed to it — memory O(addresses × intervals), not O(packets).
 */
export class OriginTally {
  readonly #net = new Map<string, number>();

  /** One packet `from` → `to` in interval `interval`. */
  record(from: string, to: string, interval: number): void {
    const a = `${from}#${interval}`;
    const b = `${to}#${interval}`;
    this.#net.set(a, (this.#net.get(a) ?? 0) + 1);
    this.#net.set(b, (this.#net.get(b) ?? 0) - 1);
  }

  /** `address#interval` → originated packets (the input of {@link linkageAdversary}). */
  originated(): Map<string, number> {
    return new Map(this.#net);
  }
}

/** How often the most common value occurs. */
function modeCount<T>(values: readonly T[]): number {
  const m = new Map<T, number>();
  let best = 0;
  for (const v of values) {
    const c = (m.get(v) ?? 0) + 1;
    m.set(v, c);
    if (c > best) best = c;
  }
  return best;
}

/** Plug-in entropy in bits, plus the Miller–Madow correction (m − 1)/(2N ln 2) when asked. */
function entropy(values: readonly unknown[], corrected = false): number {
  const counts = new Map<unknown, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / values.length;
    h -= p * Math.log2(p);
  }
  if (corrected) h += (counts.size - 1) / (2 * values.length * Math.LN2);
  return h;
}

/** Observation classes smaller than this are too rare to learn from (the guess is the mode). */
export const MIN_CLASS = 5;

/**
 * Hits of the Bayes guess "the most common value of my observation class" (classes below
 * {@link MIN_CLASS} samples fall back to the overall most common value, so a unique observation —
 * noise — is not read as a perfect fit).
 */
function classHits<T>(values: readonly T[], classOf: readonly number[]): number {
  const classes = new Map<number, number[]>();
  classOf.forEach((c, i) => {
    let list = classes.get(c);
    if (!list) classes.set(c, (list = []));
    list.push(i);
  });
  const fallback = modeOf(values);
  let hits = 0;
  for (const members of classes.values()) {
    const guess = members.length >= MIN_CLASS ? modeOf(members.map((i) => values[i])) : fallback;
    for (const i of members) if (values[i] === guess) hits++;
  }
  return hits;
}

/** The most common value (first reached on ties). */
function modeOf<T>(values: readonly T[]): T | undefined {
  const m = new Map<T, number>();
  let best: T | undefined;
  let bestCount = 0;
  for (const v of values) {
    const c = (m.get(v) ?? 0) + 1;
    m.set(v, c);
    if (c > bestCount) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

/**
 * Scores the observer over `truth` given the originated-packet observations (see
 * {@link originatedPackets}). Throws RangeError on an empty truth set.
 */
export function linkageAdversary(
  truth: readonly MeterTruth[],
  originated: ReadonlyMap<string, number>,
): LinkageResult {
  if (truth.length === 0) throw new RangeError("linkageAdversary: no meters to score");
  const obs = truth.map((t) => originated.get(`${t.address}#${t.interval}`) ?? 0);
  const counts = truth.map((t) => t.chunks);
  const whs = truth.map((t) => t.reportedWh.toString());
  // Plug-in Bayes: the most likely count / Wh within each observation class.
  const byObs = new Map<number, number[]>();
  obs.forEach((o, i) => {
    let list = byObs.get(o);
    if (!list) byObs.set(o, (list = []));
    list.push(i);
  });
  const countHits = classHits(counts, obs);
  const whHits = classHits(whs, obs);
  // The ledger-only baseline: everyone gets the most common value (DESIGN goal: no better).
  const countBaseline = modeCount(counts);
  const whBaseline = modeCount(whs);
  let minAnon = Infinity;
  // Per interval: an entry's author is any meter in a class that holds some chunk.
  const intervals = new Set(truth.map((t) => t.interval));
  for (const j of intervals) {
    const inJ = truth.map((t, i) => ({ t, i })).filter(({ t }) => t.interval === j);
    const classes = new Map<number, { size: number; chunks: number }>();
    for (const { i } of inJ) {
      const c = classes.get(obs[i]) ?? { size: 0, chunks: 0 };
      c.size++;
      c.chunks += counts[i];
      classes.set(obs[i], c);
    }
    for (const c of classes.values()) if (c.chunks > 0) minAnon = Math.min(minAnon, c.size);
  }
  const n = truth.length;
  const hCount = entropy(counts);
  const joint = counts.map((c, i) => `${c}|${obs[i]}`);
  const mi = Math.max(0, entropy(counts, true) + entropy(obs, true) - entropy(joint, true));
  return {
    samples: n,
    countRecoveredPct: (100 * countHits) / n,
    countBaselinePct: (100 * countBaseline) / n,
    whRecoveredPct: (100 * whHits) / n,
    whBaselinePct: (100 * whBaseline) / n,
    bitsLeakedPerMeter: mi,
    countEntropyBits: hCount,
    packetsPerMeterInterval: obs.reduce((a, b) => a + b, 0) / n,
    distinctObservations: byObs.size,
    minEntryAnonymitySet: Number.isFinite(minAnon) ? minAnon : 0,
  };
}
