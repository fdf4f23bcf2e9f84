// Shared fixtures of the billing-ledger tests (exports only: Hardhat's mocha runner loads every
// .ts under test/). Keys and pseudonyms are deterministic so failures reproduce.
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { ContractTransactionReceipt } from "ethers";

import {
  publicKeyStruct,
  readDomain,
  signBillBatch,
  toDapEntryStruct,
  toOcdEntryStruct,
  type BillFields,
  type BillingLedger,
  type SignedBillBatch,
} from "../../offchain/chain/billing.ts";
import {
  deployBillingLedger as deployChainLedger,
  type BillingLedgerConfig,
} from "../../offchain/chain/deploy.ts";
import { tariffPrice, type TariffSchedule } from "../../offchain/protocol/tariff.ts";
import { bytesToBigInt, hexToBytes, toHex0x, u32 } from "../../offchain/crypto/bytes.ts";
import { keccak256 } from "../../offchain/crypto/hash.ts";
import { CURVE_ORDER, secp } from "../../offchain/crypto/secp256k1.ts";
import { ENTRY_KIND, signEntry, type LedgerEntry } from "../../offchain/protocol/entry.ts";

export const CATEGORY_VALUES: readonly [bigint, bigint, bigint, bigint, bigint] = [
  100n,
  250n,
  500n,
  1000n,
  2000n,
];

/** A tariff rising from 10 to 40 price units per Wh between 0 and 1 MWh aggregate, capped at 35. */
export const TARIFF: TariffSchedule = {
  breakpointsWh: [0n, 100_000n, 1_000_000n],
  values: [10n, 20n, 40n],
  cap: 35n,
};

/** Meters the configured fixture registers (K = 1): the slots of every fixture interval. */
export const FIXTURE_METERS = 64;

export const WINDOW_START = 1_700_000_000n;
export const WINDOW_END = WINDOW_START + 900n;

/** A deterministic secret key from a label. */
export function testKey(label: string): bigint {
  return (bytesToBigInt(keccak256(new TextEncoder().encode(label))) % (CURVE_ORDER - 1n)) + 1n;
}

export const SP_SIG_SK = testKey("sp/sig");
export const SP_PK_SK = testKey("sp/pk");
export const CC_SIG_SK = testKey("cc/sig");
export const CC_PK_SK = testKey("cc/pk");

export interface BillingDeployment {
  ledger: BillingLedger;
  address: string;
  domain: Uint8Array;
  admin: HardhatEthersSigner;
  cc: HardhatEthersSigner;
  sp: HardhatEthersSigner;
  outsider: HardhatEthersSigner;
}

/**
 * The fixtures' ledger configuration: the public tariff, the category values, CC's and SP's keys,
 * `slotsPerMeter` report slots per meter and (optionally) direct mode.
 */
export function fixtureLedgerConfig(slotsPerMeter: number, direct?: boolean): BillingLedgerConfig {
  return {
    tariff: TARIFF,
    categories: CATEGORY_VALUES,
    serviceProvider: {
      publicKey: secp.mulBase(SP_PK_SK, true),
      sigPublicKey: secp.mulBase(SP_SIG_SK, true),
    },
    controlCenter: {
      publicKey: secp.mulBase(CC_PK_SK, true),
      sigPublicKey: secp.mulBase(CC_SIG_SK, true),
    },
    direct,
    slotsPerMeter,
  };
}

/** Deploys and configures a ledger: tariff, category values, CC and SP keys, mode. */
export async function deployBillingLedger(
  ethers: HardhatEthers,
  options: { direct?: boolean; configure?: boolean } = {},
): Promise<BillingDeployment> {
  const [admin, cc, sp, outsider] = await ethers.getSigners();
  const { ledger, address } = await deployChainLedger(
    { admin, controlCenter: cc, serviceProvider: sp },
    options.configure === false ? {} : fixtureLedgerConfig(1, options.direct),
  );
  if (options.configure !== false) await registerFixtureMeters(ledger.connect(cc) as BillingLedger);
  const domain = await readDomain(ledger);
  return { ledger, address, domain, admin, cc, sp, outsider };
}

/**
 * K = 1 slot for each of {@link FIXTURE_METERS} meters (CC registers them): an interval seals with
 * exactly that many slots (DESIGN §7); tests post their real entries, then {@link fillAndSeal}
 * adds zero slots. `K` is set only when the ledger has none yet (an admin call).
 */
export async function registerFixtureMeters(cc: BillingLedger, admin?: BillingLedger) {
  if (admin !== undefined) await (await admin.setSlotsPerMeter(1)).wait();
  const keys = Array.from({ length: FIXTURE_METERS }, (_, i) =>
    publicKeyStruct(secp.mulBase(testKey(`fixture-meter/${i}`), true)),
  );
  await (await cc.registerMeters(keys)).wait();
}

/**
 * Fills interval `interval`'s remaining slots with zero slots (absence markers; DESIGN §7) whose
 * pseudonyms sort after every fixture pseudonym (first byte 0xff), then seals it.
 */
export async function fillAndSeal(cc: BillingLedger, interval: number): Promise<void> {
  await fillSlots(cc, interval);
  await (await cc.sealInterval(interval)).wait();
}

