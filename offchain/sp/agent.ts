// Service-provider agent (issue 11 "One agent per role"; Oksuz 2020 §5 "Data aggregation and
// dynamic pricing", "Bill calculation", §6): the pure `ServiceProvider` driven by the chain. It
// watches the ledger (injected ServiceProviderChainClient, polled on the injected clock) for the
// next sealed interval, checks every OCD signature, prices the interval by its tariff version and
// bills every entry, then:
//   - relayed mode (§5): sends the signed DAP entries and bill batches to CC over the wire (CC
//     posts them) and sends again, every `resendMs`, whatever the chain does not hold yet;
//   - direct mode (§6): posts them itself, resuming after what the chain holds.
// The chain is the source of truth for what is posted, so a restarted SP resumes where it was.
import { sleep, type Clock } from "../runtime/clock.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import type { ProgressSink } from "../runtime/progress.ts";
import type { Transport } from "../runtime/network.ts";
import { INTERVAL_STATE } from "../protocol/billing.ts";
import type { IntervalReport } from "../protocol/ledger-audit.ts";
import { encodeWire } from "../protocol/wire/index.ts";
import type { LedgerEntry } from "../protocol/entry.ts";
import type { IntervalCounts, ServiceProviderChainClient } from "./chain-client.ts";
import type { BillableEntry, ServiceProvider } from "./service-provider.ts";

export interface ServiceProviderAgentInit {
  /** Intervals to bill: `firstInterval … firstInterval + intervals − 1`. */
  readonly intervals: number;
  /** Default 1 (1-based interval numbers). */
  readonly firstInterval?: number;
  readonly mode: "relayed" | "direct";
  /** Direct mode: every user's `pk` (DAP entry per user, DESIGN §4.5). */
  readonly userPublicKeys?: readonly Uint8Array[];
  /** Chain polling period on the clock (ms), default 1000. */
  readonly pollMs?: number;
  /** Relayed mode: resend period of what CC has not posted yet (ms), default 5000. */
  readonly resendMs?: number;
  /** CC's address, default "cc". */
  readonly ccAddress?: string;
  /** DAP entries per transaction (direct mode), default 100. */
  readonly dapBatchSize?: number;
}

export interface ServiceProviderAgentComponents {
  readonly sp: ServiceProvider;
  readonly chain: ServiceProviderChainClient;
  readonly clock: Clock;
  /** Relayed mode only. */
  readonly transport?: Transport;
  readonly logger?: Logger;
  /** Counted progress: "OCD signatures checked by SP" when a sealed interval is read. */
  readonly progress?: ProgressSink;
}

export interface ServiceProviderAgentStatus {
  /** The last interval final on-chain (0 before the first). */
  readonly billedThrough: number;
  /** The interval being billed, if any. */
  readonly billing?: number;
  readonly phase: "idle" | "waiting" | "billing" | "done" | "stopped" | "failed";
}

/** SP refuses to bill a ledger whose OCD entries do not verify (Oksuz §5: SP checks the OCD). */
export class ServiceProviderAgentError extends Error {
  override name = "ServiceProviderAgentError";
}

class Stopped extends Error {}

export class ServiceProviderAgent {
  readonly #init: ServiceProviderAgentInit;
  readonly #c: ServiceProviderAgentComponents;
  readonly #logger: Logger;
  #running = false;
  #billedThrough = 0;
  #billing?: number;
  #phase: ServiceProviderAgentStatus["phase"] = "idle";
  #done?: Promise<void>;
  /** The price SP computed per interval (what the simulator reconciles). */
  readonly prices = new Map<number, bigint>();
  /** Direct mode: its own posts the chain refused (e.g. a price off the tariff), in order. */
  readonly refusedPosts: { readonly interval: number; readonly error: string }[] = [];

  constructor(init: ServiceProviderAgentInit, components: ServiceProviderAgentComponents) {
    if (!Number.isInteger(init.intervals) || init.intervals < 1) {
      throw new ServiceProviderAgentError("ServiceProviderAgent: intervals must be ≥ 1");
    }
    if (init.mode === "relayed" && !components.transport) {
      throw new ServiceProviderAgentError("ServiceProviderAgent: relayed mode needs a transport");
    }
    if (init.mode === "direct" && !init.userPublicKeys) {
      throw new ServiceProviderAgentError("ServiceProviderAgent: direct mode needs userPublicKeys");
    }
    this.#init = init;
    this.#c = components;
    this.#logger = components.logger ?? silentLogger;
  }

