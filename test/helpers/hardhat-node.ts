// The `hardhat node` launcher lives in offchain/node/hardhat-node.ts (the devnet uses it too); the
// tests keep importing it from here.
export {
  ROOT,
  freePort,
  reservePorts,
  startHardhatNode,
  stopHardhatNode,
  HardhatNodeError,
} from "../../offchain/node/hardhat-node.ts";
