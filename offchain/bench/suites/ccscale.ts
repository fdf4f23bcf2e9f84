// Control center at city scale (issue 14): admission on every core (the signature checks on a
// pool of worker threads, offchain/cc/admission-pool.ts) against one core in the same run, and the
// memory each role keeps per meter (docs/SCALE.md "Memory per role").
import { availableParallelism, loadavg } from "node:os";

import { AdmissionPool, BatchAdmission } from "../../cc/admission-pool.ts";
import { packSignatureJobs, verifyPackedSignatureJobs } from "../../cc/admission-verify.ts";
import { ControlCenter } from "../../cc/control-center.ts";
import { bytesToBigInt } from "../../crypto/bytes.ts";
import { sha256 } from "../../crypto/hash.ts";
import { keyPairFromSecret, meterKeysFromSecret } from "../../crypto/keys.ts";
import { CURVE_ORDER } from "../../crypto/secp256k1.ts";
import { Meter } from "../../meter/meter.ts";
import { OnionRelay } from "../../onion/relay.ts";
import { ledgerDomain } from "../../protocol/entry.ts";
import { encodeMeterReport } from "../../protocol/meter-report.ts";
import { DEFAULT_REPORT_SLOTS } from "../../protocol/splitting.ts";
import { User } from "../../user/user.ts";
import { median, type BenchContext } from "../harness.ts";
import { bytesInUse, gcFunction } from "../heap.ts";

const CATEGORIES = [50n, 100n, 250n, 500n, 1000n];
const enc = new TextEncoder();
const scalar = (label: string) =>
  (bytesToBigInt(sha256(enc.encode(label))) % (CURVE_ORDER - 1n)) + 1n;
const ggmKeyOf = (i: number) => sha256(enc.encode(`bench/K/${i}`));

/** Reports submitted per `BatchAdmission.submit` call in the pool measurement. */
const BATCH = 256;

