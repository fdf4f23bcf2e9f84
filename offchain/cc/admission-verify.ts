// The expensive, stateless half of admission (DESIGN §4.2): does a report's signature verify under
// its meter's message key `B_i + t·G`, `t = H3(f_{K_i}(j·2^16 + k))`? A pure function of the report
// bytes, `B_i`, the interval seed `K_{i,j}` and the counter, so the control center can run it inline
// or on worker threads (admission-pool.ts) and get the same verdict, which it then applies in
// submission order on its own thread (control-center.ts).
import { expectBytes } from "../crypto/bytes.ts";
import { intervalMessageTweak } from "../crypto/ggm.ts";
import { schnorrVerifyTweaked } from "../crypto/schnorr.ts";
import { secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";
import { entryDigest, type LedgerEntry } from "../protocol/entry.ts";
import { decodeMeterReport, METER_REPORT_SIZE } from "../protocol/meter-report.ts";

/** What one signature check needs; CC builds it from its admission table. */
export interface SignatureJob {
  /** The meter report (138 bytes, protocol/meter-report.ts). */
  readonly report: Uint8Array;
  /** `B_i`, 33 bytes. */
  readonly basePublicKey: Uint8Array;
  /** `K_{i,j}`, the GGM node of the report's interval (32 bytes, crypto/ggm.ts). */
  readonly intervalSeed: Uint8Array;
  /** `k`, 1-based. */
  readonly counter: number;
}

/**
 * True iff `entry`'s signature verifies under `B_i + t·G` on its §4.4 digest under `domain`
 * (one double multiplication, `schnorrVerifyTweaked`). Never throws on a bad signature; throws
 * RangeError on a malformed seed or counter (CC's own inputs).
 */
export function entrySignatureVerifies(
  domain: Uint8Array,
  entry: LedgerEntry,
  basePublicKey: Uint8Array,
  intervalSeed: Uint8Array,
  counter: number,
  backend: Secp256k1Backend = secp,
): boolean {
  const tweak = intervalMessageTweak(intervalSeed, counter);
  const digest = entryDigest(domain, entry);
  return schnorrVerifyTweaked(basePublicKey, tweak, entry.sigPk, digest, entry.signature, backend);
}

/** {@link entrySignatureVerifies} on a job's report bytes; false for a report that does not decode. */
export function signatureJobVerifies(
  domain: Uint8Array,
  job: SignatureJob,
  backend: Secp256k1Backend = secp,
): boolean {
  let entry: LedgerEntry;
  try {
    entry = decodeMeterReport(job.report);
  } catch {
    return false;
  }
  return entrySignatureVerifies(
    domain,
    entry,
    job.basePublicKey,
    job.intervalSeed,
    job.counter,
    backend,
  );
}

/** Bytes of one packed job: report ‖ B_i ‖ K_{i,j} ‖ u16 k. */
export const PACKED_JOB_SIZE = METER_REPORT_SIZE + 33 + 32 + 2;

/** Packs jobs back to back into one buffer (transferred to a worker, not copied). */
export function packSignatureJobs(jobs: readonly SignatureJob[]): Uint8Array {
  const out = new Uint8Array(PACKED_JOB_SIZE * jobs.length);
  jobs.forEach((job, i) => {
    expectBytes(job.report, METER_REPORT_SIZE, "packSignatureJobs: report");
    expectBytes(job.basePublicKey, 33, "packSignatureJobs: basePublicKey");
    expectBytes(job.intervalSeed, 32, "packSignatureJobs: intervalSeed");
    const o = PACKED_JOB_SIZE * i;
    out.set(job.report, o);
    out.set(job.basePublicKey, o + METER_REPORT_SIZE);
    out.set(job.intervalSeed, o + METER_REPORT_SIZE + 33);
    out[o + PACKED_JOB_SIZE - 2] = job.counter >>> 8;
    out[o + PACKED_JOB_SIZE - 1] = job.counter & 0xff;
  });
  return out;
}

/** Verdicts (1 = verifies, 0 = not) of packed jobs, in order; wipes the seeds after use. */
export function verifyPackedSignatureJobs(
  domain: Uint8Array,
  packed: Uint8Array,
  backend: Secp256k1Backend = secp,
): Uint8Array {
  if (packed.length % PACKED_JOB_SIZE !== 0) {
    throw new RangeError("verifyPackedSignatureJobs: not a whole number of jobs");
  }
  const n = packed.length / PACKED_JOB_SIZE;
  const verdicts = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const o = PACKED_JOB_SIZE * i;
    const job: SignatureJob = {
      report: packed.subarray(o, o + METER_REPORT_SIZE),
      basePublicKey: packed.subarray(o + METER_REPORT_SIZE, o + METER_REPORT_SIZE + 33),
      intervalSeed: packed.subarray(o + METER_REPORT_SIZE + 33, o + METER_REPORT_SIZE + 65),
      counter: (packed[o + PACKED_JOB_SIZE - 2] << 8) | packed[o + PACKED_JOB_SIZE - 1],
    };
    verdicts[i] = signatureJobVerifies(domain, job, backend) ? 1 : 0;
    packed.fill(0, o + METER_REPORT_SIZE + 33, o + METER_REPORT_SIZE + 65);
  }
  return verdicts;
}
