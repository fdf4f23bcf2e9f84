// The BBNP roles as services (issue 11): the gateway, 4 consensus nodes and a 12-user fleet built by
// their role modules (offchain/node/roles/{gateway,node,bbnp-users}.ts) from `bbnpSetup`'s configs
// and key files, talking over real SocketTransport on 127.0.0.1 in one process, on wall-clock time,
// against the in-process chain. Two rounds; one node is stopped between the rounds and restarted
// from its data directory (store + chain); the chain's committed sums are reconciled with the users'
// true readings, and the restarted node holds the same head as the others. A second case restarts
// the gateway mid-round from its store: the open round is not redone and nothing is committed twice.
import { expect } from "chai";
import { network } from "hardhat";
import { Contract, type InterfaceAbi, type Signer } from "ethers";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { AggregationLedgerAdapter } from "../../offchain/chain/aggregation.ts";
import { readArtifact } from "../../offchain/chain/deploy.ts";
import {
  bbnpSetup,
  parseBbnpConfig,
  type BbnpRoleConfig,
} from "../../offchain/node/roles/bbnp-setup.ts";
import { bbnpReadings, bbnpUsersService } from "../../offchain/node/roles/bbnp-users.ts";
import { gatewayService, type GatewayService } from "../../offchain/node/roles/gateway.ts";
import { nodeService, type NodeService } from "../../offchain/node/roles/node.ts";
import type { ServiceEnv } from "../../offchain/node/service.ts";
import { toFixed18 } from "../../offchain/protocol/reputation.ts";
import { SystemClock } from "../../offchain/runtime/clock.ts";
import { silentLogger } from "../../offchain/runtime/log.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { AddressBook, SocketTransport } from "../../offchain/runtime/socket-transport.ts";
import { Store } from "../../offchain/runtime/store.ts";
import { freePort } from "../helpers/hardhat-node.ts";

/** What a process opened, closed when it stops (the runner's job in a real process). */
interface Opened {
  transports: SocketTransport[];
  stores: Store[];
}

/** As the runner does after `start()`: every transport the service started is listening. */
async function listening(o: Opened): Promise<void> {
  for (const t of o.transports) await t.listening();
}

async function closeAll(o: Opened): Promise<void> {
  for (const t of o.transports) await t.close();
  for (const s of o.stores) s.close();
  o.transports.length = 0;
  o.stores.length = 0;
}

