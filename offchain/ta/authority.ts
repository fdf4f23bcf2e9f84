// Trusted authority (BBNP §IV-A; DESIGN §4.7): generates the epoch's keys, publishes the public
// parameters, supplies the dropout correction Σ s_d and refreshes the keys afterwards.
// Randomness is injected (DESIGN §1: protocol logic is deterministic).
import {
  BBNP_ORDER,
  checkSecretScalar,
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
  /** s_g = −Σ s_i mod r: the gateway's masking secret and BLS key. */
  readonly gatewaySecret: bigint;
}

export class TrustedAuthority {
  readonly #init: TrustedAuthorityInit;
  readonly #components: TrustedAuthorityComponents;
  #keys: EpochKeys | undefined;
  #correctionIssued = false;

  constructor(init: TrustedAuthorityInit, components: TrustedAuthorityComponents) {
    const n = init.userCount;
    if (!Number.isSafeInteger(n) || n < 2 || n > MAX_USERS) {
      throw new Error(`TrustedAuthority: userCount must be an integer in [2, ${MAX_USERS}]`);
    }
    this.#init = init;
    this.#components = components;
  }

  /** Keys of the current epoch; throws before {@link setup}. */
  get current(): EpochKeys {
    if (!this.#keys) throw new Error("TrustedAuthority.current: call setup() first");
    return this.#keys;
  }

  /** True once Σ s_d has been revealed to the gateway: the epoch must be refreshed. */
  get refreshRequired(): boolean {
    return this.#correctionIssued;
  }

  /** Epoch 0. */
  setup(): EpochKeys {
    if (this.#keys) throw new Error("TrustedAuthority.setup: already set up; use refresh()");
    this.#keys = this.#generate(0);
    return this.#keys;
  }

  /**
   * New epoch: fresh s_i for every user, fresh s_g, fresh graph seed. A partial refresh (only the
   * dropped users' s_d) would not do: GW knows the old s_g and s_d, so from the new s_g it would
   * learn the new s_d' = s_g + s_d − s_g' (docs/BBNP.md, "Recovery").
   */
  refresh(): EpochKeys {
    const epoch = this.current.params.epoch + 1;
    this.#keys = this.#generate(epoch);
    this.#correctionIssued = false;
    return this.#keys;
  }

  /**
   * The dropout correction Σ_{d∈missing} s_d mod r for the current epoch (DESIGN §4.7). Only one
   * per epoch: it discloses the missing users' secrets to GW, so the epoch is burnt and must be
   * refreshed before the next round.
   */
  dropoutCorrection(epoch: number, missing: readonly number[]): bigint {
    const fn = "TrustedAuthority.dropoutCorrection";
    const keys = this.current;
    if (epoch !== keys.params.epoch) {
      throw new Error(`${fn}: epoch ${epoch} is not the current epoch ${keys.params.epoch}`);
    }
    if (this.#correctionIssued) {
      throw new Error(`${fn}: a correction was already issued in epoch ${epoch}; refresh first`);
    }
    const unique = new Set(missing);
    if (unique.size === 0 || unique.size !== missing.length) {
      throw new Error(`${fn}: missing must be a non-empty list of distinct users`);
    }
    if (unique.size >= keys.params.userCount) {
      throw new Error(`${fn}: at least one user must have reported`);
    }
    let sum = 0n;
    for (const d of unique) {
      if (!Number.isInteger(d) || d < 0 || d >= keys.params.userCount) {
        throw new Error(`${fn}: unknown user ${d}`);
      }
      sum += keys.userSecrets[d];
    }
    this.#correctionIssued = true;
    return mod(sum);
  }

  #generate(epoch: number): EpochKeys {
    const fn = "TrustedAuthority";
    const { userCount, neighbours, maxReading } = this.#init;
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
    };
    validateParams(params);
    if (mod(sum + gatewaySecret) !== 0n || gatewaySecret >= BBNP_ORDER) {
      throw new Error(`${fn}: internal error: s_g + Σ s_i ≠ 0`);
    }
    return { params, userSecrets, gatewaySecret };
  }
}
