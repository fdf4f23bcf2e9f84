// The trusted authority online, for dropout corrections only (DESIGN §4.7 "Dropouts"; issue 11
// "Dropouts as services"). The TA's key generation stays an offline set-up tool (`bbnpSetup`); what
// it hands this service is round material only: β_i(t) for every user i and every configured round
// t (a β_i(t) is a PRF output that opens round t of user i and nothing else; the service holds no
// s_i, no b_i and not s_g). It answers the gateway's `bbnpCorrectionRequest` (round t, the users D
// not counted) with `bbnpDropoutCorrection` = Σ_{d∈D} β_d(t) mod r under the simulator TA's rules
// (`TrustedAuthority.dropoutCorrection`): at least `minReporters` users stay counted, one
// correction per round with rounds strictly increasing, material of that round only. What it
// revealed is written to its store BEFORE the answer is sent, so a restarted service never reveals a
// second set for a round; the same request repeated (a lost answer) gets the same answer again,
// which reveals nothing new. Refusals are not answered (the gateway's wait times out and it aborts
// the round cleanly); they are counted and logged.
import { BBNP_ORDER, mod } from "../protocol/bbnp/params.ts";
import {
  decodeWire,
  encodeWire,
  WireDecodeError,
  type BbnpCorrectionRequest,
} from "../protocol/wire/index.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import type { Transport } from "../runtime/network.ts";
import { CorrectionRefusedError } from "./authority.ts";

/** The store the desk persists to (a `Store` namespace suffices). */
export interface TaDeskStore {
  get(ns: string, key: string): Uint8Array | undefined;
  put(ns: string, key: string, value: Uint8Array): void;
}

export interface TaDeskInit {
  /** N: users of the epoch. */
  readonly userCount: number;
  /** Minimum counted reporters per round (the epoch's `params.minReporters`). */
  readonly minReporters: number;
  /** R: rounds 1..R have material. */
  readonly rounds: number;
  /**
   * β_i(t) as 32-byte big-endian scalars, round-major: bytes `32·((t−1)·N + i)`; length 32·R·N
   * (`bbnpSetup`'s secret "ta-round-blindings").
   */
  readonly material: Uint8Array;
}

const NS = "ta";
const LAST = "last";

/** What the desk revealed for a round (persisted). */
export interface TaRevealed {
  readonly round: bigint;
  readonly missing: readonly number[];
  readonly correction: bigint;
}

/**
 * The rules of the online TA, pure apart from its store: `correct(request)` returns the round's
 * correction or throws {@link CorrectionRefusedError}.
 */
export class TaCorrectionDesk {
  readonly #init: TaDeskInit;
  readonly #store: TaDeskStore;

  /** Throws `RangeError` if the material does not have 32·R·N bytes. */
  constructor(init: TaDeskInit, store: TaDeskStore) {
    const { userCount: n, rounds, minReporters } = init;
    if (!Number.isSafeInteger(n) || n < 2 || !Number.isSafeInteger(rounds) || rounds < 1) {
      throw new RangeError("TaCorrectionDesk: userCount ≥ 2 and rounds ≥ 1 integers");
    }
    if (!Number.isSafeInteger(minReporters) || minReporters < 1) {
      throw new RangeError("TaCorrectionDesk: minReporters must be an integer ≥ 1");
    }
    if (init.material.length !== 32 * n * rounds) {
      throw new RangeError(`TaCorrectionDesk: material must be 32·R·N = ${32 * n * rounds} bytes`);
    }
    this.#init = init;
    this.#store = store;
  }

  /** The last correction revealed (from the store; survives restarts), if any. */
  lastRevealed(): TaRevealed | undefined {
    const b = this.#store.get(NS, LAST);
    if (!b) return undefined;
    const v = JSON.parse(new TextDecoder().decode(b)) as {
      round: string;
      missing: number[];
      correction: string;
    };
    return { round: BigInt(v.round), missing: v.missing, correction: BigInt(v.correction) };
  }

