// BBNP user (smart meter) report state machine (DESIGN §4.7; Bao et al. §IV-B with the §6 fixes).
// Holds s_i for one key epoch and never uses it as a mask: the blinding term is the round-t PRF
// output β_i(t) under b_i = TH("GridLedger/BBNP/blind-key", s_i), so what a recovery reveals for
// round t (β sums, AUI_{i,d}(t)) opens no other round (docs/BBNP.md "Recovery"). Caches the DH point with GW and, lazily, the HMAC key states of
// each pairwise key k_ib (a user meets new neighbours as the per-round graph changes; each DH costs
// one variable-base G1 multiplication, once per epoch and peer).
import { BbnpInputError, BbnpStateError } from "../protocol/bbnp/errors.ts";
import { FastHasher, auiBlock, blindBlock, wordsToBigInt } from "../protocol/bbnp/fast.ts";
import { roundGraph, type RoundGraph } from "../protocol/bbnp/graph.ts";
import { blindingKey, pairKey, revealTag, roundSeed } from "../protocol/bbnp/masking.ts";
import {
  BBNP_ORDER,
  checkSecretScalar,
  dhPoint,
  mod,
  u256,
  validateParams,
  type BbnpPublicParams,
} from "../protocol/bbnp/params.ts";
import type { BbnpReport, MaskReveal } from "../protocol/bbnp/report.ts";
import { bytesToWords, wordsToBytes } from "../crypto/sha256-words.ts";

export interface BbnpUserInit {
  readonly params: BbnpPublicParams;
  readonly userId: number;
  /** s_i from the TA for this epoch. */
  readonly secret: bigint;
}

export interface BbnpUserComponents {
  /**
   * `enc(s_i·S_peer)` for a user id or the gateway. Default: a G1 multiplication. Injected so a
   * simulation or benchmark can supply a precomputed cache (set-up outside timed regions).
   */
  readonly dhPoint?: (peer: number | "gateway") => Uint8Array;
}

export class BbnpUser {
  readonly params: BbnpPublicParams;
  readonly userId: number;
  /** HMAC key states (16 words) of the blinding key b_i. */
  readonly #blindStates = new Int32Array(16);
  readonly #dh: (peer: number | "gateway") => Uint8Array;
  readonly #hasher = new FastHasher();
  #gatewayDh: Int32Array | undefined;
  /** Pairwise HMAC key states (16 words) by peer, for this epoch. */
  readonly #pairStates = new Map<number, Int32Array>();
  #lastRound = -1n;
  #lastGraph: RoundGraph | undefined;
  #lastSessionKey: Uint8Array | undefined;
  readonly #revealed = new Set<number>();
  readonly #words = new Int32Array(16);

  constructor(init: BbnpUserInit, components: BbnpUserComponents = {}) {
    validateParams(init.params);
    if (!Number.isInteger(init.userId) || init.userId < 0 || init.userId >= init.params.userCount) {
      throw new BbnpInputError(`BbnpUser: userId ${init.userId} out of range`);
    }
    checkSecretScalar("BbnpUser", init.secret);
    this.params = init.params;
    this.userId = init.userId;
    const blindKey = blindingKey(init.secret);
    this.#hasher.keyStates(bytesToWords(blindKey), 0, this.#blindStates, 0);
    blindKey.fill(0);
    this.#dh =
      components.dhPoint ??
      ((peer) =>
        dhPoint(
          init.secret,
          peer === "gateway" ? init.params.gatewayPublicKey : init.params.userPublicKeys[peer],
        ));
  }

  /** The last round this user reported (−1 before the first report). */
  get lastRound(): bigint {
    return this.#lastRound;
  }

  /** Number of pairwise keys derived so far in this epoch. */
  get cachedPairKeys(): number {
    return this.#pairStates.size;
  }

  /** The graph of `round` (public; any party computes the same). */
  graph(round: bigint): RoundGraph {
    const p = this.params;
    return roundGraph(p.userCount, p.neighbours, roundSeed(p.graphSeed, p.epoch, round));
  }

  /**
   * Derive, ahead of time, the per-epoch key material `round` will need (the DH points and
   * pairwise HMAC key states of its neighbours), e.g. while the meter is idle. Optional: report()
   * derives whatever is missing.
   */
  prepare(round: bigint): void {
    this.#gatewayDhWords();
    for (const b of this.graph(round).neighboursOf(this.userId)) this.#pairKeyStates(b);
  }

