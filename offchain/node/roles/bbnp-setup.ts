// BBNP set-up for the services (issue 11; PLAN "Each set-up owner exports a deterministic set-up
// function"): the trusted authority as an offline tool. `bbnpSetup` draws every key from the seed
// (the same draws as offchain/sim/bbnp.ts, so one seed gives the same keys either way) and returns
// what the devnet writes: each process's config (JSON-serialisable; the role's fields live under
// `bbnp`) and its named secrets (bytes, sealed at rest by the runner's key store), plus the public
// deployment inputs (S_g, the nodes' keys with proofs of possession and initial reputations, the
// reporter minimum). Also the config parser shared by the gateway, node and bbnp-users roles.
//
// The TA stays offline: it hands the gateway β_g(t) for the configured rounds ahead of time
// (secret "ta-blinding", DESIGN §4.7: a sum of round-t PRF outputs that opens no other round).
// A dropout correction needs the TA online: with `taService` the set-up also writes the TA service's
// process (role "ta", offchain/node/roles/ta.ts) holding round material only (β_i(t) for t ≤ R, secret
// "ta-round-blindings"), and the gateway asks it; without, a round with missing users is aborted
// cleanly by the gateway (docs/BBNP.md "Services").
import { blsProvePossession, blsPublicKey } from "../../crypto/bls.ts";
import { bytesToHex, hexToBytes } from "../../crypto/bytes.ts";
import { BBNP_ORDER, type BbnpPublicParams } from "../../protocol/bbnp/params.ts";
import { createRng } from "../../runtime/rng.ts";
import { TrustedAuthority } from "../../ta/authority.ts";
import { ServiceConfigError } from "../service.ts";

/** Everything the three BBNP roles read from `config.bbnp`. */
export interface BbnpRoleConfig {
  readonly seed: string;
  readonly mode: "gateway" | "consensus";
  readonly rounds: number;
  readonly params: BbnpPublicParams;
  /** Consensus mode: every node's BLS public key (48 bytes), registry order. */
  readonly nodeKeys: readonly Uint8Array[];
  /** Consensus mode: Γ^(0) per node (floats; the registry holds toFixed18 of each). */
  readonly reputations: readonly number[];
  readonly windowMs: number;
  readonly revealWindowMs: number;
  readonly commitTimeoutMs: number;
  readonly viewTimeoutMs: number;
  readonly collectWindowMs: number;
  readonly revealTimeoutMs: number;
  /** The readings' load model: unix start of round 1 and the interval (s). */
  readonly startTime: number;
  readonly intervalSeconds: number;
  /** bbnp-users: the user ids this fleet runs. */
  readonly users?: readonly number[];
  /** node: this node's index. */
  readonly index?: number;
  /** The TA service's address (gateway: ask it for dropout corrections); absent: no TA online. */
  readonly ta?: string;
  /** Gateway: longest wait for the TA's correction (ms). */
  readonly correctionTimeoutMs: number;
  /**
   * Fraction of users that stay silent in each round (0 ≤ p < 1; default 0), drawn from the seed
   * as the demo draws them (`bbnpDropouts`, offchain/node/roles/bbnp-users.ts).
   */
  readonly dropout: number;
}

export interface BbnpSetupOptions {
  readonly seed: string;
  readonly users: number;
  /** Consensus nodes M (0: gateway mode). */
  readonly nodes: number;
  readonly rounds: number;
  /** bbnp-users processes the users are split into (default 1). */
  readonly fleets?: number;
  readonly neighbours?: number;
  readonly minReporters?: number;
  readonly maxReading?: bigint;
  /** Timings (ms) of the wall-clock services; defaults suit a loopback devnet. */
  readonly windowMs?: number;
  readonly revealWindowMs?: number;
  readonly commitTimeoutMs?: number;
  readonly viewTimeoutMs?: number;
  readonly collectWindowMs?: number;
  readonly revealTimeoutMs?: number;
  readonly startTime?: number;
  readonly intervalSeconds?: number;
  /** Also set up the online TA service for dropout corrections (process "ta"; default false). */
  readonly taService?: boolean;
  readonly correctionTimeoutMs?: number;
  /** Fraction of users silent in each round, in [0, 1) (default 0; the demo's `--dropout`). */
  readonly dropout?: number;
}

