// BBNP gateway (DESIGN §4.7; Bao et al. §IV-C with the §6 fixes): checks each report's tag under
// the session key k_{g,i}(t), rejects replays and names the user and reason, accumulates Σ C_i and
// Σ k_{g,i}, runs dropout recovery, unmasks the sum and has it signed by the injected signer.
// Hot path: per report one session-key tagged hash (2 compressions, tag prefix cached) and one
// HMAC (4 compressions) over word arrays; sums are accumulated per 32-bit word in float64 (exact:
// N ≤ 2^20 reports of < 2^32 per word stay below 2^53) and turned into one BigInt per round.
import { FastHasher, wordsBelowOrder } from "../protocol/bbnp/fast.ts";
import { roundGraph, type RoundGraph } from "../protocol/bbnp/graph.ts";
import { revealTag, roundSeed, unmaskSum } from "../protocol/bbnp/masking.ts";
import {
  BBNP_ORDER,
  checkSecretScalar,
  dhPoint,
  G1_BYTES,
  mod,
  validateParams,
  type BbnpPublicParams,
} from "../protocol/bbnp/params.ts";
import { recoveryPlan, type RecoveryPlan } from "../protocol/bbnp/recovery.ts";
import type { BbnpReport, MaskReveal } from "../protocol/bbnp/report.ts";
import { bytesToWords, wordsToBytes } from "../crypto/sha256-words.ts";
import {
  RecoveryIncompleteError,
  ReportRejectedError,
  RevealRejectedError,
  SumOutOfRangeError,
  type RejectionReason,
  type ReportRejection,
} from "./errors.ts";

export interface BbnpGatewayInit {
  readonly params: BbnpPublicParams;
  /** s_g for this epoch (also GW's BLS key, DESIGN §4.7). */
  readonly secret: bigint;
  /**
   * Optional precomputed `enc(s_g·S_i)` by user id (e.g. restored from encrypted storage, or a
   * benchmark's set-up); default: N G1 multiplications at construction, once per epoch.
   */
  readonly dhPoints?: readonly Uint8Array[];
}

export interface BbnpGatewayComponents {
  /** Signs (t, sum); e.g. `blsSign(s_g, bbnpRoundMessage(domain, t, sum))` (DESIGN §4.8). */
  readonly signRound: (round: bigint, sum: bigint) => Uint8Array;
}

export interface SignedRoundSum {
  readonly round: bigint;
  /** Σ m_i over the users whose reports were accepted. */
  readonly sum: bigint;
  readonly reporters: number;
  /** Users without an accepted report (recovered around), ascending. */
  readonly missing: readonly number[];
  readonly signature: Uint8Array;
}

export type GatewayPhase = "idle" | "collecting" | "recovery";

export class BbnpGateway {
  readonly params: BbnpPublicParams;
  readonly #secret: bigint;
  readonly #signRound: (round: bigint, sum: bigint) => Uint8Array;
  /** enc(s_g·S_i) as 12 words per user. */
  readonly #dh: Int32Array;
  readonly #hasher = new FastHasher();
  readonly #accepted: Uint8Array;
  readonly #sumMasked = new Float64Array(8);
  readonly #sumKeys = new Float64Array(8);
  readonly #cw = new Int32Array(8);
  readonly #kw = new Int32Array(8);
  readonly #tw = new Int32Array(8);
  readonly #rw = new Int32Array(8);
  #phase: GatewayPhase = "idle";
  #round = -1n;
  #roundHi = 0;
  #roundLo = 0;
  #lastRound = -1n;
  #acceptedCount = 0;
  #burnt = false;
  #plan: RecoveryPlan | undefined;
  #graph: RoundGraph | undefined;
  /** "i:d" → revealed AUI_{i,d}(t). */
  readonly #reveals = new Map<string, bigint>();
  readonly #rejections: ReportRejection[] = [];

  constructor(init: BbnpGatewayInit, components: BbnpGatewayComponents) {
    validateParams(init.params);
    checkSecretScalar("BbnpGateway", init.secret);
    const n = init.params.userCount;
    this.params = init.params;
    this.#secret = init.secret;
    this.#signRound = components.signRound;
    this.#accepted = new Uint8Array(n);
    this.#dh = new Int32Array(12 * n);
    if (init.dhPoints && init.dhPoints.length !== n) {
      throw new Error(`BbnpGateway: expected ${n} DH points, got ${init.dhPoints.length}`);
    }
    for (let i = 0; i < n; i++) {
      const point = init.dhPoints?.[i] ?? dhPoint(init.secret, init.params.userPublicKeys[i]);
      if (point.length !== G1_BYTES)
        throw new Error(`BbnpGateway: DH point ${i} is not ${G1_BYTES} bytes`);
      bytesToWords(point, this.#dh, 12 * i);
    }
  }

  get phase(): GatewayPhase {
    return this.#phase;
  }

  get round(): bigint {
    return this.#round;
  }

  /** Rejections of the current round, in arrival order. */
  get rejections(): readonly ReportRejection[] {
    return this.#rejections;
  }

  /** Users without an accepted report in the current round, ascending. */
  get missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#accepted.length; i++) if (!this.#accepted[i]) out.push(i);
    return out;
  }

