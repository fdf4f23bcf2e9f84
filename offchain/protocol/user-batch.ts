// The meter → user batch (DESIGN §6, §7; docs/PROTOCOL.md "User batch"): once per interval, at a
// fixed offset after the interval ends, a meter hands its user all K slots of the interval in one
// fixed-size message: each slot's meter-signed OCD entry (pseudonym, value — a chunk or a zero
// dummy — T, sigPk, signature) and its tweak `t = H3(f_{K_i}(x))`. The size is K × 170 bytes
// whatever the consumption, so the pairing channel's timing and size say nothing about the chunk
// count. With `t` and the meter's base key `B_i`, the user (or anyone it shows a slot to) checks
// `sigPk = B_i + t·G`: revealing `t` opens that slot only (it is a GGM leaf hash, DESIGN §4.2).
//
// Layout per slot (170 bytes): the 138-byte meter report (offchain/protocol/meter-report.ts) ‖
// u256 t.
import { bytesToBigInt, concatBytes, u256 } from "../crypto/bytes.ts";
import { CURVE_ORDER } from "../crypto/secp256k1.ts";
import type { LedgerEntry } from "./entry.ts";
import {
  METER_REPORT_SIZE,
  MeterReportDecodeError,
  decodeMeterReport,
  encodeMeterReport,
} from "./meter-report.ts";

/** One slot of the batch. */
export interface UserBatchSlot {
  /** The meter-signed OCD entry of the slot (value 0 for a dummy). */
  readonly entry: LedgerEntry;
  /** `t_{i,j,k}`, in [1, n−1]. */
  readonly tweak: bigint;
}

export const USER_BATCH_SLOT_SIZE = METER_REPORT_SIZE + 32;

/** Encodes the K slots (counter order) as one K × 170-byte message. */
export function encodeUserBatch(slots: readonly UserBatchSlot[]): Uint8Array {
  return concatBytes(
    ...slots.map((s) => concatBytes(encodeMeterReport(s.entry), u256(s.tweak, "encodeUserBatch"))),
  );
}

/**
 * Decodes a batch of `slots` slots; throws {@link MeterReportDecodeError} on any bad field. The
 * byte fields are copies, or with `views` views of `bytes` (`decodeMeterReport`'s option: one
 * buffer for the batch instead of three per slot, for a caller that owns `bytes` and never
 * modifies it).
 */
export function decodeUserBatch(
  bytes: Uint8Array,
  slots: number,
  options: { readonly views?: boolean } = {},
): UserBatchSlot[] {
  if (!(bytes instanceof Uint8Array) || bytes.length !== slots * USER_BATCH_SLOT_SIZE) {
    throw new MeterReportDecodeError(
      `decodeUserBatch: expected ${slots * USER_BATCH_SLOT_SIZE} bytes, got ${bytes?.length}`,
    );
  }
  const out: UserBatchSlot[] = [];
  for (let o = 0; o < bytes.length; o += USER_BATCH_SLOT_SIZE) {
    const entry = decodeMeterReport(bytes.subarray(o, o + METER_REPORT_SIZE), options);
    const tweak = bytesToBigInt(bytes.subarray(o + METER_REPORT_SIZE, o + USER_BATCH_SLOT_SIZE));
    if (tweak === 0n || tweak >= CURVE_ORDER) {
      throw new MeterReportDecodeError("decodeUserBatch: tweak out of range");
    }
    out.push({ entry, tweak });
  }
  return out;
}
