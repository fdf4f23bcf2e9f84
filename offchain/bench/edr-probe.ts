// What the in-process chain (Hardhat 3's EDR: Rust, mimalloc) keeps per storage slot, per log, per
// transaction and per block (issue 14, `sim.peak_rss_mb_100000`). EDR's allocations live in
// mimalloc arenas, anonymous mappings of exactly 1 GiB; their resident size, summed from
// /proc/self/smaps, is what this probe reports. Each kind runs in a fresh process.
//
//   node [--expose-gc] offchain/bench/edr-probe.ts --kind K --count N [--per-tx M] [--trace] [--json]
//        [--page-blocks B --passes P]   (getlogs)
//
// `--trace` prints the arenas' size every tenth of the run (stderr); with `--expose-gc` the probe
// also prints what the JavaScript side (ethers' provider, Hardhat's EDR wrapper) kept per item.
// Kinds (N items, M items per transaction, one transaction per block unless said):
//   slots      N new storage slots (SSTORE 0 → 1), M per transaction
//   rewrite    N new slots, then each rewritten once (1 → 2); reports the rewrite alone
//   logs       N logs of 64 data bytes and 2 topics (a `MeterRegistered`), M per transaction
//   logbytes   N logs of 1,024 data bytes, M per transaction (the per-byte slope against `logs`)
//   txs        N empty transactions (one block each)
//   blocks     N empty blocks (`hardhat_mine`-style `evm_mine`, no transaction)
//   txsblock   N empty transactions, M per block (automine off, then `evm_mine`)
//   register   BillingLedger.registerMeters of N keys, M per transaction (the demo's path)
//   echo       N calldata bytes logged back in one log per transaction, M bytes per transaction
//   calls      N eth_calls of a view at the latest block; oldcalls: at an older block
//   receipts   N eth_getTransactionReceipt of one transaction
//   getlogs    P reads (default 10) of every log of N calldata bytes echoed M per transaction (as
//              `echo`), in `eth_getLogs` pages of B blocks (default 100); reports the reads alone,
//              per byte read
// The probe contract is compiled here with the npm `solc` package (nothing written to artifacts/).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

import { Contract, ContractFactory, toQuantity } from "ethers";

import { deployBillingLedger } from "../chain/deploy.ts";
import { publicKeyStruct } from "../chain/billing.ts";
import { decimalNumber } from "../cli/common.ts";
import { benchEthers } from "./chain.ts";
import { residentByKind } from "./rss-by-mapping.ts";

/**
 * Resident bytes of the anonymous 1 GiB mappings (EDR's mimalloc arenas) of this process: the
 * "edr" kind of `residentByKind` (rss-by-mapping.ts).
 */
export function edrArenaBytes(smaps = readFileSync("/proc/self/smaps", "utf8")): number {
  return residentByKind(smaps).edr * 1024;
}

