// BBNP wire messages: a user's report and a neighbour's mask reveal (DESIGN §4.7).
// Report: u32 ID_i ‖ u64 t ‖ u256 C_i ‖ 32-byte tag = 76 bytes.
// Reveal: u32 ID_i ‖ u64 t ‖ u32 ID_d ‖ u256 AUI_{i,d}(t) ‖ 32-byte tag = 80 bytes.
import { BbnpInputError } from "./errors.ts";
import { BBNP_ORDER, bytesToBigInt, concatBytes, TAG_BYTES, u256, u32, u64 } from "./params.ts";

export const REPORT_BYTES = 4 + 8 + 32 + TAG_BYTES;
export const REVEAL_BYTES = 4 + 8 + 4 + 32 + TAG_BYTES;

export interface BbnpReport {
  readonly userId: number;
  readonly round: bigint;
  /** `u256(C_i)`, 32 bytes, canonical (< r). */
  readonly masked: Uint8Array;
  /** `HMAC(k_{i,g}, u256 C_i ‖ u64 t)`. */
  readonly tag: Uint8Array;
}

/** A reporting neighbour's disclosure of its pairwise mask with a missing user, one round only. */
export interface MaskReveal {
  readonly userId: number;
  readonly round: bigint;
  readonly peer: number;
  /** AUI_{userId,peer}(round), reduced mod r. */
  readonly mask: bigint;
  /** `HMAC(k_{i,g}, "GridLedger/BBNP/reveal" ‖ u64 t ‖ u32 peer ‖ u256 mask)`. */
  readonly tag: Uint8Array;
}

export function encodeReport(report: BbnpReport): Uint8Array {
  if (report.masked.length !== 32 || report.tag.length !== TAG_BYTES) {
    throw new BbnpInputError("encodeReport: masked and tag must be 32 bytes");
  }
  return concatBytes(u32(report.userId), u64(report.round), report.masked, report.tag);
}

export function decodeReport(bytes: Uint8Array): BbnpReport {
  if (bytes.length !== REPORT_BYTES)
    throw new BbnpInputError(`decodeReport: expected ${REPORT_BYTES} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    userId: dv.getUint32(0),
    round: dv.getBigUint64(4),
    masked: bytes.slice(12, 44),
    tag: bytes.slice(44, 76),
  };
}

export function encodeReveal(reveal: MaskReveal): Uint8Array {
  if (reveal.mask < 0n || reveal.mask >= BBNP_ORDER)
    throw new BbnpInputError("encodeReveal: mask must be < r");
  return concatBytes(
    u32(reveal.userId),
    u64(reveal.round),
    u32(reveal.peer),
    u256(reveal.mask),
    reveal.tag,
  );
}

export function decodeReveal(bytes: Uint8Array): MaskReveal {
  if (bytes.length !== REVEAL_BYTES)
    throw new BbnpInputError(`decodeReveal: expected ${REVEAL_BYTES} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    userId: dv.getUint32(0),
    round: dv.getBigUint64(4),
    peer: dv.getUint32(12),
    mask: bytesToBigInt(bytes.subarray(16, 48)),
    tag: bytes.slice(48, 80),
  };
}
