// BBNP's aggregation ledger bound to a reputation registry that already exists — the one a Besu
// kit (`npx gridledger besu-network`) puts in its genesis, whose nodes are the network's QBFT
// validators (DESIGN §2 "Besu"). Parameters (`BbnpOnRegistry.*`):
//   registry          the existing ReputationRegistry (required; its admin must be the deployer)
//   admin             DEFAULT_ADMIN_ROLE of the ledger (default: the deploying account)
//   initialGatewayKey as in Bbnp.ts (`npx gridledger deploy` fills it when absent)
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

export default buildModule("BbnpOnRegistry", (m) => {
  const deployer = m.getAccount(0);
  const admin = m.getParameter("admin", deployer);
  const initialGatewayKey = m.getParameter<string>("initialGatewayKey");

  const aggregationLedger = m.contract("AggregationLedger", [admin, initialGatewayKey]);
  const reputationRegistry = m.contractAt("ReputationRegistry", m.getParameter<string>("registry"));
  // As in Bbnp.ts: the ledger checks that the registry already points back at it.
  const bound = m.call(reputationRegistry, "bindLedger", [aggregationLedger], { from: deployer });
  m.call(aggregationLedger, "bindRegistry", [reputationRegistry], {
    from: deployer,
    after: [bound],
  });

  return { aggregationLedger, reputationRegistry };
});