/** One process to run: its role, its name, its config and its named secrets. */
export interface BbnpProcess {
  readonly role: "gateway" | "node" | "bbnp-users" | "ta";
  readonly name: string;
  /** JSON-serialisable; the runner's fields (addressBook, chain, ...) are added by the devnet. */
  readonly config: { readonly bbnp: Record<string, unknown> };
  /** Secret name → bytes (the devnet adds "chain-key"). */
  readonly secrets: Readonly<Record<string, Uint8Array>>;
}

export interface BbnpSetup {
  readonly processes: readonly BbnpProcess[];
  /** Deployment inputs (public). */
  readonly deployment: {
    /** s_g's public key S_g (48-byte compressed G1; the ledger takes its EIP-2537 form). */
    readonly gatewayPublicKey: Uint8Array;
    readonly minReporters: number;
    readonly nodes: readonly {
      readonly publicKey: Uint8Array;
      readonly proofOfPossession: Uint8Array;
      readonly reputation: number;
    }[];
  };
}

const DEFAULT_START = Date.UTC(2026, 0, 5) / 1000;

/**
 * The TA's offline set-up for a BBNP deployment: epoch-0 keys of `users` users and the gateway,
 * `nodes` consensus-node BLS keys and initial reputations, β_g(t) for t = 1..rounds; split into a
 * gateway, `nodes` nodes ("node-<j>") and `fleets` user fleets ("bbnp-users-<k>"). Deterministic
 * in the seed. Throws `RangeError` on bad options.
 */
export function bbnpSetup(o: BbnpSetupOptions): BbnpSetup {
  const fn = "bbnpSetup";
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new RangeError(`${fn}: ${what}`);
  };
  check(Number.isInteger(o.users) && o.users >= 2, "users must be an integer ≥ 2");
  check(Number.isInteger(o.nodes) && (o.nodes === 0 || o.nodes >= 4), "nodes must be 0 or ≥ 4");
  check(Number.isInteger(o.rounds) && o.rounds >= 1, "rounds must be an integer ≥ 1");
  const fleets = o.fleets ?? 1;
  check(Number.isInteger(fleets) && fleets >= 1 && fleets <= o.users, "fleets in [1, users]");
  const h = o.neighbours ?? 8;
  const dropout = o.dropout ?? 0;
  check(Number.isFinite(dropout) && dropout >= 0 && dropout < 1, "dropout must be in [0, 1)");
  // The simulator's draws (offchain/sim/bbnp.ts): the same seed, the same keys.
  const rng = createRng(`bbnp/${o.seed}`);
  const taRng = rng.fork("ta");
  const ta = new TrustedAuthority(
    {
      userCount: o.users,
      neighbours: h,
      maxReading: o.maxReading ?? 1_000_000n,
      minReporters: o.minReporters,
    },
    {
      randomScalar: () => taRng.nextBigInt(BBNP_ORDER - 1n) + 1n,
      randomBytes: (k) => taRng.bytes(k),
    },
  );
  const keys = ta.setup();
  const nodeRng = rng.fork("nodes");
  const nodeSecrets = Array.from(
    { length: o.nodes },
    () => nodeRng.nextBigInt(BBNP_ORDER - 1n) + 1n,
  );
  const reputations = nodeSecrets.map(() => 0.5 + nodeRng.nextInt(11) / 100);
  const nodeKeys = nodeSecrets.map(blsPublicKey);
  const common = {
    seed: o.seed,
    mode: o.nodes > 0 ? "consensus" : "gateway",
    rounds: o.rounds,
    params: paramsToJson(keys.params),
    nodeKeys: nodeKeys.map(bytesToHex),
    reputations,
    windowMs: o.windowMs ?? 1_500,
    revealWindowMs: o.revealWindowMs ?? 1_000,
    commitTimeoutMs: o.commitTimeoutMs ?? 30_000,
    viewTimeoutMs: o.viewTimeoutMs ?? 3_000,
    collectWindowMs: o.collectWindowMs ?? 100,
    revealTimeoutMs: o.revealTimeoutMs ?? 500,
    startTime: o.startTime ?? DEFAULT_START,
    intervalSeconds: o.intervalSeconds ?? 900,
    correctionTimeoutMs: o.correctionTimeoutMs ?? 5_000,
    ...(o.taService ? { ta: "ta" } : {}),
    ...(dropout > 0 ? { dropout } : {}),
  };
  const blinding = new Uint8Array(32 * o.rounds);
  for (let t = 1; t <= o.rounds; t++) {
    blinding.set(scalarBytes(ta.gatewayBlinding(keys.params.epoch, BigInt(t))), 32 * (t - 1));
  }
  const processes: BbnpProcess[] = [
    {
      role: "gateway",
      name: "gateway",
      config: { bbnp: common },
      secrets: { "gateway-key": scalarBytes(keys.gatewaySecret), "ta-blinding": blinding },
    },
  ];
  if (o.taService) {
    // Round material only: β_i(t) for t = 1..R (round-major), no s_i, b_i or s_g.
    const material = new Uint8Array(32 * o.users * o.rounds);
    for (let t = 1; t <= o.rounds; t++) {
      ta.roundBlindings(keys.params.epoch, BigInt(t)).forEach((b, i) => {
        material.set(scalarBytes(b), 32 * ((t - 1) * o.users + i));
      });
    }
    processes.push({
      role: "ta",
      name: "ta",
      config: { bbnp: common },
      secrets: { "ta-round-blindings": material },
    });
  }
  nodeSecrets.forEach((sk, j) => {
    processes.push({
      role: "node",
      name: `node-${j}`,
      config: { bbnp: { ...common, index: j } },
      secrets: { "bls-key": scalarBytes(sk) },
    });
  });
  for (let k = 0; k < fleets; k++) {
    const ids: number[] = [];
    for (let i = k; i < o.users; i += fleets) ids.push(i);
    const secrets: Record<string, Uint8Array> = {};
    for (const i of ids) secrets[`user-${i}`] = scalarBytes(keys.userSecrets[i]);
    processes.push({
      role: "bbnp-users",
      name: `bbnp-users-${k}`,
      config: { bbnp: { ...common, users: ids } },
      secrets,
    });
  }
  return {
    processes,
    deployment: {
      gatewayPublicKey: blsPublicKey(keys.gatewaySecret),
      minReporters: keys.params.minReporters,
      nodes: nodeSecrets.map((sk, j) => ({
        publicKey: nodeKeys[j],
        proofOfPossession: blsProvePossession(sk),
        reputation: reputations[j],
      })),
    },
  };
}