describe("BBNP services over SocketTransport (gateway, 4 nodes, 12-user fleet)", function () {
  this.timeout(300_000);
  let signers: Signer[];
  let close: () => Promise<void>;
  let dir: string;

  before(async () => {
    const connection = await network.create();
    signers = await connection.ethers.getSigners();
    close = () => connection.close();
    dir = mkdtempSync(join(tmpdir(), "gridledger-bbnp-services-"));
  });
  after(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function deployment(seed: string, rounds: number) {
    const setup = bbnpSetup({
      seed,
      users: 12,
      nodes: 4,
      rounds,
      windowMs: 2_000,
      viewTimeoutMs: 3_000,
      revealTimeoutMs: 400,
      commitTimeoutMs: 30_000,
    });
    const [admin, gateway, ...nodes] = signers;
    const adapter = await AggregationLedgerAdapter.deployPublic(
      { admin, gateway, nodes },
      setup.deployment.gatewayPublicKey,
      setup.deployment.minReporters,
      {
        publicKeys: setup.deployment.nodes.map((x) => x.publicKey),
        proofsOfPossession: setup.deployment.nodes.map((x) => x.proofOfPossession),
        reputations: setup.deployment.nodes.map((x) => toFixed18(x.reputation)),
      },
    );
    const book = new AddressBook();
    const addresses = [
      "gateway",
      ...setup.processes.filter((p) => p.role === "node").map((p) => p.name),
      ...Array.from({ length: 12 }, (_, i) => `bbnp-user-${i}`),
    ];
    for (const a of addresses) book.set(a, { host: "127.0.0.1", port: await freePort() });
    const clock = new SystemClock();
    /** A ServiceEnv as the runner builds it (SystemClock, SocketTransport, stores, key files). */
    const env = (name: string, opened: Opened): ServiceEnv & { config: BbnpRoleConfig } => {
      const p = setup.processes.find((x) => x.name === name)!;
      const dataDir = join(dir, `${seed}-${name}`);
      return {
        role: p.role,
        name,
        dataDir,
        config: parseBbnpConfig(JSON.parse(JSON.stringify(p.config)), p.role),
        logger: silentLogger,
        clock,
        rng: createRng(`${seed}/${name}`),
        openStore(store) {
          const s = Store.open({ path: join(dir, `${seed}-${name}-${store}.sqlite`) });
          opened.stores.push(s);
          return s;
        },
        transport(address) {
          const t = new SocketTransport(
            { address, addressBook: book, listen: book.get(address) },
            { clock, rng: createRng(`${seed}/${name}/net`) },
          );
          opened.transports.push(t);
          return t;
        },
        secret(secretName) {
          const s = p.secrets[secretName];
          if (!s) throw new Error(`no secret ${secretName}`);
          return s;
        },
        chain: { contracts: { AggregationLedger: adapter.address } },
      };
    };
    return { setup, adapter, env, gatewaySigner: gateway, nodeSigners: nodes };
  }

  function ledgerAt(address: string): Contract {
    const { abi } = readArtifact("ledger/AggregationLedger.sol", "AggregationLedger");
    return new Contract(address, abi as InterfaceAbi, signers[0]);
  }

  async function committedEvents(address: string) {
    const ledger = ledgerAt(address);
    const events = await ledger.queryFilter(ledger.filters.BlockCommitted());
    return events.map((e) => (e as unknown as { args: { round: bigint; sum: bigint } }).args);
  }

  const until = async (cond: () => boolean, what: string, ms = 120_000) => {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it("2 rounds commit the users' true sums; a node stopped between rounds rejoins from its store", async () => {
    const d = await deployment("svc", 2);
    const cfg = d.env("gateway", { transports: [], stores: [] }).config;
    const opened = new Map<string, Opened>();
    const open = (name: string) => {
      const o: Opened = { transports: [], stores: [] };
      opened.set(name, o);
      return o;
    };
    const users = bbnpUsersService(d.env("bbnp-users-0", open("bbnp-users-0")));
    const nodes: NodeService[] = [];
    for (let j = 0; j < 4; j++) {
      nodes.push(await nodeService(d.env(`node-${j}`, open(`node-${j}`)), d.nodeSigners[j]));
    }
    const gateway: GatewayService = await gatewayService(
      d.env("gateway", open("gateway")),
      d.gatewaySigner,
    );
    try {
      await users.start();
      for (const n of nodes) await n.start();
      for (const [name, o] of opened) if (name !== "gateway") await listening(o);
      await gateway.start();
      await listening(opened.get("gateway")!);
      // Round 1 commits; stop node 1 before round 2's statement reaches the nodes.
      await until(() => gateway.outcomes.length >= 1, "round 1");
      expect(gateway.outcomes[0].aborted).to.equal(undefined);
      const restarted = 1;
      await until(() => nodes[restarted].agent.node.head().round === 1n, "node 1 adopts round 1");
      await nodes[restarted].stop();
      await closeAll(opened.get(`node-${restarted}`)!);
      expect(nodes[restarted].agent.node.head().round).to.equal(1n);
      nodes[restarted] = await nodeService(
        d.env(`node-${restarted}`, open(`node-${restarted}`)),
        d.nodeSigners[restarted],
      );
      await nodes[restarted].start();
      await listening(opened.get(`node-${restarted}`)!);
      // Rejoined from its store: the same head as before the stop, not behind the chain.
      expect(nodes[restarted].agent.node.head().round).to.equal(1n);
      expect(nodes[restarted].status()).to.not.have.property("behind");
      await gateway.done;
      expect(gateway.outcomes.map((o) => o.aborted)).to.deep.equal([undefined, undefined]);
      // Every node adopts round 2 (the forwarded block reaches the restarted node too).
      await until(() => nodes.every((n) => n.agent.node.head().round === 2n), "every head at 2");
      const heads = nodes.map((n) => Buffer.from(n.agent.node.head().digest).toString("hex"));
      expect(new Set(heads).size).to.equal(1);
      // Reconcile the chain with the users' true readings (all 12 reported).
      const events = await committedEvents(d.adapter.address);
      expect(events.map((e) => e.round)).to.deep.equal([1n, 2n]);
      for (const e of events) {
        const truth = bbnpReadings(cfg, e.round).reduce((a, w) => a + w, 0n);
        expect(e.sum).to.equal(truth);
      }
      const statuses = users.status();
      expect(statuses).to.deep.include({ users: 12, round: 2, reported: 12 });
      expect(gateway.status()).to.deep.equal({ round: 2, phase: "idle", committed: 2 });
      expect(nodes.every((n) => n.agent.failures.length === 0)).to.equal(true);
    } finally {
      await gateway.stop();
      for (const n of nodes) await n.stop();
      await users.stop();
      for (const o of opened.values()) await closeAll(o);
    }
  });

  it("a gateway restarted mid-round resumes from its store: the open round is not redone, none is committed twice", async () => {
    const d = await deployment("svc-gw", 3);
    const cfg = d.env("gateway", { transports: [], stores: [] }).config;
    const opened = new Map<string, Opened>();
    const open = (name: string) => {
      const o: Opened = { transports: [], stores: [] };
      opened.set(name, o);
      return o;
    };
    const users = bbnpUsersService(d.env("bbnp-users-0", open("bbnp-users-0")));
    const nodes: NodeService[] = [];
    for (let j = 0; j < 4; j++) {
      nodes.push(await nodeService(d.env(`node-${j}`, open(`node-${j}`)), d.nodeSigners[j]));
    }
    let gateway = await gatewayService(d.env("gateway", open("gateway")), d.gatewaySigner);
    try {
      await users.start();
      for (const n of nodes) await n.start();
      for (const [name, o] of opened) if (name !== "gateway") await listening(o);
      await gateway.start();
      await listening(opened.get("gateway")!);
      await until(() => gateway.outcomes.length >= 1, "round 1");
      // Round 2 is open (collecting): kill the gateway now.
      await until(() => gateway.status().round === 2, "round 2 open");
      await gateway.stop();
      await closeAll(opened.get("gateway")!);
      await gateway.done?.catch(() => {});
      const first = gateway.outcomes.map((o) => [Number(o.round), o.aborted ?? "committed"]);
      expect(first).to.deep.equal([
        [1, "committed"],
        [2, "caller"],
      ]);
      gateway = await gatewayService(d.env("gateway", open("gateway")), d.gatewaySigner);
      await gateway.start();
      await listening(opened.get("gateway")!);
      await gateway.done;
      // This process ran round 3 only: round 2 was open at the stop and is not redone.
      expect(gateway.outcomes.map((o) => Number(o.round))).to.deep.equal([3]);
      await until(() => nodes.every((n) => n.agent.node.head().round === 3n), "every head at 3");
      const events = await committedEvents(d.adapter.address);
      const rounds = events.map((e) => e.round);
      expect(new Set(rounds).size, "no round committed twice").to.equal(rounds.length);
      expect(rounds[0]).to.equal(1n);
      expect(rounds.at(-1)).to.equal(3n);
      for (const e of events) {
        const truth = bbnpReadings(cfg, e.round).reduce((a, w) => a + w, 0n);
        expect(e.sum).to.equal(truth);
      }
    } finally {
      await gateway.stop();
      for (const n of nodes) await n.stop();
      await users.stop();
      for (const o of opened.values()) await closeAll(o);
    }
  });
});