  /** Resolves when the last interval is final; rejects when billing failed. */
  get done(): Promise<void> {
    if (!this.#done) throw new ServiceProviderAgentError("ServiceProviderAgent: not started");
    return this.#done;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#c.transport?.start();
    this.#done = this.#run().catch((err) => {
      if (err instanceof Stopped) return;
      this.#phase = "failed";
      throw err;
    });
    this.#done.catch(() => {});
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#c.transport?.stop();
    if (this.#phase !== "done") this.#phase = "stopped";
  }

  status(): ServiceProviderAgentStatus {
    return { billedThrough: this.#billedThrough, billing: this.#billing, phase: this.#phase };
  }

  async #run(): Promise<void> {
    const first = this.#init.firstInterval ?? 1;
    for (let j = first; j < first + this.#init.intervals; j++) {
      this.#billing = j;
      this.#phase = "waiting";
      const counts = await this.#poll(j, (c) => c.state >= INTERVAL_STATE.OcdSealed);
      let report: IntervalReport | undefined;
      if (counts.state !== INTERVAL_STATE.Final) {
        this.#phase = "billing";
        report = await this.#bill(j);
      }
      // Read once billing is over, when the sealed interval `#bill` held is garbage: never two
      // decoded copies of the interval at once (issue 14).
      report ??= await this.#c.chain.readInterval(j);
      this.#billedThrough = j;
      this.#logger.info("interval billed", { interval: j, price: String(report.price ?? 0n) });
    }
    this.#billing = undefined;
    this.#phase = "done";
  }

  /**
   * Reads interval `j`'s state every `pollMs` until `ready`: one storage read per poll when the
   * client has `intervalCounts`, else the whole interval.
   */
  async #poll(j: number, ready: (c: IntervalCounts) => boolean): Promise<IntervalCounts> {
    const { chain } = this.#c;
    for (;;) {
      if (!this.#running) throw new Stopped();
      const counts = chain.intervalCounts
        ? await chain.intervalCounts(j)
        : countsOf(await chain.readInterval(j));
      if (ready(counts)) return counts;
      await sleep(this.#c.clock, this.#init.pollMs ?? 1_000);
    }
  }

  /**
   * The sealed interval `j`, read and checked (every OCD signature), reduced to what billing
   * needs: the rest of the report (zero slots, the ledger's other records) is not kept while SP
   * bills (issue 14: each copy of a 100,000-meter interval is hundreds of MB).
   */
  async #readSealed(j: number): Promise<{
    readonly ocd: BillableOcd;
    readonly end: bigint;
    readonly tariffVersion: number;
    readonly counts: IntervalCounts;
  }> {
    const sealed = await this.#c.chain.readInterval(j);
    const step = this.#c.progress;
    const bad = this.#c.sp.checkOcd(
      sealed.ocd,
      step && ((done, total) => step({ task: "OCD signatures checked by SP", done, total })),
    );
    if (bad.length > 0) {
      throw new ServiceProviderAgentError(
        `ServiceProviderAgent: ${bad.length} OCD entries of interval ${j} do not verify (first at ${bad[0]})`,
      );
    }
    if (sealed.window === undefined || sealed.tariffVersion === undefined) {
      throw new ServiceProviderAgentError(`ServiceProviderAgent: interval ${j} has no opening`);
    }
    return {
      ocd: BillableOcd.of(sealed.ocd),
      end: sealed.window.end,
      tariffVersion: sealed.tariffVersion,
      counts: countsOf(sealed),
    };
  }

  /**
   * Prices and bills sealed interval `j`; resolves once it is final, with the final interval if
   * it was read on the way (else undefined: the caller reads it, after this frame's copy of the
   * sealed interval is gone).
   */
  async #bill(j: number): Promise<IntervalReport | undefined> {
    const { sp, chain } = this.#c;
    const sealed = await this.#readSealed(j);
    const schedule = await chain.readTariff(sealed.tariffVersion);
    // DESIGN §4.4: DAP and bill timestamps are the interval's last second, like the OCD's.
    const timestamp = sealed.end - 1n;
    const direct = this.#init.mode === "direct";
    // Priced and billed afresh at every attempt: what the chain refused is never sent again as is.
    const priceAndBill = () => {
      const ocd = sealed.ocd.entries();
      const price = sp.price(schedule, sp.aggregate(ocd));
      this.prices.set(j, price);
      const users = direct ? this.#init.userPublicKeys : undefined;
      return {
        dap: sp.dapEntries(j, price, timestamp, users),
        batches: sp.billBatches(j, ocd, price, timestamp),
      };
    };
    if (direct) {
      const size = this.#init.dapBatchSize ?? 100;
      let counts = sealed.counts;
      for (let attempt = 1; ; attempt++) {
        const { dap, batches } = priceAndBill();
        try {
          for (let i = counts.dapCount; i < dap.length; i += size) {
            await chain.postDap(j, dap.slice(i, i + size));
          }
          for (const batch of batches) {
            if (batch.firstIndex + batch.bills.length <= counts.billCount) continue;
            await chain.postBills(batch);
          }
          await chain.closeBilling(j);
          return undefined;
        } catch (err) {
          this.refusedPosts.push({ interval: j, error: describe(err) });
          this.#logger.warn("post refused", { interval: j, error: describe(err) });
          if (attempt >= MAX_DIRECT_ATTEMPTS) throw err;
          await sleep(this.#c.clock, this.#init.pollMs ?? 1_000);
          const report = await chain.readInterval(j);
          if (report.state === INTERVAL_STATE.Final) return report;
          counts = countsOf(report);
        }
      }
    }
    // Relayed: CC posts; send what the chain lacks until the interval is final.
    const transport = this.#c.transport!;
    const cc = this.#init.ccAddress ?? "cc";
    let counts = sealed.counts;
    // Sent from a call of its own: the signed DAP entries and bill batches (an object per bill)
    // are garbage once on the wire, not held while SP waits for the chain (issue 14).
    const send = (counts: IntervalCounts): void => {
      const { dap, batches } = priceAndBill();
      if (counts.dapCount === 0) {
        transport.send(cc, encodeWire({ type: "dapEntries", dap: { interval: j, entries: dap } }));
      }
      for (const batch of batches) {
        if (batch.firstIndex + batch.bills.length <= counts.billCount) continue;
        transport.send(cc, encodeWire({ type: "billBatch", batch }));
      }
    };
    for (;;) {
      send(counts);
      const deadline = this.#c.clock.now() + (this.#init.resendMs ?? 5_000);
      counts = await this.#poll(
        j,
        (c) => c.state === INTERVAL_STATE.Final || this.#c.clock.now() >= deadline,
      );
      if (counts.state === INTERVAL_STATE.Final) return undefined;
    }
  }
}

