// Lazily connects benchmark suites to Hardhat's in-process chain (one connection per run).
// Only the bench, tests, scripts and the CLI's embedded mode import Hardhat; agents never do.
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

let connection: Promise<HardhatEthers> | undefined;

export function benchEthers(): Promise<HardhatEthers> {
  connection ??= (async () => {
    const { network } = await import("hardhat");
    const { ethers } = await network.create();
    return ethers;
  })();
  return connection;
}