/** A scalar as 32 big-endian bytes (key files). */
export function scalarBytes(x: bigint): Uint8Array {
  return hexToBytes(x.toString(16).padStart(64, "0"));
}

/** 32 big-endian bytes → a scalar in [1, r − 1]; throws `ServiceConfigError` otherwise. */
export function scalarFromBytes(b: Uint8Array, what: string): bigint {
  if (!(b instanceof Uint8Array) || b.length !== 32) {
    throw new ServiceConfigError(`${what}: expected 32 bytes`);
  }
  const x = BigInt("0x" + bytesToHex(b));
  if (x === 0n || x >= BBNP_ORDER) throw new ServiceConfigError(`${what}: not a scalar in [1, r)`);
  return x;
}

function paramsToJson(p: BbnpPublicParams): Record<string, unknown> {
  return {
    epoch: p.epoch,
    userCount: p.userCount,
    neighbours: p.neighbours,
    maxReading: p.maxReading.toString(),
    gatewayId: p.gatewayId,
    gatewayPublicKey: bytesToHex(p.gatewayPublicKey),
    userPublicKeys: p.userPublicKeys.map(bytesToHex),
    graphSeed: bytesToHex(p.graphSeed),
    minReporters: p.minReporters,
  };
}

/**
 * Validates `raw.bbnp` (the whole config table; the runner's fields are ignored) into a
 * {@link BbnpRoleConfig}. Throws `ServiceConfigError` naming the first bad field.
 */
