// Round driver (DESIGN §5): wires M consensus-node state machines, the gateway and the chain over
// an injected in-memory transport with a virtual clock (discrete events, no real time). One call
// of `runRound` runs the reveal phase (primary selection), the gateway's delivery, proposals,
// votes, view changes and the primary's submission, and delivers the chain's commit to every node.
// The driver holds no secret key (issue 11): the gateway's signed statement (t, Σ, |R|, σ_GW) is
// its input and Θ comes from the gateway port; each node signs its own reveal
// (`ConsensusNode.revealSignature`).
import {
  preselect,
  randomFromSignature,
  selectPrimary,
  type PrimarySelection,
} from "../protocol/primary-selection.ts";
import type { ConsensusBlock, QuorumCertificate } from "./block.ts";
import type { NodeBehaviour } from "./faults.ts";
import { ConsensusNode, type ConsensusMessage, type NodeOutput } from "./node.ts";

/** A round's primary-selection reveals (DESIGN §5.4), as `recordPrimarySelection` takes them. */
export type SelectionReveals = {
  /** Γ of every node (1e18 fixed point): the committed vector the selection is over. */
  readonly reputations: readonly bigint[];
  /** Pre-selected node → its 96-byte signature on `roundRandomMessage` (those that revealed). */
  readonly signatures: ReadonlyMap<number, Uint8Array>;
  /** GW's 96-byte signature on the same message (Θ). */
  readonly gatewaySignature: Uint8Array;
  /** True iff every pre-selected node revealed (else the chain accepts it after its timeout). */
  readonly complete: boolean;
};

/** The chain as the driver sees it: accepts or refuses a certified block (the ledger's checks). */
export type ChainPort = {
  submit(
    block: ConsensusBlock,
    certificate: QuorumCertificate,
    submitter: number,
  ): Promise<boolean>;
  /**
   * Records the round's verified selection on-chain before the proposals
   * (`AggregationLedger.recordPrimarySelection`; with `complete` false after opening the reveal
   * window and its timeout), so that `commitBlock` refuses any other primary during the primary
   * window (docs/CONSENSUS.md "Primary selection at commit time"). Resolves false if the chain
   * refused it; absent: nothing is recorded and the chain checks no selection.
   */
  recordSelection?(round: bigint, reveals: SelectionReveals): Promise<boolean>;
};

/**
 * The gateway's signed statement for a round (DESIGN §4.8): `gatewaySignature` is σ_GW =
 * `bbnpSignRound(s_g, domain, round, sum, reporters)` (96 bytes), made by the gateway with its own
 * key (e.g. `SignedRoundSum` of `BbnpGateway.finalize`); the nodes verify it.
 */
export type GatewayStatement = {
  readonly round: bigint;
  readonly sum: bigint;
  readonly reporters: number;
  readonly gatewaySignature: Uint8Array;
};

/** The gateway as the driver sees it: it signs with s_g, the driver only relays. */
export type GatewayPort = {
  /**
   * Θ of DESIGN §5.4: the gateway's 96-byte BLS signature on `roundRandomMessage(domain, round,
   * seed)`, seed the head digest (32 bytes).
   */
  selectionSignature(round: bigint, seed: Uint8Array): Uint8Array;
};

export type RoundDriverInit = {
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
  /** Θ for the reveal phase (the gateway's own signature). */
  readonly gateway: GatewayPort;
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
  /** Whether the selection was recorded on-chain (undefined: the chain port records none). */
  readonly selectionRecorded?: boolean;
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

  /**
   * Reveal phase of DESIGN §5.4: live pre-selected nodes (each with its own key) and GW (through
   * the gateway port) sign roundRandomMessage(domain, t, seed).
   */
  selection(round: bigint, seed: Uint8Array, reputations: readonly bigint[]): PrimarySelection {
    return this.reveal(round, seed, reputations).selection;
  }

  /** The reveal phase with its signatures (for the chain's `recordPrimarySelection`). */
  reveal(
    round: bigint,
    seed: Uint8Array,
    reputations: readonly bigint[],
  ): { selection: PrimarySelection; reveals: SelectionReveals } {
    const randoms = new Map<number, bigint>();
    const signatures = new Map<number, Uint8Array>();
    const preselected = preselect(reputations);
    for (const q of preselected) {
      if (this.c.nodes[q].behaviour === "crashed") continue;
      const sig = this.c.nodes[q].revealSignature(round, seed);
      signatures.set(q, sig);
      randoms.set(q, randomFromSignature(sig));
    }
    const gatewaySignature = this.c.gateway.selectionSignature(round, seed);
    const threshold = randomFromSignature(gatewaySignature);
    return {
      selection: selectPrimary({ reputations, randoms, threshold }),
      reveals: {
        reputations,
        signatures,
        gatewaySignature,
        complete: signatures.size === preselected.length,
      },
    };
  }

  /**
   * Runs the round of the gateway's signed `statement` (the aggregate Σ over |R| counted users and
   * σ_GW, relayed unchanged to every node, which verify it); resolves with the outcome (never
   * rejects on a refused submission).
   */
  async runRound(statement: GatewayStatement): Promise<RoundOutcome> {
    const { round, sum, reporters, gatewaySignature } = statement;
    const nodes = this.c.nodes;
    const reference = nodes.find((n) => n.behaviour === "honest") ?? nodes[0];
    const { digest: seed } = reference.head();
    // Over the committed vector: what `recordPrimarySelection` verifies the reveals against.
    const { selection, reveals } = this.reveal(round, seed, reference.committedReputations());
    const selectionRecorded = this.c.chain.recordSelection
      ? await this.c.chain.recordSelection(round, reveals)
      : undefined;
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
      selectionRecorded,
      commitTimeMs,
      viewOfCommit: committed ? selection.order.indexOf(committed.block.primary) : undefined,
    };
  }
}

/** Behaviours for M nodes with `faulty` given ones at chosen indices, the rest honest. */
export function behaviours(m: number, faulty: ReadonlyMap<number, NodeBehaviour>): NodeBehaviour[] {
  return Array.from({ length: m }, (_, j) => faulty.get(j) ?? "honest");
}
