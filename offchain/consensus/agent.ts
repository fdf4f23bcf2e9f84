// Consensus-node agent (DESIGN §5; docs/CONSENSUS.md; issue 11 "One agent per role"): one
// `ConsensusNode` state machine on a `Transport`, holding only its own BLS key, with its own chain
// signer behind an injected `ConsensusLedgerClient`, its view and collection timers on the injected
// clock. A round, as the node sees it:
//   1. the gateway opens the reveal phase (`selectionOpen`: round t, the ledger's head digest, Θ).
//      The node checks the seed is its own head and Θ verifies under S_g; if it is pre-selected
//      (Γ ≥ T over the committed vector) it signs roundRandomMessage(domain, t, seed) and sends its
//      reveal (`selectionReveal`) to every node (DESIGN §5.4);
//   2. once every pre-selected node revealed, or `revealTimeoutMs` after the open, it computes the
//      selection (same inputs at every honest node ⇒ same order); the selected primary first
//      records it on-chain (`recordPrimarySelection`, so the ledger refuses any other primary
//      during the primary window);
//   3. the state machine runs the round: the gateway's signed statement, proposals, votes, view
//      changes on timeouts; messages of a round not yet started are held until it starts;
//   4. a primary with a quorum certificate commits (`commitBlock`); a takeover primary refused
//      during the selected one's window lets those blocks pass and submits again. The committing
//      node forwards the accepted block (`consensus committed`) to every node and the gateway;
//      each node adopts it (new head, reputations updated from its evidence). The selection
//      order that evidence is weighed by comes from the chain's recorded selection
//      (`recordedSelection`), never from the forward: the certificate proves the block, not the
//      order, and a Byzantine committer could otherwise make honest nodes blame innocent ones
//      (docs/CONSENSUS.md "Evidence order").
import { blsSign, blsVerify } from "../crypto/bls.ts";
import { equalBytes } from "../crypto/bytes.ts";
import {
  preselect,
  randomFromSignature,
  roundRandomMessage,
  selectPrimary,
} from "../protocol/primary-selection.ts";
import { decodeWire, decodeWireOr, encodeWire, type WireMessage } from "../protocol/wire/index.ts";
import { MAX_BLOCK_REQUEST, type SelectionOpen } from "../protocol/wire/messages.ts";
import type { Clock, TimerHandle } from "../runtime/clock.ts";
import type { Store } from "../runtime/store.ts";
import { silentLogger, type Logger } from "../runtime/log.ts";
import { stopTransport, type Transport } from "../runtime/network.ts";
import type { ConsensusBlock, QuorumCertificate } from "./block.ts";
import { bitmapIndices, blockDigest, verifyCertificate } from "./block.ts";
import type { SelectionReveals } from "./driver.ts";
import {
  ConsensusNode,
  type ConsensusCrypto,
  type ConsensusMessage,
  type ConsensusNodeInit,
  type NodeOutput,
} from "./node.ts";

/** A round's selection as the ledger recorded it (`recordPrimarySelection`, which verified it). */
export interface RecordedSelection {
  /** Γ the selection was over (1e18 fixed point; the ledger checked it is its current vector). */
  readonly reputations: readonly bigint[];
  /** The revealers' signatures on `roundRandomMessage` (96-byte compressed G2), by node index. */
  readonly signatures: ReadonlyMap<number, Uint8Array>;
  /** Θ: GW's signature on the same message (96 bytes). */
  readonly gatewaySignature: Uint8Array;
}

