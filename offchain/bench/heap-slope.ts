// Bytes per simulated meter from two V8 heap snapshots of the whole simulator (issue 14, session
// 6): the slope between a run of N₁ meters and one of N₂, per constructor or per retainer path,
// so the process's fixed part does not count and nothing measured in isolation is assumed.
//
//   node offchain/bench/city-run.ts --meters 2000 --heap-snapshot "reports admitted"   (→ A)
//   node offchain/bench/city-run.ts --meters 8000 --heap-snapshot "reports admitted"   (→ B)
//   node --max-old-space-size=6000 offchain/bench/heap-slope.ts A 2000 B 8000 [--by path]
//        [--depth 4] [--top 40] [--only "native:system / JSArrayBufferData"]
//
// `--by constructor` (default) groups nodes as "type:name" (an array buffer's bytes are the
// native node "system / JSArrayBufferData"; strings and code by type); `--by path` groups them by
// their retainers, first retainer first, skipping `__proto__`, `constructor` and weak edges, up to
// `--depth` steps — who holds what. Each row: bytes per meter, nodes per meter, the group.
// Reads the snapshot JSON format of `v8.writeHeapSnapshot` (meta.node_fields / edge_fields).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";

import { decimalNumber } from "../cli/common.ts";

/** The parts of a `.heapsnapshot` this reads. */
interface HeapSnapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly edge_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
      readonly edge_types: readonly [readonly string[], ...unknown[]];
    };
  };
  readonly nodes: readonly number[];
  readonly edges: readonly number[];
  readonly strings: readonly string[];
}

/** Group → [nodes, self bytes]. */
export type HeapGroups = Map<string, [number, number]>;

/**
 * Self sizes of every node of `snap`, grouped by constructor (`by` = "constructor") or by
 * retainer path of up to `depth` steps (`by` = "path"); `only`, if given, keeps the nodes whose
 * constructor group is in it. Pure; throws TypeError for a snapshot without the expected fields.
 */
export function groupHeap(
  snap: HeapSnapshot,
  by: "constructor" | "path",
  depth = 4,
  only?: ReadonlySet<string>,
): HeapGroups {
  const { meta } = snap.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const at = (fields: readonly string[], f: string): number => {
    const i = fields.indexOf(f);
    if (i < 0) throw new TypeError(`groupHeap: snapshot has no ${f} field`);
    return i;
  };
  const [iType, iName, iSize, iEdges] = ["type", "name", "self_size", "edge_count"].map((f) =>
    at(meta.node_fields, f),
  );
  const [eType, eName, eTo] = ["type", "name_or_index", "to_node"].map((f) =>
    at(meta.edge_fields, f),
  );
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = snap;
  const n = nodes.length / nf;
  const type = (i: number) => nodeTypes[nodes[i * nf + iType]];
  const name = (i: number) => strings[nodes[i * nf + iName]];
  const cls = (i: number): string => {
    const t = type(i);
    if (t === "object" || t === "native" || t === "closure") return `${t}:${name(i)}`;
    if (t.endsWith("string")) return "string";
    return `${t}:`;
  };
  const first = new Uint32Array(n + 1);
  for (let i = 0, e = 0; i < n; i++) {
    first[i] = e;
    e += nodes[i * nf + iEdges] * ef;
  }
  first[n] = edges.length;
  const skipped = (e: number): boolean => {
    const t = edgeTypes[edges[e + eType]];
    if (t === "weak" || t === "shortcut") return true;
    const label = strings[edges[e + eName]];
    return (
      (t === "property" || t === "internal") && (label === "__proto__" || label === "constructor")
    );
  };
  // Retainers: the first edge into each node that is not skipped (the path follows those).
  let retainer: Int32Array | undefined;
  let retainerEdge: Int32Array | undefined;
  if (by === "path") {
    retainer = new Int32Array(n).fill(-1);
    retainerEdge = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      for (let e = first[i]; e < first[i + 1]; e += ef) {
        const to = edges[e + eTo] / nf;
        if (retainer[to] >= 0 || skipped(e) || type(i) === "synthetic") continue;
        retainer[to] = i;
        retainerEdge[to] = e;
      }
    }
  }
  const edgeLabel = (e: number): string => {
    const t = edgeTypes[edges[e + eType]];
    return t === "element" || t === "hidden" ? "[]" : String(strings[edges[e + eName]]);
  };
  const groups: HeapGroups = new Map();
  for (let i = 0; i < n; i++) {
    const c = cls(i);
    if (only && !only.has(c)) continue;
    let key = c;
    if (retainer && retainerEdge) {
      const parts = [c];
      for (let v = i, k = 0; k < depth && retainer[v] >= 0; k++) {
        const p = retainer[v];
        parts.push(`${name(p) || type(p)}.${edgeLabel(retainerEdge[v])}`);
        v = p;
      }
      key = parts.join(" < ");
    }
    const g = groups.get(key) ?? [0, 0];
    g[0]++;
    g[1] += nodes[i * nf + iSize];
    groups.set(key, g);
  }
  return groups;
}

