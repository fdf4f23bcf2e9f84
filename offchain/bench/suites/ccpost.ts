// cc.post_entries_per_s (issue 14 "Posting at chain speed"): CC's posting path — batches planned
// from the node's block gas limit (cc/posting.ts), sent with explicit nonces through CC's chain
// client (chain/oksuz-clients.ts), W in flight, until every receipt is in — for 10,000 OCD slots
// (2,000 with --quick) of one interval in the demo's proportions (21 % real signed entries, the
// rest zero slots: R = 1.71 of K = 8, DESIGN §7), over HTTP JSON-RPC on `hardhat node` (its own
// process, started here on a free loopback port). Metrics (slots per second, wall clock, from the
// first plan to the last receipt):
//   cc.post_entries_per_s_w1_block2s / _w4_block2s   2 s interval mining (a QBFT-like block period)
//   cc.post_entries_per_s_w1_automine / _w4_automine  one block per transaction
//   cc.post_entries_per_s                             = _w4_block2s (CC's default window)
//   cc.post_speedup_w4_block2s                        _w4_block2s / _w1_block2s (same run)
//   cc.post_real_entries_per_s_w{1,4}_block2s         10,000 real entries (no zero slot)
//   cc.post_real_speedup_w4_block2s                   their ratio
//   cc.post_gas_per_s_*, cc.post_real_gas_per_s_*     the gas of the blocks mined meanwhile / s
//   cc.post_batches_10000                             transactions for the 10,000 slots
import { HDNodeWallet } from "ethers";

import { planOcdBatches, postOcdPipeline } from "../../cc/posting.ts";
import { publicKeyStruct, readDomain, type BillingLedger } from "../../chain/billing.ts";
import { deployBillingLedger } from "../../chain/deploy.ts";
import { controlCenterChainClient } from "../../chain/oksuz-clients.ts";
import { connectJsonRpc } from "../../chain/provider.ts";
import { bytesToBigInt, u32 } from "../../crypto/bytes.ts";
import { keccak256 } from "../../crypto/hash.ts";
import { CURVE_ORDER, secp } from "../../crypto/secp256k1.ts";
import { freePort, startHardhatNode, stopHardhatNode } from "../../node/hardhat-node.ts";
import { ENTRY_KIND, signEntry, type LedgerEntry } from "../../protocol/entry.ts";
import { PackedPseudonyms } from "../../protocol/packed-pseudonyms.ts";
import type { BenchContext } from "../harness.ts";

const DEV_MNEMONIC = "test test test test test test test test test test test junk";
const CATEGORIES = [100n, 250n, 500n, 1000n, 2000n] as const;
const START = 1_700_000_000n;
const END = START + 900n;
const K = 8;

function key(label: string): bigint {
  return (bytesToBigInt(keccak256(new TextEncoder().encode(label))) % (CURVE_ORDER - 1n)) + 1n;
}

/**
 * `slots` slots of interval j, sorted: rank r is a real signed entry iff r mod 100 < `realPct`
 * (21: the demo's R = 1.71 of K = 8; 100: real entries only).
 */
function intervalSlots(domain: Uint8Array, j: number, slots: number, realPct: number) {
  const entries: LedgerEntry[] = [];
  const zeroIds: Uint8Array[] = [];
  for (let r = 1; r <= slots; r++) {
    const id = keccak256(new TextEncoder().encode(`ccpost/${j}/${r}`));
    id.set(u32(r), 0);
    if (r % 100 < realPct) {
      const fields = { kind: ENTRY_KIND.OCD, interval: j, id, timestamp: END - 1n };
      entries.push(
        signEntry(domain, { ...fields, value: CATEGORIES[r % 5] }, key(`ccpost/${j}/${r}`)),
      );
    } else {
      zeroIds.push(id);
    }
  }
  return { entries, zeroIds: PackedPseudonyms.fromIds(zeroIds) };
}

