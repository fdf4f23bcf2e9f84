// Trusted authority (BBNP §IV-A; DESIGN §4.7): generates the epoch's keys, publishes the public
// parameters, hands the gateway each round's blinding sum β_g(t) = −Σ_i β_i(t) and, after a
// recovery, the round-t correction Σ_D β_d(t). Nothing it releases opens another round: β_i(t) is
// a PRF output of b_i = TH("GridLedger/BBNP/blind-key", s_i) at t, and s_i never leaves it.
// Randomness is injected (DESIGN §1: protocol logic is deterministic).
import { BbnpInputError, BbnpStateError } from "../protocol/bbnp/errors.ts";
import { FastHasher, blindBlock, wordsToBigInt } from "../protocol/bbnp/fast.ts";
import { blindingKey } from "../protocol/bbnp/masking.ts";
import { bytesToWords } from "../crypto/sha256-words.ts";
import {
  BBNP_ORDER,
  checkSecretScalar,
  defaultMinReporters,
  DEFAULT_GATEWAY_ID,
  MAX_USERS,
  mod,
  publicKey,
  validateParams,
  type BbnpPublicParams,
} from "../protocol/bbnp/params.ts";

export interface TrustedAuthorityInit {
  readonly userCount: number;
  /** Target neighbour count h (even ≥ 2). */
  readonly neighbours: number;
  readonly maxReading: bigint;
  readonly gatewayId?: number;
  /** Minimum counted reporters per round (default {@link defaultMinReporters}`(userCount)`). */
  readonly minReporters?: number;
}

export interface TrustedAuthorityComponents {
  /** Uniform scalar in [1, r−1]. */
  readonly randomScalar: () => bigint;
  /** `n` uniform bytes. */
  readonly randomBytes: (n: number) => Uint8Array;
}

export interface EpochKeys {
  readonly params: BbnpPublicParams;
  /** s_i by user id: each is delivered to its user only. */
  readonly userSecrets: readonly bigint[];
  /** s_g = −Σ s_i mod r: the gateway's DH secret (session keys) and BLS key. */
  readonly gatewaySecret: bigint;
}

/** Why the TA refused a dropout correction (typed, so a gateway can abort the round cleanly). */
export class CorrectionRefusedError extends BbnpStateError {
  override name = "CorrectionRefusedError";
  readonly round: bigint;
  readonly reason:
    | "wrong-epoch"
    | "already-issued"
    | "too-few-reporters"
    | "bad-set"
    /** The TA service holds no material for this round (offchain/ta/service.ts). */
    | "unknown-round";

  constructor(round: bigint, reason: CorrectionRefusedError["reason"], detail: string) {
    super(`TrustedAuthority.dropoutCorrection: round ${round}: ${reason}: ${detail}`);
    this.round = round;
    this.reason = reason;
  }
}

export class TrustedAuthority {
  readonly #init: TrustedAuthorityInit;
  readonly #components: TrustedAuthorityComponents;
  #keys: EpochKeys | undefined;
  /** HMAC key states (16 words per user) of every b_i of the current epoch. */
  #blindStates = new Int32Array(0);
  readonly #hasher = new FastHasher();
  readonly #words = new Int32Array(8);
  /** The last round a correction was issued for (−1: none); rounds strictly increase. */
  #lastCorrectedRound = -1n;

  constructor(init: TrustedAuthorityInit, components: TrustedAuthorityComponents) {
    const n = init.userCount;
    if (!Number.isSafeInteger(n) || n < 2 || n > MAX_USERS) {
      throw new BbnpInputError(
        `TrustedAuthority: userCount must be an integer in [2, ${MAX_USERS}]`,
      );
    }
    this.#init = init;
    this.#components = components;
  }

