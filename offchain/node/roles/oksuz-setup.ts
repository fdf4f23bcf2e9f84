// Deterministic set-up of an Oksuz deployment (docs/briefs PLAN "Each set-up owner exports a
// deterministic set-up function"): from a seed and the number of meters, every key of CC, SP, the
// meters and the users (derived exactly as the simulator derives them, offchain/sim/oksuz-agents.ts), the
// ledger configuration to deploy with, and for each process ("cc", "sp", "meters-<k>") its config
// (JSON-serialisable) and its named secrets. The devnet writes them to the data directories (the
// secrets sealed with the operator key) and adds the runner's fields (addressBook, chain, name).
//
// Secrets (32-byte big-endian scalars unless said otherwise):
//   cc:        "cc-key" (sk_CC), "cc-store-key" (seals K_i at rest in CC's store)
//   sp:        "sp-key" (sk_SP), "sp-sig-key" (sigSk_SP)
//   meters-k:  "meter-<i>" (sk_i ‖ 32-byte GGM seed of K_i), "user-<i>" (the household's sk, direct
//              mode) for every meter i of the fleet
// Chain keys ("chain-key") are the devnet's: it knows which accounts hold CC_ROLE and SP_ROLE.
import { bytesToHex, concatBytes, hexToBytes, u256 } from "../../crypto/bytes.ts";
import {
  keyPairFromSecret,
  meterKeysFromSecret,
  randomSecretKey,
  type KeyPair,
  type MeterKeys,
} from "../../crypto/keys.ts";
import { DEFAULT_REPORT_SLOTS } from "../../protocol/splitting.ts";
import type { TariffSchedule } from "../../protocol/tariff.ts";
import { createRng, type Rng } from "../../runtime/rng.ts";
import { ServiceConfigError } from "../service.ts";

export interface OksuzSetupOptions {
  /** Meter processes (fleets), default 1; meters are split in contiguous ranges. */
  readonly fleets?: number;
  readonly intervals?: number;
  readonly direct?: boolean;
  readonly slots?: number;
  readonly categories?: readonly bigint[];
  readonly tariff?: TariffSchedule;
  readonly intervalSeconds?: number;
  /** Unix time (s) of interval 1's start, default 2026-01-05T00:00:00Z. */
  readonly startTime?: bigint;
  /** CC's admission window per interval (ms of the services' clock), default 30 s. */
  readonly windowMs?: number;
  /** Relay round (ms), default 200. */
  readonly roundMs?: number;
  readonly pathLength?: number;
}

/** The config fields every Oksuz role shares (JSON: decimal strings for bigints, hex for keys). */
export interface OksuzCommonConfig {
  readonly meters: number;
  readonly intervals: number;
  readonly mode: "relayed" | "direct";
  readonly slots: number;
  readonly categories: readonly string[];
  readonly intervalSeconds: number;
  readonly startTime: string;
  readonly windowMs: number;
  readonly roundMs: number;
  readonly pathLength: number;
  /** `pk_CC`, hex (33 bytes). */
  readonly ccPublicKey: string;
  /** `sigPk_SP`, hex. */
  readonly spSigPublicKey: string;
  /** `pk_SP`, hex (direct mode: users find their DAP entry with it). */
  readonly spPublicKey: string;
  /** The run's seed: the meters' synthetic load model. */
  readonly seed: string;
}

export interface CcConfig extends OksuzCommonConfig {
  readonly address: string;
  /**
   * Posting at chain speed (issue 14; docs/SCALE.md): OCD transactions in flight, default 4,
   * batches sized from the block gas limit. Optional in the config file.
   */
  readonly postWindow?: number;
  /** Upper bound on one OCD transaction's gas, default 2^24 (EIP-7825). Optional. */
  readonly postMaxTxGas?: number;
  /**
   * Optional: a fixed count of real entries per OCD transaction, one in flight (the posting
   * before issue 14); when set, `postWindow` and `postMaxTxGas` are refused.
   */
  readonly postBatchSize?: number;
}
export interface SpConfig extends OksuzCommonConfig {
  readonly address: string;
  /** Direct mode: every user's `pk`, hex, by meter index. */
  readonly userPublicKeys?: readonly string[];
}
export interface MetersConfig extends OksuzCommonConfig {
  /** First meter index of this fleet and how many. */
  readonly first: number;
  readonly count: number;
  /** The onion directory: every meter's `pk_i`, hex, by index (public, also on-chain). */
  readonly directory: readonly string[];
}

