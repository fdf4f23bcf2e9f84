// Shared set-up for role tests: deterministic keys, a domain, category values. Exports only.
import {
  meterKeysFromSecret,
  keyPairFromSecret,
  type KeyPair,
} from "../../offchain/crypto/keys.ts";
import { sha256 } from "../../offchain/crypto/hash.ts";
import { ledgerDomain } from "../../offchain/protocol/entry.ts";
import { Meter } from "../../offchain/meter/meter.ts";
import { ControlCenter } from "../../offchain/cc/control-center.ts";
import { deriveMessageKey } from "../../offchain/crypto/ggm.ts";
import {
  verifyBillBatch,
  type IntervalStateValue,
  type SignedBillBatch,
} from "../../offchain/protocol/billing.ts";
import type { LedgerEntry } from "../../offchain/protocol/entry.ts";
import type { IntervalReport, PseudonymList } from "../../offchain/protocol/ledger-audit.ts";
import { ServiceProvider } from "../../offchain/sp/service-provider.ts";
import { UserAgent, type UserAgentComponents } from "../../offchain/user/agent.ts";
import type { OksuzAgentsRun } from "../../offchain/sim/oksuz-agents.ts";
import { User } from "../../offchain/user/user.ts";

export const CATEGORIES = [100n, 250n, 500n, 1000n, 2000n] as const;
export const WINDOW = { start: 1_700_000_000n, end: 1_700_003_600n };
export const DOMAIN = ledgerDomain(31337n, "0x" + "5a".repeat(20));

export function seedScalar(label: string): bigint {
  return BigInt("0x" + Buffer.from(sha256(new TextEncoder().encode(label))).toString("hex")) >> 8n;
}

export function ccKeys(): KeyPair {
  return keyPairFromSecret(seedScalar("cc"));
}

export function makeMeter(index: number, cc: KeyPair): Meter {
  const keys = meterKeysFromSecret(
    seedScalar(`meter-${index}`),
    sha256(new TextEncoder().encode(`K-${index}`)),
  );
  return new Meter({
    index,
    keys,
    ccPublicKey: cc.publicKey,
    domain: DOMAIN,
    categories: CATEGORIES,
  });
}

/** A CC with `meters` registered through their encrypted registration boxes. */
export function makeControlCenter(meters: readonly Meter[], cc: KeyPair, maxFailures = 3) {
  const center = new ControlCenter({
    keys: cc,
    domain: DOMAIN,
    maxMessagesPerMeter: 8, // K, the meters' default slots (DESIGN §7)
    maxFailures,
  });
  for (const m of meters) {
    const reg = m.registration(seedScalar(`eph-${m.index}`));
    center.registerMeter(reg.index, reg.publicKey, reg.encryptedGgmKey, reg.basePublicKey);
  }
  return center;
}

/**
 * Meter `index`'s own message key `sigSk_{i,j,k}` (what its firmware signs with): lets a test
 * forge a report the meter really signed (a faulty meter), as opposed to an outsider's.
 */
export function messageSecret(index: number, interval: number, counter: number): bigint {
  // The meter's own message key (DESIGN §4.2): sigSk = b_i + H3(f_{K_i}(x)), the keys of makeMeter.
  const keys = meterKeysFromSecret(
    seedScalar(`meter-${index}`),
    sha256(new TextEncoder().encode(`K-${index}`)),
  );
  return deriveMessageKey(keys.ggmKey, keys.baseKey, interval, counter).sigSk;
}

/**
 * An interval as a household reads it from the chain (`IntervalReport`), built from what SP
 * computed: its DAP at `timestamp`, its signed bill `batches` (each batch's signature checked under
 * SP's key), the OCD and zero slots; digests zero and no mismatches (the role tests' checks do not
 * read them). `over` replaces any field.
 */
export function reportFromSp(
  a: {
    readonly interval: number;
    readonly state: IntervalStateValue;
    readonly sp: ServiceProvider;
    readonly ocd: readonly LedgerEntry[];
    readonly zeroSlots: PseudonymList;
    readonly expectedSlots: number;
    readonly price: bigint;
    readonly timestamp: bigint;
    readonly batches: readonly SignedBillBatch[];
  },
  over: Partial<IntervalReport> = {},
): IntervalReport {
  return {
    interval: a.interval,
    state: a.state,
    ocd: a.ocd,
    zeroSlots: a.zeroSlots,
    expectedSlots: a.expectedSlots,
    dap: a.sp.dapEntries(a.interval, a.price, a.timestamp),
    bills: a.batches.flatMap((b) => b.bills),
    billBatches: a.batches.map((b) => ({
      firstIndex: b.firstIndex,
      bills: b.bills,
      rAddr: b.signature.rAddr,
      y: b.signature.y,
      signatureValid: verifyBillBatch(DOMAIN, b, a.sp.sigPk),
    })),
    sumWh: a.sp.aggregate(a.ocd),
    ocdDigest: new Uint8Array(32),
    billDigest: new Uint8Array(32),
    billedTotal: 0n,
    expectedPrice: a.price,
    price: a.price,
    mismatches: [],
    ...over,
  };
}

/**
 * The role tests' service provider: its keys from the labels "sp" and "sp/sig", trusting `cc`'s
 * public key, in {@link DOMAIN}; `billBatchSize` bills per signed batch (SP's default when absent).
 */
export function makeServiceProvider(cc: KeyPair, billBatchSize?: number): ServiceProvider {
  return new ServiceProvider({
    keys: keyPairFromSecret(seedScalar("sp")),
    signingKey: seedScalar("sp/sig"),
    ccPublicKey: cc.publicKey,
    domain: DOMAIN,
    ...(billBatchSize === undefined ? {} : { billBatchSize }),
  });
}

/**
 * Household i's agent as the simulator wires it, waiting for its first interval (one interval,
 * 1 s polls) on `transport`, and started: what an idle household holds (memory tests). `key` is
 * both the meter's base key and SP's key (nothing is verified while it waits).
 */
export function idleUserAgent(
  i: number,
  key: Uint8Array,
  components: Pick<UserAgentComponents, "chain" | "transport" | "clock">,
): UserAgent {
  const agent = new UserAgent(
    { meterAddress: `meter-${i}`, intervals: 1, pollMs: 1_000, batchTimeoutMs: 60_000 },
    {
      user: new User({ meterIndex: i, domain: DOMAIN, meterBasePublicKey: key, spSigPk: key }),
      ...components,
    },
  );
  void agent.start();
  return agent;
}

/**
 * What a simulator run's callers read of it (`runOksuz`: the relays' figures and the households'
 * checks; CC's, SP's and the network's status; the meters measured): to compare two runs that must
 * not differ (retired against kept, lazy against eager households).
 */
export function runOutcome(run: OksuzAgentsRun) {
  return {
    relays: run.relays.map((r) => ({ epoch: r.epoch, ...r.counters() })),
    users: run.users.map((u) => ({ checks: u.checks, status: u.status() })),
    network: run.network,
    cc: run.cc.status(),
    sp: run.sp.status(),
    measured: [...run.metersMeasured],
  };
}
