// Contract storage from the compiler's storage layout (solc `storageLayout` output; Solidity docs
// "Layout of State Variables in Storage" and "Mappings and Dynamic Arrays"): given a value for every
// state variable, by name, the non-zero 32-byte words a freshly constructed contract would hold.
// The kit puts the reputation registry into the genesis `alloc` with it (DESIGN §2 "Besu"), so no
// slot number or packing offset is written by hand: they all come from the build.
import { getAddress } from "ethers";

import { bytesToHex, concatBytes, hexToBytes, u256 } from "../crypto/bytes.ts";
import { keccak256 } from "../crypto/keccak.ts";
import { StorageLayoutError } from "./errors.ts";

/** One entry of solc's `storageLayout.storage` (or of a struct's `members`). */
export interface StorageVariable {
  readonly label: string;
  readonly slot: string;
  readonly offset: number;
  readonly type: string;
}

/** One entry of solc's `storageLayout.types`. */
export interface StorageType {
  readonly encoding: "inplace" | "mapping" | "dynamic_array" | "bytes";
  readonly label: string;
  readonly numberOfBytes: string;
  readonly base?: string;
  readonly key?: string;
  readonly value?: string;
  readonly members?: readonly StorageVariable[];
}

/** solc's `storageLayout` output for one contract. */
export interface StorageLayout {
  readonly storage: readonly StorageVariable[];
  readonly types: Readonly<Record<string, StorageType>> | null;
}

/**
 * A value for a storage type: a scalar (bigint, number, boolean, or hex string for addresses and
 * fixed bytes), an array (static or dynamic), a struct (object by member name), or a mapping (a list
 * of [key, value] entries; keys of value types only).
 */
export type StorageValue =
  | bigint
  | number
  | boolean
  | string
  | readonly StorageValue[]
  | MappingEntries
  | { readonly [member: string]: StorageValue };

/** The entries of a mapping. */
export interface MappingEntries {
  readonly entries: ReadonlyArray<readonly [bigint | string | boolean, StorageValue]>;
}

/** Marks `entries` as the content of a mapping. */
export function mapping(
  entries: ReadonlyArray<readonly [bigint | string | boolean, StorageValue]>,
): MappingEntries {
  return { entries };
}

/**
 * The storage words of a contract whose state variables hold `values` (every variable of the layout
 * must be given, none other: a new variable in the contract is an error here, not a silent zero).
 * Returns `{ slot: word }`, both as 0x + 64 hex digits, only non-zero words, slots ascending.
 * Throws StorageLayoutError on a missing or unknown variable, a value that does not fit its type,
 * or a type the encoder does not handle (`string`/`bytes` storage, mappings with such keys).
 */
