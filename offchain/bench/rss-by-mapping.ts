// Resident memory of another process by kind of mapping, sampled until it exits (issue 14,
// docs/SCALE.md "100,000 meters"): how the figures of the city-scale runs were taken.
//
//   node offchain/bench/rss-by-mapping.ts --pid PID [--every SECONDS] [--out FILE]
//
// One line per sample (to FILE, appended, or stdout): the time, then MB resident in
//   edr    the in-process chain's mimalloc arenas (Hardhat's EDR: anonymous 1 GiB mappings)
//   v8     V8's heap pages (anonymous 256 KiB mappings)
//   heap   the C heap ([heap]: glibc's main arena, where small array buffers live)
//   file   mapped files (the node binary, libraries, EDR's native module)
//   arena  glibc's thread arenas (anonymous 32–64 MiB mappings)
//   anonL  other anonymous mappings over 1 MiB (V8 large objects, array buffers ≥ 128 KiB)
//   anonS  the rest (thread stacks, small mappings)
//   total  the sum (= the process's resident set size)
// Linux only (/proc/PID/smaps). Exits 2 with one line for bad options or a process it cannot read.
import { appendFileSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

import { cli, parseOptions } from "../cli/common.ts";

const USAGE = `usage: node offchain/bench/rss-by-mapping.ts --pid PID [--every SECONDS] [--out FILE]

Samples /proc/PID/smaps every SECONDS (default 10) until the process exits; one line per
sample: resident MB by kind of mapping (edr, v8, heap, file, arena, anonL, anonS, total).`;

/** Kinds of mapping, in the order of the output line. */
export const MAPPING_KINDS = ["edr", "v8", "heap", "file", "arena", "anonL", "anonS"] as const;
export type MappingKind = (typeof MAPPING_KINDS)[number];

const MIB = 2 ** 20;

/** The kind of one mapping, from its size in bytes and its name (empty when anonymous). */
export function mappingKind(sizeBytes: number, name: string): MappingKind {
  if (name === "[heap]") return "heap";
  if (name.startsWith("/")) return "file";
  if (name !== "") return "anonS"; // [stack], [vdso], …
  if (sizeBytes === 1024 * MIB) return "edr";
  if (sizeBytes === 256 * 1024) return "v8";
  if (sizeBytes >= 32 * MIB && sizeBytes <= 64 * MIB + 8192) return "arena";
  return sizeBytes > MIB ? "anonL" : "anonS";
}

/**
 * Resident kB by kind, from the text of a /proc/PID/smaps file. Throws `RangeError` for text
 * that holds no mapping.
 */
export function residentByKind(smaps: string): Record<MappingKind | "total", number> {
  const kb = Object.fromEntries([...MAPPING_KINDS, "total"].map((k) => [k, 0])) as Record<
    MappingKind | "total",
    number
  >;
  let kind: MappingKind | undefined;
  let mappings = 0;
  for (const line of smaps.split("\n")) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const size = parseInt(header[2], 16) - parseInt(header[1], 16);
      kind = mappingKind(size, header[3].trim());
      mappings++;
      continue;
    }
    if (kind !== undefined && line.startsWith("Rss:")) {
      const value = Number(line.split(/\s+/)[1]);
      kb[kind] += value;
      kb.total += value;
    }
  }
  if (mappings === 0) throw new RangeError("residentByKind: no mapping in the smaps text");
  return kb;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const c = cli("rss-by-mapping", USAGE);
  const values = parseOptions(c, USAGE, {
    pid: { type: "string" },
    every: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.pid === undefined) c.fail("--pid is required");
  const pid = c.intOption(values.pid, "pid", 0, 1);
  const everyS = c.intOption(values.every, "every", 10, 1, 3600);
  const file = `/proc/${pid}/smaps`;
  const read = (): string | undefined => {
    try {
      return readFileSync(file, "utf8");
    } catch {
      return undefined;
    }
  };
  if (read() === undefined) c.fail(`cannot read ${file} (no such process, or not ours)`);
  if (values.out !== undefined) {
    try {
      appendFileSync(values.out, "");
    } catch (err) {
      c.fail(`--out ${values.out} is not writable: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
  const write = (line: string) =>
    values.out === undefined ? console.log(line) : appendFileSync(values.out, `${line}\n`);
  const sample = (): void => {
    const text = read();
    if (text === undefined) {
      clearInterval(timer);
      return;
    }
    const kb = residentByKind(text);
    const time = new Date().toISOString().slice(11, 19);
    write(
      `${time} ${[...MAPPING_KINDS, "total" as const].map((k) => `${k} ${Math.floor(kb[k] / 1024)}`).join(" ")}`,
    );
  };
  const timer = setInterval(sample, everyS * 1000);
  sample();
}