/**
 * A sealed interval's OCD entries as SP keeps them while it bills, once their signatures are
 * checked (issue 14): the pseudonyms in one buffer (32 bytes each) and the values (Wh, u64,
 * DESIGN §4.4) in another, in ledger order — not the decoded entries (an object, three views,
 * a signature and its bigints each, with the chain logs' bytes behind the views: ≈ 0.5 kB per
 * entry, ≈ 1 kB per meter of a city). `entries()` gives them back for one pricing-and-billing
 * attempt, as views of the kept pseudonyms.
 */
class BillableOcd {
  readonly #ids: Uint8Array;
  readonly #values: BigUint64Array;

  private constructor(ids: Uint8Array, values: BigUint64Array) {
    this.#ids = ids;
    this.#values = values;
  }

  /** Copies `ocd`'s pseudonyms (32 bytes each, else a TypeError) and values (u64, else a RangeError). */
  static of(ocd: readonly LedgerEntry[]): BillableOcd {
    const ids = new Uint8Array(ocd.length * 32);
    const values = new BigUint64Array(ocd.length);
    ocd.forEach((e, i) => {
      if (e.id.length !== 32) throw new TypeError(`BillableOcd: entry ${i} id is not 32 bytes`);
      if (e.value < 0n || e.value >= 1n << 64n) {
        throw new RangeError(`BillableOcd: entry ${i} value is not a u64`);
      }
      ids.set(e.id, i * 32);
      values[i] = e.value;
    });
    return new BillableOcd(ids, values);
  }

  /** The entries in ledger order: views of the kept pseudonyms, never to be written. */
  entries(): BillableEntry[] {
    const out: BillableEntry[] = [];
    for (let i = 0; i < this.#values.length; i++) {
      out.push({ id: this.#ids.subarray(i * 32, (i + 1) * 32), value: this.#values[i] });
    }
    return out;
  }
}

/** A report's state and counts (what `intervalCounts` reads from storage). */
function countsOf(report: IntervalReport): IntervalCounts {
  return { state: report.state, dapCount: report.dap.length, billCount: report.bills.length };
}

/** Direct mode: refused posts of one interval before SP gives up (and fails). */
const MAX_DIRECT_ATTEMPTS = 5;

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
