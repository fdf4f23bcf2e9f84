// Gas profile of one warm BBNP consensus round (`AggregationLedger.commitBlock`), by opcode and by
// precompile, from `debug_traceTransaction` on Hardhat's in-process chain (docs/CONSENSUS.md "Gas").
//   hardhat build --quiet && node scripts/profile-consensus-gas.ts [M] [signers]
// Defaults: M = 100, all sign. Profiles the second round (the first also writes the head from zero).
import { roundReceipts } from "../offchain/bench/suites/consensus.ts";

type StructLog = {
  pc: number;
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
  stack?: string[];
};

const m = Number(process.argv[2] ?? 100);
const signers = Number(process.argv[3] ?? m);
const { ethers, receipts } = await roundReceipts(m, signers, 2);
const { hash, gasUsed } = receipts[1];
const tx = await ethers.provider.getTransaction(hash);
if (tx === null) throw new Error("profile: transaction not found");
const data = ethers.getBytes(tx.data);
const zeros = data.filter((b) => b === 0).length;
const calldataGas = zeros * 4 + (data.length - zeros) * 16;
// EIP-7623 (Prague): the floor is 21000 + 10 per token (zero byte 1 token, non-zero 4); the standard
// cost applies when above it.
const trace = (await ethers.provider.send("debug_traceTransaction", [
  hash,
  { disableStorage: true, disableMemory: true },
])) as { gas: number; structLogs: StructLog[] };
const logs = trace.structLogs;

const PRECOMPILES: Record<number, string> = {
  1: "ECRECOVER",
  2: "SHA256",
  5: "MODEXP",
  0x0b: "G1ADD",
  0x0c: "G1MSM",
  0x0d: "G2ADD",
  0x0e: "G2MSM",
  0x0f: "PAIRING_CHECK",
  0x10: "MAP_FP_TO_G1",
  0x11: "MAP_FP2_TO_G2",
};

// Cost of step i: gas before it minus gas before the next step at the same depth. For a precompile
// that is the call plus the precompile's price; for a call into code, the child frame's own steps
// are counted themselves, so the call is charged only what the child did not use.
const byOp = new Map<string, { gas: number; n: number }>();
const add = (k: string, g: number) => {
  const e = byOp.get(k) ?? { gas: 0, n: 0 };
  e.gas += g;
  e.n += 1;
  byOp.set(k, e);
};
const nextAtDepth = (i: number) => {
  let k = i + 1;
  while (k < logs.length && logs[k].depth > logs[i].depth) k++;
  return k;
};
const stepCost = (i: number) => {
  const k = nextAtDepth(i);
  return k < logs.length && logs[k].depth === logs[i].depth
    ? logs[i].gas - logs[k].gas
    : logs[i].gasCost;
};
let total = 0;
for (let i = 0; i < logs.length; i++) {
  const s = logs[i];
  let cost = stepCost(i);
  let key = s.op;
  const entersChild = i + 1 < logs.length && logs[i + 1].depth > s.depth;
  if (entersChild) {
    let used = 0;
    for (let k = i + 1; k < nextAtDepth(i); k++)
      if (logs[k].depth === s.depth + 1) used += stepCost(k);
    cost -= used;
    key = `${s.op} (into code)`;
  } else if (s.op.endsWith("CALL")) {
    const stack = s.stack ?? [];
    const to = Number(BigInt(stack[stack.length - 2] ?? "0") & 0xffffn);
    if (PRECOMPILES[to] !== undefined) key = `${s.op} → ${PRECOMPILES[to]}`;
  }
  add(key, cost);
  total += cost;
}

console.log(
  `commitBlock, M = ${m}, ${signers} signers: round 1 (first) ${receipts[0].gasUsed}, round 2 (warm) ${gasUsed}`,
);
console.log(
  `  intrinsic: 21000 base + calldata ${calldataGas} (${data.length} bytes, ${zeros} zero)`,
);
console.log(
  `  execution (trace): ${total}; refunds/other: ${gasUsed - 21000 - calldataGas - total}`,
);
const rows = [...byOp].sort((a, b) => b[1].gas - a[1].gas);
for (const [k, v] of rows) console.log(`  ${k.padEnd(34)} ${String(v.gas).padStart(8)}  ×${v.n}`);
