// The control center's admission on every core (issue 14; DESIGN §3 "Persistence", §4.2): the
// signature checks of a batch of reports run on worker threads, everything else stays on CC's
// thread, in submission order.
//
//   1. CC's thread: `ControlCenter.signatureJob` for each report (decode, O(1) table look-up; no
//      state change) — reports admission would refuse before the signature get no job;
//   2. workers: `signatureJobVerifies` of each job (GGM steps from K_{i,j}, digest, one double
//      multiplication), in chunks spread over the pool;
//   3. CC's thread, one report after another in the batch's order: the full `admit` with the
//      verdict passed in (`AdmitOptions.signatureVerdict`): replay, exclusion, faults, the durable
//      append and the acknowledgement happen exactly as on the inline path.
// Because a verdict is a pure function of the report's bytes and of keys fixed before the batch,
// the admitted set, the refusals and the receipts are those of admitting the reports one by one in
// the same order, whatever the number of workers (property-tested in
// test/roles/cc-admission-pool.test.ts). With one worker (the default) there are no threads: the
// verdicts are computed inline, today's path.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

import { packSignatureJobs, type SignatureJob } from "./admission-verify.ts";
import type { Admission, ControlCenter } from "./control-center.ts";

export class AdmissionPoolError extends Error {
  override name = "AdmissionPoolError";
}

export interface AdmissionPoolInit {
  /** The billing ledger's §4.4 domain (32 bytes). */
  readonly domain: Uint8Array;
  /** Worker threads, ≥ 1 (default: the machine's available parallelism). */
  readonly workers?: number;
  /** Jobs per message to a worker (default 512): bounds the latency of one chunk. */
  readonly chunk?: number;
}

