// Test fixtures for BBNP (exports only: Hardhat's runner loads every .ts under test/).
import { sha256 } from "@noble/hashes/sha2.js";

import { BbnpUser } from "../../offchain/bbnp-user/user.ts";
import { BbnpGateway } from "../../offchain/gateway/gateway.ts";
import type { RecoveryPlan } from "../../offchain/protocol/bbnp/recovery.ts";
import {
  BBNP_ORDER,
  bytesToBigInt,
  dhPointFromScalars,
  u64,
} from "../../offchain/protocol/bbnp/params.ts";
import { TrustedAuthority, type EpochKeys } from "../../offchain/ta/authority.ts";

/** Deterministic byte stream (SHA-256 in counter mode) standing in for a CSPRNG in tests. */
export function deterministicRandom(label: string): {
  randomBytes: (n: number) => Uint8Array;
  randomScalar: () => bigint;
} {
  let counter = 0n;
  const randomBytes = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const block = sha256(new Uint8Array([...new TextEncoder().encode(label), ...u64(counter++)]));
      out.set(block.subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
  const randomScalar = (): bigint => {
    for (;;) {
      const s = bytesToBigInt(randomBytes(32)) & ((1n << 255n) - 1n);
      if (s > 0n && s < BBNP_ORDER) return s;
    }
  };
  return { randomBytes, randomScalar };
}

export interface BbnpSystem {
  readonly ta: TrustedAuthority;
  readonly keys: EpochKeys;
  readonly users: BbnpUser[];
  readonly gateway: BbnpGateway;
  readonly signed: { round: bigint; sum: bigint }[];
}

/**
 * A whole BBNP deployment. DH points come from the TA's scalars (fixed-base; equal to the
 * parties' own variable-base DH, pinned in masking.test.ts) so that tests with 40+ users stay fast.
 */
export function buildSystem(
  userCount: number,
  neighbours: number,
  label = "bbnp-test",
  maxReading = 1_000_000n,
  ta?: TrustedAuthority,
  options: { minReporters?: number; maxRecoveryPasses?: number } = {},
): BbnpSystem {
  const authority =
    ta ??
    new TrustedAuthority(
      { userCount, neighbours, maxReading, minReporters: options.minReporters },
      deterministicRandom(label),
    );
  const keys = ta ? ta.refresh() : authority.setup();
  const s = keys.userSecrets;
  const cache = new Map<string, Uint8Array>();
  const dh = (a: bigint, b: bigint): Uint8Array => {
    const key = a < b ? `${a}:${b}` : `${b}:${a}`;
    let p = cache.get(key);
    if (!p) {
      p = dhPointFromScalars(a, b);
      cache.set(key, p);
    }
    return p;
  };
  const users = s.map(
    (secret, i) =>
      new BbnpUser(
        { params: keys.params, userId: i, secret },
        { dhPoint: (peer) => dh(secret, peer === "gateway" ? keys.gatewaySecret : s[peer]) },
      ),
  );
  const signed: { round: bigint; sum: bigint }[] = [];
  const gateway = new BbnpGateway(
    {
      params: keys.params,
      secret: keys.gatewaySecret,
      dhPoints: s.map((si) => dh(si, keys.gatewaySecret)),
      maxRecoveryPasses: options.maxRecoveryPasses,
    },
    {
      roundBlinding: (round) => authority.gatewayBlinding(keys.params.epoch, round),
      signRound: (round, sum) => {
        signed.push({ round, sum });
        return sha256(new Uint8Array([...u64(round), ...u64(sum)]));
      },
    },
  );
  return { ta: authority, keys, users, gateway, signed };
}

/** Readings for a round: small non-negative integers from a deterministic stream. */
export function readingsFor(userCount: number, round: bigint, label = "readings"): bigint[] {
  const bytes = deterministicRandom(`${label}/${round}`).randomBytes(4 * userCount);
  const dv = new DataView(bytes.buffer);
  return Array.from({ length: userCount }, (_, i) => BigInt(dv.getUint32(4 * i) % 5000));
}

/**
 * Run a full round; users in `absent` do not report, users in `silent` report but never answer a
 * reveal request (a dropout during recovery). Recovery passes until the round is ready, then the
 * TA's correction. Returns the signed sum and Σ readings of the counted users (the expected sum,
 * computed here from the test's own knowledge of who is counted, not from the gateway's view).
 * A clean abort propagates as the gateway's RoundAbortedError.
 */
export function runRound(
  system: BbnpSystem,
  round: bigint,
  readings: readonly bigint[],
  absent: ReadonlySet<number> = new Set(),
  silent: ReadonlySet<number> = new Set(),
): { sum: bigint; expected: bigint; reporters: number; passes: number; excluded: number[] } {
  const { gateway, users, ta } = system;
  gateway.openRound(round);
  const reports = users
    .filter((u) => !absent.has(u.userId))
    .map((u) => u.report(round, readings[u.userId]));
  const rejected = gateway.submitBatch(reports);
  if (rejected.length > 0)
    throw new Error(
      `runRound: unexpected rejections ${JSON.stringify(rejected.map((r) => r.reason))}`,
    );
  const excluded = new Set<number>();
  const counted = (): bigint => {
    let expected = 0n;
    for (const u of users)
      if (!absent.has(u.userId) && !excluded.has(u.userId)) expected += readings[u.userId];
    return expected;
  };
  if (absent.size === 0) {
    const r = gateway.finalize();
    return { sum: r.sum, expected: counted(), reporters: r.reporters, passes: 0, excluded: [] };
  }
  let plan: RecoveryPlan | undefined = gateway.beginRecovery();
  while (plan) {
    for (const [i, peers] of plan.requests) {
      if (silent.has(i)) {
        excluded.add(i);
        continue;
      }
      for (const r of users[i].revealMasks(round, peers)) gateway.acceptReveal(r);
    }
    plan = gateway.closeRecoveryPass();
  }
  const correction = ta.dropoutCorrection(system.keys.params.epoch, round, gateway.dropped);
  const r = gateway.finalize(correction);
  return {
    sum: r.sum,
    expected: counted(),
    reporters: r.reporters,
    passes: r.passes,
    excluded: [...r.excluded],
  };
}

/** Two-sample χ² homogeneity statistic over `buckets` buckets (df = buckets − 1). */
export function chiSquareTwoSample(
  a: readonly number[],
  b: readonly number[],
  buckets: number,
): number {
  const ca = new Array<number>(buckets).fill(0);
  const cb = new Array<number>(buckets).fill(0);
  for (const x of a) ca[x]++;
  for (const x of b) cb[x]++;
  let stat = 0;
  for (let k = 0; k < buckets; k++) {
    const total = ca[k] + cb[k];
    if (total === 0) continue;
    const ea = (total * a.length) / (a.length + b.length);
    const eb = (total * b.length) / (a.length + b.length);
    stat += (ca[k] - ea) ** 2 / ea + (cb[k] - eb) ** 2 / eb;
  }
  return stat;
}
