// Primary-node selection of BBNP (Bao et al., §IV-D.1), DESIGN §5.4. Pure over given randoms.
//
//   1. pre-select CN_j with Γ_j ≥ T, T = mean reputation (T_j in the first round);
//   2. each pre-selected CN_q reveals X_q; the GW reveals Θ; P = {q : X_q ≥ Θ};
//   3. primary = highest reputation in P (ties by larger X_q); empty P → highest X_q.
//
// In production X_q = int(SHA-256(BLS-sign(α_q, roundRandomMessage(domain, t, seed)))) and Θ likewise from
// the GW's key: a unique signature cannot be ground, so the paper's self-chosen X_q (which a node
// could pick to be maximal) becomes unpredictable yet verifiable (DESIGN §6). The BLS signing and
// verification live with the consensus layer; this module only takes the resulting integers.
//
// Reputations come in the on-chain 18-decimal fixed-point form so that T and the comparisons are
// exact integer arithmetic: Γ_j ≥ T ⇔ M·Γ_j ≥ Σ Γ (a float mean can round above equal values).

import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";

/** Domain tag of the per-round message every pre-selected node and the GW sign. */
export const ROUND_RANDOM_TAG = "GridLedger/round";

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * "GridLedger/round" ‖ domain ‖ uint64_be(t) ‖ seed: the message whose BLS signature yields X_q
 * and Θ (DESIGN §5.4; `ReputationRegistry._batchValid`). `domain` is the ledger's 32-byte domain
 * separator (`aggregationDomain(chainId, ledger)`), so a reveal never verifies on another chain or
 * deployment, even in the first round whose seed (the head digest) is zero. Throws RangeError /
 * TypeError on bad input.
 */
export function roundRandomMessage(domain: Uint8Array, t: bigint, seed: Uint8Array): Uint8Array {
  if (!(domain instanceof Uint8Array) || domain.length !== 32) {
    throw new RangeError("roundRandomMessage: domain must be 32 bytes");
  }
  if (typeof t !== "bigint" || t < 0n || t > UINT64_MAX) {
    throw new RangeError(`roundRandomMessage: t must be a uint64 bigint, got ${String(t)}`);
  }
  if (!(seed instanceof Uint8Array)) {
    throw new TypeError("roundRandomMessage: seed must be a Uint8Array");
  }
  const round = new Uint8Array(8);
  new DataView(round.buffer).setBigUint64(0, t, false);
  return concatBytes(utf8ToBytes(ROUND_RANDOM_TAG), domain, round, seed);
}

/** X = int(SHA-256(sig)), big-endian: a 256-bit random from a (unique) BLS signature. */
export function randomFromSignature(sig: Uint8Array): bigint {
  if (!(sig instanceof Uint8Array) || sig.length === 0) {
    throw new TypeError("randomFromSignature: sig must be a non-empty Uint8Array");
  }
  return BigInt("0x" + bytesToHex(sha256(sig)));
}

export type PrimarySelectionInput = {
  /** Γ_j (T_j in the first round) of every node j = 0..M−1, fixed-point with 18 decimals. */
  readonly reputations: readonly bigint[];
  /**
   * X_q revealed by pre-selected nodes, keyed by node index. A pre-selected node that revealed
   * nothing (crashed, or its signature did not verify) cannot be primary and is ordered last.
   * Randoms of nodes that are not pre-selected are ignored.
   */
  readonly randoms: ReadonlyMap<number, bigint>;
  /** Θ, the GW's random threshold. */
  readonly threshold: bigint;
};

export type PrimarySelection = {
  /** Node indices with Γ_j ≥ T, ascending. */
  readonly preselected: readonly number[];
  /** P = pre-selected nodes with X_q ≥ Θ, ascending. */
  readonly eligible: readonly number[];
  /** The chosen primary CN_x. */
  readonly primary: number;
  /** True when P was empty and the primary is the highest X among the pre-selected. */
  readonly fallback: boolean;
  /**
   * Every node, in the order in which it takes over from a stalled primary (DESIGN §5.2):
   * P by (Γ desc, X desc); then pre-selected with X < Θ by X desc; then pre-selected without a
   * random; then the rest by Γ desc. Remaining ties by index ascending. order[0] = primary.
   */
  readonly order: readonly number[];
};

function checkReputations(fn: string, reputations: readonly bigint[]): void {
  if (!Array.isArray(reputations) || reputations.length === 0) {
    throw new RangeError(`${fn}: reputations must be a non-empty array`);
  }
  reputations.forEach((r, j) => {
    if (typeof r !== "bigint" || r < 0n || r > 10n ** 18n) {
      throw new RangeError(`${fn}: reputations[${j}] must be a bigint in [0, 1e18]`);
    }
  });
}

/** Indices j with Γ_j ≥ T = ΣΓ/M, ascending (never empty: the maximum is ≥ the mean). */
export function preselect(reputations: readonly bigint[]): number[] {
  checkReputations("preselect", reputations);
  const m = BigInt(reputations.length);
  const total = reputations.reduce((a, b) => a + b, 0n);
  const out: number[] = [];
  reputations.forEach((r, j) => {
    if (r * m >= total) out.push(j);
  });
  return out;
}

function cmpDesc(a: bigint, b: bigint): number {
  return a > b ? -1 : a < b ? 1 : 0;
}

/** Runs the three stages of §IV-D.1 over given randoms. */
export function selectPrimary(input: PrimarySelectionInput): PrimarySelection {
  const { reputations, randoms, threshold } = input;
  checkReputations("selectPrimary", reputations);
  if (typeof threshold !== "bigint" || threshold < 0n) {
    throw new RangeError("selectPrimary: threshold must be a non-negative bigint");
  }
  if (!(randoms instanceof Map)) throw new TypeError("selectPrimary: randoms must be a Map");
  for (const [q, x] of randoms) {
    if (!Number.isSafeInteger(q) || q < 0 || q >= reputations.length) {
      throw new RangeError(`selectPrimary: random for unknown node ${String(q)}`);
    }
    if (typeof x !== "bigint" || x < 0n) {
      throw new RangeError(`selectPrimary: random of node ${q} must be a non-negative bigint`);
    }
  }
  const preselected = preselect(reputations);
  const revealed = preselected.filter((q) => randoms.has(q));
  if (revealed.length === 0) {
    throw new RangeError("selectPrimary: no pre-selected node revealed a random");
  }
  const x = (q: number) => randoms.get(q) as bigint;
  const eligible = revealed.filter((q) => x(q) >= threshold);
  const below = revealed.filter((q) => x(q) < threshold);
  const byReputationThenX = (a: number, b: number) =>
    cmpDesc(reputations[a], reputations[b]) || cmpDesc(x(a), x(b)) || a - b;
  const byX = (a: number, b: number) => cmpDesc(x(a), x(b)) || a - b;
  const byReputation = (a: number, b: number) => cmpDesc(reputations[a], reputations[b]) || a - b;
  const isPre = new Set(preselected);
  const order = [
    ...[...eligible].sort(byReputationThenX),
    ...[...below].sort(byX),
    ...preselected.filter((q) => !randoms.has(q)).sort(byReputation),
    ...reputations
      .map((_, j) => j)
      .filter((j) => !isPre.has(j))
      .sort(byReputation),
  ];
  return Object.freeze({
    preselected: Object.freeze(preselected),
    eligible: Object.freeze(eligible),
    primary: order[0],
    fallback: eligible.length === 0,
    order: Object.freeze(order),
  });
}