export interface OksuzProcessSetup<C> {
  readonly role: "cc" | "sp" | "meters";
  readonly name: string;
  readonly config: C;
  readonly secrets: Readonly<Record<string, Uint8Array>>;
}

export interface OksuzSetup {
  /** What to deploy the BillingLedger with (deployBillingLedger's config). */
  readonly ledger: {
    readonly tariff: TariffSchedule;
    readonly categories: readonly bigint[];
    readonly controlCenter: { readonly publicKey: Uint8Array; readonly sigPublicKey: Uint8Array };
    readonly serviceProvider: {
      readonly publicKey: Uint8Array;
      readonly sigPublicKey: Uint8Array;
    };
    readonly direct: boolean;
    readonly slotsPerMeter: number;
  };
  readonly cc: OksuzProcessSetup<CcConfig>;
  readonly sp: OksuzProcessSetup<SpConfig>;
  readonly fleets: readonly OksuzProcessSetup<MetersConfig>[];
}

export const DEFAULT_CATEGORIES = [50n, 100n, 250n, 500n, 1000n] as const;
export const DEFAULT_TARIFF: TariffSchedule = {
  breakpointsWh: [0n, 10_000n, 25_000n, 100_000n],
  values: [2n, 3n, 5n, 8n],
  cap: 10n,
};

const scalarBytes = (k: bigint): Uint8Array => u256(k);

/**
 * Keys of a seeded Oksuz deployment, as `runOksuzAgents` derives them (same seed ⇒ same keys, same
 * pseudonyms, same ledgers).
 */
export function oksuzKeys(seed: string, meters: number) {
  const rng = createRng(`gridledger/oksuz/${seed}`);
  const randomBytes = (r: Rng) => (n: number) => r.bytes(n);
  const keyRng = rng.fork("keys");
  const cc = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("cc"))));
  const ccSig = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("cc/sig"))));
  const sp = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("sp"))));
  const spSig = keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork("sp/sig"))));
  const users: KeyPair[] = Array.from({ length: meters }, (_, i) =>
    keyPairFromSecret(randomSecretKey(randomBytes(keyRng.fork(`user/${i}`)))),
  );
  const meterSecrets = Array.from({ length: meters }, (_, i) => {
    const r = keyRng.fork(`meter/${i}`);
    const secret = randomSecretKey(randomBytes(r));
    return { secret, ggmSeed: r.bytes(32) };
  });
  const meterKeys: MeterKeys[] = meterSecrets.map((m) => meterKeysFromSecret(m.secret, m.ggmSeed));
  return {
    cc,
    ccSig,
    sp,
    spSig,
    users,
    meterSecrets,
    meterKeys,
    storeKey: rng.fork("cc/operator-key").bytes(32),
  };
}

/**
 * The set-up of a deployment with `meters` meters: ledger configuration, and config + secrets of
 * the CC, SP and `fleets` meter processes. Deterministic in (seed, meters, options). Throws
 * `ServiceConfigError` for impossible numbers.
 */
