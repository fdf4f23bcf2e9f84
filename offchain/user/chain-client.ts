// What a household needs of the billing ledger to check its bills (Oksuz §5 Remark 5): read-only,
// through any endpoint it does not have to trust (docs/SECURITY.md "Dishonest RPC endpoint").
// Declared by the role, implemented in `chain/` (offchain/chain/oksuz-clients.ts).
import type { IntervalReport } from "../protocol/ledger-audit.ts";

export interface UserChainClient {
  /** Interval `interval` rebuilt from events and audited against storage. */
  readInterval(interval: number): Promise<IntervalReport>;
}