  /** Keys of the current epoch; throws before {@link setup}. */
  get current(): EpochKeys {
    if (!this.#keys) throw new BbnpStateError("TrustedAuthority.current: call setup() first");
    return this.#keys;
  }

  /** Epoch 0. */
  setup(): EpochKeys {
    if (this.#keys)
      throw new BbnpStateError("TrustedAuthority.setup: already set up; use refresh()");
    return this.#install(this.#generate(0));
  }

  /**
   * New epoch: fresh s_i for every user, fresh s_g, fresh graph seed (periodic key rotation, or a
   * change of membership). Not needed after a recovery: a correction opens one round only. A
   * partial refresh (only some s_i) would not do: GW knows the old and new s_g.
   */
  refresh(): EpochKeys {
    return this.#install(this.#generate(this.current.params.epoch + 1));
  }

  /**
   * `β_g(t) = −Σ_{i<N} β_i(t) mod r`, the gateway's blinding term for `round` (DESIGN §4.7). The
   * sum of N round-t PRF outputs: it names no user and opens no other round, so it may be handed
   * out ahead of time for a window of rounds. Cost: N one-block HMACs (≈ 0.6 µs each).
   */
  gatewayBlinding(epoch: number, round: bigint): bigint {
    const sum = this.#roundBlindings("TrustedAuthority.gatewayBlinding", epoch, round).reduce(
      (a, b) => a + b,
      0n,
    );
    return mod(-sum);
  }

  /**
   * `β_i(t)` for every user i < N at `round` (DESIGN §4.7): the round-specific material an online
   * TA service needs to answer round t's dropout correction without holding any b_i or s_i (a
   * β_i(t) opens round t of user i only). N one-block HMACs. Throws `BbnpStateError` for another
   * epoch, `BbnpInputError` for a round outside u64.
   */
  roundBlindings(epoch: number, round: bigint): bigint[] {
    return this.#roundBlindings("TrustedAuthority.roundBlindings", epoch, round);
  }

  /** `β_i(t)` for i < N, after the epoch and round checks `fn`'s errors name. */
  #roundBlindings(fn: string, epoch: number, round: bigint): bigint[] {
    const keys = this.current;
    if (epoch !== keys.params.epoch) {
      throw new BbnpStateError(
        `${fn}: epoch ${epoch} is not the current epoch ${keys.params.epoch}`,
      );
    }
    checkRound(fn, round);
    const block = blindBlock(round);
    return Array.from({ length: keys.params.userCount }, (_, i) => this.#blinding(i, block));
  }

  /**
   * The round-t dropout correction `Σ_{d∈dropped} β_d(t) mod r` (DESIGN §4.7), where `dropped` is
   * every user the gateway does not count in `round` (missing at report time or silent during
   * recovery). Issued at most once per round, rounds strictly increasing (two corrections for one
   * round over different sets would hand GW a single β), and only if at least `minReporters`
   * users stay counted. The value is a sum of round-t PRF outputs: it opens no other round and no
   * key. Throws {@link CorrectionRefusedError}.
   */
  dropoutCorrection(epoch: number, round: bigint, dropped: readonly number[]): bigint {
    const keys = this.current;
    const { userCount, minReporters } = keys.params;
    checkRound("TrustedAuthority.dropoutCorrection", round);
    if (epoch !== keys.params.epoch) {
      throw new CorrectionRefusedError(
        round,
        "wrong-epoch",
        `current epoch is ${keys.params.epoch}`,
      );
    }
    if (round <= this.#lastCorrectedRound) {
      throw new CorrectionRefusedError(
        round,
        "already-issued",
        `a correction was issued for round ${this.#lastCorrectedRound}`,
      );
    }
    const unique = new Set(dropped);
    if (unique.size === 0 || unique.size !== dropped.length) {
      throw new CorrectionRefusedError(round, "bad-set", "need a non-empty list of distinct users");
    }
    for (const d of unique) {
      if (!Number.isInteger(d) || d < 0 || d >= userCount) {
        throw new CorrectionRefusedError(round, "bad-set", `unknown user ${d}`);
      }
    }
    if (userCount - unique.size < minReporters) {
      throw new CorrectionRefusedError(
        round,
        "too-few-reporters",
        `${userCount - unique.size} counted < minReporters ${minReporters}`,
      );
    }
    const block = blindBlock(round);
    let sum = 0n;
    for (const d of unique) sum += this.#blinding(d, block);
    this.#lastCorrectedRound = round;
    return mod(sum);
  }

  /** β_i(t) for the block of round t (one HMAC block under the cached states of b_i). */
  #blinding(user: number, block: Int32Array): bigint {
    this.#hasher.aui(this.#blindStates, 16 * user, block, this.#words, 0);
    return wordsToBigInt(this.#words, 0);
  }

  #install(keys: EpochKeys): EpochKeys {
    const n = keys.params.userCount;
    const states = new Int32Array(16 * n);
    for (let i = 0; i < n; i++) {
      const key = blindingKey(keys.userSecrets[i]);
      this.#hasher.keyStates(bytesToWords(key), 0, states, 16 * i);
      key.fill(0);
    }
    this.#keys = keys;
    this.#blindStates = states;
    return keys;
  }

  #generate(epoch: number): EpochKeys {
    const fn = "TrustedAuthority";
    const { userCount, neighbours, maxReading } = this.#init;
    const minReporters = this.#init.minReporters ?? defaultMinReporters(userCount);
    const gatewayId = this.#init.gatewayId ?? DEFAULT_GATEWAY_ID;
    const userSecrets: bigint[] = [];
    let sum = 0n;
    let gatewaySecret = 0n;
    // Resample in the negligible case Σ s_i ≡ 0 (s_g = 0 would make S_g the identity).
    while (gatewaySecret === 0n) {
      userSecrets.length = 0;
      sum = 0n;
      for (let i = 0; i < userCount; i++) {
        const s = this.#components.randomScalar();
        checkSecretScalar(`${fn}.randomScalar`, s);
        userSecrets.push(s);
        sum += s;
      }
      gatewaySecret = mod(-sum);
    }
    const graphSeed = this.#components.randomBytes(32);
    const params: BbnpPublicParams = {
      epoch,
      userCount,
      neighbours,
      maxReading,
      gatewayId,
      gatewayPublicKey: publicKey(gatewaySecret),
      userPublicKeys: userSecrets.map((s) => publicKey(s)),
      graphSeed: Uint8Array.from(graphSeed),
      minReporters,
    };
    validateParams(params);
    if (mod(sum + gatewaySecret) !== 0n || gatewaySecret >= BBNP_ORDER) {
      throw new BbnpStateError(`${fn}: internal error: s_g + Σ s_i ≠ 0`);
    }
    return { params, userSecrets, gatewaySecret };
  }
}

function checkRound(fn: string, round: bigint): void {
  if (typeof round !== "bigint" || round < 0n || round >= 1n << 64n) {
    throw new BbnpInputError(`${fn}: round must be a u64 bigint`);
  }
}
