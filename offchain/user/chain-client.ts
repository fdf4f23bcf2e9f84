// What a household needs of the billing ledger to check its bills (Oksuz §5 Remark 5): read-only,
// through any endpoint it does not have to trust (docs/SECURITY.md "Dishonest RPC endpoint").
// Declared by the role, implemented in `chain/` (offchain/chain/oksuz-clients.ts).
import { INTERVAL_STATE } from "../protocol/billing.ts";
import type { IntervalReport } from "../protocol/ledger-audit.ts";

export interface UserChainClient {
  /** Interval `interval` rebuilt from events and audited against storage. */
  readInterval(interval: number): Promise<IntervalReport>;
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
  return {
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
