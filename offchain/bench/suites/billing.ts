// Billing-ledger gas (DESIGN §2; docs/BENCHMARKS.md): transaction gas of OCD, DAP, BC and
// life-cycle calls on Hardhat's in-process chain (prague), signatures verified on-chain.
//   gas.ocd_entry            tx gas of a batch of 100 OCD entries / 100 (a later batch of an
//                            interval; goal ≤ 8,000, issue 14), posted as CC posts them: packed
//                            calldata (`postOcd`). gas.ocd_entry_first_batch: the first batch
//                            (pays the interval's zero → non-zero storage writes).
//                            gas.ocd_entry_abi: the same later batch through the ABI-struct
//                            `postOcdBatch` (same checks and events; the encoding it replaces).
//   gas.ocd_max_batch_30m    largest OCD batch fitting a 30M-gas block: predicted from a linear fit
//                            (per-entry + fixed) of batches of 200 and 1000; checked by posting
//                            it in one 30M transaction (gas.ocd_max_batch_30m_posted: shrunk 2 %
//                            at a time until it fits; the quadratic memory term).
//   gas.dap_entry            relayed-mode DAP tx (one entry); gas.dap_entry_direct: per entry of a
//                            direct-mode batch of 100.
//   gas.bc_entry             tx gas of a batch of 100 bills / 100 (goal ≤ 6,000), one SP signature
//                            per batch; gas.bc_entry_per_entry_sig_estimate: the same plus one
//                            measured Schnorr verification and 52 calldata bytes per bill.
//   gas.ocd_dummy_entry      tx gas of a batch of 1,000 zero slots (`postOcd` with no real entry) (meters' dummies or absence
//                            markers, DESIGN §7: pseudonym only, no on-chain signature) / 1,000
//                            (a later batch; goal ≤ 2,000).
//   gas.seal, gas.close_billing, gas.open_interval.
//   gas.register_meter       tx gas of registerMeters in calls of 200 keys / 200 (one storage slot
//                            per meter: its key's hash → index; the key is in its event).
// The ledger runs with K = 1 slot for each of METERS registered meters, so an interval seals after
// its real entries and METERS − real zero slots.
import {
  publicKeyStruct,
  signBillBatch,
  encodeBillsPacked,
  toDapEntryStruct,
  readDomain,
  toOcdEntryStruct,
  encodeOcdPacked,
  type BillFields,
  type BillingLedger,
} from "../../chain/billing.ts";
import { tariffPrice } from "../../protocol/tariff.ts";
import { bytesToBigInt, hexToBytes, toHex0x, u32 } from "../../crypto/bytes.ts";
import { keccak256 } from "../../crypto/hash.ts";
import { CURVE_ORDER, secp } from "../../crypto/secp256k1.ts";
import { ENTRY_KIND, signEntry, type LedgerEntry } from "../../protocol/entry.ts";
import { deployBillingLedger } from "../../chain/deploy.ts";
import { benchEthers } from "../chain.ts";
import type { BenchContext } from "../harness.ts";

const CATEGORIES = [100n, 250n, 500n, 1000n, 2000n] as const;
const TARIFF = { breakpointsWh: [0n, 100_000n, 1_000_000n], values: [10n, 20n, 40n], cap: 35n };
const START = 1_700_000_000n;
const END = START + 900n;
const BLOCK_GAS = 30_000_000;
/** Registered meters (K = 1): the slots every sealed bench interval holds. */
const METERS = 4_000;

/** `n` zero-slot ids sorting after every bench pseudonym (first byte 0xff), from `first`. */
function zeroIds(j: number, first: number, n: number): string[] {
  return Array.from({ length: n }, (_, k) => {
    const id = keccak256(new TextEncoder().encode(`bench/zero/${j}/${first + k}`));
    id[0] = 0xff;
    id.set(u32(first + k), 1);
    return toHex0x(id);
  });
}

function key(label: string): bigint {
  return (bytesToBigInt(keccak256(new TextEncoder().encode(label))) % (CURVE_ORDER - 1n)) + 1n;
}
const SP_SIG_SK = key("bench/sp/sig");

