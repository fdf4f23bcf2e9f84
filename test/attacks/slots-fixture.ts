// Shared set-up of the slot attacks (exports only): a ledger with K = 8 slots per meter, three
// meters registered with the pure control center and on-chain, one interval reported honestly and
// admitted; the attack then changes what CC posts. Users verify from the chain's events.
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import {
  connectBillingLedger,
  postOcdBatch,
  publicKeyStruct,
  readDomain,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { deployBillingLedger } from "../../offchain/chain/deploy.ts";
import { readInterval, type IntervalReport } from "../../offchain/chain/ledgerReader.ts";
import { keccak256 } from "../../offchain/crypto/hash.ts";
import { meterKeysFromSecret } from "../../offchain/crypto/keys.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import { ControlCenter } from "../../offchain/cc/control-center.ts";
import { Meter, type MeterIntervalReport } from "../../offchain/meter/meter.ts";
import type { LedgerEntry } from "../../offchain/protocol/entry.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { User } from "../../offchain/user/user.ts";
import {
  CATEGORY_VALUES,
  SP_SIG_SK,
  WINDOW_END,
  WINDOW_START,
  fixtureLedgerConfig,
} from "../ledger/fixtures.ts";
import { ccKeys, seedScalar } from "../roles/fixtures.ts";

export const K = 8;
export const INTERVAL = 1;

export interface SlotSetting {
  readonly ledger: BillingLedger;
  readonly cc: BillingLedger;
  readonly admin: BillingLedger;
  readonly domain: Uint8Array;
  readonly meters: readonly Meter[];
  readonly reports: readonly MeterIntervalReport[];
  readonly center: ControlCenter;
  /** Honest real entries and zero-slot ids, as CC would post them. */
  readonly real: LedgerEntry[];
  readonly zero: Uint8Array[];
  readonly users: readonly User[];
  /** Posts `real` and `zero` (sorted here), seals, and reads the interval back. */
  post(real: readonly LedgerEntry[], zero: readonly Uint8Array[]): Promise<void>;
  read(): Promise<IntervalReport>;
}

export async function slotSetting(
  ethers: HardhatEthers,
  consumption: readonly bigint[] = [100n, 2_350n, 0n],
): Promise<SlotSetting> {
  const [adminSigner, ccSigner, spSigner] = await ethers.getSigners();
  const { address } = await deployBillingLedger(
    { admin: adminSigner, controlCenter: ccSigner, serviceProvider: spSigner },
    fixtureLedgerConfig(K),
  );
  const ledger = connectBillingLedger(address, adminSigner);
  const cc = connectBillingLedger(address, ccSigner);
  const domain = await readDomain(ledger);
  const ccKeyPair = ccKeys();
  const center = new ControlCenter({ keys: ccKeyPair, domain, maxMessagesPerMeter: K });
  const meters = consumption.map(
    (_, i) =>
      new Meter({
        index: i,
        keys: meterKeysFromSecret(
          seedScalar(`slots-meter-${i}`),
          keccak256(new TextEncoder().encode(`slots-K-${i}`)),
        ),
        ccPublicKey: ccKeyPair.publicKey,
        domain,
        categories: CATEGORY_VALUES,
        slots: K,
      }),
  );
  for (const m of meters) {
    const r = m.registration(seedScalar(`slots-eph-${m.index}`));
    center.registerMeter(r.index, r.publicKey, r.encryptedGgmKey, r.basePublicKey);
  }
  await (await cc.registerMeters(meters.map((m) => publicKeyStruct(m.publicKey)))).wait();
  await (await cc.openInterval(INTERVAL, WINDOW_START, WINDOW_END)).wait();
  center.openInterval(INTERVAL, { start: WINDOW_START, end: WINDOW_END }, CATEGORY_VALUES);
  const reports = meters.map((m, i) => m.reportInterval(INTERVAL, consumption[i], WINDOW_END - 1n));
  for (const r of reports) for (const e of r.entries) center.admit(encodeMeterReport(e));
  const zero = [...center.zeroSlots(INTERVAL).ids];
  const real = center.closeInterval(INTERVAL);
  const users = meters.map((m, i) => {
    const user = new User({
      meterIndex: i,
      domain,
      meterBasePublicKey: m.basePublicKey,
      spSigPk: secp.mulBase(SP_SIG_SK, true),
    });
    user.receiveBatch(INTERVAL, reports[i].userBatch);
    return user;
  });
  const byId = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b);
  return {
    ledger,
    cc,
    admin: ledger,
    domain,
    meters,
    reports,
    center,
    real,
    zero,
    users,
    async post(realEntries, zeroIds) {
      await postOcdBatch(
        cc,
        INTERVAL,
        [...realEntries].sort((a, b) => byId(a.id, b.id)),
        [...zeroIds].sort(byId),
      );
      await (await cc.sealInterval(INTERVAL)).wait();
    },
    read: () => readInterval(ledger, INTERVAL),
  };
}
