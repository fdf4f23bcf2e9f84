// Gas profile of one warm OCD batch (`BillingLedger.postOcd`, packed calldata; `--abi`: the
// ABI-struct `postOcdBatch`), by opcode and precompile, from `debug_traceTransaction` on Hardhat's
// in-process chain (docs/BENCHMARKS.md "Where the OCD gas goes").
//   hardhat build --quiet && node scripts/profile-ocd-gas.ts [N] [--abi]
// Defaults: N = 100 entries. Profiles the second batch of an interval (the first also writes the
// interval's commitments from zero).
import { benchEthers } from "../offchain/bench/chain.ts";
import {
  encodeOcdPacked,
  publicKeyStruct,
  readDomain,
  toOcdEntryStruct,
  type BillingLedger,
} from "../offchain/chain/billing.ts";
import { deployBillingLedger } from "../offchain/chain/deploy.ts";
import { bytesToBigInt, u32 } from "../offchain/crypto/bytes.ts";
import { keccak256 } from "../offchain/crypto/hash.ts";
import { CURVE_ORDER, secp } from "../offchain/crypto/secp256k1.ts";
import { ENTRY_KIND, signEntry } from "../offchain/protocol/entry.ts";

type StructLog = { op: string; gas: number; gasCost: number; depth: number; stack?: string[] };

const n = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 100);
const abi = process.argv.includes("--abi");
const CATEGORIES = [100n, 250n, 500n, 1000n, 2000n] as const;
const START = 1_700_000_000n;
const END = START + 900n;
const key = (label: string): bigint =>
  (bytesToBigInt(keccak256(new TextEncoder().encode(label))) % (CURVE_ORDER - 1n)) + 1n;

const ethers = await benchEthers();
const [admin, cc, sp] = await ethers.getSigners();
const spKey = secp.mulBase(key("profile/sp"), true);
const { ledger: asAdmin } = await deployBillingLedger(
  { admin, controlCenter: cc, serviceProvider: sp },
  {
    tariff: { breakpointsWh: [0n], values: [10n], cap: 10n },
    categories: CATEGORIES,
    serviceProvider: { publicKey: spKey, sigPublicKey: spKey },
    slotsPerMeter: 1,
  },
);
const ledger = asAdmin.connect(cc) as BillingLedger;
const domain = await readDomain(ledger);
for (let i = 0; i < 2 * n; i += 200) {
  const keys = Array.from({ length: Math.min(200, 2 * n - i) }, (_, k) =>
    publicKeyStruct(secp.mulBase(key(`profile/meter/${i + k}`), true)),
  );
  await (await ledger.registerMeters(keys)).wait();
}
await (await ledger.openInterval(1, START, END)).wait();
const entries = Array.from({ length: 2 * n }, (_, r) => {
  const id = keccak256(new TextEncoder().encode(`profile/${r}`));
  id.set(u32(r + 1), 0);
  return signEntry(
    domain,
    { kind: ENTRY_KIND.OCD, interval: 1, id, timestamp: END - 1n, value: CATEGORIES[r % 5] },
    key(`profile/msg/${r}`),
  );
});
const post = async (batch: typeof entries) =>
  (await (
    abi
      ? ledger.postOcdBatch(1, batch.map(toOcdEntryStruct))
      : ledger.postOcd(1, encodeOcdPacked(batch), [])
  ).then((t) => t.wait()))!;
const first = await post(entries.slice(0, n));
const second = await post(entries.slice(n));
const tx = await ethers.provider.getTransaction(second.hash);
if (tx === null) throw new Error("profile: transaction not found");
const data = ethers.getBytes(tx.data);
const zeros = data.filter((b) => b === 0).length;
const calldataGas = zeros * 4 + (data.length - zeros) * 16;
const trace = (await ethers.provider.send("debug_traceTransaction", [
  second.hash,
  { disableStorage: true, disableMemory: true },
])) as { structLogs: StructLog[] };
const logs = trace.structLogs;
const byOp = new Map<string, { gas: number; n: number }>();
let total = 0;
for (let i = 0; i < logs.length; i++) {
  const s = logs[i];
  // Cost of a step: gas before it minus gas before the next step (one frame: precompiles only).
  let cost = i + 1 < logs.length ? s.gas - logs[i + 1].gas : s.gasCost;
  let k = s.op;
  if (s.op === "STATICCALL") {
    const stack = s.stack ?? [];
    if (BigInt(stack[stack.length - 2] ?? "0") === 1n) k = "STATICCALL → ECRECOVER";
  }
  if (i + 1 === logs.length) cost = s.gasCost;
  const e = byOp.get(k) ?? { gas: 0, n: 0 };
  e.gas += cost;
  e.n += 1;
  byOp.set(k, e);
  total += cost;
}
console.log(
  `${abi ? "postOcdBatch (ABI structs)" : "postOcd (packed)"}, ${n} entries: first batch ${first.gasUsed}, second ${second.gasUsed} (${Number(second.gasUsed) / n} per entry)`,
);
console.log(`  intrinsic: 21000 + calldata ${calldataGas} (${data.length} bytes, ${zeros} zero)`);
console.log(`  execution (trace): ${total}; per entry ${(total / n).toFixed(0)}`);
for (const [op, v] of [...byOp].sort((a, b) => b[1].gas - a[1].gas).slice(0, 40)) {
  console.log(
    `  ${op.padEnd(26)} ${String(v.gas).padStart(8)}  ×${v.n}  (${(v.gas / n).toFixed(0)}/entry)`,
  );
}
if (process.env.PROFILE_SEGMENTS) {
  const calls = logs.flatMap((s, i) => (s.op === "STATICCALL" ? [i] : []));
  const seg = (a: number, b: number) => logs[a].gas - logs[b].gas;
  console.log(`before first ecrecover: ${seg(0, calls[0])} gas, ${calls[0]} ops`);
  console.log(
    `between ecrecovers 50→51: ${seg(calls[50], calls[51])} gas, ${calls[51] - calls[50]} ops`,
  );
  console.log(`after last: ${seg(calls[calls.length - 1], logs.length - 1)} gas`);
  console.log(
    logs
      .slice(calls[50], calls[51])
      .map((s) => s.op)
      .join(" "),
  );
}
