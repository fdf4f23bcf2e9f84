// Both schemes on one chain: the Oksuz billing ledger and the BBNP aggregation ledger with its
// reputation registry. Takes the parameters of both modules (`BillingLedger.*`, `Bbnp.*`).
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import BillingLedgerModule from "./BillingLedger.ts";
import BbnpModule from "./Bbnp.ts";

export default buildModule("GridLedger", (m) => {
  const { billingLedger } = m.useModule(BillingLedgerModule);
  const { aggregationLedger, reputationRegistry } = m.useModule(BbnpModule);
  return { billingLedger, aggregationLedger, reputationRegistry };
});
