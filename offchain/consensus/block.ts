// BBNP consensus block and quorum certificate encodings (DESIGN §5.1, docs/CONSENSUS.md "Block").
// Byte-identical with `AggregationLedger.blockDigest` and `ReputationRegistry`'s packed vector.
import { bytesToBigInt, concatBytes, equalBytes, u16, u256, u32, u64 } from "../crypto/bytes.ts";
import { keccak256 } from "../crypto/hash.ts";
import {
  BLS_R,
  blsAggregateSignatures,
  blsVerifyAggregateSameMessage,
  g2ToEip2537,
} from "../crypto/bls.ts";

/** Domain tag of block digests (`BLOCK_TAG` of AggregationLedger.sol). */
export const BLOCK_TAG = "GridLedger/BBNP/block";
const BLOCK_TAG_BYTES = new TextEncoder().encode(BLOCK_TAG);
const FIXED18_ONE = 10n ** 18n;
const U64_MAX = (1n << 64n) - 1n;
/** 1e18 fixed point → the packed vector's u32 units of 1e-9 (`PACKED_SCALE` of the registry). */
export const REPUTATION_PACK_SCALE = 10n ** 9n;
/** Bytes per node in the packed vector. */
export const REPUTATION_PACKED_BYTES = 4;

/** A consensus block: what the quorum signs for round `round`. */
export type ConsensusBlock = {
  readonly round: bigint;
  /** Digest of the last committed block (32 zero bytes before the first). */
  readonly previousDigest: Uint8Array;
  readonly sum: bigint;
  /** GW's BLS signature on the round message (96-byte compressed G2). */
  readonly gatewaySignature: Uint8Array;
  /** Registry index of the round's primary. */
  readonly primary: number;
  /** Γ after the previous round's evidence, fixed point 1e18, one per node in registry order. */
  readonly reputations: readonly bigint[];
  /**
   * The membership epoch (u32) the block is built under (`ReputationRegistry.membershipEpoch`):
   * the digest binds it, so a certificate never commits after a membership change.
   */
  readonly epoch: number;
  /**
   * The number of users counted in `sum` (u32), as GW signed it (`bbnpRoundMessage` covers it):
   * `commitBlock` refuses a block below the ledger's `minReporters()`.
   */
  readonly reporters: number;
};

/** A quorum certificate plus the primary's vote report (the next round's evidence). */
export type QuorumCertificate = {
  /** Bit j set iff node j's vote is in the aggregate. */
  readonly signers: bigint;
  /** Σ σ_j over the signers (96-byte compressed G2). */
  readonly signature: Uint8Array;
};

/**
 * Γ (1e18 fixed point) at the packed vector's resolution: ⌊Γ / 1e9⌋ · 1e9. The chain stores and signs
 * only the packed (u32, units of 1e-9) form, so honest nodes put quantized values in blocks
 * (`ConsensusNode.expectedReputations`), and `unpackReputations(packReputations(x))` is exactly
 * `x.map(quantizeReputation)`.
 */
export function quantizeReputation(r: bigint): bigint {
  return r - (r % REPUTATION_PACK_SCALE);
}

/**
 * The registry's packed vector: per node one u32 big-endian, ⌊Γ / 1e9⌋ (Γ in [0, 1e18] fixed point
 * 1e18, so the u32 is in [0, 1e9]): 4 bytes instead of 8 per node of calldata and event data
 * (docs/CONSENSUS.md "Gas"). Resolution 1e-9.
 */
export function packReputations(reputations: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(REPUTATION_PACKED_BYTES * reputations.length);
  reputations.forEach((r, j) => {
    if (typeof r !== "bigint" || r < 0n || r > FIXED18_ONE) {
      throw new RangeError(`packReputations: reputations[${j}] must be a bigint in [0, 1e18]`);
    }
    out.set(u32(r / REPUTATION_PACK_SCALE), REPUTATION_PACKED_BYTES * j);
  });
  return out;
}

/** Inverse of {@link packReputations} (1e18 fixed point; values are multiples of 1e9). */
export function unpackReputations(packed: Uint8Array): bigint[] {
  if (!(packed instanceof Uint8Array) || packed.length % REPUTATION_PACKED_BYTES !== 0) {
    throw new RangeError("unpackReputations: length must be a multiple of 4");
  }
  const out: bigint[] = [];
  for (let j = 0; j < packed.length; j += REPUTATION_PACKED_BYTES) {
    const v = bytesToBigInt(packed.subarray(j, j + REPUTATION_PACKED_BYTES));
    if (v > FIXED18_ONE / REPUTATION_PACK_SCALE) {
      throw new RangeError(`unpackReputations: entry ${j / REPUTATION_PACKED_BYTES} above 1.0`);
    }
    out.push(v * REPUTATION_PACK_SCALE);
  }
  return out;
}

/**
 * keccak256("GridLedger/BBNP/block" ‖ domain ‖ u64 round ‖ previousDigest ‖ u256 sum ‖
 * keccak256(EIP-2537 σ_GW) ‖ u16 primary ‖ keccak256(packed reputations) ‖ u32 epoch ‖
 * u32 reporters). The nodes BLS-sign these 32 bytes. Throws RangeError on an out-of-range field.
 */
