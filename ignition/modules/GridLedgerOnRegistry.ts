// Both schemes on a network whose reputation registry already exists (a Besu kit's genesis):
// the Oksuz billing ledger and the BBNP aggregation ledger bound to that registry. Takes the
// parameters of `BillingLedger.*` and `BbnpOnRegistry.*`.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import BillingLedgerModule from "./BillingLedger.ts";
import BbnpOnRegistryModule from "./BbnpOnRegistry.ts";

export default buildModule("GridLedgerOnRegistry", (m) => {
  const { billingLedger } = m.useModule(BillingLedgerModule);
  const { aggregationLedger, reputationRegistry } = m.useModule(BbnpOnRegistryModule);
  return { billingLedger, aggregationLedger, reputationRegistry };
});