function ocdEntries(domain: Uint8Array, j: number, n: number, firstRank = 0): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (let r = firstRank; r < firstRank + n; r++) {
    const id = keccak256(new TextEncoder().encode(`bench/${j}/${r}`));
    id.set(u32(r + 1), 0);
    out.push(
      signEntry(
        domain,
        {
          kind: ENTRY_KIND.OCD,
          interval: j,
          id,
          timestamp: END - 1n,
          value: CATEGORIES[r % 5],
        },
        key(`bench/msg/${j}/${r}`),
      ),
    );
  }
  return out;
}

async function gasOf(
  tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>,
): Promise<number> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("bench billing: no receipt");
  return Number(receipt.gasUsed);
}

export async function run(ctx: BenchContext): Promise<void> {
  const ethers = await benchEthers();
  const [admin, cc, sp] = await ethers.getSigners();
  const spKey = secp.mulBase(SP_SIG_SK, true);
  const { ledger: asAdmin } = await deployBillingLedger(
    { admin, controlCenter: cc, serviceProvider: sp },
    {
      tariff: TARIFF,
      categories: CATEGORIES,
      serviceProvider: { publicKey: spKey, sigPublicKey: spKey },
      slotsPerMeter: 1,
    },
  );
  const ledger = asAdmin.connect(cc) as BillingLedger;
  const asSp = asAdmin.connect(sp) as BillingLedger;
  const domain = await readDomain(ledger);
  let registerGas = 0;
  for (let i = 0; i < METERS; i += 200) {
    const keys = Array.from({ length: 200 }, (_, k) =>
      publicKeyStruct(secp.mulBase(key(`bench/meter/${i + k}`), true)),
    );
    registerGas += await gasOf(ledger.registerMeters(keys));
  }
  ctx.record("gas.register_meter", registerGas / METERS, "gas/meter");
  /** Posts the interval's remaining slots as zero slots, 1,000 per transaction; their gas. */
  const fill = async (j: number, posted: number): Promise<number[]> => {
    const gas: number[] = [];
    for (let k = posted; k < METERS; k += 1_000) {
      const n = Math.min(1_000, METERS - k);
      gas.push(await gasOf(ledger.postOcd(j, "0x", zeroIds(j, k, n))));
    }
    return gas;
  };

  // OCD: interval 1, three packed batches of 100, then one ABI-struct batch of 100.
  ctx.record("gas.open_interval", await gasOf(ledger.openInterval(1, START, END)), "gas");
  const ocd = ocdEntries(domain, 1, 400);
  const batchGas: number[] = [];
  for (let k = 0; k < 300; k += 100) {
    batchGas.push(await gasOf(ledger.postOcd(1, encodeOcdPacked(ocd.slice(k, k + 100)), [])));
  }
  ctx.record("gas.ocd_entry_first_batch", batchGas[0] / 100, "gas/entry");
  ctx.record("gas.ocd_entry", Math.max(batchGas[1], batchGas[2]) / 100, "gas/entry");
  const abiGas = await gasOf(ledger.postOcdBatch(1, ocd.slice(300).map(toOcdEntryStruct)));
  ctx.record("gas.ocd_entry_abi", abiGas / 100, "gas/entry");
  const zeroGas = await fill(1, 400);
  ctx.record("gas.ocd_dummy_entry", Math.max(zeroGas[1], zeroGas[2]) / 1_000, "gas/entry");
  ctx.record("gas.seal", await gasOf(ledger.sealInterval(1)), "gas");

  // DAP, relayed.
  const sum = ocd.reduce((s, e) => s + e.value, 0n);
  const price = tariffPrice(TARIFF, sum);
  const dap = signEntry(
    domain,
    {
      kind: ENTRY_KIND.DAP,
      interval: 1,
      id: new Uint8Array(32).fill(1),
      timestamp: END,
      value: price,
    },
    SP_SIG_SK,
  );
  ctx.record("gas.dap_entry", await gasOf(ledger.postDap(1, [toDapEntryStruct(dap)])), "gas");

  // BC: four batches of 100, one SP signature each.
  const bills: BillFields[] = ocd.map((e) => ({
    interval: 1,
    id: e.id,
    timestamp: END + 60n,
    bill: price * e.value,
    consumptionWh: e.value,
  }));
  const billGas: number[] = [];
  for (let k = 0; k < 400; k += 100) {
    const b = signBillBatch(domain, 1, k, bills.slice(k, k + 100), SP_SIG_SK);
    billGas.push(
      await gasOf(
        ledger.postBills(1, encodeBillsPacked(b.bills), toHex0x(b.signature.rAddr), b.signature.y),
      ),
    );
  }
  const bcEntry = Math.max(billGas[1], billGas[2], billGas[3]) / 100;
  ctx.record("gas.bc_entry_first_batch", billGas[0] / 100, "gas/entry");
  ctx.record("gas.bc_entry", bcEntry, "gas/entry");
  ctx.record("gas.close_billing", await gasOf(ledger.closeBilling(1)), "gas");

  // The per-entry-signature alternative: one more verification and (rAddr, y) per bill.
  const harness = await ethers.deployContract("CryptoHarness");
  const [, verifyGas] = await harness.verifyGas(
    dap.sigPk[0],
    bytesToBigInt(dap.sigPk.subarray(1)),
    keccak256(new Uint8Array(1)),
    toHex0x(dap.signature.rAddr),
    dap.signature.y,
  );
  ctx.record(
    "gas.bc_entry_per_entry_sig_estimate",
    bcEntry + Number(verifyGas) + 52 * 16,
    "gas/entry",
  );

  // DAP, direct mode: 100 per-user entries in one batch.
  await (await asAdmin.setDeliveryMode(1)).wait();
  await (await ledger.openInterval(2, START, END)).wait();
  await fill(2, 0);
  await (await ledger.sealInterval(2)).wait();
  const p0 = tariffPrice(TARIFF, 0n);
  // One entry per user pseudonym, ids increasing (the ledger refuses repeats).
  const perUser = Array.from({ length: 100 }, (_, u) => keccak256(u32(u)))
    .sort((a, b) => Buffer.compare(a, b))
    .map((id) =>
      toDapEntryStruct(
        signEntry(
          domain,
          { kind: ENTRY_KIND.DAP, interval: 2, id, timestamp: END, value: p0 },
          SP_SIG_SK,
        ),
      ),
    );
  ctx.record("gas.dap_entry_direct", (await gasOf(asSp.postDap(2, perUser))) / 100, "gas/entry");
  await (await asAdmin.setDeliveryMode(0)).wait();

  // Largest OCD batch in a 30M block: fit per-entry + fixed cost on fresh intervals, predict,
  // then check the fit by posting the predicted batch in one transaction of a whole 30M block
  // (the in-process chain runs prague like the Besu genesis: no per-transaction gas cap), shrunk
  // by 2 % until it fits (memory cost is quadratic, so the linear fit overestimates slightly).
  const fresh = async (j: number, n: number): Promise<number> => {
    await (await ledger.openInterval(j, START, END)).wait();
    return gasOf(
      ledger.postOcd(j, encodeOcdPacked(ocdEntries(domain, j, n)), [], { gasLimit: BLOCK_GAS }),
    );
  };
  const small = ctx.quick ? 100 : 200;
  const large = ctx.quick ? 600 : 1000;
  const gSmall = await fresh(10, small);
  const gLarge = await fresh(11, large);
  const perEntry = (gLarge - gSmall) / (large - small);
  const fixed = gLarge - perEntry * large;
  ctx.record("gas.ocd_fit_per_entry", perEntry, "gas/entry");
  ctx.record("gas.ocd_fit_fixed", fixed, "gas");
  ctx.record("gas.ocd_max_batch_30m", Math.floor((BLOCK_GAS - fixed) / perEntry), "entries");
  let n = Math.floor((BLOCK_GAS - fixed) / perEntry);
  const predicted = n;
  for (let j = 12; ; j++) {
    await (await ledger.openInterval(j, START, END)).wait();
    let used: number | undefined;
    try {
      used = await gasOf(
        ledger.postOcd(j, encodeOcdPacked(ocdEntries(domain, j, n)), [], { gasLimit: BLOCK_GAS }),
      );
    } catch {
      used = undefined; // out of gas within the block: the fit underestimates (memory is quadratic)
    }
    if (used !== undefined) {
      ctx.log(`  posted ${n} entries in one tx (fit predicted ${predicted}): ${used} gas`);
      ctx.record("gas.ocd_fit_check_error", (used - (fixed + perEntry * n)) / used, "ratio");
      break;
    }
    n = Math.floor(n * 0.98);
  }
  ctx.record("gas.ocd_max_batch_30m_posted", n, "entries");
}