interface Pending {
  readonly resolve: (verdicts: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

interface PoolWorker {
  readonly thread: Worker;
  readonly pending: Map<number, Pending>;
}

/** A fixed set of worker threads verifying signature jobs (admission-worker.ts). */
export class AdmissionPool {
  readonly #workers: PoolWorker[];
  readonly #chunk: number;
  #nextId = 0;
  #closed = false;

  private constructor(workers: PoolWorker[], chunk: number) {
    this.#workers = workers;
    this.#chunk = chunk;
  }

  /**
   * Starts `init.workers` threads. Throws AdmissionPoolError on a bad count, chunk or domain.
   * Idle threads do not keep the process alive; call {@link close} to end them.
   */
  static start(init: AdmissionPoolInit): AdmissionPool {
    const count = init.workers ?? availableParallelism();
    if (!Number.isInteger(count) || count < 1 || count > 256) {
      throw new AdmissionPoolError(`AdmissionPool: workers ${count} outside [1, 256]`);
    }
    const chunk = init.chunk ?? 512;
    if (!Number.isInteger(chunk) || chunk < 1) {
      throw new AdmissionPoolError(`AdmissionPool: chunk ${chunk} is not a positive integer`);
    }
    if (!(init.domain instanceof Uint8Array) || init.domain.length !== 32) {
      throw new AdmissionPoolError("AdmissionPool: domain must be 32 bytes");
    }
    const workers: PoolWorker[] = [];
    for (let i = 0; i < count; i++) {
      const thread = new Worker(new URL("./admission-worker.ts", import.meta.url), {
        workerData: { domain: Uint8Array.from(init.domain) },
      });
      const worker: PoolWorker = { thread, pending: new Map() };
      thread.on("message", (m: { id: number; verdicts?: Uint8Array; error?: string }) => {
        const p = worker.pending.get(m.id);
        if (p === undefined) return;
        worker.pending.delete(m.id);
        if (worker.pending.size === 0) thread.unref();
        if (m.verdicts !== undefined) p.resolve(m.verdicts);
        else p.reject(new AdmissionPoolError(`AdmissionPool: worker failed: ${m.error}`));
      });
      const failAll = (error: Error) => {
        for (const p of worker.pending.values()) p.reject(error);
        worker.pending.clear();
      };
      thread.on("error", (err) =>
        failAll(new AdmissionPoolError(`AdmissionPool: worker crashed: ${err.message}`)),
      );
      thread.on("exit", (code) =>
        failAll(new AdmissionPoolError(`AdmissionPool: worker exited (code ${code})`)),
      );
      thread.unref();
      workers.push(worker);
    }
    return new AdmissionPool(workers, chunk);
  }

  /** Worker threads in the pool. */
  get size(): number {
    return this.#workers.length;
  }

  /**
   * Verdicts of `jobs` (1 = the signature verifies, 0 = not), in order. Rejects with
   * AdmissionPoolError if a worker fails or the pool is closed; nothing is decided on a
   * rejection (the caller admits nothing, or checks inline).
   */
  async verify(jobs: readonly SignatureJob[]): Promise<Uint8Array> {
    if (this.#closed) throw new AdmissionPoolError("AdmissionPool.verify: pool is closed");
    const verdicts = new Uint8Array(jobs.length);
    if (jobs.length === 0) return verdicts;
    // At least one chunk per worker when the batch allows, at most `chunk` jobs per message.
    const size = Math.max(1, Math.min(this.#chunk, Math.ceil(jobs.length / this.#workers.length)));
    const parts: Promise<void>[] = [];
    for (let from = 0; from < jobs.length; from += size) {
      const slice = jobs.slice(from, from + size);
      parts.push(
        this.#send(packSignatureJobs(slice)).then((v) => {
          if (v.length !== slice.length) {
            throw new AdmissionPoolError("AdmissionPool: a worker answered the wrong count");
          }
          verdicts.set(v, from);
        }),
      );
    }
    await Promise.all(parts);
    return verdicts;
  }

  #send(packed: Uint8Array): Promise<Uint8Array> {
    // The least busy worker (ties: the first), so a slow thread gets fewer chunks.
    let worker = this.#workers[0];
    for (const w of this.#workers) if (w.pending.size < worker.pending.size) worker = w;
    const id = this.#nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      worker.pending.set(id, { resolve, reject });
      worker.thread.ref();
      // Transferred, not copied: the seeds in it leave this thread.
      worker.thread.postMessage({ id, packed }, [packed.buffer as ArrayBuffer]);
    });
  }

  /** Ends every thread; pending verifications reject. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.thread.terminate()));
  }
}

/**
 * Admits batches of reports for one control center: {@link submit} starts the signature checks of
 * a batch at once (on the pool, or nowhere without one: then `admitOne` checks inline), and
 * applies the batch with `admitOne(report, verdict)` — one report after another, batches in the
 * order of the `submit` calls — once its verdicts are in. `admitOne` is CC's own admission (the
 * agent's adds the durable append): whatever it returns for a report is that report's outcome.
 */
export class BatchAdmission {
  readonly #center: ControlCenter;
  readonly #pool: AdmissionPool | undefined;
  readonly #admitOne: (report: Uint8Array, verdict: boolean | undefined) => Admission;
  readonly #onPoolError: (error: unknown) => void;
  readonly #commit: (admitAll: () => Admission[]) => Admission[];
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * `commit` runs a whole batch's admissions (synchronous) and returns them only once they are
   * durable: the CC agent passes its group commit (one store transaction per batch, issue 14);
   * the default runs them as they are.
   */
  constructor(
    center: ControlCenter,
    pool: AdmissionPool | undefined,
    admitOne: (report: Uint8Array, verdict: boolean | undefined) => Admission,
    onPoolError: (error: unknown) => void = () => {},
    commit: (admitAll: () => Admission[]) => Admission[] = (admitAll) => admitAll(),
  ) {
    this.#center = center;
    this.#pool = pool;
    this.#admitOne = admitOne;
    this.#onPoolError = onPoolError;
    this.#commit = commit;
  }

  /**
   * The admissions of `reports`, in order. If the pool fails, the batch is checked inline (the
   * error goes to `onPoolError`): the outcomes are the same, only slower.
   */
  submit(reports: readonly Uint8Array[]): Promise<Admission[]> {
    const verdicts = this.#verdicts(reports);
    const run = this.#tail.then(async () => {
      const v = await verdicts;
      return this.#commit(() => reports.map((r, i) => this.#admitOne(r, v[i])));
    });
    // The tail settles with nothing: `run.catch(…)` would pass the batch's admissions through
    // and keep the last batch (one entry per meter at the end of an interval) alive until the
    // next submit (issue 14: ≈ 700 B per meter held through billing).
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #verdicts(reports: readonly Uint8Array[]): Promise<(boolean | undefined)[]> {
    const verdicts: (boolean | undefined)[] = new Array(reports.length);
    if (this.#pool === undefined) return verdicts;
    const jobs: SignatureJob[] = [];
    const at: number[] = [];
    for (let i = 0; i < reports.length; i++) {
      const job = this.#center.signatureJob(reports[i]);
      if (job !== undefined) {
        jobs.push(job);
        at.push(i);
      }
    }
    try {
      const v = await this.#pool.verify(jobs);
      for (let n = 0; n < at.length; n++) verdicts[at[n]] = v[n] === 1;
    } catch (err) {
      this.#onPoolError(err);
    }
    return verdicts;
  }
}
