// Consensus-node state machine (DESIGN §5.1–5.2, docs/CONSENSUS.md). Pure: no clock, transport or
// randomness of its own; `now` comes with every input, outputs are returned for the driver (or an
// agent) to deliver. Crypto is injected (`ConsensusCrypto`) so simulations can memoise pairings.
import { blsAggregatePublicKeys, blsAggregateSignatures } from "../crypto/bls.ts";
import { equalBytes } from "../crypto/bytes.ts";
import { bbnpRoundMessage } from "../protocol/aggregation.ts";
import { roundRandomMessage } from "../protocol/primary-selection.ts";
import {
  DEFAULT_REPUTATION_PARAMS,
  toFixed18,
  updateReputations,
  type ReputationParams,
  type ReputationState,
} from "../protocol/reputation.ts";
import {
  aggregateCertificate,
  blockDigest,
  bitmapIndices,
  quantizeReputation,
  quorumSize,
  type ConsensusBlock,
  type QuorumCertificate,
} from "./block.ts";
import { roundObservations } from "./evidence.ts";
import type { NodeBehaviour } from "./faults.ts";

/** Injected BLS operations (offchain/crypto/bls.ts in production). */
export type ConsensusCrypto = {
  readonly sign: (sk: bigint, msg: Uint8Array) => Uint8Array;
  readonly verify: (pk: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean;
};

export type ConsensusMessage =
  | {
      readonly type: "gateway";
      readonly round: bigint;
      readonly sum: bigint;
      /** Users counted in `sum`, covered by σ_GW (`bbnpRoundMessage`). */
      readonly reporters: number;
      readonly gatewaySignature: Uint8Array;
    }
  | {
      readonly type: "proposal";
      readonly round: bigint;
      readonly view: number;
      readonly block: ConsensusBlock;
    }
  | {
      readonly type: "vote";
      readonly round: bigint;
      readonly view: number;
      readonly from: number;
      readonly digest: Uint8Array;
      readonly signature: Uint8Array;
    }
  /** The chain accepted a block (what an agent learns from the ledger's BlockCommitted event). */
  | {
      readonly type: "committed";
      readonly block: ConsensusBlock;
      readonly certificate: QuorumCertificate;
      readonly order: readonly number[];
    };

export type NodeOutput =
  | { readonly kind: "send"; readonly to: number; readonly message: ConsensusMessage }
  | { readonly kind: "timer"; readonly at: number; readonly view: number }
  | {
      readonly kind: "submit";
      readonly block: ConsensusBlock;
      readonly certificate: QuorumCertificate;
    };

export type ConsensusNodeInit = {
  readonly index: number;
  readonly secretKey: bigint;
  /** Every node's BLS key (48-byte compressed), registry order. */
  readonly keys: readonly Uint8Array[];
  readonly gatewayKey: Uint8Array;
  /** aggregationDomain(chainId, ledger). */
  readonly domain: Uint8Array;
  /** The registry's membership epoch (`membershipEpoch()`), carried and checked in every block. */
  readonly epoch: number;
  /** Γ^(0) as floats; the registry holds toFixed18 of each. */
  readonly initialState: ReputationState;
  readonly behaviour?: NodeBehaviour;
  /** A view lasts this long before the next node in the order takes over (ms). */
  readonly viewTimeoutMs: number;
  /** After reaching a quorum the primary waits this long for the remaining votes (ms). */
  readonly collectWindowMs: number;
  readonly params?: ReputationParams;
};

export type ConsensusNodeComponents = { readonly crypto: ConsensusCrypto };

type RoundContext = {
  round: bigint;
  order: readonly number[];
  view: number;
  gateway?: { sum: bigint; reporters: number; gatewaySignature: Uint8Array };
  votedViews: Set<number>;
  proposed: Set<number>;
  /** As primary: the block proposed in the current view, its digest and valid votes. */
  collecting?: {
    view: number;
    block: ConsensusBlock;
    digest: Uint8Array;
    votes: Map<number, Uint8Array>;
    /** Votes not yet checked: verified together (one pairing) when they matter. */
    pending: Map<number, Uint8Array>;
    submitted: boolean;
    windowSet: boolean;
  };
};

const ZERO_DIGEST = new Uint8Array(32);

export class ConsensusNode {
  readonly index: number;
  readonly behaviour: NodeBehaviour;
  private readonly init: ConsensusNodeInit;
  private readonly crypto: ConsensusCrypto;
  private state: ReputationState;
  private headRound: bigint | undefined;
  private headDigest: Uint8Array = ZERO_DIGEST;
  private ctx: RoundContext | undefined;
  /** Committed blocks this node adopted, by round (for safety checks). */
  readonly adopted = new Map<bigint, ConsensusBlock>();

  constructor(init: ConsensusNodeInit, components: ConsensusNodeComponents) {
    this.init = init;
    this.index = init.index;
    this.behaviour = init.behaviour ?? "honest";
    this.crypto = components.crypto;
    this.state = init.initialState;
  }

  /**
   * The vector the next block must carry (Γ after the last committed round's evidence), at the
   * chain's resolution (`quantizeReputation`: the packed vector has u32 units of 1e-9).
   */
  expectedReputations(): bigint[] {
    return this.state.reputations.map((r) => quantizeReputation(toFixed18(r)));
  }

  /**
   * Γ as committed on-chain (1e18 fixed point, quantized): the head block's vector, or before the
   * first commit the initial vector. The next round's primary selection is over this vector (the
   * registry verifies reveals against the committed vector, DESIGN §5.4).
   */
  committedReputations(): bigint[] {
    const head = this.headRound === undefined ? undefined : this.adopted.get(this.headRound);
    return head ? [...head.reputations] : this.expectedReputations();
  }

  head(): { round: bigint | undefined; digest: Uint8Array } {
    return { round: this.headRound, digest: this.headDigest };
  }

  /**
   * This node's reveal for round `round` (DESIGN §5.4): its own 96-byte BLS signature on
   * `roundRandomMessage(domain, round, seed)`, seed the head digest (32 bytes). Signed with the
   * node's own key, so that a driver wiring M nodes never holds their keys.
   */
  revealSignature(round: bigint, seed: Uint8Array): Uint8Array {
    return this.crypto.sign(this.init.secretKey, roundRandomMessage(this.init.domain, round, seed));
  }

  /** Round start: the selection order is known (reveals are public and verifiable). */
  startRound(round: bigint, order: readonly number[], now: number): NodeOutput[] {
    if (this.behaviour === "crashed") return [];
    this.ctx = { round, order, view: 0, votedViews: new Set(), proposed: new Set() };
    return [{ kind: "timer", at: now + this.init.viewTimeoutMs, view: 1 }];
  }

  /** A view timer fired: move to `view` unless the round is over. */
  onTimer(view: number, now: number): NodeOutput[] {
    const ctx = this.ctx;
    if (this.behaviour === "crashed" || ctx === undefined || view <= ctx.view) return [];
    if (view >= ctx.order.length) return [];
    ctx.view = view;
    const out: NodeOutput[] = [
      { kind: "timer", at: now + this.init.viewTimeoutMs, view: view + 1 },
    ];
    return out.concat(this.maybePropose(now));
  }

  receive(message: ConsensusMessage, now: number): NodeOutput[] {
    if (this.behaviour === "crashed") return [];
    switch (message.type) {
      case "gateway":
        return this.onGateway(message, now);
      case "proposal":
        return this.onProposal(message);
      case "vote":
        return this.onVote(message, now);
      case "committed":
        this.onCommitted(message);
        return [];
    }
  }

  /** The collection window after a quorum closed: submit what we have. */
  onCollectDeadline(view: number): NodeOutput[] {
    const c = this.ctx?.collecting;
    if (c === undefined || c.view !== view || c.submitted) return [];
    return this.submit();
  }

  // ---- handlers

  private onGateway(m: Extract<ConsensusMessage, { type: "gateway" }>, now: number): NodeOutput[] {
    const ctx = this.ctx;
    if (ctx === undefined || m.round !== ctx.round || ctx.gateway !== undefined) return [];
    let msg: Uint8Array;
    try {
      msg = bbnpRoundMessage(this.init.domain, m.round, m.sum, m.reporters);
    } catch {
      return []; // a malformed statement (e.g. a count that is not a u32) is no statement
    }
    if (!this.crypto.verify(this.init.gatewayKey, msg, m.gatewaySignature)) return [];
    ctx.gateway = { sum: m.sum, reporters: m.reporters, gatewaySignature: m.gatewaySignature };
    return this.maybePropose(now);
  }

  private honestBlock(primary: number): ConsensusBlock | undefined {
    const ctx = this.ctx;
    if (ctx?.gateway === undefined) return undefined;
    return Object.freeze({
      round: ctx.round,
      previousDigest: this.headDigest,
      sum: ctx.gateway.sum,
      gatewaySignature: ctx.gateway.gatewaySignature,
      primary,
      reputations: this.expectedReputations(),
      epoch: this.init.epoch,
      reporters: ctx.gateway.reporters,
    });
  }

  private maybePropose(_now: number): NodeOutput[] {
    const ctx = this.ctx;
    if (ctx === undefined || ctx.order[ctx.view] !== this.index) return [];
    if (ctx.proposed.has(ctx.view) || this.behaviour === "stall") return [];
    const block = this.honestBlock(this.index);
    if (block === undefined) return [];
    ctx.proposed.add(ctx.view);
    const m = this.init.keys.length;
    const view = ctx.view;
    const send = (to: number, b: ConsensusBlock): NodeOutput => ({
      kind: "send",
      to,
      message: { type: "proposal", round: ctx.round, view, block: b },
    });
    const out: NodeOutput[] = [];
    if (this.behaviour === "wrongBlock" || this.behaviour === "equivocate") {
      // A block with a perturbed reputation vector: valid GW signature, wrong content.
      const wrong = {
        ...block,
        reputations: block.reputations.map((r, j) => (j === 0 ? r / 2n : r)),
      };
      for (let j = 0; j < m; j++) {
        if (j === this.index) continue;
        const equivocated = this.behaviour === "equivocate" && j % 2 === 0;
        out.push(send(j, this.behaviour === "wrongBlock" || equivocated ? wrong : block));
      }
      // The primary counts its own vote on the honest variant.
      this.beginCollecting(view, block);
      return out;
    }
    for (let j = 0; j < m; j++) if (j !== this.index) out.push(send(j, block));
    this.beginCollecting(view, block);
    return out;
  }

  private beginCollecting(view: number, block: ConsensusBlock): void {
    const ctx = this.ctx as RoundContext;
    const digest = blockDigest(this.init.domain, block);
    ctx.collecting = {
      view,
      block,
      digest,
      votes: new Map([[this.index, this.crypto.sign(this.init.secretKey, digest)]]),
      pending: new Map(),
      submitted: false,
      windowSet: false,
    };
    ctx.votedViews.add(view);
  }

  /** Checks a proposal exactly as the contract and DESIGN §5.1 require, then signs its digest. */
  private onProposal(m: Extract<ConsensusMessage, { type: "proposal" }>): NodeOutput[] {
    const ctx = this.ctx;
    if (ctx === undefined || m.round !== ctx.round || m.view < ctx.view) return [];
    const proposer = ctx.order[m.view];
    if (proposer === undefined || m.block.primary !== proposer) return [];
    if (ctx.votedViews.has(m.view)) return [];
    if (m.view > ctx.view) ctx.view = m.view;
    if (!this.blockValid(m.block)) return [];
    ctx.votedViews.add(m.view);
    const digest = blockDigest(this.init.domain, m.block);
    let signature: Uint8Array;
    if (this.behaviour === "wrongSignature") {
      signature = this.crypto.sign(this.init.secretKey, new Uint8Array([...digest, 0]));
    } else if (this.behaviour === "wrongBlock") {
      const other = { ...m.block, sum: (m.block.sum + 1n) % (1n << 200n) };
      signature = this.crypto.sign(this.init.secretKey, blockDigest(this.init.domain, other));
    } else {
      signature = this.crypto.sign(this.init.secretKey, digest);
    }
    return [
      {
        kind: "send",
        to: proposer,
        message: {
          type: "vote",
          round: m.round,
          view: m.view,
          from: this.index,
          digest,
          signature,
        },
      },
    ];
  }

  /** σ_GW valid, extends our head, our membership epoch, the deterministic reputation vector. */
  blockValid(block: ConsensusBlock): boolean {
    const ctx = this.ctx;
    if (ctx === undefined || block.round !== ctx.round) return false;
    if (this.headRound !== undefined && block.round <= this.headRound) return false;
    if (!equalBytes(block.previousDigest, this.headDigest)) return false;
    if (block.epoch !== this.init.epoch) return false;
    const expected = this.expectedReputations();
    if (
      block.reputations.length !== expected.length ||
      block.reputations.some((r, j) => r !== expected[j])
    ) {
      return false;
    }
    if (ctx.gateway !== undefined) {
      return (
        block.sum === ctx.gateway.sum &&
        block.reporters === ctx.gateway.reporters &&
        equalBytes(block.gatewaySignature, ctx.gateway.gatewaySignature)
      );
    }
    let msg: Uint8Array;
    try {
      msg = bbnpRoundMessage(this.init.domain, block.round, block.sum, block.reporters);
    } catch {
      return false;
    }
    return this.crypto.verify(this.init.gatewayKey, msg, block.gatewaySignature);
  }

  private onVote(m: Extract<ConsensusMessage, { type: "vote" }>, now: number): NodeOutput[] {
    const c = this.ctx?.collecting;
    if (c === undefined || c.submitted || m.view !== c.view || m.round !== this.ctx?.round) {
      return [];
    }
    if (c.votes.has(m.from) || c.pending.has(m.from)) return [];
    if (m.from < 0 || m.from >= this.init.keys.length) return [];
    if (!equalBytes(m.digest, c.digest)) return [];
    c.pending.set(m.from, m.signature);
    const total = this.init.keys.length;
    const q = quorumSize(total);
    if (c.votes.size + c.pending.size === total) {
      this.checkPending();
      if (c.votes.size === total) return this.submit();
    }
    if (!c.windowSet && c.votes.size + c.pending.size >= q) {
      this.checkPending();
      if (c.votes.size >= q) {
        c.windowSet = true;
        return [{ kind: "timer", at: now + this.init.collectWindowMs, view: -1 - c.view }];
      }
    }
    return [];
  }

  /**
   * Verifies the pending votes: first all together (sum of signatures against the sum of keys, one
   * pairing; sound because every key has a proof of possession), and only if that fails one by one
   * to drop the invalid ones.
   */
  private checkPending(): void {
    const c = this.ctx?.collecting;
    if (c === undefined || c.pending.size === 0) return;
    const entries = [...c.pending.entries()];
    c.pending.clear();
    let allValid = false;
    try {
      allValid = this.crypto.verify(
        blsAggregatePublicKeys(entries.map(([j]) => this.init.keys[j])),
        c.digest,
        blsAggregateSignatures(entries.map(([, sig]) => sig)),
      );
    } catch {
      allValid = false; // an undecodable signature or an identity sum: check one by one
    }
    for (const [j, sig] of entries) {
      if (allValid || this.crypto.verify(this.init.keys[j], c.digest, sig)) c.votes.set(j, sig);
    }
  }

  private submit(): NodeOutput[] {
    const c = this.ctx?.collecting;
    if (c === undefined || c.submitted) return [];
    this.checkPending();
    if (c.votes.size < quorumSize(this.init.keys.length)) return [];
    c.submitted = true;
    return [{ kind: "submit", block: c.block, certificate: aggregateCertificate(c.votes) }];
  }

  /** Adopt a block the chain accepted: new head, and its evidence folded into the reputations. */
  private onCommitted(m: Extract<ConsensusMessage, { type: "committed" }>): void {
    const digest = blockDigest(this.init.domain, m.block);
    if (this.headRound !== undefined && m.block.round <= this.headRound) return;
    if (!equalBytes(m.block.previousDigest, this.headDigest)) return;
    // The ledger verified the certificate before emitting the event; only its shape is rechecked.
    if (bitmapIndices(m.certificate.signers).length < quorumSize(this.init.keys.length)) return;
    this.headRound = m.block.round;
    this.headDigest = digest;
    this.adopted.set(m.block.round, m.block);
    this.state = updateReputations(
      this.state,
      {
        round: this.state.round + 1,
        observations: roundObservations({
          primary: m.block.primary,
          signers: m.certificate.signers,
          order: m.order,
          nodeCount: this.init.keys.length,
        }),
      },
      this.init.params ?? DEFAULT_REPUTATION_PARAMS,
    );
    if (this.ctx !== undefined && this.ctx.round === m.block.round) this.ctx = undefined;
  }
}
