// Encodings of the BBNP aggregation ledger (DESIGN §2 "Aggregation ledger", §4.7, §4.8): the
// deployment domain and the round message the gateway BLS-signs with `s_g`. Byte-identical with
// `contracts/ledger/AggregationLedger.sol` (`roundMessage`).
import { keccak_256 } from "@noble/hashes/sha3.js";

import { BLS_R, blsSign, blsVerify } from "../crypto/bls.ts";

const U64_MAX = (1n << 64n) - 1n;
const U256_MAX = (1n << 256n) - 1n;

/** Length of {@link bbnpRoundMessage}: 32-byte domain ‖ u64 round ‖ u256 sum ‖ u32 reporters. */
export const BBNP_ROUND_MESSAGE_LENGTH = 76;
const U32_MAX = 0xffffffff;

function writeUint(out: Uint8Array, offset: number, width: number, value: bigint): void {
  for (let i = offset + width - 1; i >= offset; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
}

/**
 * `keccak256(u256 chainId ‖ address ledger)`: the same construction as the entry domain of
 * DESIGN §4.4, so a round signed for one chain or one deployment never verifies on another.
 */
export function aggregationDomain(chainId: bigint, ledger: string): Uint8Array {
  if (typeof chainId !== "bigint" || chainId < 0n || chainId > U256_MAX) {
    throw new RangeError("aggregationDomain: chainId must be a u256 bigint");
  }
  if (typeof ledger !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(ledger)) {
    throw new TypeError("aggregationDomain: ledger must be a 0x-prefixed 20-byte hex address");
  }
  const buf = new Uint8Array(52);
  writeUint(buf, 0, 32, chainId);
  for (let i = 0; i < 20; i++) buf[32 + i] = parseInt(ledger.slice(2 + 2 * i, 4 + 2 * i), 16);
  return keccak_256(buf);
}

/**
 * The message GW signs for round `t` (DESIGN §4.7 "sign sum ‖ t", bound to the deployment):
 * `domain ‖ u64 round ‖ u256 sum ‖ u32 reporters`, 76 bytes. `sum` is an element of Z_r;
 * `reporters` is the number of users counted in `sum` (§4.7 minimum of counted reporters), signed
 * so that no relayer (the consensus primary included) can restate it: the ledger refuses a round
 * below `minReporters()` in both modes on the signed count. Throws RangeError on an out-of-range
 * field.
 */
export function bbnpRoundMessage(
  domain: Uint8Array,
  round: bigint,
  sum: bigint,
  reporters: number,
): Uint8Array {
  if (!(domain instanceof Uint8Array) || domain.length !== 32) {
    throw new RangeError("bbnpRoundMessage: domain must be 32 bytes");
  }
  if (typeof round !== "bigint" || round < 0n || round > U64_MAX) {
    throw new RangeError("bbnpRoundMessage: round must be a u64 bigint");
  }
  if (typeof sum !== "bigint" || sum < 0n || sum >= BLS_R) {
    throw new RangeError("bbnpRoundMessage: sum must be a bigint in [0, r-1]");
  }
  if (!Number.isInteger(reporters) || reporters < 0 || reporters > U32_MAX) {
    throw new RangeError("bbnpRoundMessage: reporters must be a u32");
  }
  const out = new Uint8Array(BBNP_ROUND_MESSAGE_LENGTH);
  out.set(domain, 0);
  writeUint(out, 32, 8, round);
  writeUint(out, 40, 32, sum);
  writeUint(out, 72, 4, BigInt(reporters));
  return out;
}

/**
 * GW's BLS signature (96-byte compressed G2) on round `round`'s sum and its count of reporters
 * ({@link bbnpRoundMessage}), under key `s_g`.
 */
export function bbnpSignRound(
  gatewaySk: bigint,
  domain: Uint8Array,
  round: bigint,
  sum: bigint,
  reporters: number,
): Uint8Array {
  return blsSign(gatewaySk, bbnpRoundMessage(domain, round, sum, reporters));
}

/** Off-chain twin of the ledger's check; false (never throws) on malformed input. */
export function bbnpVerifyRound(
  gatewayPk: Uint8Array,
  domain: Uint8Array,
  round: bigint,
  sum: bigint,
  reporters: number,
  signature: Uint8Array,
): boolean {
  let message: Uint8Array;
  try {
    message = bbnpRoundMessage(domain, round, sum, reporters);
  } catch {
    return false;
  }
  return blsVerify(gatewayPk, message, signature);
}