/** V8 heap used plus array buffers after two full collections; undefined without --expose-gc. */
function jsHeapBytes(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const KINDS = [
  "slots",
  "rewrite",
  "logs",
  "logbytes",
  "txs",
  "blocks",
  "txsblock",
  "register",
  "echo",
  "getlogs",
  "calls",
  "oldcalls",
  "receipts",
];

/** Bad command line: one line on stderr, exit status 2. */
function usage(message: string): never {
  console.error(`edr-probe: ${message}`);
  process.exit(2);
}

const PROBE_SOURCE = `
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;
contract EdrProbe {
    function store(uint256 start, uint256 n, uint256 v) external {
        assembly { for { let i := 0 } lt(i, n) { i := add(i, 1) } { sstore(add(start, i), v) } }
    }
    function logs(uint256 n, uint256 size) external {
        assembly {
            mstore(0, not(0))
            for { let i := 0 } lt(i, n) { i := add(i, 1) } { log2(0, size, 0xfeed, i) }
        }
    }
    function echo(bytes calldata data) external {
        assembly {
            calldatacopy(0, data.offset, data.length)
            log1(0, data.length, 0xec40)
        }
    }
    function noop() external {}
}`;

function compileProbe(): { abi: unknown[]; bytecode: string } {
  const require = createRequire(import.meta.url);
  const solc = require("solc") as { compile(input: string): string };
  const out = JSON.parse(
    solc.compile(
      JSON.stringify({
        language: "Solidity",
        sources: { "EdrProbe.sol": { content: PROBE_SOURCE } },
        settings: {
          evmVersion: "prague",
          outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
        },
      }),
    ),
  ) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<
      string,
      Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>
    >;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const c = out.contracts["EdrProbe.sol"].EdrProbe;
  return { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
}

/** A registrable meter key for index i (prefix 2, x = i + 1: in range; the curve is not checked). */
function fakeKey(i: number): Uint8Array {
  const key = new Uint8Array(33);
  key[0] = 2;
  let x = BigInt(i + 1);
  for (let b = 32; b >= 1 && x > 0n; b--, x >>= 8n) key[b] = Number(x & 0xffn);
  return key;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        kind: { type: "string" },
        count: { type: "string" },
        "per-tx": { type: "string" },
        "page-blocks": { type: "string" },
        passes: { type: "string" },
        json: { type: "boolean" },
        trace: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    usage((err as Error).message.split("\n")[0]);
  }
  if (parsed.values.help) {
    console.log(
      `usage: node [--expose-gc] offchain/bench/edr-probe.ts --kind K --count N [--per-tx M] [--trace] [--json] [--page-blocks B --passes P]\n  kinds: ${KINDS.join(", ")}`,
    );
    process.exit(0);
  }
  const { values } = parsed;
  const kind = values.kind ?? "slots";
  // Plain decimal integers only (`decimalNumber`: `Number()` also takes `1e6` and `0x10`).
  const count = decimalNumber(values.count ?? "20000", true);
  const perTx = decimalNumber(values["per-tx"] ?? "200", true);
  const pageBlocks = decimalNumber(values["page-blocks"] ?? "100", true);
  const passes = decimalNumber(values.passes ?? "10", true);
  if (!KINDS.includes(kind)) usage(`unknown --kind ${kind} (one of ${KINDS.join(", ")})`);
  if (!Number.isSafeInteger(count) || count < 1) usage(`--count must be a positive integer`);
  if (!Number.isSafeInteger(perTx) || perTx < 1) usage(`--per-tx must be a positive integer`);
  if (!Number.isSafeInteger(pageBlocks) || pageBlocks < 1) {
    usage(`--page-blocks must be a positive integer`);
  }
  if (!Number.isSafeInteger(passes) || passes < 1) usage(`--passes must be a positive integer`);
  const ethers = await benchEthers();
  const provider = ethers.provider;
  const [admin, cc, sp] = await ethers.getSigners();
  const { abi, bytecode } = compileProbe();
  const factory = new ContractFactory(abi as never, bytecode, admin);
  const probe = (await (await factory.deploy()).waitForDeployment()) as Contract;
  const { ledger } = await deployBillingLedger({
    admin,
    controlCenter: cc,
    serviceProvider: sp,
  });
  const ccLedger = ledger.connect(cc);
  let gasUsed = 0n;
  const send = async (p: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>) => {
    gasUsed += (await (await p).wait())?.gasUsed ?? 0n;
  };
  // Warm-up: a few of each so the first-use allocations are not in the slope.
  await send(probe.store(1n << 200n, 50, 1));
  await send(probe.logs(10, 64));
  await send(probe.noop());

  gasUsed = 0n;
  const heapBefore = jsHeapBytes();
  const before = edrArenaBytes();
  const t0 = performance.now();
  const chunks = (fn: (start: number, n: number) => Promise<unknown>) =>
    (async () => {
      let traced = 0;
      for (let start = 0; start < count; start += perTx) {
        await fn(start, Math.min(perTx, count - start));
        if (values.trace && start + perTx >= traced + count / 10) {
          traced = start + perTx;
          console.error(`  ${traced} ${(edrArenaBytes() / 2 ** 20).toFixed(1)} MB`);
        }
      }
    })();
  let after = before;
  switch (kind) {
    case "slots":
      await chunks((s, n) => send(probe.store(s, n, 1)));
      break;
    case "rewrite": {
      await chunks((s, n) => send(probe.store(s, n, 1)));
      const mid = edrArenaBytes();
      await chunks((s, n) => send(probe.store(s, n, 2)));
      after = edrArenaBytes();
      report(kind, count, perTx, mid, after, performance.now() - t0, values.json);
      return;
    }
    case "logs":
      await chunks((_s, n) => send(probe.logs(n, 64)));
      break;
    case "logbytes":
      await chunks((_s, n) => send(probe.logs(n, 1024)));
      break;
    case "txs":
      for (let i = 0; i < count; i++) await send(probe.noop());
      break;
    case "blocks":
      for (let i = 0; i < count; i++) await provider.send("evm_mine", []);
      break;
    case "txsblock": {
      await provider.send("evm_setAutomine", [false]);
      let nonce = await admin.getNonce();
      for (let start = 0; start < count; start += perTx) {
        const n = Math.min(perTx, count - start);
        for (let i = 0; i < n; i++) await probe.noop({ nonce: nonce++, gasLimit: 30_000 });
        await provider.send("evm_mine", []);
      }
      await provider.send("evm_setAutomine", [true]);
      break;
    }
    case "calls":
    case "oldcalls": {
      // N eth_calls of a view (meterIndexOf) at the latest block, or at the block before the
      // probe's last N/100 transactions (EDR rebuilds that state from its per-block diffs).
      const view = ccLedger.meterIndexOf.staticCall;
      const key = publicKeyStruct(fakeKey(0));
      let blockTag: number | undefined;
      if (kind === "oldcalls") {
        blockTag = await provider.getBlockNumber();
        for (let i = 0; i < Math.max(1, count / 100); i++) await send(probe.store(i * 10, 10, 1));
      }
      for (let i = 0; i < count; i++) await view(key, { blockTag });
      break;
    }
    case "receipts": {
      const hash = (await (await probe.noop()).wait())!.hash;
      for (let i = 0; i < count; i++) await provider.getTransactionReceipt(hash);
      break;
    }
    case "echo": {
      // N calldata bytes, logged back (an OCD batch's shape: the packed entries in calldata and
      // in one log), M bytes per transaction.
      const bytes = new Uint8Array(perTx).fill(0xab);
      for (let done = 0; done < count; done += perTx) await send(probe.echo(bytes));
      break;
    }
    case "getlogs": {
      const bytes = new Uint8Array(perTx).fill(0xab);
      const first = await provider.getBlockNumber();
      for (let done = 0; done < count; done += perTx) await send(probe.echo(bytes));
      const last = await provider.getBlockNumber();
      const address = await probe.getAddress();
      const mid = edrArenaBytes();
      const t1 = performance.now();
      for (let pass = 0; pass < passes; pass++) {
        for (let from = first + 1; from <= last; from += pageBlocks) {
          const to = Math.min(last, from + pageBlocks - 1);
          await provider.send("eth_getLogs", [
            { address, fromBlock: toQuantity(from), toBlock: toQuantity(to) },
          ]);
        }
      }
      after = edrArenaBytes();
      // Its own line: what was read, in which pages, and what the chain kept after the reads.
      const blocks = last - first;
      const pages = passes * Math.ceil(blocks / pageBlocks);
      const mb = (b: number) => +(b / 2 ** 20).toFixed(1);
      const result = {
        kind,
        logBytesPerBlock: perTx,
        blocks,
        passes,
        pageBlocks,
        pages,
        responseMb: mb(Math.min(pageBlocks, blocks) * perTx),
        readMb: mb(passes * blocks * perTx),
        edrBeforeMb: mb(mid),
        edrAfterMb: mb(after),
        edrKeptMb: mb(after - mid),
        seconds: +((performance.now() - t1) / 1000).toFixed(1),
      };
      if (values.json) console.log(JSON.stringify(result));
      else
        console.log(
          `getlogs: read ${result.readMb} MB of logs (${blocks} blocks of ${perTx} B, ${passes}×) ` +
            `in ${pages} pages of ${pageBlocks} blocks (${result.responseMb} MB of log data each): ` +
            `EDR ${result.edrBeforeMb} → ${result.edrAfterMb} MB (+${result.edrKeptMb}), ${result.seconds} s`,
        );
      return;
    }
    case "register":
      await chunks((s, n) =>
        send(
          ccLedger.registerMeters(
            Array.from({ length: n }, (_, j) => publicKeyStruct(fakeKey(s + j))),
          ),
        ),
      );
      break;
  }
  after = edrArenaBytes();
  report(kind, count, perTx, before, after, performance.now() - t0, values.json, gasUsed);
  if (heapBefore !== undefined) {
    const perItem = Math.round((jsHeapBytes()! - heapBefore) / count);
    console.log(`  JS (V8 heap + array buffers, after full GCs): ${perItem} B each`);
  }
}

function report(
  kind: string,
  count: number,
  perTx: number,
  before: number,
  after: number,
  ms: number,
  json: boolean | undefined,
  gasUsed = 0n,
): void {
  const result = {
    kind,
    count,
    perTx,
    edrBeforeMb: +(before / 2 ** 20).toFixed(1),
    edrAfterMb: +(after / 2 ** 20).toFixed(1),
    bytesPerItem: Math.round((after - before) / count),
    rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
    seconds: +(ms / 1000).toFixed(1),
    gasPerItem: Math.round(Number(gasUsed) / count),
  };
  if (json) console.log(JSON.stringify(result));
  else
    console.log(
      `${kind} ×${count} (${perTx}/tx): EDR ${result.edrBeforeMb} → ${result.edrAfterMb} MB, ` +
        `${result.bytesPerItem} B each, ${result.gasPerItem} gas each, ${result.seconds} s`,
    );
}

await main();
process.exit(0);