/** The ledger as a consensus node sees it (chain/aggregation.ts `nodeLedgerClient`, injected). */
export interface ConsensusLedgerClient {
  /**
   * `recordPrimarySelection` for round t with this node's signer (opening the reveal window and
   * waiting its timeout first when `reveals.complete` is false); resolves the gas used, or null
   * when the ledger refused it (no state change).
   */
  recordSelection(round: bigint, reveals: SelectionReveals): Promise<bigint | null>;
  /** `commitBlock`; resolves the sum from the `BlockCommitted` event and the gas, or null if refused. */
  commitBlock(
    block: ConsensusBlock,
    certificate: QuorumCertificate,
  ): Promise<{ readonly sum: bigint; readonly gasUsed: bigint } | null>;
  /** Blocks left in the recorded selection's primary window for a block by `primary` (0: none). */
  selectionWindowLeft(primary: number): Promise<bigint>;
  /** Lets `blocks` more blocks pass (a dev chain mines them; elsewhere waits). */
  advanceBlocks(blocks: bigint): Promise<void>;
  /** The ledger's head digest (32 bytes; zero before the first block). */
  headDigest(): Promise<Uint8Array>;
  /**
   * The selection recorded for round `round` before its commit (the last
   * `PrimarySelectionRecorded`), or null when none was: the source of the selection order a
   * committed block's evidence is weighed by.
   */
  recordedSelection(round: bigint): Promise<RecordedSelection | null>;
}

export interface ConsensusNodeAgentInit extends Omit<ConsensusNodeInit, "behaviour"> {
  /** How long to wait for the pre-selected nodes' reveals after the open (ms, default 200). */
  readonly revealTimeoutMs?: number;
  /** Transport address of node j (default `node-${j}`). */
  readonly nodeAddress?: (node: number) => string;
  /** The gateway's address (default "gateway"). */
  readonly gateway?: string;
  /**
   * Catch-up (docs/CONSENSUS.md "Catch-up"): while behind the chain's head, ask the peers for the
   * missing committed blocks (`blockRequest`) every this many ms (default 1,000).
   */
  readonly catchUpRetryMs?: number;
}

export interface ConsensusNodeAgentComponents {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly ledger: ConsensusLedgerClient;
  /** BLS operations (offchain/crypto/bls.ts; a simulation may memoise verification). */
  readonly crypto?: ConsensusCrypto;
  readonly logger?: Logger;
  /**
   * Durable state (optional): every adopted block is appended (`consensus/committed`, the wire
   * encoding of the committed message) and replayed on start, so that a restarted node has the
   * same head and reputation state; then checked against the chain's head.
   */
  readonly store?: Store;
  /**
   * The node's state machine (default: an honest `ConsensusNode` from the init). The Byzantine
   * behaviours of offchain/adversary/bbnp.ts pass a misbehaving one.
   */
  readonly node?: ConsensusNode;
}

/** A committed round as this node saw it (for measurement). */
export interface NodeCommit {
  readonly round: bigint;
  readonly block: ConsensusBlock;
  readonly certificate: QuorumCertificate;
  readonly order: readonly number[];
  /** Gas of this node's accepted `commitBlock` (0 if another node committed). */
  readonly gasUsed: bigint;
  /** This node submitted it. */
  readonly submitted: boolean;
}

interface RoundState {
  readonly round: bigint;
  open?: SelectionOpen;
  /** Verified reveals of pre-selected nodes: node → signature. */
  readonly reveals: Map<number, Uint8Array>;
  /** Reveals received before the open (verified once the open arrives). */
  readonly early: { from: number; signature: Uint8Array }[];
  /** Consensus messages held until the round starts. */
  readonly held: ConsensusMessage[];
  started: boolean;
  selecting: boolean;
  order?: readonly number[];
  /**
   * Γ when the open was accepted (the committed vector the selection is over): kept, because a
   * block adopted during the reveal phase (a round that committed without us) changes the head.
   */
  reputations?: readonly bigint[];
}

const MAX_HELD = 1024;
/** Store log of the adopted blocks (wire-encoded `consensus committed` messages). */
const COMMITTED_LOG = "consensus/committed";

