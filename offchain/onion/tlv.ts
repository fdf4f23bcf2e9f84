// BigSize integers and TLV streams as BOLT #1 defines them, used for the hop payloads of
// DESIGN §4.6 (BOLT #4 "tlv_payload"). Encoders and decoders are strict: BigSize must be minimal,
// record types strictly increasing, lengths within the stream; anything else is malformed, so two
// honest implementations never disagree about what a relay was told.
import { concatBytes } from "../crypto/bytes.ts";

export class TlvError extends Error {
  override name = "TlvError";
}

const MAX_U64 = (1n << 64n) - 1n;

/** Encoded size of `value` as a BigSize (1, 3, 5 or 9 bytes). */
export function bigSizeLength(value: bigint | number): number {
  const v = BigInt(value);
  if (v < 0n || v > MAX_U64) throw new TlvError(`bigSizeLength: ${v} out of u64 range`);
  if (v < 0xfdn) return 1;
  if (v <= 0xffffn) return 3;
  if (v <= 0xffffffffn) return 5;
  return 9;
}

/** BOLT #1 BigSize: one byte below 0xfd, else a 0xfd/0xfe/0xff marker and a big-endian u16/u32/u64. */
export function encodeBigSize(value: bigint | number): Uint8Array {
  const v = BigInt(value);
  const length = bigSizeLength(v);
  const out = new Uint8Array(length);
  if (length === 1) {
    out[0] = Number(v);
    return out;
  }
  out[0] = length === 3 ? 0xfd : length === 5 ? 0xfe : 0xff;
  let rest = v;
  for (let i = length - 1; i >= 1; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

/**
 * Reads a BigSize at `offset`; returns the value and the number of bytes read. Throws on
 * truncation or a non-minimal encoding (BOLT #1 requires rejecting both).
 */
export function decodeBigSize(
  bytes: Uint8Array,
  offset = 0,
): { readonly value: bigint; readonly length: number } {
  if (offset >= bytes.length) throw new TlvError("decodeBigSize: truncated");
  const first = bytes[offset];
  if (first < 0xfd) return { value: BigInt(first), length: 1 };
  const length = first === 0xfd ? 3 : first === 0xfe ? 5 : 9;
  if (offset + length > bytes.length) throw new TlvError("decodeBigSize: truncated");
  let v = 0n;
  for (let i = 1; i < length; i++) v = (v << 8n) | BigInt(bytes[offset + i]);
  if (bigSizeLength(v) !== length) throw new TlvError("decodeBigSize: not minimally encoded");
  return { value: v, length };
}

export interface TlvRecord {
  readonly type: bigint;
  readonly value: Uint8Array;
}

/** Encodes records (which must have strictly increasing types) as a TLV stream. */
export function encodeTlvStream(records: readonly TlvRecord[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let previous = -1n;
  for (const r of records) {
    if (typeof r.type !== "bigint" || r.type < 0n) throw new TlvError("encodeTlvStream: bad type");
    if (r.type <= previous) {
      throw new TlvError("encodeTlvStream: types must be strictly increasing");
    }
    if (!(r.value instanceof Uint8Array)) throw new TlvError("encodeTlvStream: value not bytes");
    previous = r.type;
    parts.push(encodeBigSize(r.type), encodeBigSize(r.value.length), r.value);
  }
  return concatBytes(...parts);
}

/**
 * Decodes a whole TLV stream. Rejects truncation, non-minimal BigSize, and types that are not
 * strictly increasing (BOLT #1). Which types are known is the caller's business.
 */
export function decodeTlvStream(bytes: Uint8Array): TlvRecord[] {
  if (!(bytes instanceof Uint8Array)) throw new TlvError("decodeTlvStream: expected Uint8Array");
  const records: TlvRecord[] = [];
  let offset = 0;
  let previous = -1n;
  while (offset < bytes.length) {
    const type = decodeBigSize(bytes, offset);
    offset += type.length;
    const len = decodeBigSize(bytes, offset);
    offset += len.length;
    if (len.value > BigInt(bytes.length - offset)) {
      throw new TlvError("decodeTlvStream: record length exceeds stream");
    }
    if (type.value <= previous) {
      throw new TlvError("decodeTlvStream: types not strictly increasing");
    }
    previous = type.value;
    const end = offset + Number(len.value);
    records.push({ type: type.value, value: bytes.slice(offset, end) });
    offset = end;
  }
  return records;
}
