// Control-center agent: the ControlCenter state machine plus persistence and chain access (through
// the injected ControlCenterChainClient, cc/chain-client.ts).
//
// Crash safety (issue "Oksuz end to end": a restart mid-interval loses nothing and double-posts
// nothing; issue 16: acknowledged ⇒ durable, whatever the store does):
//   - a report is marked admitted (and so listed in `receipts`) only after its append to the store
//     (WAL, synchronous=FULL) returned. If the append fails (another connection holds the lock past
//     the busy timeout, disk full, I/O error), CC keeps no trace of the report and refuses it with
//     reason `not-stored` and a resend request: the meter's resend is admitted normally;
//   - K_i of each meter is kept sealed in the SecretStore (AES-256-GCM);
//   - exclusions are persisted (`cc/excluded`), so a restart does not readmit an excluded meter;
//   - final-hop onion packets go through an `OnionExit` with its own replay cache (`onPacket`), so
//     a replayed packet reaches admission once; the cache is memory only: a packet replayed across
//     a CC restart is checked again, and a fault it carries is then counted once more at most
//     (faults count once per message and per CC lifetime);
//   - on start, meters, open intervals and admitted reports are rebuilt from the store (reports are
//     re-admitted, so they are re-verified);
//   - posting resumes from the chain's own progress: the ledger stores the last posted pseudonym of
//     the interval, and entries are posted sorted by pseudonym, so everything at or below it is
//     already on-chain. The chain is the source of truth; no local "posted" flag can drift from it.
//     With `posting` (issue 14 "Posting at chain speed", cc/posting.ts) batches are sized from the
//     block gas limit and up to `window` are in flight with explicit nonces; each names its
//     predecessor pseudonym (`postOcdAfter`), so a batch whose predecessor failed reverts instead
//     of leaving a gap, and after any failure CC waits for its transactions in flight, reads the
//     chain again and posts what follows its last pseudonym.
import type { ControlCenterKeys } from "../crypto/keys.ts";
import { INTERVAL_STATE } from "../protocol/billing.ts";
import type { ControlCenterChainClient } from "./chain-client.ts";
import { OnionExit, type ExitReceipt } from "../onion/relay.ts";
import { DEFAULT_MAX_TAGS_PER_EPOCH } from "../onion/replay.ts";
import { DEFAULT_REPORT_SLOTS } from "../protocol/splitting.ts";
import type { LedgerEntry } from "../protocol/entry.ts";
import type { SecretStore } from "../runtime/secret-box.ts";
import type { Store } from "../runtime/store.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import {
  ControlCenter,
  type Admission,
  type IntervalWindow,
  type ZeroSlots,
} from "./control-center.ts";
import { AdmissionPool, BatchAdmission } from "./admission-pool.ts";
import {
  compareIds,
  planFixedBatches,
  planOcdBatches,
  postOcdPipeline,
  PostingConfigError,
  type OcdBatchLimits,
  type PlannedOcdBatch,
} from "./posting.ts";

/**
 * Posting at chain speed (issue 14; cc/posting.ts, docs/SCALE.md): batches sized from the chain's
 * block gas limit, several in flight. The batch limits as in {@link OcdBatchLimits}.
 */
export interface OcdPostingOptions extends Omit<OcdBatchLimits, "blockGasLimit"> {
  /** OCD transactions in flight (sent, receipt not yet seen), default 1. */
  readonly window?: number;
  /**
   * Before reading where posting resumes: how long to wait for CC's transactions still pending
   * (a CC killed with batches in flight; `ControlCenterChainClient.settle`), default 60,000 ms.
   */
  readonly settleMs?: number;
  /** Failed rounds in a row that moved the chain's last pseudonym nowhere before giving up, default 3. */
  readonly maxStalls?: number;
}

