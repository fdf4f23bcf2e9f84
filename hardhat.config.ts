import { createRequire } from "node:module";

import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

// Solidity compiles with the npm `solc` package (its WASM build): nothing is downloaded at run
// time (DESIGN §2, DEVELOPERS "No network but the npm registry").
const SOLC_VERSION = "0.8.30";
const solcPath = require.resolve("solc/soljson.js");

const SOLIDITY_PROFILE = {
  version: SOLC_VERSION,
  path: solcPath,
  settings: {
    evmVersion: "prague",
    optimizer: { enabled: true, runs: 10_000 },
    viaIR: false,
    // The Besu kit lays out the reputation registry's genesis storage from the compiler's
    // storage layout (offchain/besu/storage-layout.ts); it does not change the bytecode.
    outputSelection: { "*": { "*": ["storageLayout"] } },
  },
};

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers],
  solidity: {
    // One compiler configuration for every build: `hardhat ignition deploy` builds with the
    // "production" profile, which Hardhat would otherwise fill with its own defaults (optimizer
    // runs 200, no storage layout) and write over the artifacts the tests, demos and the Besu kit
    // read. Deployed bytecode is therefore the bytecode the gas snapshot and benchmarks measure.
    profiles: {
      default: SOLIDITY_PROFILE,
      production: SOLIDITY_PROFILE,
    },
  },
  // Typechain emits `export namespace` blocks that `erasableSyntaxOnly` rejects; the generated
  // files are imported for types only, so they are excluded from checking, not our code.
  typechain: {
    tsNocheck: true,
  },
  paths: {
    tests: {
      mocha: "test",
      solidity: "test",
    },
  },
  test: {
    solidity: {
      fuzz: { runs: 256 },
    },
    mocha: {
      timeout: 120_000,
    },
  },
  networks: {
    // The embedded in-process chain: `network.create()` without a name connects to `default`,
    // which is what `npm test`, `npm run demo` and the benchmarks use. Prague like the Besu
    // genesis of DESIGN §2 (`pragueTime: 0`: EIP-2537 precompiles), not EDR's newer default
    // (osaka: other MODEXP prices, a 2^24 per-transaction gas cap), and a 30M block gas limit.
    default: {
      type: "edr-simulated",
      chainType: "l1",
      hardfork: "prague",
      blockGasLimit: 30_000_000n,
      allowUnlimitedContractSize: false,
    },
    // What `npx hardhat node` serves (Hardhat's node task runs the network named "node"): the
    // same chain as `default` (prague, 30M block gas limit), so a demo over JSON-RPC runs on the
    // rules the embedded chain and the Besu genesis use. `--chain-id ID` overrides the chain id.
    node: {
      type: "edr-simulated",
      chainType: "l1",
      hardfork: "prague",
      blockGasLimit: 30_000_000n,
      allowUnlimitedContractSize: false,
    },
    // `npx hardhat node` in another terminal (GRIDLEDGER_RPC_URL points elsewhere, e.g. a node on
    // another port; `npx gridledger deploy --rpc URL` sets it).
    localhost: {
      type: "http",
      chainType: "l1",
      url: process.env.GRIDLEDGER_RPC_URL ?? "http://127.0.0.1:8545",
    },
    // A private Hyperledger Besu QBFT network (DESIGN §2): URL and deployer key from config
    // variables (`npx hardhat keystore set BESU_RPC_URL`, or the environment).
    besu: {
      type: "http",
      chainType: "l1",
      url: configVariable("BESU_RPC_URL"),
      accounts: [configVariable("BESU_DEPLOYER_KEY")],
      // Free gas (DESIGN §2: zeroBaseFee, nodes run with --min-gas-price=0). Ignition needs no
      // setting: on a chain whose latest block has base fee 0 it sends zero-fee transactions.
      gasPrice: 0,
    },
  },
});