export async function run(ctx: BenchContext): Promise<void> {
  const slots = ctx.quick ? 2_000 : 10_000;
  const port = await freePort();
  const node = await startHardhatNode(port);
  const { provider } = await connectJsonRpc(`http://127.0.0.1:${port}`);
  try {
    const [admin, cc, sp] = [0, 1, 2].map((i) =>
      HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider),
    );
    const spKey = secp.mulBase(key("ccpost/sp"), true);
    const { ledger: asAdmin } = await deployBillingLedger(
      { admin, controlCenter: cc, serviceProvider: sp },
      {
        tariff: { breakpointsWh: [0n, 100_000n], values: [10n, 20n], cap: 35n },
        categories: CATEGORIES,
        serviceProvider: { publicKey: spKey, sigPublicKey: spKey },
        slotsPerMeter: K,
      },
    );
    const ledger = asAdmin.connect(cc) as BillingLedger;
    const client = controlCenterChainClient(ledger);
    for (let i = 0; i < slots / K; i += 200) {
      const n = Math.min(200, slots / K - i);
      const keys = Array.from({ length: n }, (_, k) =>
        publicKeyStruct(secp.mulBase(key(`ccpost/meter/${i + k}`), true)),
      );
      await (await ledger.registerMeters(keys)).wait();
    }
    const domain = await readDomain(ledger);
    let j = 0;
    const rates: Record<string, number> = {};
    /** Posts one interval's slots with W in flight; records slots/s and the chain's gas/s. */
    const post = async (name: string, window: number, realPct: number) => {
      j++;
      await (await ledger.openInterval(j, START, END)).wait();
      const { entries, zeroIds } = intervalSlots(domain, j, slots, realPct);
      const firstBlock = (await provider.getBlockNumber()) + 1;
      const t0 = performance.now();
      const batches = planOcdBatches(entries, zeroIds, {
        blockGasLimit: await client.blockGasLimit!(),
      });
      await postOcdPipeline(j, new Uint8Array(32), batches, await client.ocdSender!(), window);
      const seconds = (performance.now() - t0) / 1000;
      const rec = await ledger.intervalRecord(j);
      const posted = Number(rec.ocdCount) + Number(rec.zeroCount);
      if (posted !== slots) throw new Error(`bench ccpost: ${posted} of ${slots} slots posted`);
      let gas = 0n;
      const lastBlock = await provider.getBlockNumber();
      for (let b = firstBlock; b <= lastBlock; b++) gas += (await provider.getBlock(b))!.gasUsed;
      ctx.log(
        `  ${name}: ${batches.length} transactions in ${lastBlock - firstBlock + 1} blocks, ${seconds.toFixed(2)} s, ${(Number(gas) / seconds / 1e6).toFixed(2)} M gas/s`,
      );
      rates[name] = slots / seconds;
      ctx.record(name, rates[name], "entries/s");
      ctx.record(name.replace("entries_per_s", "gas_per_s"), Number(gas) / seconds, "gas/s");
      return batches.length;
    };
    ctx.record(
      `cc.post_batches_${slots}`,
      await post("cc.post_entries_per_s_w1_automine", 1, 21),
      "transactions",
    );
    await post("cc.post_entries_per_s_w4_automine", 4, 21);
    await provider.send("evm_setAutomine", [false]);
    await provider.send("evm_setIntervalMining", [2_000]);
    await post("cc.post_entries_per_s_w1_block2s", 1, 21);
    await post("cc.post_entries_per_s_w4_block2s", 4, 21);
    // Real entries only: more, fuller transactions, where the window shows.
    await post("cc.post_real_entries_per_s_w1_block2s", 1, 100);
    await post("cc.post_real_entries_per_s_w4_block2s", 4, 100);
    ctx.record("cc.post_entries_per_s", rates["cc.post_entries_per_s_w4_block2s"], "entries/s");
    for (const kind of ["entries", "real_entries"]) {
      ctx.record(
        `cc.post_${kind === "entries" ? "" : "real_"}speedup_w4_block2s`,
        rates[`cc.post_${kind}_per_s_w4_block2s`] / rates[`cc.post_${kind}_per_s_w1_block2s`],
        "ratio",
      );
    }
  } finally {
    provider.destroy();
    await stopHardhatNode(node);
  }
}
