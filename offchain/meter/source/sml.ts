// SML (Smart Message Language, BSI TR-03109-1; OBIS codes per IEC 62056-61) from a meter's optical
// port. Two layers:
//  - transport (ours, small): an SML file is `1b1b1b1b 01010101 ‖ body ‖ 1b1b1b1b 1a NN CRC16`, with
//    escape sequences at 4-byte-aligned offsets from the file start and an escape sequence inside
//    the body doubled. `SmlFrameScanner` finds files in a byte stream, resynchronises on the start
//    sequence after a truncated or corrupt file, and checks the CRC (CRC-16/X-25 over the file up
//    to the CRC; some meters, e.g. EMH, send it byte-swapped, accepted as open-sml does);
//  - messages (the `open-sml` library, the SML parser smartmeter-obis uses): the SML message tree
//    (TL fields, lists, GetListResponse value entries with OBIS name, unit, scaler, value).
// See docs/RUNTIME.md "Reading sources" for why this split and why `open-sml`.
import { createRequire } from "node:module";

import { ReadingSourceError } from "./source.ts";

/** `1b1b1b1b 01010101`: start of an SML file (transport v1). */
export const SML_START = Uint8Array.from([0x1b, 0x1b, 0x1b, 0x1b, 0x01, 0x01, 0x01, 0x01]);
const ESC = 0x1b1b1b1b;
/** Larger "files" are treated as corrupt (a real meter's file is a few hundred bytes). */
export const MAX_SML_FILE_BYTES = 64 * 1024;

export class SmlError extends ReadingSourceError {
  override name = "SmlError";
}

/** The CRC at the end of an SML file does not match its bytes. */
export class SmlCrcError extends SmlError {
  override name = "SmlCrcError";
}

/** A CRC-valid file whose messages the parser refuses. */
export class SmlParseError extends SmlError {
  override name = "SmlParseError";
}

/** CRC-16/X-25 (reflected poly 0x1021, init 0xffff, xorout 0xffff); check("123456789") = 0x906e. */
export function crc16X25(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
  }
  return crc ^ 0xffff;
}

export interface SmlScanStats {
  /** CRC-valid files emitted. */
  readonly files: number;
  /** Files cut short by a new start sequence or by the end of the stream. */
  readonly truncated: number;
  readonly crcErrors: number;
  /** Escape sequences that are neither doubled, a start nor an end, and oversize files. */
  readonly corrupt: number;
  /** Bytes outside any file (before a start sequence or in discarded files). */
  readonly skippedBytes: number;
}