export function oksuzSetup(
  seed: string,
  meters: number,
  options: OksuzSetupOptions = {},
): OksuzSetup {
  const fleets = options.fleets ?? 1;
  const pathLength = options.pathLength ?? 3;
  if (!Number.isInteger(meters) || meters <= pathLength) {
    throw new ServiceConfigError(
      `oksuzSetup: meters must be an integer > pathLength (${pathLength})`,
    );
  }
  if (!Number.isInteger(fleets) || fleets < 1 || fleets > meters) {
    throw new ServiceConfigError("oksuzSetup: fleets must be in [1, meters]");
  }
  const keys = oksuzKeys(seed, meters);
  const direct = options.direct ?? false;
  const categories = options.categories ?? DEFAULT_CATEGORIES;
  const slots = options.slots ?? DEFAULT_REPORT_SLOTS;
  const common: OksuzCommonConfig = {
    meters,
    intervals: options.intervals ?? 2,
    mode: direct ? "direct" : "relayed",
    slots,
    categories: categories.map(String),
    intervalSeconds: options.intervalSeconds ?? 3600,
    startTime: String(options.startTime ?? 1_767_571_200n),
    windowMs: options.windowMs ?? 30_000,
    roundMs: options.roundMs ?? 200,
    pathLength,
    ccPublicKey: bytesToHex(keys.cc.publicKey),
    spSigPublicKey: bytesToHex(keys.spSig.publicKey),
    spPublicKey: bytesToHex(keys.sp.publicKey),
    seed,
  };
  const directory = keys.meterKeys.map((k) => bytesToHex(k.publicKey));
  const per = Math.ceil(meters / fleets);
  const fleetSetups: OksuzProcessSetup<MetersConfig>[] = [];
  for (let f = 0, first = 0; first < meters; f++, first += per) {
    const count = Math.min(per, meters - first);
    const secrets: Record<string, Uint8Array> = {};
    for (let i = first; i < first + count; i++) {
      const m = keys.meterSecrets[i];
      secrets[`meter-${i}`] = concatBytes(scalarBytes(m.secret), m.ggmSeed);
      secrets[`user-${i}`] = scalarBytes(keys.users[i].secretKey);
    }
    fleetSetups.push({
      role: "meters",
      name: `meters-${f}`,
      config: { ...common, first, count, directory },
      secrets,
    });
  }
  return {
    ledger: {
      tariff: options.tariff ?? DEFAULT_TARIFF,
      categories,
      controlCenter: { publicKey: keys.cc.publicKey, sigPublicKey: keys.ccSig.publicKey },
      serviceProvider: { publicKey: keys.sp.publicKey, sigPublicKey: keys.spSig.publicKey },
      direct,
      slotsPerMeter: slots,
    },
    cc: {
      role: "cc",
      name: "cc",
      config: { ...common, address: "cc" },
      secrets: { "cc-key": scalarBytes(keys.cc.secretKey), "cc-store-key": keys.storeKey },
    },
    sp: {
      role: "sp",
      name: "sp",
      config: {
        ...common,
        address: "sp",
        ...(direct ? { userPublicKeys: keys.users.map((u) => bytesToHex(u.publicKey)) } : {}),
      },
      secrets: {
        "sp-key": scalarBytes(keys.sp.secretKey),
        "sp-sig-key": scalarBytes(keys.spSig.secretKey),
      },
    },
    fleets: fleetSetups,
  };
}

// ---- config parsing (shared by the role modules) ------------------------------------------------

type Raw = Record<string, unknown>;

function field<T>(raw: Raw, name: string, check: (v: unknown) => v is T, what: string): T {
  const v = raw[name];
  if (!check(v)) throw new ServiceConfigError(`${name}: expected ${what}`);
  return v;
}

const isInt =
  (min: number) =>
  (v: unknown): v is number =>
    Number.isSafeInteger(v) && (v as number) >= min;
const isString = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isHexKey = (v: unknown): v is string => typeof v === "string" && /^[0-9a-fA-F]{66}$/.test(v);
const isDecimal = (v: unknown): v is string => typeof v === "string" && /^\d{1,20}$/.test(v);

