// Oksuz end-to-end benchmarks (issue "Oksuz end to end"): one meter message, CC admission
// throughput, one user's interval check, and a whole 1,000-meter interval on the in-process chain.
import { sha256 } from "../../crypto/hash.ts";
import { keyPairFromSecret, meterKeysFromSecret } from "../../crypto/keys.ts";
import { bytesToBigInt } from "../../crypto/bytes.ts";
import { CURVE_ORDER } from "../../crypto/secp256k1.ts";
import { ControlCenter } from "../../cc/control-center.ts";
import { connectBillingLedger, readDomain } from "../../chain/billing.ts";
import { readInterval } from "../../chain/ledgerReader.ts";
import { Meter } from "../../meter/meter.ts";
import { buildReportOnion, onionAssociatedData } from "../../onion/report.ts";
import { ledgerDomain } from "../../protocol/entry.ts";
import { encodeMeterReport } from "../../protocol/meter-report.ts";
import { runOksuz } from "../../sim/oksuz.ts";
import { User } from "../../user/user.ts";
import { benchEthers } from "../chain.ts";
import type { BenchContext } from "../harness.ts";

const CATEGORIES = [50n, 100n, 250n, 500n, 1000n];
const enc = new TextEncoder();
const scalar = (label: string) =>
  (bytesToBigInt(sha256(enc.encode(label))) % (CURVE_ORDER - 1n)) + 1n;

export async function run(ctx: BenchContext): Promise<void> {
  const domain = ledgerDomain(31337n, "0x" + "11".repeat(20));
  const cc = keyPairFromSecret(scalar("bench/cc"));
  const makeMeter = (i: number) =>
    new Meter({
      index: i,
      keys: meterKeysFromSecret(scalar(`bench/meter/${i}`), sha256(enc.encode(`bench/K/${i}`))),
      ccPublicKey: cc.publicKey,
      domain,
      categories: CATEGORIES,
    });

  // meter.report_us: one message = split, GGM key, pseudonym, signature, encoding, 3-relay onion.
  const meter = makeMeter(0);
  const relays = [1, 2, 3].map((i) => keyPairFromSecret(scalar(`bench/relay/${i}`)).publicKey);
  const ad = onionAssociatedData(domain, 0);
  let interval = 0;
  ctx.record(
    "meter.report_us",
    ctx.measureUs(
      (i) => {
        // 250 Wh is exactly one chunk: one message per call.
        const report = meter.reportInterval(interval++, 250n, 3_599n);
        buildReportOnion(
          relays,
          cc.publicKey,
          encodeMeterReport(report.entries[0]),
          BigInt(i + 1),
          ad,
        );
      },
      { iterations: 100, samples: 7 },
    ),
    "us",
  );

  // cc.admit_per_s: admission of valid reports (decode, O(1) pseudonym lookup, window, category,
  // tweak derivation, one double multiplication against B_i: the signature verifies under
  // B_i + t·G, DESIGN §4.2), one core.
  const meterCount = ctx.quick ? 100 : 1_000;
  const meters = Array.from({ length: meterCount }, (_, i) => makeMeter(i));
  const reports: Uint8Array[] = [];
  for (const m of meters) {
    for (const e of m.reportInterval(0, 1_850n, 3_599n).entries) reports.push(encodeMeterReport(e));
  }
  const samples: number[] = [];
  for (let s = 0; s < (ctx.quick ? 2 : 5); s++) {
    const center = new ControlCenter({ keys: cc, domain, maxMessagesPerMeter: 16 });
    meters.forEach((m, i) =>
      center.restoreMeter(i, m.publicKey, sha256(enc.encode(`bench/K/${i}`)), m.basePublicKey),
    );
    center.openInterval(0, { start: 0n, end: 3_600n }, CATEGORIES);
    const t0 = process.hrtime.bigint();
    for (const r of reports) {
      if (!center.admit(r).accepted) throw new Error("bench: honest report refused");
    }
    samples.push(reports.length / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  samples.sort((a, b) => a - b);
  ctx.record("cc.admit_per_s", samples[samples.length >> 1], "1/s");

  // e2e.interval_s_1000: one interval with 1,000 meters on the in-process chain, everything from
  // opening the interval to every user's verified bill (deployment and meter registration are
  // one-time set-up, reported as e2e.setup_s_1000).
  const ethers = await benchEthers();
  const [admin, controlCenter, serviceProvider] = await ethers.getSigners();
  const n = ctx.quick ? 100 : 1_000;
  const t0 = performance.now();
  const report = await runOksuz(
    { meters: n, intervals: 1, seed: "bench" },
    { admin, controlCenter, serviceProvider },
    { now: () => performance.now() },
  );
  const total = (performance.now() - t0) / 1000;
  const interval0 = report.perInterval[0];
  if (interval0.billsVerified !== n) throw new Error("bench: not every bill verified");
  const suffix = ctx.quick ? `_${n}` : "_1000";
  ctx.record(`e2e.interval_s${suffix}`, interval0.phaseMs.total / 1000, "s");
  ctx.record(`e2e.setup_s${suffix}`, total - interval0.phaseMs.total / 1000, "s");
  for (const [phase, ms] of Object.entries(interval0.phaseMs)) {
    if (phase !== "total") ctx.record(`e2e.phase_${phase}_ms${suffix}`, ms, "ms");
  }
  // The global passive observer of that run (offchain/sim/linkage.ts; DESIGN §4.6, §7): chunk
  // counts it recovers (goal: no better than the most common count), bits leaked per meter
  // (goal ≤ 0.1) and the packets each meter originates per interval (K with report slots).
  const l = report.linkage;
  ctx.record("privacy.count_recovered_pct", l.countRecoveredPct, "%");
  ctx.record("privacy.count_baseline_pct", l.countBaselinePct, "%");
  ctx.record("privacy.wh_recovered_pct", l.whRecoveredPct, "%");
  ctx.record("privacy.wh_baseline_pct", l.whBaselinePct, "%");
  ctx.record("privacy.bits_leaked_per_meter", l.bitsLeakedPerMeter, "bits");
  ctx.record("privacy.min_entry_anonymity_set", l.minEntryAnonymitySet, "meters");
  ctx.record("onion.packets_per_meter_interval", l.packetsPerMeterInterval, "packets");

  // user.verify_interval_ms: one user checks one interval of that ledger, its own read of the
  // chain's events included. The user holds the ledger's first two entries as its slots.
  const ledger = connectBillingLedger(report.ledger, admin);
  const ledgerDomainBytes = await readDomain(ledger);
  const userSamples: number[] = [];
  for (let s = 0; s < 3; s++) {
    const t1 = performance.now();
    // Intervals are numbered from 1 (issue 11); interval 0 is never opened.
    const onChain = await readInterval(ledger, 1);
    const user = new User({
      meterIndex: 0,
      domain: ledgerDomainBytes,
      // Only evidence of a dispute uses B_i and t; this honest check never reads them.
      meterBasePublicKey: cc.publicKey,
      spSigPk: onChain.dap[0].sigPk,
    });
    user.receiveBatch(
      1,
      onChain.ocd.slice(0, 2).map((entry) => ({ entry, tweak: 1n })),
    );
    const check = user.verifyInterval(onChain);
    userSamples.push(performance.now() - t1);
    if (!check.verified) throw new Error(`bench: user check failed: ${check.disputes.join("; ")}`);
  }
  userSamples.sort((a, b) => a - b);
  ctx.record("user.verify_interval_ms", userSamples[1], "ms");
}