function u32At(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

function indexOfStart(b: Uint8Array, from: number): number {
  for (let i = from; i + 8 <= b.length; i++) {
    if (b[i] === 0x1b && u32At(b, i) === ESC && u32At(b, i + 4) === 0x01010101) return i;
  }
  return -1;
}

/**
 * Incremental SML transport reader: `push` chunks of a byte stream, get the CRC-valid raw files
 * (escaped, as sent). Never throws on bad input: truncated, corrupt and CRC-failing files are
 * counted in `stats()` and skipped, and scanning resumes at the next start sequence.
 */
export class SmlFrameScanner {
  #buf: Uint8Array = new Uint8Array(0);
  #files = 0;
  #truncated = 0;
  #crcErrors = 0;
  #corrupt = 0;
  #skipped = 0;

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.#buf.length + chunk.length);
    joined.set(this.#buf);
    joined.set(chunk, this.#buf.length);
    const out: Uint8Array[] = [];
    let at = 0; // bytes before `at` are consumed
    for (;;) {
      const start = indexOfStart(joined, at);
      if (start < 0) {
        // Keep a possible partial start sequence (up to 7 bytes) for the next chunk.
        const keep = Math.min(7, joined.length - at);
        this.#skipped += joined.length - at - keep;
        at = joined.length - keep;
        break;
      }
      this.#skipped += start - at;
      const r = this.#scanFile(joined, start);
      if (r.kind === "incomplete") {
        if (joined.length - start > MAX_SML_FILE_BYTES) {
          this.#corrupt++;
          this.#skipped += 8;
          at = start + 8;
          continue;
        }
        at = start;
        break;
      }
      if (r.kind === "file") {
        const file = joined.slice(start, r.end);
        if (this.#crcOk(file)) {
          this.#files++;
          out.push(file);
        } else {
          this.#crcErrors++;
          this.#skipped += file.length;
        }
        at = r.end;
      } else if (r.kind === "restart") {
        this.#truncated++;
        this.#skipped += r.at - start;
        at = r.at;
      } else {
        this.#corrupt++;
        this.#skipped += 8;
        at = start + 8;
      }
    }
    this.#buf = joined.slice(at);
    return out;
  }

  /** End of stream: a file in progress is counted as truncated. */
  end(): void {
    if (indexOfStart(this.#buf, 0) >= 0) this.#truncated++;
    this.#skipped += this.#buf.length;
    this.#buf = new Uint8Array(0);
  }

  stats(): SmlScanStats {
    return {
      files: this.#files,
      truncated: this.#truncated,
      crcErrors: this.#crcErrors,
      corrupt: this.#corrupt,
      skippedBytes: this.#skipped,
    };
  }

  #scanFile(
    b: Uint8Array,
    start: number,
  ):
    | { kind: "incomplete" }
    | { kind: "file"; end: number }
    | { kind: "restart"; at: number }
    | { kind: "corrupt" } {
    // A start sequence at any offset (aligned or not) ends a file that has not ended by then: after
    // a dropout the next file need not be aligned with the cut one.
    const nextStart = indexOfStart(b, start + 8);
    for (let pos = start + 8; ; pos += 4) {
      if (nextStart >= 0 && pos + 8 > nextStart) return { kind: "restart", at: nextStart };
      if (pos + 4 > b.length) return { kind: "incomplete" };
      if (u32At(b, pos) !== ESC) continue;
      if (pos + 8 > b.length) return { kind: "incomplete" };
      const next = u32At(b, pos + 4);
      if (next === ESC) {
        pos += 4; // an escaped escape sequence in the data
      } else if (b[pos + 4] === 0x1a) {
        return { kind: "file", end: pos + 8 };
      } else {
        return { kind: "corrupt" };
      }
    }
  }

  #crcOk(file: Uint8Array): boolean {
    const n = file.length;
    const crc = crc16X25(file.subarray(0, n - 2));
    const sent = (file[n - 2] << 8) | file[n - 1];
    const swapped = ((crc & 0xff) << 8) | (crc >>> 8);
    return sent === crc || sent === swapped;
  }
}

/** Removes the transport escaping of a raw file's body (a doubled escape sequence → one). */
export function unescapeSmlFile(file: Uint8Array): Uint8Array {
  const out: number[] = Array.from(file.subarray(0, 8));
  let pos = 8;
  while (pos + 4 <= file.length) {
    if (u32At(file, pos) === ESC && pos + 8 <= file.length && u32At(file, pos + 4) === ESC) {
      out.push(0x1b, 0x1b, 0x1b, 0x1b);
      pos += 8;
      continue;
    }
    out.push(...file.subarray(pos, pos + 4));
    pos += 4;
  }
  out.push(...file.subarray(pos));
  return Uint8Array.from(out);
}

/** One OBIS value of a GetListResponse: `value · 10^scaler` in `unit` (DLMS unit code). */
export interface SmlRegister {
  /** `A-B:C.D.E*F`, e.g. `1-0:1.8.0*255`. */
  readonly obis: string;
  readonly value: bigint | Uint8Array;
  readonly scaler: number;
  /** DLMS unit code: 30 = Wh, 27 = W; undefined when the meter sends none. */
  readonly unit: number | undefined;
}

/** DLMS/COSEM unit codes (IEC 62056-62) used here. */
export const DLMS_UNIT = { W: 27, Wh: 30 } as const;

/** `1-0:1.8.0*255` from the 6 OBIS bytes. */
export function obisToString(name: Uint8Array): string {
  if (name.length !== 6) return Buffer.from(name).toString("hex");
  return `${name[0]}-${name[1]}:${name[2]}.${name[3]}.${name[4]}*${name[5]}`;
}

interface OpenSmlListEntry {
  getObjName(): Buffer;
  getUnit(): number | undefined;
  getScaler(): number | undefined;
  getValue(): unknown;
}
interface OpenSmlModule {
  SmlFile: new () => {
    parse(buffer: Buffer): void;
    getMessages(): {
      getMessageTag(): number;
      getMessageBody(): { getValList?: () => { getListEntries(): OpenSmlListEntry[] } };
    }[];
  };
  Constants: { GET_LIST_RESPONSE: number };
}

// open-sml is CommonJS without type declarations; the shapes used are declared above.
const openSml = createRequire(import.meta.url)("open-sml") as OpenSmlModule;

function toRegisterValue(v: unknown, obis: string): bigint | Uint8Array {
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v); // open-sml: 64-bit values
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  if (typeof v === "boolean") return BigInt(v ? 1 : 0);
  throw new SmlParseError(`SML ${obis}: unsupported value ${String(v)}`);
}

/**
 * Parses one raw (escaped, CRC-checked) SML file with open-sml and returns the value entries of
 * its GetListResponse messages by OBIS code. Throws `SmlCrcError` if the CRC does not match and
 * `SmlParseError` if open-sml refuses the messages.
 */
export function parseSmlFile(file: Uint8Array): Map<string, SmlRegister> {
  const scanner = new SmlFrameScanner();
  const files = scanner.push(file);
  if (files.length !== 1 || files[0].length !== file.length) {
    const s = scanner.stats();
    if (s.crcErrors > 0) throw new SmlCrcError("SML file: CRC mismatch");
    throw new SmlParseError("SML file: not exactly one complete file");
  }
  const smlFile = new openSml.SmlFile();
  try {
    smlFile.parse(Buffer.from(unescapeSmlFile(file)));
  } catch (e) {
    throw new SmlParseError(`SML file: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
  const registers = new Map<string, SmlRegister>();
  for (const m of smlFile.getMessages()) {
    if (m.getMessageTag() !== openSml.Constants.GET_LIST_RESPONSE) continue;
    const list = m.getMessageBody().getValList?.();
    for (const e of list?.getListEntries() ?? []) {
      const obis = obisToString(e.getObjName());
      registers.set(obis, {
        obis,
        value: toRegisterValue(e.getValue(), obis),
        scaler: e.getScaler() ?? 0,
        unit: e.getUnit(),
      });
    }
  }
  return registers;
}