export class ConsensusNodeAgent {
  readonly index: number;
  readonly node: ConsensusNode;
  readonly #init: ConsensusNodeAgentInit;
  readonly #c: ConsensusNodeAgentComponents;
  readonly #crypto: ConsensusCrypto;
  readonly #logger: Logger;
  readonly #addresses: readonly string[];
  readonly #gateway: string;
  readonly #rounds = new Map<bigint, RoundState>();
  #running = false;
  #behind = false;
  /** Catching up: asking peers for blocks until the chain's head is ours. */
  #catchingUp = false;
  /** Pending catch-up retry. */
  #catchUp: TimerHandle | undefined;
  /** A selection open refused because its seed was not (yet) our head: retried after catch-up. */
  #deferredOpen: SelectionOpen | undefined;
  /**
   * While catching up: the committed blocks peers sent, by round, then by (block digest, order),
   * with the peers that sent that pair. The certificate proves the block, not its selection order
   * (which feeds the reputations, DESIGN §5.3–5.4): a block is adopted once f + 1 peers sent the
   * same block with the same order, so at least one honest node vouches for the order.
   */
  readonly #vouches = new Map<
    bigint,
    Map<string, { message: Extract<ConsensusMessage, { type: "committed" }>; peers: Set<number> }>
  >();
  /** Adoptions run one after another (each reads its round's selection from the chain first). */
  #adoptions: Promise<void> = Promise.resolve();
  /** Adoptions queued or running: a selection open for the next round waits for them. */
  #adopting = 0;
  #current = 0n;
  #signed = 0;
  /** Every commit this node learnt of, by round. */
  readonly commits = new Map<bigint, NodeCommit>();
  /** Selections this node recorded on-chain: round → gas. */
  readonly selections = new Map<bigint, bigint>();
  /** Messages that failed to decode, came from an unexpected sender, or were refused. */
  refused = 0;
  /** Unexpected failures of the node's own work (e.g. the chain unreachable), in order. */
  readonly failures: Error[] = [];