/** Per-meter slope rows (group, nodes per meter, bytes per meter), largest growth first. */
export function slopeRows(
  small: HeapGroups,
  smallMeters: number,
  large: HeapGroups,
  largeMeters: number,
): { group: string; nodes: number; bytes: number }[] {
  const d = largeMeters - smallMeters;
  if (!(d > 0)) throw new RangeError("slopeRows: the second size must be the larger");
  const keys = new Set([...small.keys(), ...large.keys()]);
  return [...keys]
    .map((group) => {
      const [n1, b1] = small.get(group) ?? [0, 0];
      const [n2, b2] = large.get(group) ?? [0, 0];
      return { group, nodes: (n2 - n1) / d, bytes: (b2 - b1) / d };
    })
    .sort((a, b) => b.bytes - a.bytes);
}

async function main(): Promise<void> {
  const usage =
    "usage: heap-slope.ts SMALL.heapsnapshot N1 LARGE.heapsnapshot N2 [--by constructor|path] [--depth D] [--top T] [--only GROUPS]";
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        by: { type: "string", default: "constructor" },
        depth: { type: "string", default: "4" },
        top: { type: "string", default: "40" },
        only: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    console.error(`heap-slope: ${(err as Error).message.split("\n")[0]}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    console.log(usage);
    process.exit(0);
  }
  const { values, positionals } = parsed;
  const [a, naText, b, nbText] = positionals;
  const by = values.by;
  const na = decimalNumber(naText ?? "", true);
  const nb = decimalNumber(nbText ?? "", true);
  if (b === undefined || positionals.length !== 4) {
    console.error(usage);
    process.exit(2);
  }
  if (!(na > 0) || !(nb > na)) {
    console.error(
      `heap-slope: the meter counts must be integers with 0 < N1 < N2, got "${naText}" and "${nbText}"`,
    );
    process.exit(2);
  }
  const depth = decimalNumber(values.depth, true);
  const top = decimalNumber(values.top, true);
  if (!(depth >= 1) || !(top >= 1)) {
    console.error("heap-slope: --depth and --top must be integers ≥ 1");
    process.exit(2);
  }
  if (by !== "constructor" && by !== "path") {
    console.error("heap-slope: --by must be constructor or path");
    process.exit(2);
  }
  const only = values.only === undefined ? undefined : new Set(values.only.split(","));
  const group = (file: string) => {
    let snapshot: HeapSnapshot;
    try {
      snapshot = JSON.parse(readFileSync(file, "utf8")) as HeapSnapshot;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code ?? e.message.split("\n")[0];
      console.error(`heap-slope: cannot read ${file} as a heap snapshot: ${why}`);
      process.exit(2);
    }
    const meta = snapshot?.snapshot?.meta as Partial<HeapSnapshot["snapshot"]["meta"]> | undefined;
    const fields = ["node_fields", "edge_fields", "node_types", "edge_types"] as const;
    if (
      typeof meta !== "object" ||
      meta === null ||
      fields.some((f) => !Array.isArray(meta[f])) ||
      !Array.isArray(snapshot.nodes) ||
      !Array.isArray(snapshot.edges) ||
      !Array.isArray(snapshot.strings)
    ) {
      console.error(
        `heap-slope: cannot read ${file} as a heap snapshot: no snapshot.meta fields, nodes, edges or strings`,
      );
      process.exit(2);
    }
    return groupHeap(snapshot, by, depth, only);
  };
  const rows = slopeRows(group(a), na, group(b), nb);
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  console.log(`${total.toFixed(0)} B per meter in all`);
  for (const r of rows.slice(0, top)) {
    console.log(
      `${r.bytes.toFixed(0).padStart(7)} B ${r.nodes.toFixed(2).padStart(7)} /meter  ${r.group}`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
