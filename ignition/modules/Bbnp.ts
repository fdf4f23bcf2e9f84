// BBNP's aggregation ledger and the reputation registry of its consensus nodes, bound to each
// other (DESIGN §2, §5). Parameters (`Bbnp.*`):
//   admin             DEFAULT_ADMIN_ROLE of both (default: the deploying account)
//   initialGatewayKey the gateway's BLS public key S_g for key epoch 0, 128-byte EIP-2537 G1
//                     encoding (required; `npx gridledger deploy` fills it with the key of a fresh
//                     secret it discards, so nobody can sign for epoch 0, when none is given). The
//                     trusted authority's real key is installed with `rotateGatewayKey`.
// Consensus nodes join later through `addNode` (REGULATOR_ROLE, held by the admin): each node
// brings its BLS key and proof of possession.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

export default buildModule("Bbnp", (m) => {
  const deployer = m.getAccount(0);
  const admin = m.getParameter("admin", deployer);
  const initialGatewayKey = m.getParameter<string>("initialGatewayKey");

  const aggregationLedger = m.contract("AggregationLedger", [admin, initialGatewayKey]);
  const reputationRegistry = m.contract("ReputationRegistry", [admin]);
  // The ledger checks that the registry already points back at it: bind the registry first.
  const bound = m.call(reputationRegistry, "bindLedger", [aggregationLedger], { from: deployer });
  m.call(aggregationLedger, "bindRegistry", [reputationRegistry], {
    from: deployer,
    after: [bound],
  });

  return { aggregationLedger, reputationRegistry };
});
