// Posting at chain speed over HTTP JSON-RPC (issue 14): the CC agent posts gas-sized OCD batches
// with W transactions in flight on `hardhat node` (started here on a free loopback port), with
// automine and with interval mining; a CC killed while its batches wait in the node's pool
// restarts, lets them land, and posts only the rest; a batch replaced in the pool (its nonce
// taken by another transaction of CC's key) makes the batches behind it revert on their
// predecessor, and CC reads the chain and posts them again. Every case ends with the interval
// sealed and every slot on the ledger exactly once (the ledger's own counts and its events).
import type { ChildProcess } from "node:child_process";

import { expect } from "chai";
import { HDNodeWallet, type JsonRpcProvider } from "ethers";

import { readInterval } from "../../offchain/chain/ledgerReader.ts";
import { connectJsonRpc } from "../../offchain/chain/provider.ts";
import { INTERVAL_STATE } from "../../offchain/protocol/billing.ts";
import { freePort, startHardhatNode, stopHardhatNode } from "../helpers/hardhat-node.ts";
import { postingRig, SLOTS, type PostingRig } from "../roles/cc-posting-fixture.ts";

const DEV_MNEMONIC = "test test test test test test test test test test test junk";
const METERS = 30; // 240 slots; maxSlots 25: ≈ 10 batches

describe("posting at chain speed over HTTP on `hardhat node` (issue 14)", function () {
  this.timeout(300_000);
  let node: ChildProcess | undefined;
  let provider: JsonRpcProvider;
  let wallets: HDNodeWallet[];
  const rigs: PostingRig[] = [];

  before(async function () {
    const port = await freePort();
    node = await startHardhatNode(port);
    ({ provider } = await connectJsonRpc(`http://127.0.0.1:${port}`));
    wallets = [0, 1, 2].map((i) =>
      HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider),
    );
  });
  after(async function () {
    for (const rig of rigs.splice(0)) rig.dispose();
    provider?.destroy();
    await stopHardhatNode(node);
  });
  afterEach(async function () {
    await provider.send("evm_setIntervalMining", [0]);
    await provider.send("evm_setAutomine", [true]);
  });

  async function rig(): Promise<PostingRig> {
    const [admin, controlCenter, serviceProvider] = wallets;
    const r = await postingRig({ admin, controlCenter, serviceProvider }, METERS);
    rigs.push(r);
    return r;
  }

  /** CC's transactions in the node's pool (sent, not mined). */
  async function pendingOfCc(): Promise<number> {
    const address = await wallets[1].getAddress();
    const [latest, pending] = await Promise.all([
      provider.getTransactionCount(address, "latest"),
      provider.getTransactionCount(address, "pending"),
    ]);
    return pending - latest;
  }

  /** Sealed, every slot once: the record's counts and the events rebuilt by readInterval. */
  async function expectSealed(r: PostingRig, interval: number, real: number): Promise<void> {
    const rec = await r.ledger.intervalRecord(interval);
    expect(Number(rec.state)).to.equal(INTERVAL_STATE.OcdSealed);
    expect(Number(rec.ocdCount)).to.equal(real);
    expect(Number(rec.ocdCount) + Number(rec.zeroCount)).to.equal(METERS * SLOTS);
    const report = await readInterval(r.ledger, interval);
    expect(report.mismatches).to.deep.equal([]);
    expect(report.ocd.length).to.equal(real);
  }

  for (const mining of ["automine", "interval mining (300 ms blocks)"] as const) {
    it(`W = 4, ${mining}: gas-sized batches posted and sealed`, async function () {
      const r = await rig();
      const agent = r.start({ window: 4, maxSlots: 25 });
      const real = await r.admitAll(agent, 1);
      if (mining !== "automine") {
        await provider.send("evm_setAutomine", [false]);
        await provider.send("evm_setIntervalMining", [300]);
      }
      await agent.postAndSeal(1);
      await expectSealed(r, 1, real);
    });
  }

  it("CC killed with 3 batches in the node's pool: the restarted CC lets them land, then posts only the rest", async function () {
    const r = await rig();
    const posting = { window: 4, maxSlots: 25 };
    const first = r.start(posting);
    const real = await r.admitAll(first, 1);
    await provider.send("evm_setAutomine", [false]); // nothing is mined: the batches wait
    first.crashAfterBatches(3);
    await first.postAndSeal(1).then(
      () => expect.fail("no crash"),
      (e: unknown) => expect((e as Error).name).to.equal("ControlCenterCrash"),
    );
    r.kill();
    expect(await pendingOfCc(), "in flight when killed").to.equal(3);
    const before = await r.ledger.intervalRecord(1);
    expect(Number(before.ocdCount) + Number(before.zeroCount)).to.equal(0);

    const restarted = r.start(posting);
    const done = restarted.postAndSeal(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await provider.send("evm_setIntervalMining", [300]);
    const { posted } = await done;
    await expectSealed(r, 1, real);
    // The three batches of the killed CC landed first: the restarted one posted less.
    expect(posted).to.be.lessThan(real);
  });

  it("a batch replaced in the pool (its nonce reused by CC's key): the batches behind it revert on their predecessor, CC reads the chain and posts them again", async function () {
    const r = await rig();
    // A receipt timeout far beyond the test's bound: the replacement must be seen by its nonce.
    const agent = r.start({ window: 4, maxSlots: 25 }, { receiptTimeoutMs: 600_000 });
    const real = await r.admitAll(agent, 1);
    await provider.send("evm_setAutomine", [false]);
    const cc = wallets[1];
    const nonce = await provider.getTransactionCount(await cc.getAddress(), "latest");
    const done = agent.postAndSeal(1);
    const deadline = Date.now() + 30_000;
    while ((await pendingOfCc()) < 4) {
      if (Date.now() > deadline) expect.fail("the batches never reached the pool");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Another transaction of CC's key, same nonce as the first batch, higher fees: replaces it.
    const replacement = await cc.sendTransaction({
      to: await cc.getAddress(),
      value: 0n,
      nonce,
      gasLimit: 21_000n,
      maxPriorityFeePerGas: 50_000_000_000n,
      maxFeePerGas: 100_000_000_000n,
    });
    await provider.send("evm_setIntervalMining", [300]);
    const t0 = Date.now();
    await done;
    expect(Date.now() - t0, "replacement seen without the receipt timeout").to.be.below(30_000);
    expect((await replacement.wait())!.status).to.equal(1);
    await expectSealed(r, 1, real);
  });
});