export function layoutStorage(
  layout: StorageLayout,
  values: Readonly<Record<string, StorageValue>>,
): Record<string, string> {
  const types = layout.types ?? {};
  const words = new Map<bigint, bigint>();
  checkNames(
    "contract",
    layout.storage.map((v) => v.label),
    Object.keys(values),
  );
  for (const variable of layout.storage) {
    encode(
      types,
      words,
      variable.type,
      BigInt(variable.slot),
      variable.offset,
      values[variable.label],
      variable.label,
    );
  }
  const out: Record<string, string> = {};
  for (const slot of [...words.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const word = words.get(slot)!;
    if (word !== 0n) out[word32(slot)] = word32(word);
  }
  return out;
}

/** The storage slot of `mapping[key]` for a mapping at `slot` (Solidity: keccak256(h(k) ‖ p)). */
export function mappingSlot(
  keyType: StorageType,
  key: bigint | string | boolean,
  slot: bigint,
): bigint {
  return BigInt("0x" + bytesToHex(keccak256(concatBytes(keyWord(keyType, key), u256(slot)))));
}

function encode(
  types: Readonly<Record<string, StorageType>>,
  words: Map<bigint, bigint>,
  typeId: string,
  slot: bigint,
  offset: number,
  value: StorageValue | undefined,
  path: string,
): void {
  const t = types[typeId];
  if (!t) throw new StorageLayoutError(`layoutStorage: ${path}: type ${typeId} not in the layout`);
  if (value === undefined) throw new StorageLayoutError(`layoutStorage: ${path}: no value given`);
  switch (t.encoding) {
    case "inplace":
      if (t.members) {
        if (typeof value !== "object" || Array.isArray(value) || "entries" in value) {
          throw new StorageLayoutError(`layoutStorage: ${path}: a ${t.label} takes an object`);
        }
        const struct = value as { readonly [member: string]: StorageValue };
        checkNames(
          path,
          t.members.map((m) => m.label),
          Object.keys(struct),
        );
        for (const m of t.members) {
          encode(
            types,
            words,
            m.type,
            slot + BigInt(m.slot),
            m.offset,
            struct[m.label],
            `${path}.${m.label}`,
          );
        }
      } else if (t.base) {
        const length = Number(/\[(\d+)\]$/.exec(t.label)?.[1]);
        if (!Array.isArray(value) || value.length > length) {
          throw new StorageLayoutError(
            `layoutStorage: ${path}: a ${t.label} takes at most ${length} values`,
          );
        }
        encodeArray(types, words, t.base, slot, value as readonly StorageValue[], path);
      } else {
        put(words, slot, offset, Number(t.numberOfBytes), scalar(t, value, path), path);
      }
      return;
    case "dynamic_array": {
      if (!Array.isArray(value)) {
        throw new StorageLayoutError(`layoutStorage: ${path}: a ${t.label} takes an array`);
      }
      const items = value as readonly StorageValue[];
      put(words, slot, 0, 32, BigInt(items.length), path);
      const start = BigInt("0x" + bytesToHex(keccak256(u256(slot))));
      encodeArray(types, words, t.base!, start, items, path);
      return;
    }
    case "mapping": {
      if (typeof value !== "object" || !("entries" in value)) {
        throw new StorageLayoutError(`layoutStorage: ${path}: a ${t.label} takes mapping([...])`);
      }
      const keyType = types[t.key!];
      for (const [key, v] of (value as MappingEntries).entries) {
        encode(
          types,
          words,
          t.value!,
          mappingSlot(keyType, key, slot),
          0,
          v,
          `${path}[${String(key)}]`,
        );
      }
      return;
    }
    case "bytes": {
      // Solidity `bytes`/`string`: < 32 bytes inline (data left-aligned, 2·length in the low
      // byte); otherwise 2·length + 1 in the slot and the data from keccak256(slot) on.
      if (typeof value !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(value)) {
        throw new StorageLayoutError(`layoutStorage: ${path}: a ${t.label} takes 0x-hex bytes`);
      }
      const data = value.slice(2);
      const length = data.length / 2;
      if (length < 32) {
        const inline = BigInt("0x" + (data.padEnd(62, "0") || "0")) << 8n;
        put(words, slot, 0, 32, inline | BigInt(2 * length), path);
        return;
      }
      put(words, slot, 0, 32, BigInt(2 * length + 1), path);
      const start = BigInt("0x" + bytesToHex(keccak256(u256(slot))));
      for (let i = 0; i * 64 < data.length; i++) {
        put(
          words,
          start + BigInt(i),
          0,
          32,
          BigInt("0x" + data.slice(i * 64, i * 64 + 64).padEnd(64, "0")),
          path,
        );
      }
      return;
    }
    default:
      throw new StorageLayoutError(`layoutStorage: ${path}: ${t.label} storage is not supported`);
  }
}

function encodeArray(
  types: Readonly<Record<string, StorageType>>,
  words: Map<bigint, bigint>,
  baseId: string,
  start: bigint,
  items: readonly StorageValue[],
  path: string,
): void {
  const size = Number(types[baseId].numberOfBytes);
  // Elements under 32 bytes share slots (⌊32 / size⌋ per slot, from the low-order end);
  // larger ones start a new slot each and take ⌈size / 32⌉ slots.
  const perSlot = size < 32 ? Math.floor(32 / size) : 0;
  const slotsPer = size < 32 ? 0 : Math.ceil(size / 32);
  items.forEach((item, i) => {
    const slot = perSlot ? start + BigInt(Math.floor(i / perSlot)) : start + BigInt(i * slotsPer);
    const offset = perSlot ? (i % perSlot) * size : 0;
    encode(types, words, baseId, slot, offset, item, `${path}[${i}]`);
  });
}

function put(
  words: Map<bigint, bigint>,
  slot: bigint,
  offset: number,
  size: number,
  value: bigint,
  path: string,
): void {
  if (value < 0n || value >> BigInt(8 * size) !== 0n) {
    throw new StorageLayoutError(`layoutStorage: ${path}: value does not fit in ${size} bytes`);
  }
  const shift = BigInt(8 * offset);
  const mask = ((1n << BigInt(8 * size)) - 1n) << shift;
  const word = words.get(slot) ?? 0n;
  if ((word & mask) !== 0n) {
    throw new StorageLayoutError(`layoutStorage: ${path}: slot ${slot} written twice`);
  }
  words.set(slot, word | (value << shift));
}

function scalar(t: StorageType, value: StorageValue, path: string): bigint {
  const label = t.label;
  if (label === "bool") {
    if (typeof value !== "boolean")
      throw new StorageLayoutError(`layoutStorage: ${path}: bool expected`);
    return value ? 1n : 0n;
  }
  if (label === "address" || label === "address payable" || label.startsWith("contract ")) {
    if (typeof value !== "string")
      throw new StorageLayoutError(`layoutStorage: ${path}: address expected`);
    return BigInt(checkedAddress(value, path));
  }
  if (/^bytes\d+$/.test(label)) {
    const n = Number(t.numberOfBytes);
    if (typeof value !== "string" || !new RegExp(`^0x[0-9a-fA-F]{${2 * n}}$`).test(value)) {
      throw new StorageLayoutError(`layoutStorage: ${path}: ${n} bytes of 0x-hex expected`);
    }
    return BigInt(value);
  }
  if (/^uint\d+$/.test(label) || label.startsWith("enum ")) {
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
    throw new StorageLayoutError(`layoutStorage: ${path}: integer expected`);
  }
  throw new StorageLayoutError(`layoutStorage: ${path}: ${label} storage is not supported`);
}

/** The 32-byte word a mapping key of a value type is hashed as. */
function keyWord(t: StorageType, key: bigint | string | boolean): Uint8Array {
  if (t.label === "address" || t.label.startsWith("contract ")) {
    if (typeof key !== "string") throw new StorageLayoutError("mapping key: address expected");
    return u256(BigInt(checkedAddress(key, "mapping key")));
  }
  if (/^bytes\d+$/.test(t.label)) {
    const n = Number(t.numberOfBytes);
    if (typeof key !== "string" || !new RegExp(`^0x[0-9a-fA-F]{${2 * n}}$`).test(key)) {
      throw new StorageLayoutError(`mapping key: ${n} bytes of 0x-hex expected`);
    }
    // Fixed bytes are left-aligned in the hashed word.
    const word = new Uint8Array(32);
    word.set(hexToBytes(key), 0);
    return word;
  }
  if (/^uint\d+$/.test(t.label) && typeof key === "bigint") return u256(key);
  if (t.label === "bool" && typeof key === "boolean") return u256(key ? 1n : 0n);
  throw new StorageLayoutError(`mapping key of type ${t.label} is not supported`);
}

function checkedAddress(value: string, path: string): string {
  try {
    return getAddress(value);
  } catch {
    throw new StorageLayoutError(`layoutStorage: ${path}: "${value}" is not an address`);
  }
}

function checkNames(path: string, expected: readonly string[], given: readonly string[]): void {
  const missing = expected.filter((n) => !given.includes(n));
  const unknown = given.filter((n) => !expected.includes(n));
  if (missing.length || unknown.length) {
    throw new StorageLayoutError(
      `layoutStorage: ${path}: ` +
        (missing.length ? `no value for ${missing.join(", ")}` : "") +
        (missing.length && unknown.length ? "; " : "") +
        (unknown.length ? `not in the layout: ${unknown.join(", ")}` : ""),
    );
  }
}

function word32(x: bigint): string {
  return "0x" + x.toString(16).padStart(64, "0");
}