/** Validates the shared fields; throws `ServiceConfigError` naming the first bad one. */
export function parseCommonConfig(raw: unknown): OksuzCommonConfig {
  if (raw === null || typeof raw !== "object")
    throw new ServiceConfigError("config: expected a table");
  const r = raw as Raw;
  const mode = field(
    r,
    "mode",
    (v): v is "relayed" | "direct" => v === "relayed" || v === "direct",
    '"relayed" or "direct"',
  );
  const categories = field(
    r,
    "categories",
    (v): v is string[] => Array.isArray(v) && v.length === 5 && v.every(isDecimal),
    "5 decimal strings",
  );
  return {
    meters: field(r, "meters", isInt(1), "an integer ≥ 1"),
    intervals: field(r, "intervals", isInt(1), "an integer ≥ 1"),
    mode,
    slots: field(r, "slots", isInt(1), "an integer ≥ 1"),
    categories,
    intervalSeconds: field(r, "intervalSeconds", isInt(1), "an integer ≥ 1"),
    startTime: field(r, "startTime", isDecimal, "a decimal string"),
    windowMs: field(r, "windowMs", isInt(1), "an integer ≥ 1"),
    roundMs: field(r, "roundMs", isInt(1), "an integer ≥ 1"),
    pathLength: field(r, "pathLength", isInt(1), "an integer ≥ 1"),
    ccPublicKey: field(r, "ccPublicKey", isHexKey, "a 33-byte hex key"),
    spSigPublicKey: field(r, "spSigPublicKey", isHexKey, "a 33-byte hex key"),
    spPublicKey: field(r, "spPublicKey", isHexKey, "a 33-byte hex key"),
    seed: field(r, "seed", isString, "a non-empty string"),
  };
}

export function parseCcConfig(raw: unknown): CcConfig {
  const common = parseCommonConfig(raw);
  const r = raw as Raw;
  const optional = (name: string, min: number): Record<string, number> =>
    r[name] === undefined ? {} : { [name]: field(r, name, isInt(min), `an integer ≥ ${min}`) };
  const posting = { ...optional("postWindow", 1), ...optional("postMaxTxGas", 200_000) };
  const fixed = optional("postBatchSize", 1);
  if (fixed.postBatchSize !== undefined && Object.keys(posting).length > 0) {
    throw new ServiceConfigError(
      "postBatchSize: fixed batches exclude postWindow and postMaxTxGas (gas-sized posting)",
    );
  }
  return {
    ...common,
    address: field(r, "address", isString, "an address"),
    ...posting,
    ...fixed,
  };
}

export function parseSpConfig(raw: unknown): SpConfig {
  const common = parseCommonConfig(raw);
  const r = raw as Raw;
  const userPublicKeys =
    common.mode === "direct"
      ? field(
          r,
          "userPublicKeys",
          (v): v is string[] => Array.isArray(v) && v.length === common.meters && v.every(isHexKey),
          `${common.meters} hex keys`,
        )
      : undefined;
  return {
    ...common,
    address: field(r, "address", isString, "an address"),
    ...(userPublicKeys ? { userPublicKeys } : {}),
  };
}

export function parseMetersConfig(raw: unknown): MetersConfig {
  const common = parseCommonConfig(raw);
  const r = raw as Raw;
  const first = field(r, "first", isInt(0), "an integer ≥ 0");
  const count = field(r, "count", isInt(1), "an integer ≥ 1");
  if (first + count > common.meters) throw new ServiceConfigError("first + count: above meters");
  const directory = field(
    r,
    "directory",
    (v): v is string[] => Array.isArray(v) && v.length === common.meters && v.every(isHexKey),
    `${common.meters} hex keys`,
  );
  return { ...common, first, count, directory };
}

/** A 32-byte secret as a scalar (throws `ServiceConfigError` for another length). */
export function secretScalar(bytes: Uint8Array, name: string): bigint {
  if (bytes.length !== 32) throw new ServiceConfigError(`secret "${name}": expected 32 bytes`);
  return BigInt("0x" + bytesToHex(bytes));
}

export const hexKey = (hex: string): Uint8Array => hexToBytes(hex);