export interface ControlCenterAgentInit {
  readonly keys: ControlCenterKeys;
  readonly domain: Uint8Array;
  readonly maxMessagesPerMeter?: number;
  readonly maxFailures?: number;
  /**
   * OCD entries per transaction, default 100 (with at most 10 × as many zero slots). Ignored with
   * `posting`, which sizes batches from the block gas limit.
   */
  readonly batchSize?: number;
  /**
   * Posting at chain speed (issue 14): undefined (default) posts `batchSize` entries per
   * transaction one at a time, as before; set, see {@link OcdPostingOptions}.
   */
  readonly posting?: OcdPostingOptions;
  /** Onion epoch CC's exit starts in (default 0); see {@link ControlCenterAgent.rotateEpoch}. */
  readonly epoch?: number;
  /**
   * Cap on the exit's replay cache per epoch. Default: {@link exitReplayCap} of the registered
   * meters (at least 65,536 tags), raised at start, on registration and at each epoch rotation; a
   * given value is kept for every epoch.
   */
  readonly maxTagsPerEpoch?: number;
  /**
   * Threads checking signatures in {@link ControlCenterAgent.onReports} (issue 14,
   * admission-pool.ts): 1 (default) checks inline, today's path; n ≥ 2 starts n worker threads.
   */
  readonly admissionWorkers?: number;
}

export interface ControlCenterAgentComponents {
  readonly store: Store;
  readonly secrets: SecretStore;
  /** The billing ledger as CC's signer (CC_ROLE) sees it (implemented in chain/oksuz-clients.ts). */
  readonly chain: ControlCenterChainClient;
  readonly logger?: Logger;
}

const NS_METER_PK = "cc/meter-pk";
const NS_METER_K = "cc/meter-k";
/** `B_i` per meter (public: the signing base key of DESIGN §4.2). */
const NS_METER_B = "cc/meter-b";
const NS_INTERVAL = "cc/interval";
const NS_EXCLUDED = "cc/excluded";
const reportsLog = (interval: number) => `cc/reports/${interval}`;

/** Onions CC's exit may see per report slot in an epoch: the first copy and resends (issue 14). */
export const EXIT_TAGS_PER_SLOT = 4;

/**
 * The exit's replay cap for an epoch of `meters` meters with `slots` reports each: room for
 * {@link EXIT_TAGS_PER_SLOT} onions per slot, at least the relay default (65,536) and at most
 * 2^24. The cache grows as tags arrive (onion/replay.ts), so a high cap costs memory only when
 * used (16 B per tag at load ≤ ½: 800,000 reports ≈ 32 MiB). Before issue 14 the exit kept the
 * default 65,536 for any city, and from 8,192 meters × 8 slots on it refused the rest of an
 * interval's reports as "overload" (10,000 meters: 65,536 of 80,000 admitted).
 */
export function exitReplayCap(meters: number, slots: number): number {
  return Math.min(
    2 ** 24,
    Math.max(DEFAULT_MAX_TAGS_PER_EPOCH, EXIT_TAGS_PER_SLOT * meters * slots),
  );
}

interface StoredInterval {
  start: string;
  end: string;
  categories: string[];
}

/**
 * A batch's store transaction failed to commit after its reports were admitted in memory
 * (ControlCenterAgent's group commit): nothing of the batch was acknowledged, and the agent's
 * state is ahead of its store. Drop the agent and restart it from the store.
 */
export class AdmissionCommitError extends Error {
  override name = "AdmissionCommitError";
}

export class ControlCenterAgent {
  readonly center: ControlCenter;
  readonly #init: ControlCenterAgentInit;
  readonly #components: ControlCenterAgentComponents;
  readonly #logger: Logger;
  readonly #exit: OnionExit;
  /** Exclusions not yet written (the store failed): retried at every report. */
  readonly #unsavedExclusions = new Set<number>();
  #batchesPosted = 0;
  #crashAtBatch?: number;
  readonly #pool?: AdmissionPool;
  readonly #batches: BatchAdmission;

