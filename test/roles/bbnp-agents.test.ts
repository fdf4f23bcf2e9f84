// Agent-level tests of the BBNP roles (issue 11 "an agent-level test per role"): each agent on a
// MemoryNetwork with a VirtualClock and an in-memory fake of its ledger client (no chain), so that
// what is checked is the agent's own behaviour: the user answers only its gateway, once per round
// (a repeated announcement or reveal request gets the same bytes again, for a restarted gateway);
// the gateway signs with its own key the exact Σ of the counted users (recovery included) and
// publishes nothing for an aborted round; consensus nodes run the reveal phase and the round over
// the wire, the primary records the selection and commits a block certified by a quorum, and every
// node adopts it.
import { expect } from "chai";

import { BbnpUserAgent } from "../../offchain/bbnp-user/agent.ts";
import { BbnpUser } from "../../offchain/bbnp-user/user.ts";
import { ConsensusNodeAgent, type ConsensusLedgerClient } from "../../offchain/consensus/agent.ts";
import type { SelectionReveals } from "../../offchain/consensus/driver.ts";
import {
  aggregateCertificate,
  blockDigest,
  verifyCertificate,
  type ConsensusBlock,
  type QuorumCertificate,
} from "../../offchain/consensus/block.ts";
import { blsPublicKey, blsSign, blsVerify } from "../../offchain/crypto/bls.ts";
import { GatewayAgent, type GatewayLedgerClient } from "../../offchain/gateway/agent.ts";
import { bbnpRoundMessage, bbnpSignRound } from "../../offchain/protocol/aggregation.ts";
import { BBNP_ORDER } from "../../offchain/protocol/bbnp/params.ts";
import { roundRandomMessage } from "../../offchain/protocol/primary-selection.ts";
import { initialReputationState } from "../../offchain/protocol/reputation.ts";
import { decodeWire, encodeWire, type WireMessage } from "../../offchain/protocol/wire/index.ts";
import { VirtualClock } from "../../offchain/runtime/clock.ts";
import { MemoryNetwork } from "../../offchain/runtime/network.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { TrustedAuthority } from "../../offchain/ta/authority.ts";
import { drive } from "../helpers/drive.ts";

const DOMAIN = new Uint8Array(32).fill(7);

function setup(users: number, minReporters = 3) {
  const rng = createRng("bbnp-agents-test");
  const ta = new TrustedAuthority(
    { userCount: users, neighbours: 2, maxReading: 10_000n, minReporters },
    {
      randomScalar: () => rng.nextBigInt(BBNP_ORDER - 1n) + 1n,
      randomBytes: (k) => rng.bytes(k),
    },
  );
  const keys = ta.setup();
  const clock = new VirtualClock();
  const network = new MemoryNetwork(
    { latency: { baseMs: 5, jitterMs: 10 } },
    { clock, rng: rng.fork("net") },
  );
  return { ta, keys, clock, network, rng };
}

