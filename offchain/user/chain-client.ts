// What a household needs of the billing ledger to check its bills (Oksuz §5 Remark 5): read-only,
// through any endpoint it does not have to trust (docs/SECURITY.md "Dishonest RPC endpoint").
// Declared by the role, implemented in `chain/` (offchain/chain/oksuz-clients.ts).
import { INTERVAL_STATE, type IntervalStateValue } from "../protocol/billing.ts";
import type { IntervalReport } from "../protocol/ledger-audit.ts";

export interface UserChainClient {
  /** Interval `interval` rebuilt from events and audited against storage. */
  readInterval(interval: number): Promise<IntervalReport>;
  /**
   * Optional: interval `interval`'s state as stored (one storage read, no event scan). With it a
   * user polls for the interval to be final without rebuilding it at each poll (issue 14) and
   * reads it in full once; the check itself is the same.
   */
  intervalState?(interval: number): Promise<IntervalStateValue>;
}

/**
 * One client for every user of a process (a meter fleet, `gridledger meters`): concurrent reads of
 * an interval share one in-flight rebuild, and a final interval (immutable, DESIGN §2 lifecycle) is
 * read once and kept. Without it, N users polling rebuilt the whole interval from events N times
 * per poll — O(N²) reads, and at 200 meters a fleet exhausted its file descriptors on HTTP
 * connections (`connect EMFILE`, issue 11 devnet). Sharing changes nothing a user can check: every
 * user still audits the same rebuilt report itself.
 */
export function sharedUserChainClient(inner: UserChainClient): UserChainClient {
  const inFlight = new Map<number, Promise<IntervalReport>>();
  const final = new Map<number, IntervalReport>();
  const statesInFlight = new Map<number, Promise<IntervalStateValue>>();
  const stateOf = inner.intervalState?.bind(inner);
  return {
    // Concurrent state reads share one storage read too; a final interval needs none.
    ...(stateOf && {
      intervalState(interval: number): Promise<IntervalStateValue> {
        if (final.has(interval)) return Promise.resolve(INTERVAL_STATE.Final);
        let read = statesInFlight.get(interval);
        if (read === undefined) {
          read = stateOf(interval).finally(() => statesInFlight.delete(interval));
          statesInFlight.set(interval, read);
        }
        return read;
      },
    }),
    readInterval(interval: number): Promise<IntervalReport> {
      const done = final.get(interval);
      if (done !== undefined) return Promise.resolve(done);
      let read = inFlight.get(interval);
      if (read === undefined) {
        read = inner.readInterval(interval).then(
          (report) => {
            inFlight.delete(interval);
            if (report.state === INTERVAL_STATE.Final) final.set(interval, report);
            return report;
          },
          (err: unknown) => {
            inFlight.delete(interval);
            throw err;
          },
        );
        inFlight.set(interval, read);
      }
      return read;
    },
  };
}