  /**
   * Report `m_i` for `round`: `C_i = m_i + k_{i,g}(t) + Σ AUI_{i,b}(t) + β_i(t) mod r` and its tag.
   * At most one report per round and rounds strictly increase: two different reports under the
   * same masks would hand GW `m − m'`.
   */
  report(round: bigint, reading: bigint): BbnpReport {
    const fn = "BbnpUser.report";
    if (round < 0n || round >= 1n << 64n) throw new BbnpInputError(`${fn}: round must be a u64`);
    if (round <= this.#lastRound) {
      throw new BbnpStateError(
        `${fn}: round ${round} is not after the last reported round ${this.#lastRound}`,
      );
    }
    if (reading < 0n || reading > this.params.maxReading) {
      throw new BbnpInputError(`${fn}: reading must be in [0, ${this.params.maxReading}]`);
    }
    const graph = this.graph(round);
    const roundHi = Number(round >> 32n);
    const roundLo = Number(round & 0xffffffffn);
    const words = this.#words;
    // k_{i,g}: TH over the cached DH point (DESIGN §4.7).
    this.#hasher.sessionKey(
      this.#gatewayDhWords(),
      0,
      this.userId,
      this.params.gatewayId,
      roundHi,
      roundLo,
      words,
      0,
    );
    const sessionKey = wordsToBytes(words, 0, 8);
    let c = reading + wordsToBigInt(words, 0);
    // β_i(t): one HMAC block under the cached states of b_i.
    this.#hasher.aui(this.#blindStates, 0, blindBlock(round), words, 8);
    c += wordsToBigInt(words, 8);
    // Σ_b AUI_{i,b}(t): + for the smaller index (AUI_{a,b} = −AUI_{b,a}).
    const block = auiBlock(round);
    for (const b of graph.neighboursOf(this.userId)) {
      this.#hasher.aui(this.#pairKeyStates(b), 0, block, words, 8);
      const m = wordsToBigInt(words, 8);
      c += this.userId < b ? m : -m;
    }
    const masked = mod(c);
    const maskedBytes = u256(masked);
    bytesToWords(maskedBytes, words, 8);
    this.#hasher.reportTag(words, 0, words, 8, roundHi, roundLo, words, 8);
    const tag = wordsToBytes(words, 8, 8);
    this.#lastRound = round;
    this.#lastGraph = graph;
    this.#lastSessionKey = sessionKey;
    this.#revealed.clear();
    return { userId: this.userId, round, masked: maskedBytes, tag };
  }

  /**
   * Dropout recovery (DESIGN §4.7): reveal `AUI_{i,d}(t)` for non-counted neighbours `d` of the
   * round this user just reported, and nothing else: not k_id, not β_i, not masks of other rounds,
   * not masks with users that are not its neighbours in that round, each at most once (a later
   * recovery pass may ask for other neighbours of the same round). Throws
   * {@link BbnpStateError} for another round or a repeated peer, {@link BbnpInputError} for a
   * non-neighbour.
   */
  revealMasks(round: bigint, missing: readonly number[]): MaskReveal[] {
    const fn = "BbnpUser.revealMasks";
    if (round !== this.#lastRound || !this.#lastGraph || !this.#lastSessionKey) {
      throw new BbnpStateError(
        `${fn}: can only reveal masks of the last reported round ${this.#lastRound}`,
      );
    }
    const neighbours = new Set(this.#lastGraph.neighboursOf(this.userId));
    const out: MaskReveal[] = [];
    const block = auiBlock(round);
    for (const d of missing) {
      if (!neighbours.has(d))
        throw new BbnpInputError(`${fn}: user ${d} is not a neighbour in round ${round}`);
      if (this.#revealed.has(d))
        throw new BbnpStateError(`${fn}: mask with user ${d} already revealed`);
      this.#hasher.aui(this.#pairKeyStates(d), 0, block, this.#words, 0);
      const magnitude = wordsToBigInt(this.#words, 0) % BBNP_ORDER;
      const mask = this.userId < d ? magnitude : mod(-magnitude);
      this.#revealed.add(d);
      out.push({
        userId: this.userId,
        round,
        peer: d,
        mask,
        tag: revealTag(this.#lastSessionKey, round, d, mask),
      });
    }
    return out;
  }

  #gatewayDhWords(): Int32Array {
    if (!this.#gatewayDh) this.#gatewayDh = bytesToWords(this.#dh("gateway"));
    return this.#gatewayDh;
  }

  #pairKeyStates(peer: number): Int32Array {
    let states = this.#pairStates.get(peer);
    if (!states) {
      const key = bytesToWords(pairKey(this.#dh(peer), this.userId, peer));
      states = new Int32Array(16);
      this.#hasher.keyStates(key, 0, states, 0);
      this.#pairStates.set(peer, states);
    }
    return states;
  }
}
