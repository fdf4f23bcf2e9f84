// EIP-2537 calls must survive a repricing (issue 15): every fixed-price precompile call of a
// consensus round forwards more than its Prague price (up to PRECOMPILE_GAS_HEADROOM = 4 times it,
// capped by the EVM at 63/64 of what is left), and the round still succeeds. Checked on the trace
// of a real commitBlock: the gas operand of each STATICCALL to G1ADD, G2ADD, PAIRING_CHECK and
// MAP_FP2_TO_G2. (Forwarding exactly the price, as before, bricks the ledger on any price rise.)
import { expect } from "chai";
import { network } from "hardhat";

import { consensusFixture } from "./chain-setup.ts";

const { ethers } = await network.create();

type StructLog = { op: string; depth: number; stack?: string[] };

/** Prague prices (EIP-2537) of the fixed-price calls on the round path (pairing: 3 pairs). */
const PRAGUE: Record<number, [string, bigint]> = {
  0x0b: ["G1ADD", 375n],
  0x0d: ["G2ADD", 600n],
  0x0f: ["PAIRING_CHECK", 37_700n + 3n * 32_600n],
  0x11: ["MAP_FP2_TO_G2", 23_800n],
};
const HEADROOM = 4n;

describe("EIP-2537 gas forwarding", () => {
  it("commitBlock forwards 4 × the Prague price to each fixed-price precompile and succeeds", async () => {
    const s = await consensusFixture(ethers, 5);
    const b = s.block(1n, new Uint8Array(32), 0);
    // One non-signer: the round subtracts its key with G1ADD.
    const receipt = await (await s.commit(b, s.certify(b, [0, 1, 2, 3]))).wait();
    expect(receipt?.status).to.equal(1);
    const trace = (await ethers.provider.send("debug_traceTransaction", [
      receipt!.hash,
      { disableStorage: true, disableMemory: true },
    ])) as { structLogs: StructLog[] };
    const seen = new Map<string, number>();
    for (const step of trace.structLogs) {
      if (step.op !== "STATICCALL" || step.stack === undefined) continue;
      const stack = step.stack;
      const gas = BigInt(stack[stack.length - 1]);
      const to = Number(BigInt(stack[stack.length - 2]) & 0xffffn);
      const known = PRAGUE[to];
      if (known === undefined) continue;
      const [name, price] = known;
      expect(gas, `${name} forwards ${gas}`).to.equal(price * HEADROOM);
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }
    // Two hash_to_curve (2 maps + 1 G2ADD each), σ_GW + σ_cert, one key subtraction (2 G1ADD).
    expect(Object.fromEntries(seen)).to.deep.equal({
      MAP_FP2_TO_G2: 4,
      G2ADD: 3,
      G1ADD: 2,
      PAIRING_CHECK: 1,
    });
  });
});