export function parseBbnpConfig(raw: unknown, role: string): BbnpRoleConfig {
  const fail = (field: string, what: string): never => {
    throw new ServiceConfigError(`${role}: bbnp.${field}: ${what}`);
  };
  if (raw === null || typeof raw !== "object") fail("", "the config must be a table");
  const b = (raw as Record<string, unknown>).bbnp;
  if (b === null || typeof b !== "object" || Array.isArray(b)) return fail("", "missing table");
  const c = b as Record<string, unknown>;
  const int = (field: string, min: number): number => {
    const v = c[field];
    if (!Number.isSafeInteger(v) || (v as number) < min) fail(field, `an integer ≥ ${min}`);
    return v as number;
  };
  const hex = (v: unknown, field: string, length?: number): Uint8Array => {
    if (typeof v !== "string" || !/^(0x)?([0-9a-fA-F]{2})*$/.test(v)) fail(field, "hex bytes");
    const bytes = hexToBytes(v as string);
    if (length !== undefined && bytes.length !== length) fail(field, `${length} bytes`);
    return bytes;
  };
  const str = (field: string): string => {
    const v = c[field];
    if (typeof v !== "string" || v.length === 0) fail(field, "a non-empty string");
    return v as string;
  };
  const fraction = (field: string): number => {
    const v = c[field] ?? 0;
    if (typeof v !== "number" || !(v >= 0 && v < 1)) fail(field, "a number in [0, 1)");
    return v as number;
  };
  const seed = c.seed;
  if (typeof seed !== "string") fail("seed", "a string");
  const mode = c.mode;
  if (mode !== "gateway" && mode !== "consensus") fail("mode", '"gateway" or "consensus"');
  const p = c.params as Record<string, unknown> | undefined;
  if (p === null || typeof p !== "object") return fail("params", "missing table");
  const keys = p.userPublicKeys;
  if (!Array.isArray(keys)) fail("params.userPublicKeys", "an array");
  let maxReading: bigint;
  try {
    maxReading = BigInt(p.maxReading as string);
  } catch {
    return fail("params.maxReading", "an integer string");
  }
  const params: BbnpPublicParams = {
    epoch: p.epoch as number,
    userCount: p.userCount as number,
    neighbours: p.neighbours as number,
    maxReading,
    gatewayId: p.gatewayId as number,
    gatewayPublicKey: hex(p.gatewayPublicKey, "params.gatewayPublicKey"),
    userPublicKeys: (keys as unknown[]).map((k, i) => hex(k, `params.userPublicKeys[${i}]`)),
    graphSeed: hex(p.graphSeed, "params.graphSeed", 32),
    minReporters: p.minReporters as number,
  };
  const nodeKeys = c.nodeKeys;
  if (!Array.isArray(nodeKeys)) fail("nodeKeys", "an array");
  const reputations = c.reputations;
  if (
    !Array.isArray(reputations) ||
    reputations.length !== (nodeKeys as unknown[]).length ||
    reputations.some((r) => typeof r !== "number" || !(r >= 0 && r <= 1))
  ) {
    fail("reputations", "one number in [0, 1] per node key");
  }
  const users = c.users;
  if (
    users !== undefined &&
    (!Array.isArray(users) ||
      users.some((u) => !Number.isSafeInteger(u) || u < 0 || u >= params.userCount))
  ) {
    fail("users", "user ids in [0, N)");
  }
  return {
    seed: seed as string,
    mode: mode as "gateway" | "consensus",
    rounds: int("rounds", 1),
    params,
    nodeKeys: (nodeKeys as unknown[]).map((k, j) => hex(k, `nodeKeys[${j}]`, 48)),
    reputations: reputations as number[],
    windowMs: int("windowMs", 1),
    revealWindowMs: int("revealWindowMs", 1),
    commitTimeoutMs: int("commitTimeoutMs", 1),
    viewTimeoutMs: int("viewTimeoutMs", 1),
    collectWindowMs: int("collectWindowMs", 0),
    revealTimeoutMs: int("revealTimeoutMs", 1),
    startTime: int("startTime", 0),
    intervalSeconds: int("intervalSeconds", 1),
    ...(users === undefined ? {} : { users: users as number[] }),
    ...(c.index === undefined ? {} : { index: int("index", 0) }),
    ...(c.ta === undefined ? {} : { ta: str("ta") }),
    correctionTimeoutMs:
      c.correctionTimeoutMs === undefined ? 5_000 : int("correctionTimeoutMs", 1),
    dropout: fraction("dropout"),
  };
}
