// A fresh in-process chain (Hardhat's EDR) for one `describe` block, with the three signers the
// Oksuz simulator takes (admin, CC, SP): the fixture the simulator's test files all need.
import { network } from "hardhat";

import type { OksuzAgentsChain } from "../../offchain/sim/oksuz-agents.ts";

/**
 * Registers mocha `before`/`after` hooks in the calling `describe` that open a new in-process
 * network and close it after the block. Returns the signers as one object, filled in by the
 * `before` hook: read it inside `it`/hooks, not at `describe` time (its fields are undefined there).
 */
export function useSimChain(): OksuzAgentsChain {
  const chain = {} as { -readonly [K in keyof OksuzAgentsChain]: OksuzAgentsChain[K] };
  let close: (() => Promise<void>) | undefined;
  before(async () => {
    const connection = await network.create();
    const [admin, controlCenter, serviceProvider] = await connection.ethers.getSigners();
    Object.assign(chain, { admin, controlCenter, serviceProvider });
    close = () => connection.close();
  });
  after(async () => close?.());
  return chain;
}
