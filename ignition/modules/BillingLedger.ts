// Oksuz's billing ledger (OCD, DAP and BC ledgers, participant directory; DESIGN §2) with its roles.
// Parameters (`BillingLedger.*`; see ignition/parameters/*.json and docs/RUNTIME.md "Deploy"):
//   admin            role admin and configurer (default: the deploying account)
//   controlCenter    address given CC_ROLE (required: the CC operator's own key)
//   serviceProvider  address given SP_ROLE (required: the SP operator's own key)
//   tariffBreakpointsWh / tariffValues / tariffCap: the initial public tariff (DESIGN §2 "Price")
//   categoryValues   the region's c1 < … < c5 in Wh (DESIGN §7)
//   slotsPerMeter    K, report slots per meter per interval (DESIGN §7), default 8
// CC's and SP's public keys are set later by the admin (`setControlCenterKeys`,
// `setServiceProviderKeys`): those services generate them. No account index other than the
// deployer's is used, so the module validates on a network configured with one key (Besu).
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

export default buildModule("BillingLedger", (m) => {
  const deployer = m.getAccount(0);
  const admin = m.getParameter("admin", deployer);
  const controlCenter = m.getParameter<string>("controlCenter");
  const serviceProvider = m.getParameter<string>("serviceProvider");
  const breakpoints = m.getParameter("tariffBreakpointsWh", [0n, 100_000n, 1_000_000n]);
  const values = m.getParameter("tariffValues", [10n, 20n, 40n]);
  const cap = m.getParameter("tariffCap", 35n);
  const categories = m.getParameter("categoryValues", [100n, 250n, 500n, 1000n, 2000n]);
  const slotsPerMeter = m.getParameter("slotsPerMeter", 8);

  const billingLedger = m.contract("BillingLedger", [admin, controlCenter, serviceProvider]);
  // Configuration calls are admin calls from the deployer: with another `admin`, that admin
  // configures the tariff and category values itself after deployment (these calls would revert).
  m.call(billingLedger, "setTariff", [breakpoints, values, cap], { from: deployer });
  m.call(billingLedger, "setCategoryValues", [categories], { from: deployer });
  m.call(billingLedger, "setSlotsPerMeter", [slotsPerMeter], { from: deployer });

  return { billingLedger };
});
