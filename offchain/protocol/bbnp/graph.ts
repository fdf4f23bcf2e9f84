// BBNP neighbour graph (DESIGN §4.7 "Cluster", §6 "one-sided cluster choice → symmetric graph",
// "at least one neighbour"). Construction: a pseudorandom permutation π_t of [0, N) keyed by the
// public round seed places users on a ring; a user's neighbours are the users at ring positions
// ±1..±h/2 (a circulant / Harary graph H_{h,N}). Properties (tested in test/bbnp/graph.test.ts):
//   - symmetric: position offsets ±j are symmetric, so b ∈ N(a) ⇔ a ∈ N(b);
//   - degree exactly h when N > h, and N − 1 (complete graph) when N ≤ h + 1; ≥ 1 for N ≥ 2;
//   - h-connected, so a user's masks cannot be isolated by fewer than h colluders/dropouts;
//   - a lookup costs h + 1 permutation evaluations: O(h), independent of N.
// π_t is a balanced Feistel network on 2⌈log₂N / 2⌉ bits with cycle-walking (Black–Rogaway) to
// restrict it to [0, N). The seed is public, so π_t need not be a secret PRP; it must only be
// fixed by randomness nobody controls and look random. Round keys come from SHA-256 of the seed;
// the round function is the murmur3 32-bit finaliser (a full-avalanche mixer) over 8 rounds.
import { BbnpInputError } from "./errors.ts";
import { TAG_GRAPH } from "./masking.ts";
import { taggedHash } from "../../crypto/hash.ts";

const FEISTEL_ROUNDS = 8;

export interface RoundGraph {
  readonly userCount: number;
  readonly degreeTarget: number;
  /** Ring position π_t(i). */
  position(user: number): number;
  /** π_t^{-1}(p). */
  userAt(position: number): number;
  /** N_t(i), ascending. */
  neighboursOf(user: number): number[];
}

function fmix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The neighbour graph of one round, from the public seed `seed_t` (32 bytes). */
export function roundGraph(userCount: number, neighbours: number, seed: Uint8Array): RoundGraph {
  const fn = "roundGraph";
  if (!Number.isSafeInteger(userCount) || userCount < 2 || userCount > 0x7fffffff) {
    throw new BbnpInputError(`${fn}: userCount must be an integer ≥ 2, got ${userCount}`);
  }
  if (!Number.isSafeInteger(neighbours) || neighbours < 2 || neighbours % 2 !== 0) {
    throw new BbnpInputError(`${fn}: neighbours must be an even integer ≥ 2, got ${neighbours}`);
  }
  if (seed.length !== 32) throw new BbnpInputError(`${fn}: seed must be 32 bytes`);
  const n = userCount;
  let bits = 2;
  while (2 ** bits < n) bits += 2;
  const half = bits / 2;
  const mask = (1 << half) - 1;
  const shift = 32 - half;
  const keyBytes = taggedHash(TAG_GRAPH, seed);
  const keys = new Uint32Array(FEISTEL_ROUNDS);
  const dv = new DataView(keyBytes.buffer, keyBytes.byteOffset, keyBytes.byteLength);
  for (let j = 0; j < FEISTEL_ROUNDS; j++) keys[j] = dv.getUint32(4 * j);

  const round = (j: number, x: number): number => fmix32((x ^ keys[j]) >>> 0) >>> shift;
  const encrypt = (x: number): number => {
    let l = x >>> half;
    let r = x & mask;
    for (let j = 0; j < FEISTEL_ROUNDS; j++) {
      const t = l ^ round(j, r);
      l = r;
      r = t;
    }
    return (l << half) | r;
  };
  const decrypt = (y: number): number => {
    let l = y >>> half;
    let r = y & mask;
    for (let j = FEISTEL_ROUNDS - 1; j >= 0; j--) {
      const t = r ^ round(j, l);
      r = l;
      l = t;
    }
    return (l << half) | r;
  };
  const check = (x: number, what: string): void => {
    if (!Number.isInteger(x) || x < 0 || x >= n)
      throw new BbnpInputError(`${fn}: ${what} out of range: ${x}`);
  };
  // Cycle-walking: a permutation of [0, 2^bits) restricted to [0, N) by re-applying until the
  // value lands inside; 2^bits < 4N, so the expected number of steps is < 4.
  const position = (user: number): number => {
    check(user, "user");
    let y = encrypt(user);
    while (y >= n) y = encrypt(y);
    return y;
  };
  const userAt = (pos: number): number => {
    check(pos, "position");
    let x = decrypt(pos);
    while (x >= n) x = decrypt(x);
    return x;
  };
  const complete = n - 1 <= neighbours;
  const neighboursOf = (user: number): number[] => {
    check(user, "user");
    const out: number[] = [];
    if (complete) {
      for (let b = 0; b < n; b++) if (b !== user) out.push(b);
      return out;
    }
    // N > h + 1: positions p ± 1..h/2 are 2·(h/2) = h distinct positions other than p.
    const p = position(user);
    for (let j = 1; j <= neighbours / 2; j++) {
      out.push(userAt((p + j) % n), userAt((p - j + n) % n));
    }
    return out.sort((a, b) => a - b);
  };
  return {
    userCount: n,
    degreeTarget: Math.min(neighbours, n - 1),
    position,
    userAt,
    neighboursOf,
  };
}
