// Wire envelope and strict field reader/writer for every message the roles exchange (issue 11
// "Every message on a wire"; layouts in docs/PROTOCOL.md "Wire messages").
//
//   message = u8 WIRE_VERSION ‖ u8 type ‖ body
//
// Decoding is strict: exact lengths, no trailing bytes, every integer in its range, lists canonical
// (where a list is a set, strictly ascending), so a decoder accepts exactly the encoder's image and
// `encode(decode(b)) = b` for every accepted `b`. Every failure is a `WireDecodeError` subclass;
// nothing else escapes a decoder (fuzzed in test/protocol/wire.test.ts).
import { bytesToBigInt, concatBytes, u16, u256, u32, u64, u8 } from "../../crypto/bytes.ts";

export const WIRE_VERSION = 1;
/** Bytes before the body: version and type. */
export const WIRE_HEADER_BYTES = 2;

/** Base of every wire decoding failure; `reason` is a stable machine-readable code. */
export class WireDecodeError extends Error {
  override name = "WireDecodeError";
  readonly reason: "truncated" | "trailing" | "version" | "type" | "field";
  constructor(reason: WireDecodeError["reason"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** The input ends before the message does. */
export class WireTruncatedError extends WireDecodeError {
  override name = "WireTruncatedError";
  constructor(message: string) {
    super("truncated", message);
  }
}

/** Bytes after the end of the message. */
export class WireTrailingBytesError extends WireDecodeError {
  override name = "WireTrailingBytesError";
  constructor(message: string) {
    super("trailing", message);
  }
}

/** A wire version this code does not speak. */
export class WireVersionError extends WireDecodeError {
  override name = "WireVersionError";
  readonly version: number;
  constructor(version: number) {
    super("version", `wire: unknown version ${version} (expected ${WIRE_VERSION})`);
    this.version = version;
  }
}

/** A type byte no codec is registered for. */
export class WireUnknownTypeError extends WireDecodeError {
  override name = "WireUnknownTypeError";
  readonly type: number;
  constructor(type: number) {
    super("type", `wire: unknown message type 0x${type.toString(16).padStart(2, "0")}`);
    this.type = type;
  }
}

/** A field out of range, not canonical, or refused by the message's own decoder. */
export class WireFieldError extends WireDecodeError {
  override name = "WireFieldError";
  constructor(message: string, options?: ErrorOptions) {
    super("field", message, options);
  }
}

/** An encoder was given a value the wire cannot carry (a programming error, not bad input). */
export class WireEncodeError extends RangeError {
  override name = "WireEncodeError";
}

/** Bounds-checked big-endian reader; every failure is a `WireDecodeError`. */
export class WireReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #what: string;
  #offset = 0;

  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  #need(n: number, field: string): number {
    if (this.remaining < n) {
      throw new WireTruncatedError(
        `${this.#what}: ${field} needs ${n} bytes, ${this.remaining} left`,
      );
    }
    const at = this.#offset;
    this.#offset += n;
    return at;
  }

  /** A copy of the next `n` bytes. */
  bytes(n: number, field: string): Uint8Array {
    const at = this.#need(n, field);
    return this.#bytes.slice(at, at + n);
  }

  u8(field: string): number {
    return this.#bytes[this.#need(1, field)];
  }

  u16(field: string): number {
    return this.#view.getUint16(this.#need(2, field));
  }

  u32(field: string): number {
    return this.#view.getUint32(this.#need(4, field));
  }

  u64(field: string): bigint {
    return this.#view.getBigUint64(this.#need(8, field));
  }

  u256(field: string): bigint {
    return bytesToBigInt(this.bytes(32, field));
  }

  /** `u256` strictly below `bound`. */
  u256Below(bound: bigint, field: string): bigint {
    const v = this.u256(field);
    if (v >= bound) throw new WireFieldError(`${this.#what}: ${field} out of range`);
    return v;
  }

  /** u16 count then `count` items read by `item`; `count ≤ max`. */
  list<T>(field: string, max: number, item: (r: WireReader, i: number) => T): T[] {
    const count = this.u16(`${field} count`);
    if (count > max) throw new WireFieldError(`${this.#what}: ${field}: ${count} > ${max} items`);
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(item(this, i));
    return out;
  }

  /** Throws `WireTrailingBytesError` unless every byte was read. */
  end(): void {
    if (this.remaining !== 0) {
      throw new WireTrailingBytesError(`${this.#what}: ${this.remaining} trailing bytes`);
    }
  }

  fail(message: string, cause?: unknown): never {
    throw new WireFieldError(`${this.#what}: ${message}`, cause === undefined ? {} : { cause });
  }
}

/** Checks `xs` is strictly ascending (a canonical set); `reader` reports the failure. */
export function requireAscending(xs: readonly number[], field: string, r: WireReader): void {
  for (let i = 1; i < xs.length; i++) {
    if (xs[i] <= xs[i - 1]) r.fail(`${field} must be strictly ascending`);
  }
}

/** Encoder-side helpers: range errors become `WireEncodeError`. */
export function enc<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof WireEncodeError) throw e;
    throw new WireEncodeError(`${what}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
}

export function encodeList<T>(
  items: readonly T[],
  max: number,
  what: string,
  item: (x: T) => Uint8Array,
): Uint8Array {
  if (items.length > max) throw new WireEncodeError(`${what}: ${items.length} > ${max} items`);
  return concatBytes(u16(items.length), ...items.map(item));
}

export function checkAscending(xs: readonly number[], what: string): void {
  for (let i = 1; i < xs.length; i++) {
    if (xs[i] <= xs[i - 1]) throw new WireEncodeError(`${what} must be strictly ascending`);
  }
}

export function checkLength(b: Uint8Array, n: number, what: string): Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== n) {
    throw new WireEncodeError(`${what} must be ${n} bytes`);
  }
  return b;
}

export { concatBytes, u8, u16, u32, u64, u256 };