  /** Open round `t`; rounds strictly increase (an old round's reports can never be reused). */
  openRound(round: bigint): void {
    const fn = "BbnpGateway.openRound";
    if (this.#burnt) {
      throw new Error(
        `${fn}: epoch ${this.params.epoch} keys were disclosed by a recovery; rekey first`,
      );
    }
    if (this.#phase !== "idle") throw new Error(`${fn}: round ${this.#round} is still open`);
    if (round < 0n || round >= 1n << 64n) throw new Error(`${fn}: round must be a u64`);
    if (round <= this.#lastRound) {
      throw new Error(`${fn}: round ${round} is not after the last round ${this.#lastRound}`);
    }
    this.#round = round;
    this.#roundHi = Number(round >> 32n);
    this.#roundLo = Number(round & 0xffffffffn);
    this.#accepted.fill(0);
    this.#sumMasked.fill(0);
    this.#sumKeys.fill(0);
    this.#acceptedCount = 0;
    this.#plan = undefined;
    this.#graph = undefined;
    this.#reveals.clear();
    this.#rejections.length = 0;
    this.#phase = "collecting";
  }

  /** Accept one report or throw {@link ReportRejectedError} naming the user and the reason. */
  submit(report: BbnpReport): void {
    const reason = this.#admit(report);
    if (reason !== undefined) {
      const rejection = { userId: report.userId, round: report.round, reason };
      this.#rejections.push(rejection);
      throw new ReportRejectedError(rejection);
    }
  }

  /** Accept many reports; returns the rejections (also kept in {@link rejections}). */
  submitBatch(reports: readonly BbnpReport[]): ReportRejection[] {
    const out: ReportRejection[] = [];
    for (let i = 0; i < reports.length; i++) {
      const report = reports[i];
      const reason = this.#admit(report);
      if (reason !== undefined) {
        const rejection = { userId: report.userId, round: report.round, reason };
        this.#rejections.push(rejection);
        out.push(rejection);
      }
    }
    return out;
  }

  /**
   * Close collection with users missing: from now on late reports are refused (a late C_d after
   * its neighbours revealed their masks and the TA disclosed s_d would expose m_d). Returns which
   * reporting neighbour must reveal which mask (DESIGN §4.7 "Dropouts").
   */
  beginRecovery(): RecoveryPlan {
    const fn = "BbnpGateway.beginRecovery";
    if (this.#phase !== "collecting") throw new Error(`${fn}: no round is collecting`);
    const missing = this.missing;
    if (missing.length === 0) throw new Error(`${fn}: nobody is missing; call finalize()`);
    if (missing.length === this.params.userCount) throw new Error(`${fn}: no user reported`);
    this.#graph = roundGraph(
      this.params.userCount,
      this.params.neighbours,
      roundSeed(this.params.graphSeed, this.params.epoch, this.#round),
    );
    this.#plan = recoveryPlan(this.#graph, this.#round, missing, (u) => this.#accepted[u] === 1);
    this.#phase = "recovery";
    return this.#plan;
  }

  /** Accept a requested mask reveal whose tag verifies under the revealer's session key. */
  acceptReveal(reveal: MaskReveal): void {
    const plan = this.#plan;
    if (this.#phase !== "recovery" || !plan) {
      throw new Error("BbnpGateway.acceptReveal: no recovery in progress");
    }
    if (reveal.round !== this.#round)
      throw new RevealRejectedError(reveal.userId, reveal.peer, "wrong-round");
    const requested = plan.requests.get(reveal.userId);
    if (!requested || !requested.includes(reveal.peer)) {
      throw new RevealRejectedError(reveal.userId, reveal.peer, "not-requested");
    }
    const key = `${reveal.userId}:${reveal.peer}`;
    if (this.#reveals.has(key))
      throw new RevealRejectedError(reveal.userId, reveal.peer, "duplicate");
    if (reveal.mask < 0n || reveal.mask >= BBNP_ORDER) {
      throw new RevealRejectedError(reveal.userId, reveal.peer, "bad-tag");
    }
    this.#hasher.sessionKey(
      this.#dh,
      12 * reveal.userId,
      reveal.userId,
      this.params.gatewayId,
      this.#roundHi,
      this.#roundLo,
      this.#kw,
      0,
    );
    const expected = revealTag(wordsToBytes(this.#kw, 0, 8), this.#round, reveal.peer, reveal.mask);
    if (!equalBytes(expected, reveal.tag))
      throw new RevealRejectedError(reveal.userId, reveal.peer, "bad-tag");
    this.#reveals.set(key, reveal.mask);
  }

  /**
   * Unmask and sign: `sum = Σ C_i − Σ k_{g,i} − Σ revealed AUI + s_g + Σ_D s_d mod r`, checked to
   * be an integer in [0, reporters · maxReading]. `dropoutCorrection` (Σ_D s_d from the TA) is
   * required iff users are missing; after a recovery this gateway refuses further rounds until it
   * is rebuilt with the refreshed epoch's keys.
   */
  finalize(dropoutCorrection?: bigint): SignedRoundSum {
    const fn = "BbnpGateway.finalize";
    if (this.#phase === "idle") throw new Error(`${fn}: no round is open`);
    const missing = this.missing;
    let revealed = 0n;
    if (missing.length > 0) {
      if (this.#phase !== "recovery" || !this.#plan) {
        throw new Error(`${fn}: ${missing.length} users missing; call beginRecovery() first`);
      }
      if (dropoutCorrection === undefined)
        throw new Error(`${fn}: missing users need the TA's correction`);
      const outstanding: [number, number][] = [];
      for (const [i, peers] of this.#plan.requests) {
        for (const d of peers) {
          const mask = this.#reveals.get(`${i}:${d}`);
          if (mask === undefined) outstanding.push([i, d]);
          else revealed += mask;
        }
      }
      if (outstanding.length > 0) throw new RecoveryIncompleteError(this.#round, outstanding);
    } else if (dropoutCorrection !== undefined) {
      throw new Error(`${fn}: no user is missing; no correction expected`);
    }
    let sumMasked = 0n;
    for (let j = 0; j < 8; j++) {
      const diff = this.#sumMasked[j] - this.#sumKeys[j];
      if (diff !== 0) sumMasked += BigInt(diff) << BigInt(32 * (7 - j));
    }
    const sum = unmaskSum({
      sumMasked,
      sumSessionScalars: 0n,
      gatewaySecret: this.#secret,
      revealedMasks: revealed,
      dropoutCorrection: dropoutCorrection === undefined ? 0n : mod(dropoutCorrection),
    });
    if (sum > BigInt(this.#acceptedCount) * this.params.maxReading)
      throw new SumOutOfRangeError(this.#round);
    const signature = this.#signRound(this.#round, sum);
    const result: SignedRoundSum = {
      round: this.#round,
      sum,
      reporters: this.#acceptedCount,
      missing,
      signature,
    };
    if (missing.length > 0) this.#burnt = true;
    this.#lastRound = this.#round;
    this.#phase = "idle";
    return result;
  }

  #admit(report: BbnpReport): RejectionReason | undefined {
    const id = report.userId;
    if (!Number.isInteger(id) || id < 0 || id >= this.#accepted.length) return "unknown-user";
    if (this.#phase !== "collecting") return "round-closed";
    if (report.round !== this.#round) return "wrong-round";
    if (this.#accepted[id] === 1) return "duplicate";
    const masked = report.masked;
    const tag = report.tag;
    if (masked.length !== 32 || tag.length !== 32) return "malformed";
    const cw = this.#cw;
    bytesToWords(masked, cw, 0);
    if (!wordsBelowOrder(cw, 0)) return "malformed";
    const kw = this.#kw;
    const tw = this.#tw;
    this.#hasher.sessionKey(
      this.#dh,
      12 * id,
      id,
      this.params.gatewayId,
      this.#roundHi,
      this.#roundLo,
      kw,
      0,
    );
    this.#hasher.reportTag(kw, 0, cw, 0, this.#roundHi, this.#roundLo, tw, 0);
    const rw = this.#rw;
    bytesToWords(tag, rw, 0);
    let diff = 0;
    for (let j = 0; j < 8; j++) diff |= tw[j] ^ rw[j];
    if (diff !== 0) return "bad-tag";
    this.#accepted[id] = 1;
    this.#acceptedCount++;
    const sc = this.#sumMasked;
    const sk = this.#sumKeys;
    for (let j = 0; j < 8; j++) {
      sc[j] += cw[j] >>> 0;
      sk[j] += kw[j] >>> 0;
    }
    return undefined;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