  /**
   * Σ_{d∈D} β_d(t) mod r for `request` = (t, D), D strictly ascending (the codec's rule). The same
   * (t, D) as the last reveal returns the same value (nothing new is revealed); otherwise t must
   * be above the last corrected round, in 1..R, D non-empty, within N, and N − |D| ≥ minReporters.
   * Persists (t, D, value) before returning. Throws {@link CorrectionRefusedError}.
   */
  correct(request: BbnpCorrectionRequest): bigint {
    const { round, missing } = request;
    const { userCount: n, minReporters, rounds, material } = this.#init;
    const last = this.lastRevealed();
    if (last && round === last.round && sameList(missing, last.missing)) return last.correction;
    if (last && round <= last.round) {
      throw new CorrectionRefusedError(
        round,
        "already-issued",
        `a correction was issued for round ${last.round}`,
      );
    }
    if (round < 1n || round > BigInt(rounds)) {
      throw new CorrectionRefusedError(round, "unknown-round", `material for rounds 1..${rounds}`);
    }
    if (missing.length === 0) {
      throw new CorrectionRefusedError(round, "bad-set", "need a non-empty list of distinct users");
    }
    for (let k = 0; k < missing.length; k++) {
      const d = missing[k];
      if (!Number.isSafeInteger(d) || d < 0 || d >= n || (k > 0 && d <= missing[k - 1])) {
        throw new CorrectionRefusedError(round, "bad-set", `unknown or repeated user ${d}`);
      }
    }
    if (n - missing.length < minReporters) {
      throw new CorrectionRefusedError(
        round,
        "too-few-reporters",
        `${n - missing.length} counted < minReporters ${minReporters}`,
      );
    }
    const base = 32 * Number(round - 1n) * n;
    let sum = 0n;
    for (const d of missing) {
      let x = 0n;
      for (const byte of material.subarray(base + 32 * d, base + 32 * d + 32)) {
        x = (x << 8n) | BigInt(byte);
      }
      sum += x;
    }
    const correction = mod(sum);
    // Durable before the answer leaves: a restart never reveals a second set for this round.
    this.#store.put(
      NS,
      LAST,
      new TextEncoder().encode(
        JSON.stringify({
          round: round.toString(),
          missing: [...missing],
          correction: correction.toString(),
        }),
      ),
    );
    return correction;
  }
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, k) => x === b[k]);
}

export interface TaAgentInit {
  /** The only address whose requests are answered (default "gateway"). */
  readonly gateway?: string;
}

export interface TaAgentStatus {
  readonly corrected: number;
  readonly refused: number;
  /** The last round a correction was revealed for (0: none). */
  readonly lastRound: number;
}

/**
 * The desk on a transport: answers `bbnpCorrectionRequest` from the gateway's address with
 * `bbnpDropoutCorrection`; ignores (and counts) everything else.
 */
export class TaAgent {
  readonly #desk: TaCorrectionDesk;
  readonly #transport: Transport;
  readonly #gateway: string;
  readonly #logger: Logger;
  #corrected = 0;
  #refused = 0;

  constructor(
    init: TaAgentInit,
    components: { desk: TaCorrectionDesk; transport: Transport; logger?: Logger },
  ) {
    this.#desk = components.desk;
    this.#transport = components.transport;
    this.#gateway = init.gateway ?? "gateway";
    this.#logger = components.logger ?? silentLogger;
  }

  start(): void {
    this.#transport.handle((from, bytes) => this.#onMessage(from, bytes));
    this.#transport.start();
  }

  stop(): void {
    this.#transport.stop();
  }

  status(): TaAgentStatus {
    return {
      corrected: this.#corrected,
      refused: this.#refused,
      lastRound: Number(this.#desk.lastRevealed()?.round ?? 0n),
    };
  }

  #onMessage(from: string, bytes: Uint8Array): void {
    let request: BbnpCorrectionRequest;
    try {
      const m = decodeWire(bytes);
      if (m.type !== "bbnpCorrectionRequest" || from !== this.#gateway) {
        this.#refused++;
        this.#logger.warn("ignored message", { from, type: m.type });
        return;
      }
      request = m.request;
    } catch (e) {
      if (!(e instanceof WireDecodeError)) throw e;
      this.#refused++;
      this.#logger.warn("undecodable message", { from, error: e.message });
      return;
    }
    let correction: bigint;
    try {
      correction = this.#desk.correct(request);
    } catch (e) {
      if (!(e instanceof CorrectionRefusedError)) throw e;
      this.#refused++;
      this.#logger.warn("correction refused", { round: Number(request.round), reason: e.reason });
      return;
    }
    this.#corrected++;
    this.#logger.info("correction revealed", {
      round: Number(request.round),
      missing: request.missing.length,
    });
    if (correction >= BBNP_ORDER) throw new RangeError("TaAgent: correction not reduced");
    this.#transport.send(
      from,
      encodeWire({
        type: "bbnpDropoutCorrection",
        correction: { round: request.round, missing: request.missing, correction },
      }),
    );
  }
}