export function blockDigest(domain: Uint8Array, block: ConsensusBlock): Uint8Array {
  if (!(domain instanceof Uint8Array) || domain.length !== 32) {
    throw new RangeError("blockDigest: domain must be 32 bytes");
  }
  if (block.round < 0n || block.round > U64_MAX) throw new RangeError("blockDigest: round u64");
  if (block.previousDigest.length !== 32) throw new RangeError("blockDigest: previousDigest 32 B");
  if (block.sum < 0n || block.sum >= BLS_R) throw new RangeError("blockDigest: sum in [0, r-1]");
  if (!Number.isInteger(block.primary) || block.primary < 0 || block.primary > 0xffff) {
    throw new RangeError("blockDigest: primary must be a u16");
  }
  if (!Number.isInteger(block.epoch) || block.epoch < 0 || block.epoch > 0xffffffff) {
    throw new RangeError("blockDigest: epoch must be a u32");
  }
  if (!Number.isInteger(block.reporters) || block.reporters < 0 || block.reporters > 0xffffffff) {
    throw new RangeError("blockDigest: reporters must be a u32");
  }
  return keccak256(
    concatBytes(
      BLOCK_TAG_BYTES,
      domain,
      u64(block.round),
      block.previousDigest,
      u256(block.sum),
      keccak256(g2ToEip2537(block.gatewaySignature)),
      u16(block.primary),
      keccak256(packReputations(block.reputations)),
      u32(block.epoch),
      u32(block.reporters),
    ),
  );
}

/** Same block content except the primary (honest blocks of one round differ at most there). */
export function sameContent(a: ConsensusBlock, b: ConsensusBlock): boolean {
  return (
    a.round === b.round &&
    equalBytes(a.previousDigest, b.previousDigest) &&
    a.sum === b.sum &&
    a.epoch === b.epoch &&
    a.reporters === b.reporters &&
    equalBytes(a.gatewaySignature, b.gatewaySignature) &&
    a.reputations.length === b.reputations.length &&
    a.reputations.every((r, j) => r === b.reputations[j])
  );
}

/** f = ⌊(M − 1)/3⌋: the Byzantine nodes M nodes tolerate. */
export function faultTolerance(m: number): number {
  return Math.floor((m - 1) / 3);
}

/** ⌊(M + f)/2⌋ + 1 (2f + 1 for M = 3f + 1): any two quorums share ≥ f + 1 nodes. */
export function quorumSize(m: number): number {
  if (!Number.isInteger(m) || m < 1) throw new RangeError("quorumSize: M must be ≥ 1");
  return Math.floor((m + faultTolerance(m)) / 2) + 1;
}

/** Indices of the set bits of a signer bitmap, ascending. */
export function bitmapIndices(bitmap: bigint): number[] {
  const out: number[] = [];
  for (let j = 0; bitmap >> BigInt(j) !== 0n; j++) if ((bitmap >> BigInt(j)) & 1n) out.push(j);
  return out;
}

/** Certificate from votes (node index → 96-byte signature on the digest). */
export function aggregateCertificate(votes: ReadonlyMap<number, Uint8Array>): QuorumCertificate {
  const indices = [...votes.keys()].sort((a, b) => a - b);
  let signers = 0n;
  for (const j of indices) signers |= 1n << BigInt(j);
  return Object.freeze({
    signers,
    signature: blsAggregateSignatures(indices.map((j) => votes.get(j) as Uint8Array)),
  });
}

/** Off-chain twin of the ledger's certificate check (quorum + one aggregate verification). */
export function verifyCertificate(
  keys: readonly Uint8Array[],
  digest: Uint8Array,
  certificate: QuorumCertificate,
): boolean {
  const signers = bitmapIndices(certificate.signers);
  if (signers.length < quorumSize(keys.length) || signers.some((j) => j >= keys.length)) {
    return false;
  }
  return blsVerifyAggregateSameMessage(
    signers.map((j) => keys[j]),
    digest,
    certificate.signature,
  );
}

/**
 * The ledger's `commitBlock` arguments (hex at the edge), for the chain adapter and tests. The
 * certificate is its bitmap and signature only: the contract forms the signers' key from the
 * registry's key table. `keys` (registry order) is used to check that the bitmap names only nodes.
 */
export function commitBlockArgs(
  block: ConsensusBlock,
  certificate: QuorumCertificate,
  keys: readonly Uint8Array[],
): {
  block: {
    round: bigint;
    previousDigest: string;
    sum: bigint;
    gatewaySignature: string;
    primary: number;
    reputations: string;
    epoch: number;
    reporters: number;
  };
  certificate: { signers: bigint; signature: string };
} {
  const hex = (x: Uint8Array) => "0x" + Buffer.from(x).toString("hex");
  if (certificate.signers < 0n || certificate.signers >> BigInt(keys.length) !== 0n) {
    throw new RangeError("commitBlockArgs: the signer bitmap names a node index ≥ keys.length");
  }
  return {
    block: {
      round: block.round,
      previousDigest: hex(block.previousDigest),
      sum: block.sum,
      gatewaySignature: hex(g2ToEip2537(block.gatewaySignature)),
      primary: block.primary,
      reputations: hex(packReputations(block.reputations)),
      epoch: block.epoch,
      reporters: block.reporters,
    },
    certificate: {
      signers: certificate.signers,
      signature: hex(g2ToEip2537(certificate.signature)),
    },
  };
}
