// The heap-snapshot slope tool (offchain/bench/heap-slope.ts, issue 14 session 6) on a synthetic
// snapshot: per-constructor and per-retainer-path groups, and the slope between two sizes.
import { expect } from "chai";

import { groupHeap, slopeRows } from "../../offchain/bench/heap-slope.ts";

const META = {
  node_fields: ["type", "name", "id", "self_size", "edge_count"],
  edge_fields: ["type", "name_or_index", "to_node"],
  node_types: [["synthetic", "object", "native", "string"]],
  edge_types: [["property", "element", "weak"]],
} as const;

/** A root holding `meters` Agent objects, each holding a Uint8Array with a 1,000-byte store. */
function snapshot(meters: number) {
  const strings = [
    "(root)",
    "Agent",
    "Uint8Array",
    "system / JSArrayBufferData",
    "bytes",
    "a",
    "__proto__",
  ];
  const nodes: number[] = [];
  const edges: number[] = [];
  const NF = META.node_fields.length;
  const node = (type: number, name: number, size: number, edgeCount: number): number => {
    nodes.push(type, name, nodes.length / NF + 1, size, edgeCount);
    return nodes.length / NF - 1;
  };
  node(0, 0, 0, meters);
  for (let m = 0; m < meters; m++) edges.push(0, 5, (1 + 3 * m) * NF); // (root).a → agent
  for (let m = 0; m < meters; m++) {
    node(1, 1, 48, 2);
    edges.push(0, 6, (2 + 3 * m) * NF); // __proto__: skipped by the paths
    edges.push(0, 4, (2 + 3 * m) * NF); // agent.bytes → view
    node(1, 2, 96, 1);
    edges.push(0, 4, (3 + 3 * m) * NF);
    node(2, 3, 1_000, 0);
  }
  return { snapshot: { meta: META }, nodes, edges, strings } as unknown as Parameters<
    typeof groupHeap
  >[0];
}

describe("heap-slope (issue 14: bytes per meter from two snapshots)", function () {
  it("groups by constructor and by retainer path, and gives the slope per meter", function () {
    const small = groupHeap(snapshot(2), "constructor");
    expect(small.get("object:Agent")).to.deep.equal([2, 96]);
    expect(small.get("native:system / JSArrayBufferData")).to.deep.equal([2, 2_000]);
    const rows = slopeRows(small, 2, groupHeap(snapshot(5), "constructor"), 5);
    expect(rows[0]).to.deep.equal({
      group: "native:system / JSArrayBufferData",
      nodes: 1,
      bytes: 1_000,
    });
    expect(rows.reduce((s, r) => s + r.bytes, 0)).to.equal(48 + 96 + 1_000);
    const paths = groupHeap(snapshot(3), "path", 3, new Set(["native:system / JSArrayBufferData"]));
    expect([...paths.keys()]).to.deep.equal([
      // `__proto__` edges and the synthetic roots are not part of a path.
      "native:system / JSArrayBufferData < Uint8Array.bytes < Agent.bytes",
    ]);
    expect(() => slopeRows(small, 5, small, 2)).to.throw(RangeError);
  });
});
