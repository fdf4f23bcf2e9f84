// Round driver (DESIGN §5): wires M consensus-node state machines, the gateway and the chain over
// an injected in-memory transport with a virtual clock (discrete events, no real time). One call
// of `runRound` runs the reveal phase (primary selection), the gateway's delivery, proposals,
// votes, view changes and the primary's submission, and delivers the chain's commit to every node.
import { bbnpSignRound } from "../protocol/aggregation.ts";
import {
  preselect,
  randomFromSignature,
  roundRandomMessage,
  selectPrimary,
  type PrimarySelection,
} from "../protocol/primary-selection.ts";
import type { ConsensusBlock, QuorumCertificate } from "./block.ts";
import type { NodeBehaviour } from "./faults.ts";
import { ConsensusNode, type ConsensusMessage, type NodeOutput } from "./node.ts";

/** The chain as the driver sees it: accepts or refuses a certified block (the ledger's checks). */
export type ChainPort = {
  submit(
    block: ConsensusBlock,
    certificate: QuorumCertificate,
    submitter: number,
  ): Promise<boolean>;
};

export type RoundDriverInit = {
  readonly gatewaySecretKey: bigint;
  readonly domain: Uint8Array;
  /** One-way delay of a message from `from` to `to` (ms); `from` −1 is the gateway or the chain. */
  readonly latency: (from: number, to: number, message: ConsensusMessage) => number;
  /** Extra delay of a slow node's votes (ms). */
  readonly slowDelayMs: number;
  /** Give up a round after this much virtual time (ms). */
  readonly roundDeadlineMs: number;
};

export type RoundDriverComponents = {
  readonly nodes: readonly ConsensusNode[];
  readonly chain: ChainPort;
  readonly sign: (sk: bigint, msg: Uint8Array) => Uint8Array;
  /** Node secret keys, for the reveal phase (each node signs its own random). */
  readonly secretKeys: readonly bigint[];
};

export type RoundOutcome = {
  readonly round: bigint;
  readonly selection: PrimarySelection;
  /** The accepted block and certificate, if the round completed. */
  readonly committed?: { block: ConsensusBlock; certificate: QuorumCertificate };
  /** Every submission the chain refused (e.g. a late second certificate). */
  readonly refused: number;
  /** Every certified (block, certificate) any primary produced this round. */
  readonly certified: readonly { block: ConsensusBlock; certificate: QuorumCertificate }[];
  /** Virtual time at which the chain accepted the block (ms). */
  readonly commitTimeMs?: number;
  /** Primaries that took over (index in order, 0 = the selected primary). */
  readonly viewOfCommit?: number;
};

type Event = { at: number; seq: number; run: () => Promise<void> | void };

export class RoundDriver {
  private readonly init: RoundDriverInit;
  private readonly c: RoundDriverComponents;

  constructor(init: RoundDriverInit, components: RoundDriverComponents) {
    this.init = init;
    this.c = components;
  }

  /** Reveal phase of DESIGN §5.4: live pre-selected nodes and GW sign roundRandomMessage(domain, t, seed). */
  selection(round: bigint, seed: Uint8Array, reputations: readonly bigint[]): PrimarySelection {
    const message = roundRandomMessage(this.init.domain, round, seed);
    const randoms = new Map<number, bigint>();
    for (const q of preselect(reputations)) {
      if (this.c.nodes[q].behaviour === "crashed") continue;
      randoms.set(q, randomFromSignature(this.c.sign(this.c.secretKeys[q], message)));
    }
    const threshold = randomFromSignature(this.c.sign(this.init.gatewaySecretKey, message));
    return selectPrimary({ reputations, randoms, threshold });
  }

  /**
   * Runs round `round` on the aggregate `sum` over `reporters` counted users (GW signs both,
   * `bbnpSignRound`); resolves with the outcome (never rejects on a refused submission).
   */
  async runRound(round: bigint, sum: bigint, reporters: number): Promise<RoundOutcome> {
    const nodes = this.c.nodes;
    const reference = nodes.find((n) => n.behaviour === "honest") ?? nodes[0];
    const { digest: seed } = reference.head();
    const selection = this.selection(round, seed, reference.expectedReputations());
    const queue: Event[] = [];
    let seq = 0;
    let now = 0;
    const at = (time: number, run: Event["run"]) => queue.push({ at: time, seq: seq++, run });
    const certified: { block: ConsensusBlock; certificate: QuorumCertificate }[] = [];
    let committed: RoundOutcome["committed"];
    let commitTimeMs: number | undefined;
    let refused = 0;

    const deliver = (from: number, to: number, message: ConsensusMessage) => {
      let delay = this.init.latency(from, to, message);
      if (message.type === "vote" && nodes[from]?.behaviour === "slow") {
        delay += this.init.slowDelayMs;
      }
      at(now + delay, () => handle(to, nodes[to].receive(message, now)));
    };
    const handle = async (i: number, outputs: NodeOutput[]): Promise<void> => {
      for (const o of outputs) {
        if (o.kind === "send") deliver(i, o.to, o.message);
        else if (o.kind === "timer") {
          at(o.at, () =>
            handle(
              i,
              o.view < 0 ? nodes[i].onCollectDeadline(-1 - o.view) : nodes[i].onTimer(o.view, now),
            ),
          );
        } else {
          certified.push({ block: o.block, certificate: o.certificate });
          const accepted = await this.c.chain.submit(o.block, o.certificate, i);
          if (!accepted) {
            refused++;
            continue;
          }
          committed ??= { block: o.block, certificate: o.certificate };
          commitTimeMs ??= now;
          const msg: ConsensusMessage = {
            type: "committed",
            block: o.block,
            certificate: o.certificate,
            order: selection.order,
          };
          for (let j = 0; j < nodes.length; j++) deliver(-1, j, msg);
        }
      }
    };

    const gatewaySignature = bbnpSignRound(
      this.init.gatewaySecretKey,
      this.init.domain,
      round,
      sum,
      reporters,
    );
    for (let j = 0; j < nodes.length; j++) {
      await handle(j, nodes[j].startRound(round, selection.order, 0));
      deliver(-1, j, { type: "gateway", round, sum, reporters, gatewaySignature });
    }
    while (queue.length > 0) {
      queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const e = queue.shift() as Event;
      if (e.at > this.init.roundDeadlineMs) break;
      now = e.at;
      await e.run();
    }
    return {
      round,
      selection,
      committed,
      refused,
      certified,
      commitTimeMs,
      viewOfCommit: committed ? selection.order.indexOf(committed.block.primary) : undefined,
    };
  }
}

/** Behaviours for M nodes with `faulty` given ones at chosen indices, the rest honest. */
export function behaviours(m: number, faulty: ReadonlyMap<number, NodeBehaviour>): NodeBehaviour[] {
  return Array.from({ length: m }, (_, j) => faulty.get(j) ?? "honest");
}
