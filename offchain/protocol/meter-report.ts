// The meter → control-center report (Oksuz §5 "Outsourcing consumption data"): the signed OCD
// entry a meter sends through the onion network, carried as the final hop's payload (DESIGN §4.6).
// Fixed size, so the payload length reveals nothing about the meter or the value.
//
// Layout (138 bytes, big-endian):
//   u8 version (1) ‖ u32 interval ‖ bytes32 pseudonym ‖ u64 timestamp ‖ u64 consumptionWh ‖
//   bytes33 sigPk ‖ bytes20 addr(R) ‖ u256 y
import { bytesToBigInt, concatBytes, u256, u32, u64, u8 } from "../crypto/bytes.ts";
import { CURVE_ORDER } from "../crypto/secp256k1.ts";
import { ENTRY_KIND, type LedgerEntry } from "./entry.ts";

export const METER_REPORT_VERSION = 1;
export const METER_REPORT_SIZE = 138;

export class MeterReportDecodeError extends Error {
  override name = "MeterReportDecodeError";
}

/** Encodes an OCD entry as the report a meter sends to CC. */
export function encodeMeterReport(entry: LedgerEntry): Uint8Array {
  if (entry.kind !== ENTRY_KIND.OCD) {
    throw new RangeError(`encodeMeterReport: entry kind ${entry.kind} is not OCD`);
  }
  if (entry.id.length !== 32) throw new RangeError("encodeMeterReport: pseudonym must be 32 bytes");
  if (entry.sigPk.length !== 33) throw new RangeError("encodeMeterReport: sigPk must be 33 bytes");
  if (entry.signature.rAddr.length !== 20) {
    throw new RangeError("encodeMeterReport: rAddr must be 20 bytes");
  }
  const out = concatBytes(
    u8(METER_REPORT_VERSION),
    u32(entry.interval, "encodeMeterReport: interval"),
    entry.id,
    u64(entry.timestamp, "encodeMeterReport: timestamp"),
    u64(entry.value, "encodeMeterReport: consumption"),
    entry.sigPk,
    entry.signature.rAddr,
    u256(entry.signature.y, "encodeMeterReport: y"),
  );
  return out;
}

/** Byte offset of the pseudonym in a report (after u8 version ‖ u32 interval). */
export const METER_REPORT_PSEUDONYM_OFFSET = 5;
/** Byte offset of the u64 consumption in a report (after the pseudonym and the u64 timestamp). */
export const METER_REPORT_VALUE_OFFSET = 45;

/**
 * The interval of a report without decoding the rest (a look-up key for the control center's
 * admission pool), or undefined unless it has the report's size and version. A report it accepts
 * may still be malformed: {@link decodeMeterReport} decides.
 */
export function peekMeterReportInterval(bytes: Uint8Array): number | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length !== METER_REPORT_SIZE) return undefined;
  if (bytes[0] !== METER_REPORT_VERSION) return undefined;
  return ((bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4]) >>> 0;
}

/**
 * Decodes a report; throws {@link MeterReportDecodeError} on any malformed field. The byte fields
 * are copies, or with `views` views of `bytes` (no buffer of their own, ≈ 200 bytes less each:
 * for a holder of many reports that never modifies `bytes`, such as CC's report arena).
 */
export function decodeMeterReport(
  bytes: Uint8Array,
  options: { readonly views?: boolean } = {},
): LedgerEntry {
  if (!(bytes instanceof Uint8Array) || bytes.length !== METER_REPORT_SIZE) {
    throw new MeterReportDecodeError(
      `decodeMeterReport: expected ${METER_REPORT_SIZE} bytes, got ${bytes?.length ?? "none"}`,
    );
  }
  if (bytes[0] !== METER_REPORT_VERSION) {
    throw new MeterReportDecodeError(`decodeMeterReport: unknown version ${bytes[0]}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const interval = view.getUint32(1);
  const field = (from: number, to: number) =>
    options.views ? bytes.subarray(from, to) : bytes.slice(from, to);
  const id = field(5, 37);
  const timestamp = view.getBigUint64(37);
  const value = view.getBigUint64(45);
  const sigPk = field(53, 86);
  const rAddr = field(86, 106);
  const y = bytesToBigInt(bytes.subarray(106, 138));
  if (sigPk[0] !== 2 && sigPk[0] !== 3) {
    throw new MeterReportDecodeError(`decodeMeterReport: sigPk prefix ${sigPk[0]} is not 2 or 3`);
  }
  if (y === 0n || y >= CURVE_ORDER)
    throw new MeterReportDecodeError("decodeMeterReport: y out of range");
  return { kind: ENTRY_KIND.OCD, interval, id, timestamp, value, sigPk, signature: { rAddr, y } };
}