/** The zero slots of {@link fillAndSeal}, without sealing. */
export async function fillSlots(cc: BillingLedger, interval: number): Promise<void> {
  const rec = await cc.intervalRecord(interval);
  const missing = Number(rec.expectedSlots) - Number(rec.ocdCount) - Number(rec.zeroCount);
  if (missing > 0) {
    const ids = Array.from({ length: missing }, (_, k) => {
      const id = keccak256(new TextEncoder().encode(`marker/${interval}/${k}`));
      id[0] = 0xff;
      id.set(u32(k), 1);
      return toHex0x(id);
    });
    await (await cc.postSlots(interval, [], ids)).wait();
  }
}

/** A pseudonym whose order is fixed by `rank` (first 4 bytes), the rest from the label. */
export function pseudonym(rank: number, label = "p"): Uint8Array {
  const id = keccak256(new TextEncoder().encode(`${label}/${rank}`));
  id.set(u32(rank + 1), 0);
  return id;
}

/** `n` signed OCD entries of `interval` with increasing pseudonyms from rank `firstRank`. */
export function makeOcdEntries(
  domain: Uint8Array,
  interval: number,
  n: number,
  options: {
    firstRank?: number;
    label?: string;
    consumption?: (i: number) => bigint;
    /** T of every entry, default the fixture window's last second (DESIGN §4.4). */
    timestamp?: bigint;
  } = {},
): LedgerEntry[] {
  const first = options.firstRank ?? 0;
  const label = options.label ?? `i${interval}`;
  const entries: LedgerEntry[] = [];
  for (let k = 0; k < n; k++) {
    const rank = first + k;
    const value = options.consumption
      ? options.consumption(rank)
      : CATEGORY_VALUES[rank % CATEGORY_VALUES.length];
    const sigSk = testKey(`${label}/meter-msg/${rank}`);
    entries.push(
      signEntry(
        domain,
        {
          kind: ENTRY_KIND.OCD,
          interval,
          id: pseudonym(rank, label),
          timestamp: options.timestamp ?? WINDOW_END - 1n,
          value,
        },
        sigSk,
      ),
    );
  }
  return entries;
}

/** SP's DAP entry for `interval` at `price`. */
export function makeDap(
  domain: Uint8Array,
  interval: number,
  price: bigint,
  label = "sp-to-cc",
): LedgerEntry {
  return signEntry(
    domain,
    {
      kind: ENTRY_KIND.DAP,
      interval,
      id: keccak256(new TextEncoder().encode(`${label}/${interval}`)),
      timestamp: WINDOW_END + 60n,
      value: price,
    },
    SP_SIG_SK,
  );
}

/** Honest bills for OCD entries at `price`. */
export function billsFor(ocd: readonly LedgerEntry[], price: bigint): BillFields[] {
  return ocd.map((e) => ({
    interval: e.interval,
    id: e.id,
    timestamp: WINDOW_END + 120n,
    bill: price * e.value,
    consumptionWh: e.value,
  }));
}

/** SP-signed batches of at most `size` bills, indexed from `firstIndex`. */
export function signBatches(
  domain: Uint8Array,
  bills: readonly BillFields[],
  size: number,
  firstIndex = 0,
): SignedBillBatch[] {
  const out: SignedBillBatch[] = [];
  for (let k = 0; k < bills.length; k += size) {
    const chunk = bills.slice(k, k + size);
    out.push(signBillBatch(domain, chunk[0].interval, firstIndex + k, chunk, SP_SIG_SK));
  }
  return out;
}

/** Expected price for a set of OCD entries under the test tariff. */
export function expectedPrice(ocd: readonly LedgerEntry[]): bigint {
  return tariffPrice(
    TARIFF,
    ocd.reduce((s, e) => s + e.value, 0n),
  );
}

/**
 * Interval `interval` opened by CC with `entries` OCD entries posted in one batch and sealed; with
 * `priced`, SP's DAP entry at the tariff price is posted too. Returns CC's ledger handle.
 */
export async function sealedInterval(
  d: BillingDeployment,
  interval: number,
  entries: number,
  options: { priced?: boolean } = {},
): Promise<{ cc: BillingLedger; ocd: LedgerEntry[]; price: bigint }> {
  const cc = d.ledger.connect(d.cc) as BillingLedger;
  await (await cc.openInterval(interval, WINDOW_START, WINDOW_END)).wait();
  const ocd = makeOcdEntries(d.domain, interval, entries);
  await (await cc.postOcdBatch(interval, ocd.map(toOcdEntryStruct))).wait();
  await fillAndSeal(cc, interval);
  const price = expectedPrice(ocd);
  if (options.priced) {
    await (
      await cc.postDap(interval, [toDapEntryStruct(makeDap(d.domain, interval, price))])
    ).wait();
  }
  return { cc, ocd, price };
}

/**
 * The `items` bytes of the one `BillBatchPosted` in `receipt`: the bills as the ledger logged them
 * (56 bytes each). Throws unless the receipt carries exactly one such event.
 */
export function loggedBillItems(
  ledger: BillingLedger,
  receipt: ContractTransactionReceipt | null,
): Uint8Array {
  const logs = (receipt?.logs ?? [])
    .map((l) => ledger.interface.parseLog(l))
    .filter((l) => l?.name === "BillBatchPosted");
  if (logs.length !== 1) throw new Error(`expected one BillBatchPosted, got ${logs.length}`);
  return hexToBytes((logs[0]!.args.items as string).slice(2));
}