describe("BBNP agents", function () {
  this.timeout(120_000);

  describe("BbnpUserAgent", () => {
    it("answers its gateway's round announcement with one report, and nobody else", async () => {
      const { keys, clock, network } = setup(4);
      const agent = new BbnpUserAgent(
        { params: keys.params, userId: 2, secret: keys.userSecrets[2] },
        { transport: network.endpoint("bbnp-user-2"), reading: () => 123n },
      );
      await agent.start();
      const got: { from: string; m: WireMessage }[] = [];
      const gw = network.endpoint("gateway");
      gw.handle((from, b) => void got.push({ from, m: decodeWire(b) }));
      gw.start();
      const stranger = network.endpoint("stranger");
      stranger.start();
      const open = encodeWire({ type: "bbnpRoundOpen", open: { round: 1n } });
      stranger.send("bbnp-user-2", open); // not the gateway: ignored
      clock.advance(100);
      expect(got).to.deep.equal([]);
      expect(agent.refused).to.equal(1);
      gw.send("bbnp-user-2", open);
      // A repeated announcement (a restarted gateway): the same report again, never a second one.
      gw.send("bbnp-user-2", open);
      clock.advance(100);
      expect(got.length).to.equal(2);
      expect(got[1].m).to.deep.equal(got[0].m);
      const m = got[0].m;
      expect(m.type).to.equal("bbnpReport");
      if (m.type !== "bbnpReport") return;
      expect(m.report.userId).to.equal(2);
      expect(m.report.round).to.equal(1n);
      expect(agent.status()).to.deep.include({ round: 1, reported: true });
      // A reveal request addressed to another user id is refused.
      gw.send(
        "bbnp-user-2",
        encodeWire({ type: "bbnpRevealRequest", request: { round: 1n, userId: 3, peers: [1] } }),
      );
      clock.advance(100);
      expect(got.length).to.equal(2);
      expect(agent.refused).to.equal(2);
      await agent.stop();
    });
  });

  describe("BbnpUserAgent resend path (a restarted gateway)", () => {
    it("a repeated reveal request gets the same reveal again; new peers still go through BbnpUser's checks", async () => {
      const { keys, clock, network } = setup(6);
      const agent = new BbnpUserAgent(
        { params: keys.params, userId: 2, secret: keys.userSecrets[2] },
        { transport: network.endpoint("bbnp-user-2"), reading: () => 77n },
      );
      await agent.start();
      const got: WireMessage[] = [];
      const gw = network.endpoint("gateway");
      gw.handle((_f, b) => void got.push(decodeWire(b)));
      gw.start();
      gw.send("bbnp-user-2", encodeWire({ type: "bbnpRoundOpen", open: { round: 1n } }));
      clock.advance(100);
      const graph = new BbnpUser({
        params: keys.params,
        userId: 2,
        secret: keys.userSecrets[2],
      }).graph(1n);
      const [n0, n1] = graph.neighboursOf(2);
      const ask = (peers: number[]) =>
        gw.send(
          "bbnp-user-2",
          encodeWire({ type: "bbnpRevealRequest", request: { round: 1n, userId: 2, peers } }),
        );
      ask([n0]);
      clock.advance(100);
      ask([n0, n1]); // n0 again (resent as is), n1 new
      clock.advance(100);
      const reveals = got.filter((m) => m.type === "bbnpReveal");
      expect(reveals.map((m) => (m.type === "bbnpReveal" ? m.reveal.peer : -1))).to.deep.equal([
        n0,
        n0,
        n1,
      ]);
      expect(reveals[1]).to.deep.equal(reveals[0]);
      expect(agent.status()).to.deep.include({ revealed: 2 });
      // A peer that is not a neighbour is still refused, and so is another round.
      const stranger = [0, 1, 3, 4, 5].find((u) => u !== n0 && u !== n1)!;
      ask([stranger]);
      gw.send(
        "bbnp-user-2",
        encodeWire({ type: "bbnpRevealRequest", request: { round: 2n, userId: 2, peers: [n0] } }),
      );
      clock.advance(100);
      expect(got.filter((m) => m.type === "bbnpReveal").length).to.equal(3);
      expect(agent.refused).to.equal(2);
      await agent.stop();
    });
  });

  describe("GatewayAgent", () => {
    async function gatewayRun(users: number, absent: readonly number[], minReporters = 3) {
      const { ta, keys, clock, network } = setup(users, minReporters);
      const readings = Array.from({ length: users }, (_, i) => BigInt(100 + 17 * i));
      const recorded: { round: bigint; sum: bigint; reporters: number; sig: Uint8Array }[] = [];
      const ledger: GatewayLedgerClient = {
        async recordRound(round, sum, reporters, signature) {
          recorded.push({ round, sum, reporters, sig: signature });
          return { sum, gasUsed: 1n };
        },
        async headDigest() {
          return new Uint8Array(32);
        },
      };
      const gateway = new GatewayAgent(
        { params: keys.params, secret: keys.gatewaySecret, domain: DOMAIN, mode: "gateway" },
        {
          transport: network.endpoint("gateway"),
          clock,
          ledger,
          ta: {
            blinding: (t) => ta.gatewayBlinding(0, t),
            correction: (t, d) => ta.dropoutCorrection(0, t, d),
          },
        },
      );
      const agents = readings.map(
        (w, i) =>
          new BbnpUserAgent(
            { params: keys.params, userId: i, secret: keys.userSecrets[i] },
            {
              transport: network.endpoint(`bbnp-user-${i}`),
              reading: () => (absent.includes(i) ? undefined : w),
            },
          ),
      );
      await gateway.start();
      for (const a of agents) await a.start();
      const outcome = await drive(clock, gateway.runRound(1n));
      const truth = readings.reduce((a, w, i) => (absent.includes(i) ? a : a + w), 0n);
      return { outcome, recorded, truth, keys, gateway };
    }

    it("signs with its own s_g the exact sum of the reporting users and records it", async () => {
      const { outcome, recorded, truth, keys, gateway } = await gatewayRun(6, []);
      expect(outcome.aborted).to.equal(undefined);
      expect(recorded.length).to.equal(1);
      expect(recorded[0].sum).to.equal(truth);
      expect(recorded[0].reporters).to.equal(6);
      const msg = bbnpRoundMessage(DOMAIN, 1n, truth, 6);
      expect(blsVerify(blsPublicKey(keys.gatewaySecret), msg, recorded[0].sig)).to.equal(true);
      expect(gateway.status()).to.deep.equal({ round: 1, phase: "idle", committed: 1 });
    });

    it("recovers around a missing user over the wire (reveal requests, reveals, TA correction)", async () => {
      const { outcome, recorded, truth } = await gatewayRun(8, [3]);
      expect(outcome.signed?.missing).to.deep.equal([3]);
      expect(outcome.revealedMasks).to.be.greaterThan(0);
      expect(recorded[0].sum).to.equal(truth);
      expect(recorded[0].reporters).to.equal(7);
    });

    it("aborts cleanly below the reporter minimum: nothing signed, nothing recorded", async () => {
      const { outcome, recorded } = await gatewayRun(6, [0, 1, 2, 3], 3);
      expect(outcome.aborted).to.equal("too-few-reporters");
      expect(outcome.signed).to.equal(undefined);
      expect(recorded).to.deep.equal([]);
    });
  });

  describe("GatewayAgent, consensus mode", () => {
    it("hands its statement to the nodes and ends the round only on a block certified by a quorum", async () => {
      const { ta, keys, clock, network, rng } = setup(6);
      const sks = Array.from({ length: 4 }, () => rng.nextBigInt(BBNP_ORDER - 1n) + 1n);
      const nodeKeys = sks.map(blsPublicKey);
      const outsiders = Array.from({ length: 3 }, () => rng.nextBigInt(BBNP_ORDER - 1n) + 1n);
      const gateway = new GatewayAgent(
        {
          params: keys.params,
          secret: keys.gatewaySecret,
          domain: DOMAIN,
          mode: "consensus",
          nodes: ["node-0", "node-1", "node-2", "node-3"],
          nodeKeys,
          commitTimeoutMs: 5_000,
        },
        {
          transport: network.endpoint("gateway"),
          clock,
          ledger: {
            recordRound: () => Promise.reject(new Error("not in consensus mode")),
            headDigest: async () => new Uint8Array(32),
          },
          ta: {
            blinding: (t) => ta.gatewayBlinding(0, t),
            correction: (t, d) => ta.dropoutCorrection(0, t, d),
          },
        },
      );
      const users = keys.userSecrets.map(
        (secret, i) =>
          new BbnpUserAgent(
            { params: keys.params, userId: i, secret },
            { transport: network.endpoint(`bbnp-user-${i}`), reading: () => 50n },
          ),
      );
      // Node 0 answers the statement with a block whose certificate is by outsiders, then with
      // one by a quorum of the registry's keys; nodes 1-3 only listen.
      const seen: string[] = [];
      let forgedAt = -1;
      for (let j = 0; j < 4; j++) {
        const ep = network.endpoint(`node-${j}`);
        ep.handle((_from, bytes) => {
          const m = decodeWire(bytes);
          seen.push(`${j}:${m.type === "consensus" ? m.message.type : m.type}`);
          if (j !== 0 || m.type !== "consensus" || m.message.type !== "gateway") return;
          const block: ConsensusBlock = {
            round: m.message.round,
            previousDigest: new Uint8Array(32),
            sum: m.message.sum,
            gatewaySignature: m.message.gatewaySignature,
            primary: 0,
            reputations: [],
            epoch: 1,
            reporters: m.message.reporters,
          };
          const digest = blockDigest(DOMAIN, block);
          const cert = (signers: readonly bigint[]) =>
            aggregateCertificate(new Map(signers.map((sk, q) => [q, blsSign(sk, digest)])));
          const send = (certificate: QuorumCertificate) =>
            ep.send(
              "gateway",
              encodeWire({
                type: "consensus",
                message: { type: "committed", block, certificate, order: [0, 1, 2, 3] },
              }),
            );
          send(cert(outsiders));
          forgedAt = clock.now();
          clock.setTimeout(() => send(cert(sks.slice(0, 3))), 1_000);
        });
        ep.start();
      }
      await gateway.start();
      for (const u of users) await u.start();
      const outcome = await drive(clock, gateway.runRound(1n));
      expect(seen.filter((x) => x.endsWith("selectionOpen")).length).to.equal(4);
      expect(seen.filter((x) => x.endsWith("gateway")).length).to.equal(4);
      expect(outcome.signed?.sum).to.equal(300n);
      expect(outcome.committed?.block.sum).to.equal(300n);
      // Not ended by the forged certificate: by the valid one, a second later.
      expect(clock.now() - forgedAt)
        .to.be.at.least(1_000)
        .and.below(5_000);
      expect(gateway.status()).to.deep.equal({ round: 1, phase: "idle", committed: 1 });
    });
  });

  describe("ConsensusNodeAgent", () => {
    it("four nodes run the reveal phase and the round over the wire; the primary commits once", async () => {
      const { clock, network, rng } = setup(4);
      const m = 4;
      const sks = Array.from({ length: m }, () => rng.nextBigInt(BBNP_ORDER - 1n) + 1n);
      const keys = sks.map(blsPublicKey);
      const gatewaySecret = rng.nextBigInt(BBNP_ORDER - 1n) + 1n;
      // The in-memory "chain": accepts the first block per round with a valid certificate.
      const chain = {
        selections: [] as { round: bigint; by: number; complete: boolean }[],
        recorded: new Map<bigint, SelectionReveals>(),
        blocks: [] as { block: ConsensusBlock; by: number }[],
      };
      const client = (j: number): ConsensusLedgerClient => ({
        async recordSelection(round, reveals) {
          chain.selections.push({ round, by: j, complete: reveals.complete });
          chain.recorded.set(round, reveals);
          return 10n;
        },
        async recordedSelection(round) {
          return chain.recorded.get(round) ?? null;
        },
        async commitBlock(block, certificate) {
          if (chain.blocks.some((b) => b.block.round === block.round)) return null;
          if (!verifyCertificate(keys, blockDigest(DOMAIN, block), certificate)) return null;
          chain.blocks.push({ block, by: j });
          return { sum: block.sum, gasUsed: 20n };
        },
        async selectionWindowLeft() {
          return 0n;
        },
        async advanceBlocks() {},
        async headDigest() {
          const last = chain.blocks.at(-1);
          return last ? blockDigest(DOMAIN, last.block) : new Uint8Array(32);
        },
      });
      const agents = sks.map(
        (secretKey, j) =>
          new ConsensusNodeAgent(
            {
              index: j,
              secretKey,
              keys,
              gatewayKey: blsPublicKey(gatewaySecret),
              domain: DOMAIN,
              epoch: 1,
              initialState: initialReputationState([0.5, 0.55, 0.6, 0.52]),
              viewTimeoutMs: 1_000,
              collectWindowMs: 50,
            },
            { transport: network.endpoint(`node-${j}`), clock, ledger: client(j) },
          ),
      );
      for (const a of agents) await a.start();
      const gw = network.endpoint("gateway");
      const toGateway: WireMessage[] = [];
      gw.handle((_f, b) => void toGateway.push(decodeWire(b)));
      gw.start();
      const seed = new Uint8Array(32);
      // A forged open (Θ not by the gateway's key) is refused: no reveal, no round.
      const forged = blsSign(sks[0], roundRandomMessage(DOMAIN, 1n, seed));
      for (let j = 0; j < m; j++) {
        gw.send(
          `node-${j}`,
          encodeWire({
            type: "selectionOpen",
            open: { round: 1n, seed, gatewaySignature: forged },
          }),
        );
      }
      clock.advance(500);
      expect(agents.every((a) => a.refused === 1)).to.equal(true);
      expect(chain.selections).to.deep.equal([]);
      // The genuine open and the gateway's signed statement.
      const theta = blsSign(gatewaySecret, roundRandomMessage(DOMAIN, 1n, seed));
      const sum = 4242n;
      const sig = bbnpSignRound(gatewaySecret, DOMAIN, 1n, sum, 12);
      for (let j = 0; j < m; j++) {
        gw.send(
          `node-${j}`,
          encodeWire({ type: "selectionOpen", open: { round: 1n, seed, gatewaySignature: theta } }),
        );
        gw.send(
          `node-${j}`,
          encodeWire({
            type: "consensus",
            message: { type: "gateway", round: 1n, sum, reporters: 12, gatewaySignature: sig },
          }),
        );
      }
      await drive(clock, new Promise<void>((resolve) => clock.setTimeout(resolve, 5_000)));
      expect(chain.selections.length).to.equal(1);
      expect(chain.blocks.length).to.equal(1);
      const { block, by } = chain.blocks[0];
      expect(block.sum).to.equal(sum);
      expect(block.reporters).to.equal(12);
      expect(by).to.equal(block.primary);
      expect(chain.selections[0].by).to.equal(block.primary);
      // Every node adopted it; the gateway was told.
      const digest = blockDigest(DOMAIN, block);
      for (const a of agents) {
        expect(a.node.head().round).to.equal(1n);
        expect(a.node.head().digest).to.deep.equal(digest);
        expect(a.failures).to.deep.equal([]);
      }
      expect(
        toGateway.some((x) => x.type === "consensus" && x.message.type === "committed"),
      ).to.equal(true);
      const primary = agents[block.primary].status();
      expect(primary).to.deep.include({ round: 1, isPrimary: true });
    });
  });
});