export async function run(ctx: BenchContext): Promise<void> {
  const domain = ledgerDomain(31337n, "0x" + "11".repeat(20));
  const cc = keyPairFromSecret(scalar("bench/cc"));
  const K = DEFAULT_REPORT_SLOTS;
  const meterCount = ctx.quick ? 150 : 1_000;
  const makeMeter = (i: number) =>
    new Meter({
      index: i,
      keys: meterKeysFromSecret(scalar(`bench/meter/${i}`), ggmKeyOf(i)),
      ccPublicKey: cc.publicKey,
      domain,
      categories: CATEGORIES,
      slots: K,
    });
  const meters = Array.from({ length: meterCount }, (_, i) => makeMeter(i));
  const reports: Uint8Array[] = [];
  for (const m of meters) {
    for (const e of m.reportInterval(0, 1_850n, 3_599n).entries) reports.push(encodeMeterReport(e));
  }
  const freshCenter = () => {
    const center = new ControlCenter({ keys: cc, domain, maxMessagesPerMeter: K });
    meters.forEach((m, i) => center.restoreMeter(i, m.publicKey, ggmKeyOf(i), m.basePublicKey));
    center.openInterval(0, { start: 0n, end: 3_600n }, CATEGORIES);
    return center;
  };

  // cc.admit_per_s_pool / cc.admit_speedup_pool: the same reports admitted by one core (inline
  // checks, `admit` one after another) and by the pool on every core (signatureJob + worker
  // verdicts + `admit` with the verdict, in batches of BATCH submitted at once), alternately, so
  // both see the same machine; the speedup is the median of the per-pair ratios.
  const workers = availableParallelism();
  const load = loadavg()[0];
  ctx.log(`  cc pool: ${workers} worker threads, load average ${load.toFixed(2)} (1 min)`);
  const pool = AdmissionPool.start({ domain, workers });
  const oneCore: number[] = [];
  const onPool: number[] = [];
  const ratios: number[] = [];
  /** CPU µs per report (all threads) and cores the run got (CPU time / wall time), per path. */
  const cpuOne: number[] = [];
  const cpuPool: number[] = [];
  const coresOne: number[] = [];
  const coresPool: number[] = [];
  /**
   * CPU µs per report: CC's thread in pool mode; the checks on CC's thread, on one worker, on
   * every worker.
   */
  const ccThread: number[] = [];
  const checksHere: number[] = [];
  const checksOne: number[] = [];
  const checksAll: number[] = [];
  const cpuMicros = (since: NodeJS.CpuUsage) => {
    const d = process.cpuUsage(since);
    return d.user + d.system;
  };
  try {
    // Warm-up: JIT on both paths, the workers' modules loaded.
    await pool.verify(reports.slice(0, 64).map((r) => freshCenter().signatureJob(r)!));
    for (let s = 0; s < (ctx.quick ? 3 : 5); s++) {
      let center = freshCenter();
      let cpu0 = process.cpuUsage();
      let t0 = process.hrtime.bigint();
      for (const r of reports) {
        if (!center.admit(r).accepted) throw new Error("bench: honest report refused inline");
      }
      let wallUs = Number(process.hrtime.bigint() - t0) / 1e3;
      let cpuUs = cpuMicros(cpu0);
      cpuOne.push(cpuUs / reports.length);
      coresOne.push(cpuUs / wallUs);
      const inline = reports.length / (wallUs / 1e6);
      center = freshCenter();
      const batches = new BatchAdmission(center, pool, (r, verdict) =>
        center.admit(r, { signatureVerdict: verdict }),
      );
      cpu0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      const runs: Promise<unknown[]>[] = [];
      for (let i = 0; i < reports.length; i += BATCH) {
        runs.push(batches.submit(reports.slice(i, i + BATCH)));
      }
      const outcomes = (await Promise.all(runs)).flat() as { accepted: boolean }[];
      wallUs = Number(process.hrtime.bigint() - t0) / 1e3;
      cpuUs = cpuMicros(cpu0);
      cpuPool.push(cpuUs / reports.length);
      coresPool.push(cpuUs / wallUs);
      const pooled = reports.length / (wallUs / 1e6);
      if (outcomes.some((a) => !a.accepted)) throw new Error("bench: honest report refused");
      if (center.stats(0).admitted !== reports.length) throw new Error("bench: admitted count");
      oneCore.push(inline);
      onPool.push(pooled);
      ratios.push(pooled / inline);
    }
    // Where the pool's CPU goes (issue 14): CC's own thread (signatureJob, packing, admit with the
    // verdict given) against the checks alone on one worker and on every worker, same jobs. If the
    // checks cost more CPU each with every worker busy than with one, the difference is the cores
    // slowing each other down (shared caches, the host's sibling threads), not the pool's code.
    const pool1 = AdmissionPool.start({ domain, workers: 1 });
    try {
      await pool1.verify(reports.slice(0, 64).map((r) => freshCenter().signatureJob(r)!));
      for (let s = 0; s < (ctx.quick ? 3 : 5); s++) {
        const center = freshCenter();
        let cpu0 = process.cpuUsage();
        const jobs = reports.map((r) => center.signatureJob(r)!);
        packSignatureJobs(jobs);
        for (const r of reports) center.admit(r, { signatureVerdict: true });
        ccThread.push(cpuMicros(cpu0) / reports.length);
        // The same checks on CC's own thread: a worker's extra cost per check is the difference.
        cpu0 = process.cpuUsage();
        verifyPackedSignatureJobs(domain, packSignatureJobs(jobs));
        checksHere.push(cpuMicros(cpu0) / reports.length);
        cpu0 = process.cpuUsage();
        await pool1.verify(jobs);
        checksOne.push(cpuMicros(cpu0) / reports.length);
        cpu0 = process.cpuUsage();
        await pool.verify(jobs);
        checksAll.push(cpuMicros(cpu0) / reports.length);
      }
    } finally {
      await pool1.close();
    }
  } finally {
    await pool.close();
  }
  ctx.record("cc.admit_cpu_us_cc_thread", median(ccThread), "us");
  ctx.record("cc.verify_cpu_us_cc_thread", median(checksHere), "us");
  ctx.record("cc.verify_cpu_us_pool_one_worker", median(checksOne), "us");
  ctx.record("cc.verify_cpu_us_pool_all_workers", median(checksAll), "us");
  ctx.record("cc.admit_per_s_one_core", median(oneCore), "1/s");
  ctx.record("cc.admit_per_s_pool", median(onPool), "1/s");
  ctx.record("cc.admit_speedup_pool", median(ratios), "x");
  ctx.record("cc.admit_pool_workers", workers, "threads");
  // What the shared machine gave each path: CPU per report over every thread (the pool's overhead
  // is the difference) and cores in use (CPU time / wall time; 1 and `workers` when idle).
  ctx.record("cc.admit_cpu_us_one_core", median(cpuOne), "us");
  ctx.record("cc.admit_cpu_us_pool", median(cpuPool), "us");
  ctx.record("cc.admit_cores_one_core", median(coresOne), "cores");
  ctx.record("cc.admit_cores_pool", median(coresPool), "cores");
  ctx.record("cc.admit_pool_loadavg", load, "load");

  // Memory per meter (docs/SCALE.md "Memory per role"), heap and array buffers after full GCs:
  //   CC: registered, one interval open with every slot admitted (K reports per meter);
  //   meter + relay (every meter is an onion relay in the simulator), after one interval's report;
  //   user (the household's checker), as constructed.
  const gc = gcFunction();
  const before = bytesInUse(gc);
  const center = freshCenter();
  for (const r of reports) center.admit(r);
  const ccBytes = (bytesInUse(gc) - before) / meterCount;
  ctx.record("mem.cc_bytes_per_meter", ccBytes, "B");
  ctx.record("mem.cc_state_bytes_per_meter", center.stateBytes / meterCount, "B");

  const n = ctx.quick ? 200 : 2_000;
  const base = bytesInUse(gc);
  const nodes: { meter: Meter; relay: OnionRelay }[] = [];
  for (let i = 0; i < n; i++) {
    const keys = meterKeysFromSecret(scalar(`bench/mem/${i}`), ggmKeyOf(i));
    const meter = new Meter({
      index: i,
      keys,
      ccPublicKey: cc.publicKey,
      domain,
      categories: CATEGORIES,
      slots: K,
    });
    meter.reportInterval(0, 1_850n, 3_599n);
    nodes.push({ meter, relay: new OnionRelay({ privateKey: keys.secretKey, domain, epoch: 0 }) });
  }
  ctx.record("mem.meter_relay_bytes_per_meter", (bytesInUse(gc) - base) / n, "B");

  const base2 = bytesInUse(gc);
  const users: User[] = [];
  for (let i = 0; i < n; i++) {
    users.push(
      new User({
        meterIndex: i,
        domain,
        meterBasePublicKey: cc.publicKey,
        spSigPk: cc.publicKey,
      }),
    );
  }
  ctx.record("mem.user_bytes_per_meter", (bytesInUse(gc) - base2) / n, "B");
  // Keep the measured objects alive until after the measurement.
  if (nodes.length + users.length + center.meterCount === 0) throw new Error("unreachable");
}