  private constructor(init: ControlCenterAgentInit, components: ControlCenterAgentComponents) {
    this.#init = init;
    this.#components = components;
    this.#logger = components.logger ?? silentLogger;
    this.center = new ControlCenter({
      keys: init.keys,
      domain: init.domain,
      maxMessagesPerMeter: init.maxMessagesPerMeter,
      maxFailures: init.maxFailures,
    });
    this.#exit = new OnionExit({
      privateKey: init.keys.secretKey,
      domain: init.domain,
      epoch: init.epoch ?? 0,
      maxTagsPerEpoch: init.maxTagsPerEpoch,
    });
    const workers = init.admissionWorkers ?? 1;
    if (workers !== 1) this.#pool = AdmissionPool.start({ domain: init.domain, workers });
    this.#batches = new BatchAdmission(
      this.center,
      this.#pool,
      (report, verdict) => this.#admitReport(report, verdict),
      (err) =>
        this.#logger.warn("admission pool failed, checking inline", {
          error: err instanceof Error ? err.message : String(err),
        }),
      (admitAll) => this.#groupCommit(admitAll),
    );
  }

  /**
   * Group commit (issue 14: one SQLite transaction and one fsync per batch instead of per report):
   * runs a batch's admissions inside one store transaction and returns them once it committed, so
   * every acknowledgement still follows durability. If the transaction cannot begin (another
   * connection holds the lock past the busy timeout), nothing was admitted yet: the batch is
   * admitted report by report, each refused `not-stored` if its own write fails. If the COMMIT
   * fails after the admissions ran, the in-memory admissions are ahead of the store: throws
   * {@link AdmissionCommitError}; the agent must be dropped and restarted from its store (as after
   * a crash), which acknowledges exactly what is durable.
   */
  #groupCommit(admitAll: () => Admission[]): Admission[] {
    const { store } = this.#components;
    let ran = false;
    let admitted: Admission[] | undefined;
    try {
      return store.transaction(() => {
        ran = true;
        admitted = admitAll();
        return admitted;
      });
    } catch (err) {
      if (!ran) return admitAll();
      if (admitted === undefined) throw err;
      throw new AdmissionCommitError(
        `ControlCenterAgent: a batch of ${admitted.length} admissions did not commit (${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}); restart from the store`,
        { cause: err },
      );
    }
  }

  /** Starts the agent, rebuilding its state from the store (empty store: a fresh CC). */
  static start(init: ControlCenterAgentInit, components: ControlCenterAgentComponents) {
    const agent = new ControlCenterAgent(init, components);
    agent.#restore();
    agent.#followCity();
    return agent;
  }

  /**
   * Without an explicit `maxTagsPerEpoch`, raises the exit's replay cap to
   * {@link exitReplayCap} of the meters registered now, for the current epoch too (not only from
   * the next rotation): a CC restored, or started at a later `epoch`, with a city registered must
   * not refuse reports past the 65,536-tag default as "overload" in the epoch it is in.
   */
  #followCity(): void {
    if (this.#init.maxTagsPerEpoch !== undefined) return;
    this.#exit.raiseReplayCap(
      exitReplayCap(this.center.meterCount, this.#init.maxMessagesPerMeter ?? DEFAULT_REPORT_SLOTS),
    );
  }

  #restore(): void {
    const { store, secrets } = this.#components;
    let meters = 0;
    for (const { key, value } of store.list(NS_METER_PK)) {
      const ggmKey = secrets.get(NS_METER_K, key);
      if (ggmKey === undefined) throw new Error(`ControlCenterAgent: K of meter ${key} missing`);
      const base = store.get(NS_METER_B, key);
      if (base === undefined) throw new Error(`ControlCenterAgent: B of meter ${key} missing`);
      this.center.restoreMeter(Number(key), value, ggmKey, base);
      ggmKey.fill(0);
      meters++;
    }
    let reports = 0;
    for (const { key, value } of store.list(NS_INTERVAL)) {
      const interval = Number(key);
      const stored = JSON.parse(new TextDecoder().decode(value)) as StoredInterval;
      this.center.openInterval(
        interval,
        { start: BigInt(stored.start), end: BigInt(stored.end) },
        stored.categories.map(BigInt),
      );
      for (const entry of store.readLog(reportsLog(interval))) {
        const a = this.center.admit(entry.value);
        if (!a.accepted) {
          throw new Error(`ControlCenterAgent: stored report rejected on restore (${a.reason})`);
        }
        reports++;
      }
    }
    // After the reports: those admitted before the meter was excluded stay admitted.
    for (const { key } of store.list(NS_EXCLUDED)) this.center.exclude(Number(key));
    if (meters > 0) {
      this.#logger.info("restored", {
        meters,
        reports,
        excluded: this.center.excludedMeters().length,
      });
    }
  }

  /**
   * Registers meters with CC (their sealed K_i) and in the on-chain directory. The batch is stored
   * in one store transaction (all or none: 100,000 meters took 100,000 commits), then appended
   * on-chain. `progress(task, done, total)` reports "registrations stored" (every 1,000 and at the
   * end) and "meters registered on-chain" (per mined transaction), if given. Throws what
   * `ControlCenter.registerMeter` throws: on a bad registration nothing of the batch is stored,
   * and the agent (whose memory may hold the batch's earlier meters) must be restarted from its
   * store, as the CC service does when its run fails.
   */
  async registerMeters(
    registrations: readonly {
      index: number;
      publicKey: Uint8Array;
      encryptedGgmKey: Uint8Array;
      basePublicKey: Uint8Array;
    }[],
    progress?: (task: string, done: number, total: number) => void,
  ): Promise<void> {
    const { store, secrets, chain } = this.#components;
    const onChain = await chain.meterCount();
    const total = registrations.length;
    store.transaction(() => {
      for (const [k, r] of registrations.entries()) {
        const ggmKey = this.center.registerMeter(
          r.index,
          r.publicKey,
          r.encryptedGgmKey,
          r.basePublicKey,
        );
        secrets.put(NS_METER_K, String(r.index), ggmKey);
        store.put(NS_METER_B, String(r.index), r.basePublicKey);
        store.put(NS_METER_PK, String(r.index), r.publicKey);
        ggmKey.fill(0);
        if ((k + 1) % 1_000 === 0 || k + 1 === total) {
          progress?.("registrations stored", k + 1, total);
        }
      }
    });
    this.#followCity();
    // The on-chain directory (the onion directory) lists meters by index, in registration order.
    const fresh = registrations.filter((r) => r.index >= onChain);
    if (fresh.length > 0) {
      await chain.registerMeters(
        fresh.map((r) => r.publicKey),
        progress && ((done) => progress("meters registered on-chain", done, fresh.length)),
      );
    }
  }

  /** Opens interval `interval` on-chain (if not yet) and for admission. */
  async openInterval(
    interval: number,
    window: IntervalWindow,
    categories: readonly bigint[],
  ): Promise<void> {
    const { store, chain } = this.#components;
    const { state } = await chain.intervalProgress(interval);
    if (state === INTERVAL_STATE.None) await chain.openInterval(interval, window.start, window.end);
    const stored: StoredInterval = {
      start: window.start.toString(),
      end: window.end.toString(),
      categories: categories.map(String),
    };
    store.put(NS_INTERVAL, String(interval), new TextEncoder().encode(JSON.stringify(stored)));
    // Idempotent: after a restart the interval is already open from the store.
    if (!this.center.hasInterval(interval)) this.center.openInterval(interval, window, categories);
  }

  /**
   * Admits one report. Acknowledged ⇒ durable: an accepted admission means the report is in the
   * store; if the store refuses the write (StoreBusyError, StoreFullError, StoreIoError…) the
   * report is refused with reason `not-stored` and a resend request, and nothing of it is kept.
   */
  onReport(report: Uint8Array): Admission {
    return this.#admitReport(report, undefined);
  }

  #admitReport(report: Uint8Array, signatureVerdict: boolean | undefined): Admission {
    const { store } = this.#components;
    const admission = this.center.admit(report, {
      signatureVerdict,
      persist: (entry, bytes) => store.append(reportsLog(entry.interval), bytes),
      onPersistError: (err) =>
        this.#logger.warn("report not stored", {
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        }),
    });
    if (!admission.accepted && admission.excluded && admission.meter !== undefined) {
      this.#unsavedExclusions.add(admission.meter);
    }
    this.#saveExclusions();
    return admission;
  }

  /**
   * Takes one final-hop onion packet: peels it (replays, bad HMACs and junk are dropped and
   * counted by the exit, never reach admission) and admits the report it carries.
   */
  onPacket(packet: Uint8Array): { readonly onion: ExitReceipt; readonly admission?: Admission } {
    const onion = this.#exit.receive(packet);
    if (!onion.accepted) return { onion };
    return { onion, admission: this.onReport(onion.message) };
  }

  /** CC's exit's onion epoch (= the last interval opened; DESIGN §4.6). */
  get epoch(): number {
    return this.#exit.epoch;
  }

  /**
   * Admits a batch of reports; resolves to their admissions in order. The signatures are checked
   * on the admission pool (`admissionWorkers`), then each report goes through {@link onReport}'s
   * path in the batch's order, batches in the order of the calls: the same admissions, durable
   * appends and acknowledgements as calling `onReport` on each (admission-pool.ts). If the pool
   * fails, the batch is checked inline.
   */
  onReports(reports: readonly Uint8Array[]): Promise<Admission[]> {
    return this.#batches.submit(reports);
  }

  /**
   * {@link onPacket} for a batch: peels every packet in order (the exit's replay cache), then
   * admits the delivered reports with {@link onReports}.
   */
  async onPackets(
    packets: readonly Uint8Array[],
  ): Promise<{ readonly onion: ExitReceipt; readonly admission?: Admission }[]> {
    const onions = packets.map((p) => this.#exit.receive(p));
    const delivered = onions.flatMap((o) => (o.accepted ? [o.message] : []));
    const admissions = await this.onReports(delivered);
    let n = 0;
    return onions.map((onion) =>
      onion.accepted ? { onion, admission: admissions[n++] } : { onion },
    );
  }

  /** Ends the admission pool's threads (none with `admissionWorkers` 1). Idempotent. */
  async close(): Promise<void> {
    await this.#pool?.close();
  }

  /**
   * Moves CC's exit to a later onion epoch (with the relays; DESIGN §4.6). Without an explicit
   * `maxTagsPerEpoch`, the new epoch's replay cap follows the city: {@link exitReplayCap} of the
   * meters registered now.
   */
  rotateEpoch(epoch: number): void {
    const cap =
      this.#init.maxTagsPerEpoch === undefined
        ? exitReplayCap(
            this.center.meterCount,
            this.#init.maxMessagesPerMeter ?? DEFAULT_REPORT_SLOTS,
          )
        : undefined;
    this.#exit.rotateEpoch(epoch, cap);
  }

  /** The exit's replay cap for the current epoch (tags). */
  get exitMaxTagsPerEpoch(): number {
    return this.#exit.maxTagsPerEpoch;
  }

  /** The exit's counters: packets received, delivered, dropped by reason. */
  exitCounters(): ReturnType<OnionExit["counters"]> {
    return this.#exit.counters();
  }

  /** Lets an excluded meter report again (operator decision), also after a restart. */
  readmit(meter: number): void {
    this.#components.store.delete(NS_EXCLUDED, String(meter));
    this.#unsavedExclusions.delete(meter);
    this.center.readmit(meter);
  }

  #saveExclusions(): void {
    for (const meter of this.#unsavedExclusions) {
      try {
        this.#components.store.put(NS_EXCLUDED, String(meter), new Uint8Array(0));
        this.#unsavedExclusions.delete(meter);
      } catch (err) {
        this.#logger.warn("exclusion not stored yet", {
          meter,
          error: err instanceof Error ? err.message : String(err),
        });
        return;
      }
    }
  }

  /**
   * Crash injection for tests and the demo's `--crash`: the next `postAndSeal` throws
   * {@link ControlCenterCrash} after `batches` more OCD transactions, leaving store and chain as a
   * killed process would.
   */
  crashAfterBatches(batches: number): void {
    this.#crashAtBatch = this.#batchesPosted + batches;
  }

  /**
   * `meter`'s receipt for `interval`: its admitted counters, ascending (empty when none), in O(K)
   * from the interval table (`ControlCenter.admittedCounters`). The service answers each admission
   * with it; {@link receipts} rebuilds every meter's at once (O(admitted), for tests and audits).
   */
  receiptOf(interval: number, meter: number): number[] {
    return this.center.admittedCounters(interval, meter);
  }

  /**
   * Counters admitted per meter (CC's receipts to meters over its direct channel), from the
   * interval's slot flags (`ControlCenter.receipts`): also after the seal released the interval's
   * tables.
   */
  receipts(interval: number): Map<number, Set<number>> {
    return this.center.receipts(interval);
  }

  /**
   * Posts the interval's K × (registered meters) slots — admitted real entries, and zero slots
   * (admitted dummies, absence markers; DESIGN §7) — merged in pseudonym order, resuming after
   * what the chain already holds, then seals. Returns the real entries and the zero slots.
   * With `posting` the batches are sized from the block gas limit and sent up to `window` at a
   * time (cc/posting.ts); a failed round is followed by a fresh read of the chain and a new plan,
   * until `maxStalls` rounds in a row moved nothing (then the last failure is thrown, an
   * `OcdPipelineError` whose cause is the chain's typed error). Throws {@link ControlCenterCrash}
   * at the injected crash point, and `PostingConfigError` for posting options out of range.
   * `progress(done, total)`, if given, counts the slots of this call's batches as each is sent
   * (fixed batches: once mined), of the slots the chain did not hold yet (issue 14: a city's OCD
   * posting is minutes of transactions). Once sealed, the interval's tables are released
   * (`ControlCenter.releaseInterval`); a later call returns no entries, only the zero slots.
   */
  async postAndSeal(
    interval: number,
    progress?: (done: number, total: number) => void,
  ): Promise<{ posted: number; entries: LedgerEntry[]; zeroSlots: ZeroSlots }> {
    const { chain } = this.#components;
    // Sealed and released by an earlier call: nothing to post; CC no longer holds the entries.
    if (this.center.isReleased(interval)) {
      return { posted: 0, entries: [], zeroSlots: this.center.zeroSlots(interval) };
    }
    const entries = this.center.closeInterval(interval);
    const zeroSlots = this.center.zeroSlots(interval);
    const posting = this.#init.posting;
    if (posting?.settleMs !== undefined && !(posting.settleMs >= 0)) {
      throw new PostingConfigError("settleMs must be ≥ 0");
    }
    // Transactions a killed CC left in flight land before we read where to resume.
    if (posting && chain.settle) await chain.settle(posting.settleMs ?? 60_000);
    let chainAt = await chain.intervalProgress(interval);
    if (chainAt.state !== INTERVAL_STATE.Open) return { posted: 0, entries, zeroSlots };
    const firstLastId = chainAt.lastId;
    const blockGasLimit = posting && chain.blockGasLimit ? await chain.blockGasLimit() : undefined;
    const plan = (after: Uint8Array): PlannedOcdBatch[] => {
      const pending = entries.filter((e) => compareIds(e.id, after) > 0);
      // A range of the packed list (no view per zero slot; issue 14, session 10).
      const pendingZero = zeroSlots.ids.slice(zeroSlots.ids.indexAfter(after));
      return posting && blockGasLimit !== undefined
        ? planOcdBatches(pending, pendingZero, { ...posting, blockGasLimit })
        : planFixedBatches(pending, pendingZero, this.#init.batchSize ?? 100);
    };
    const slotsOf = (b: PlannedOcdBatch) => b.entries.length + b.zeroIds.count;
    // The plan's slots are exactly the pending ones (it partitions them): counted, not planned
    // once more (issue 14: a whole second plan of a city's 800,000 slots, for its total).
    let total = 0;
    for (const e of entries) if (compareIds(e.id, firstLastId) > 0) total++;
    total += zeroSlots.ids.count - zeroSlots.ids.indexAfter(firstLastId);
    let sent = 0;
    const count = (b: PlannedOcdBatch): void => {
      sent += slotsOf(b);
      progress?.(Math.min(sent, total), total);
    };
    const window = posting?.window ?? 1;
    if (posting && chain.ocdSender) {
      // Pipelined: rounds of plan → send with explicit nonces → confirm, the chain read between.
      const maxStalls = posting.maxStalls ?? 3;
      let stalls = 0;
      for (;;) {
        const batches = plan(chainAt.lastId);
        if (batches.length === 0) break;
        const sender = await chain.ocdSender();
        try {
          await postOcdPipeline(interval, chainAt.lastId, batches, sender, window, (k) => {
            this.#crashPoint();
            this.#batchesPosted++;
            count(batches[k]);
          });
        } catch (err) {
          if (err instanceof ControlCenterCrash) throw err;
          if (chain.settle) await chain.settle(posting.settleMs ?? 60_000);
          const after = await chain.intervalProgress(interval);
          const moved = compareIds(after.lastId, chainAt.lastId) !== 0;
          stalls = moved ? 0 : stalls + 1;
          this.#logger.warn("OCD posting round failed; reading the chain again", {
            interval,
            moved,
            stalls,
            error: err instanceof Error ? err.message : String(err),
          });
          if (stalls >= maxStalls || after.state !== INTERVAL_STATE.Open) throw err;
          chainAt = after;
          continue;
        }
        chainAt = await chain.intervalProgress(interval);
      }
    } else {
      for (const b of plan(chainAt.lastId)) {
        this.#crashPoint();
        await chain.postOcdBatch(interval, b.entries, b.zeroIds);
        this.#batchesPosted++;
        count(b);
      }
    }
    // The crash point also lies between the last batch and the seal, so `crashAfterBatches(n)`
    // fires inside the interval whatever its number of batches (issue 11: at one batch it did not).
    if (this.#crashAtBatch !== undefined && this.#batchesPosted >= this.#crashAtBatch) {
      this.#crashAtBatch = undefined;
      throw new ControlCenterCrash(`simulated crash after ${this.#batchesPosted} batches`);
    }
    await chain.sealInterval(interval);
    const posted = entries.filter((e) => compareIds(e.id, firstLastId) > 0).length;
    // Sealed: a restart must not reopen it for admission (its reports log stays for audit).
    this.#components.store.delete(NS_INTERVAL, String(interval));
    // A quiet moment: fold the WAL into the database and truncate it (it is bounded anyway).
    this.#components.store.checkpoint();
    // Sealed on the chain and no longer in the store's open intervals: the pseudonym table and
    // the admitted reports (≈ 1.6 kB per meter) are not needed again; one flag byte per slot stays
    // for receipts and zero slots (issue 14, docs/SCALE.md).
    this.center.releaseInterval(interval);
    this.#logger.info("sealed", {
      interval,
      entries: entries.length,
      posted,
      dummies: zeroSlots.dummies,
      markers: zeroSlots.markers,
      missingMeters: zeroSlots.missingMeters,
    });
    return { posted, entries, zeroSlots };
  }

  /** Throws {@link ControlCenterCrash} once `crashAfterBatches` batches were sent. */
  #crashPoint(): void {
    if (this.#crashAtBatch !== undefined && this.#batchesPosted >= this.#crashAtBatch) {
      throw new ControlCenterCrash(`simulated crash after ${this.#batchesPosted} batches`);
    }
  }
}

/** Thrown by the crash-injection hook; the store is left as a real crash would leave it. */
export class ControlCenterCrash extends Error {
  override name = "ControlCenterCrash";
}