  constructor(init: ConsensusNodeAgentInit, components: ConsensusNodeAgentComponents) {
    this.#init = init;
    this.#c = components;
    this.index = init.index;
    this.#crypto = components.crypto ?? { sign: blsSign, verify: blsVerify };
    this.node = components.node ?? new ConsensusNode(init, { crypto: this.#crypto });
    if (this.node.index !== init.index) throw new RangeError("ConsensusNodeAgent: node index");
    this.#logger = (components.logger ?? silentLogger).child(`node-${init.index}`);
    const addr = init.nodeAddress ?? ((j: number) => `node-${j}`);
    this.#addresses = init.keys.map((_, j) => addr(j));
    this.#gateway = init.gateway ?? "gateway";
  }

  /**
   * Replays the stored blocks (if a store is given), checks the head against the chain's (a node
   * behind the chain is reported in {@link status} as `behind`), then starts receiving; while
   * behind it asks its peers for the missing blocks (`blockRequest`), adopts each whose
   * certificate verifies under the registry keys, in round order, until its head is the chain's.
   */
  async start(): Promise<void> {
    if (this.#running) return;
    const store = this.#c.store;
    if (store) {
      let replayed = 0;
      for (const entry of store.readLog(COMMITTED_LOG)) {
        const m = decodeWire(entry.value);
        if (m.type !== "consensus" || m.message.type !== "committed") continue;
        // Our own store: the order in it is the chain's, read when the block was adopted.
        await this.#adopt(m.message, false);
        replayed++;
      }
      if (replayed > 0) this.#logger.info("restored", { blocks: replayed });
    }
    const chainHead = await this.#c.ledger.headDigest();
    this.#behind = !equalBytes(chainHead, this.node.head().digest);
    if (this.#behind) this.#logger.warn("behind the chain's head", {});
    this.#c.transport.handle((from, bytes) => this.#onMessage(from, bytes));
    this.#c.transport.start();
    this.#running = true;
    if (this.#behind) {
      this.#catchingUp = true;
      this.#requestBlocks();
    }
  }

  /** One catch-up step: ask every peer for the blocks after our head, check again later. */
  #requestBlocks(): void {
    if (!this.#running) return;
    const after = this.node.head().round ?? 0n;
    this.#logger.info("catching up", { after: Number(after) });
    for (let j = 0; j < this.#addresses.length; j++) {
      if (j !== this.index) {
        this.#send(j, { type: "blockRequest", request: { after, limit: MAX_BLOCK_REQUEST } });
      }
    }
    this.#catchUp = this.#c.clock.setTimeout(() => {
      this.#catchUp = undefined;
      this.#guard(this.#checkCaughtUp());
    }, this.#init.catchUpRetryMs ?? 1_000);
  }

  /** Compares our head with the chain's: caught up, or ask again. */
  async #checkCaughtUp(): Promise<void> {
    if (!this.#running) return;
    const chainHead = await this.#c.ledger.headDigest();
    if (equalBytes(chainHead, this.node.head().digest)) {
      this.#behind = false;
      this.#catchingUp = false;
      this.#vouches.clear();
      this.#logger.info("caught up", { head: Number(this.node.head().round ?? 0n) });
      return;
    }
    this.#requestBlocks();
  }

  /** A peer's catch-up request: our committed blocks after `after`, in round order. */
  #onBlockRequest(to: number, after: bigint, limit: number): void {
    let sent = 0;
    for (let r = after + 1n; sent < limit; r++) {
      const c = this.commits.get(r);
      if (!c) break;
      const message: ConsensusMessage = {
        type: "committed",
        block: c.block,
        certificate: c.certificate,
        order: c.order,
      };
      this.#send(to, { type: "consensus", message });
      sent++;
    }
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#catchUp !== undefined) this.#c.clock.clearTimeout(this.#catchUp);
    this.#catchUp = undefined;
    await stopTransport(this.#c.transport);
  }

  status(): Readonly<Record<string, unknown>> {
    const order = this.#rounds.get(this.#current)?.order;
    return {
      round: Number(this.#current),
      isPrimary: order !== undefined && order[0] === this.index,
      signed: this.#signed,
      head: Number(this.node.head().round ?? 0n),
      ...(this.#behind ? { behind: true } : {}),
    };
  }

  /** Runs background work (timer-started selection, submission), keeping its failure. */
  #guard(work: Promise<void>): void {
    work.catch((e: unknown) => {
      const error = e instanceof Error ? e : new Error(String(e));
      this.failures.push(error);
      this.#logger.error("node failure", { error: error.message });
    });
  }

  #send(to: number | "gateway", message: WireMessage): void {
    const address = to === "gateway" ? this.#gateway : this.#addresses[to];
    this.#c.transport.send(address, encodeWire(message));
  }

  #state(round: bigint): RoundState {
    let s = this.#rounds.get(round);
    if (!s) {
      s = { round, reveals: new Map(), early: [], held: [], started: false, selecting: false };
      this.#rounds.set(round, s);
      // Forget rounds well behind (bounded memory).
      for (const r of this.#rounds.keys()) if (r + 4n < round) this.#rounds.delete(r);
    }
    return s;
  }

  #onMessage(from: string, bytes: Uint8Array): void | Promise<void> {
    const m = decodeWireOr(bytes, (e) => {
      this.refused++;
      this.#logger.warn("undecodable message", { from, error: e.message });
    });
    if (m === undefined) return;
    if (m.type === "selectionOpen") {
      if (from !== this.#gateway) return void this.refused++;
      return this.#onOpen(m.open);
    }
    if (m.type === "blockRequest") {
      const j = this.#addresses.indexOf(from);
      if (j < 0 || j === this.index) return void this.refused++;
      return this.#onBlockRequest(j, m.request.after, m.request.limit);
    }
    if (m.type === "selectionReveal") {
      if (this.#addresses[m.reveal.from] !== from) return void this.refused++;
      return this.#onReveal(m.reveal.round, m.reveal.from, m.reveal.signature);
    }
    if (m.type !== "consensus") return void this.refused++;
    const msg = m.message;
    if (msg.type === "gateway" && from !== this.#gateway) return void this.refused++;
    if (msg.type === "committed") {
      // From another node: a block the ledger accepted. Its certificate is checked here as the
      // ledger did (quorum of registry keys, one aggregate verification): a node cannot make its
      // peers adopt a block no quorum signed.
      if (!this.#addresses.includes(from)) return void this.refused++;
      const digest = blockDigest(this.#init.domain, msg.block);
      if (!verifyCertificate(this.#init.keys, digest, msg.certificate)) return void this.refused++;
      if (this.#catchingUp) return this.#vouch(this.#addresses.indexOf(from), digest, msg);
      return this.#adopt(msg);
    }
    const round = msg.round;
    const s = this.#state(round);
    if (!s.started) {
      if (s.held.length < MAX_HELD) s.held.push(msg);
      return;
    }
    this.#process(this.node.receive(msg, this.#c.clock.now()));
  }

  /** The message every pre-selected node and the gateway sign for round t (DESIGN §5.4). */
  #randomMessage(round: bigint): Uint8Array {
    return roundRandomMessage(this.#init.domain, round, this.node.head().digest);
  }

  #onOpen(open: SelectionOpen): void | Promise<void> {
    const s = this.#state(open.round);
    if (s.open || s.started) return;
    if (this.node.head().round !== undefined && open.round <= (this.node.head().round as bigint)) {
      return void this.refused++;
    }
    if (!equalBytes(open.seed, this.node.head().digest)) {
      this.#logger.warn("selection seed is not our head", { round: Number(open.round) });
      // Perhaps we are behind, or the forwarded block is still being adopted: kept (unverified)
      // and retried once a block is adopted.
      if (this.#catchingUp || this.#adopting > 0) this.#deferredOpen = open;
      return void this.refused++;
    }
    const message = this.#randomMessage(open.round);
    if (!this.#crypto.verify(this.#init.gatewayKey, message, open.gatewaySignature)) {
      return void this.refused++;
    }
    s.open = open;
    s.reputations = this.node.committedReputations();
    this.#current = open.round;
    const preselected = preselect(s.reputations);
    for (const e of s.early.splice(0)) this.#onReveal(open.round, e.from, e.signature);
    if (preselected.includes(this.index)) {
      const signature = this.#crypto.sign(this.#init.secretKey, message);
      s.reveals.set(this.index, signature);
      const reveal = { round: open.round, from: this.index, signature };
      for (let j = 0; j < this.#addresses.length; j++) {
        if (j !== this.index) this.#send(j, { type: "selectionReveal", reveal });
      }
    }
    this.#c.clock.setTimeout(
      () => this.#guard(this.#select(open.round)),
      this.#init.revealTimeoutMs ?? 200,
    );
    if (preselected.every((q) => s.reveals.has(q))) return this.#select(open.round);
  }

  #onReveal(round: bigint, from: number, signature: Uint8Array): void | Promise<void> {
    const s = this.#state(round);
    if (s.started || s.selecting) return;
    if (!s.open) {
      // One held reveal per sender (verified once the open arrives).
      if (!s.early.some((e) => e.from === from)) s.early.push({ from, signature });
      return;
    }
    const preselected = preselect(s.reputations ?? this.node.committedReputations());
    if (!preselected.includes(from) || s.reveals.has(from)) return void this.refused++;
    const message = roundRandomMessage(this.#init.domain, round, s.open.seed);
    if (!this.#crypto.verify(this.#init.keys[from], message, signature)) {
      return void this.refused++;
    }
    s.reveals.set(from, signature);
    if (preselected.every((q) => s.reveals.has(q))) return this.#select(round);
  }

  /** Computes the round's selection, records it (primary), starts the round. */
  async #select(round: bigint): Promise<void> {
    const s = this.#state(round);
    if (!s.open || s.started || s.selecting) return;
    const head = this.node.head().round;
    if (head !== undefined && head >= round) {
      // The round committed without us (its block was adopted during our reveal phase): there is
      // nothing left to select or sign.
      s.started = true;
      s.held.length = 0;
      return;
    }
    s.selecting = true;
    const reputations = s.reputations ?? this.node.committedReputations();
    const preselected = preselect(reputations);
    const randoms = new Map<number, bigint>();
    for (const [q, sig] of s.reveals) randoms.set(q, randomFromSignature(sig));
    const selection = selectPrimary({
      reputations,
      randoms,
      threshold: randomFromSignature(s.open.gatewaySignature),
    });
    s.order = selection.order;
    if (selection.primary === this.index) {
      const reveals: SelectionReveals = {
        reputations,
        signatures: new Map(s.reveals),
        gatewaySignature: s.open.gatewaySignature,
        complete: preselected.every((q) => s.reveals.has(q)),
      };
      const gas = await this.#c.ledger.recordSelection(round, reveals);
      if (gas === null)
        this.#logger.warn("selection refused by the ledger", { round: Number(round) });
      else this.selections.set(round, gas);
    }
    s.started = true;
    const now = this.#c.clock.now();
    this.#process(this.node.startRound(round, selection.order, now));
    for (const msg of s.held.splice(0)) this.#process(this.node.receive(msg, this.#c.clock.now()));
  }

  #process(outputs: NodeOutput[]): void {
    for (const o of outputs) {
      if (o.kind === "send") {
        if (o.message.type === "vote") this.#signed++;
        this.#send(o.to, { type: "consensus", message: o.message });
      } else if (o.kind === "timer") {
        const delay = Math.max(0, o.at - this.#c.clock.now());
        this.#c.clock.setTimeout(() => {
          const now = this.#c.clock.now();
          this.#process(
            o.view < 0 ? this.node.onCollectDeadline(-1 - o.view) : this.node.onTimer(o.view, now),
          );
        }, delay);
      } else {
        this.#guard(this.#submit(o.block, o.certificate));
      }
    }
  }

  async #submit(block: ConsensusBlock, certificate: QuorumCertificate): Promise<void> {
    const ledger = this.#c.ledger;
    let result = await ledger.commitBlock(block, certificate);
    // A takeover primary (the selected one stalled): the chain accepts its block once the
    // selected primary's window is over; let those blocks pass and submit again.
    if (!result) {
      const left = await ledger.selectionWindowLeft(block.primary);
      if (left > 0n) {
        await ledger.advanceBlocks(left);
        result = await ledger.commitBlock(block, certificate);
      }
    }
    if (!result) {
      this.#logger.warn("block refused by the ledger", { round: Number(block.round) });
      return;
    }
    const order = this.#rounds.get(block.round)?.order ?? [];
    const committed: ConsensusMessage = { type: "committed", block, certificate, order };
    await this.#adopt(committed, true, result.gasUsed);
    for (let j = 0; j < this.#addresses.length; j++) {
      if (j !== this.index) this.#send(j, { type: "consensus", message: committed });
    }
    this.#send("gateway", { type: "consensus", message: committed });
    this.#logger.info("committed", {
      round: Number(block.round),
      signers: bitmapIndices(certificate.signers).length,
    });
  }

  /**
   * Catch-up: counts peer `from`'s vouch for (block, order) and adopts, in round order, every next
   * block that f + 1 distinct peers sent with the same order (f = ⌊(M − 1)/3⌋). A lying peer's
   * order is never adopted alone; its block (certificate verified) is the same as the others'.
   */
  async #vouch(
    from: number,
    digest: Uint8Array,
    m: Extract<ConsensusMessage, { type: "committed" }>,
  ): Promise<void> {
    const head = this.node.head().round;
    if (head !== undefined && m.block.round <= head) return;
    let byKey = this.#vouches.get(m.block.round);
    if (!byKey) {
      if (this.#vouches.size >= 4 * MAX_BLOCK_REQUEST) return; // bounded memory
      byKey = new Map();
      this.#vouches.set(m.block.round, byKey);
    }
    const key = `${Buffer.from(digest).toString("hex")}|${m.order.join(",")}`;
    let entry = byKey.get(key);
    if (!entry) {
      if (byKey.size >= this.#addresses.length) return; // at most one pair per peer
      entry = { message: m, peers: new Set() };
      byKey.set(key, entry);
    }
    entry.peers.add(from);
    const need = Math.floor((this.#addresses.length - 1) / 3) + 1;
    for (;;) {
      const next = (this.node.head().round ?? 0n) + 1n;
      const candidates = this.#vouches.get(next);
      const agreed = candidates && [...candidates.values()].find((e) => e.peers.size >= need);
      if (!agreed) break;
      this.#vouches.delete(next);
      const before = this.node.head().round;
      await this.#adopt(agreed.message);
      if (this.node.head().round === before) break; // not adoptable (does not extend our head)
    }
    for (const r of this.#vouches.keys()) {
      if (r <= (this.node.head().round ?? 0n)) this.#vouches.delete(r);
    }
  }

  /**
   * Adopts a block the chain accepted (forwarded by the node that committed it, sent while
   * catching up, or our own commit with its gas), one adoption after another. The order its
   * evidence is weighed by is the chain's: `selectPrimary` over the recorded selection's vector,
   * reveals and Θ, all read from the chain, so every node gets the same order; with none recorded,
   * `[primary]` (no primary counts as skipped). A stored block (`persist` false, our own store)
   * keeps the order it was stored with. The forward's own order is not used: a committer could
   * name any order (docs/CONSENSUS.md "Evidence order").
   */
  #adopt(
    m: Extract<ConsensusMessage, { type: "committed" }>,
    persist = true,
    submittedGas?: bigint,
  ): Promise<void> {
    this.#adopting++;
    const run = this.#adoptions.then(async () => {
      try {
        await this.#adoptNow(m, persist, submittedGas);
      } finally {
        this.#adopting--;
      }
    });
    this.#adoptions = run.catch(() => undefined);
    return run;
  }

  async #adoptNow(
    forwarded: Extract<ConsensusMessage, { type: "committed" }>,
    persist: boolean,
    submittedGas: bigint | undefined,
  ): Promise<void> {
    const before = this.node.head();
    const extendsHead =
      (before.round === undefined || forwarded.block.round > before.round) &&
      equalBytes(forwarded.block.previousDigest, before.digest);
    let m = forwarded;
    if (extendsHead && persist) {
      m = { ...forwarded, order: await this.#chainOrder(forwarded.block) };
    }
    this.node.receive(m, this.#c.clock.now());
    const adopted =
      this.node.head().round !== before.round && this.node.head().round === m.block.round;
    if (adopted) {
      // While catching up, only the chain's head says when we are level (`#checkCaughtUp`).
      if (!this.#catchingUp) this.#behind = false;
      if (persist && this.#c.store) {
        this.#c.store.append(COMMITTED_LOG, encodeWire({ type: "consensus", message: m }));
      }
    }
    const round = m.block.round;
    if (this.node.adopted.get(round) === m.block) {
      const known = this.commits.get(round);
      if (known === undefined || (submittedGas !== undefined && !known.submitted)) {
        this.commits.set(round, {
          round,
          block: m.block,
          certificate: m.certificate,
          order: adopted ? m.order : (known?.order ?? m.order),
          gasUsed: submittedGas ?? 0n,
          submitted: submittedGas !== undefined,
        });
      }
    }
    const open = this.#deferredOpen;
    if (open && equalBytes(open.seed, this.node.head().digest)) {
      this.#deferredOpen = undefined;
      this.#guard(Promise.resolve(this.#onOpen(open)));
    }
  }

  /** The selection order of `block`'s round as the chain recorded it (see {@link #adopt}). */
  async #chainOrder(block: ConsensusBlock): Promise<readonly number[]> {
    const recorded = await this.#c.ledger.recordedSelection(block.round);
    if (recorded === null) return [block.primary];
    const randoms = new Map<number, bigint>();
    for (const [q, signature] of recorded.signatures)
      randoms.set(q, randomFromSignature(signature));
    return selectPrimary({
      reputations: recorded.reputations,
      randoms,
      threshold: randomFromSignature(recorded.gatewaySignature),
    }).order;
  }
}
