// Fault and attack injection for the BBNP agents (issue 11: "Fault injection lives beside the agents
// as adversary wrappers, not inside the runners"). Each wrapper is a `Transport` (or a node state
// machine) around an honest agent's, so the agents themselves stay honest code:
//   - `droppingUser`: a meter that sends no report in the rounds chosen (DESIGN §4.7 dropouts);
//   - `silentInRecovery`: a meter that answers no reveal request in the rounds chosen;
//   - `reportAttacker`: a man in the middle on one user's link (forged tag, tampered value, replay;
//     docs/BBNP.md "Attacks"): the gateway must refuse and name each injected report;
//   - `slowNode`: a consensus node whose votes arrive late (DESIGN §5.2 "slow");
//   - `crashedNode`: a node that never runs (sends and answers nothing, never reveals);
//   - `byzantineNode`: the state machine's Byzantine behaviours (wrongSignature, wrongBlock,
//     equivocate, stall; consensus/faults.ts) for a node agent.
import { ConsensusNode, type ConsensusCrypto, type ConsensusNodeInit } from "../consensus/node.ts";
import type { NodeBehaviour } from "../consensus/faults.ts";
import { bytesToBigInt } from "../crypto/bytes.ts";
import { BBNP_ORDER, u256 } from "../protocol/bbnp/params.ts";
import type { BbnpReport } from "../protocol/bbnp/report.ts";
import { decodeWire, encodeWire, WIRE_TYPE } from "../protocol/wire/index.ts";
import type { Clock } from "../runtime/clock.ts";
import type { MessageHandler, Transport } from "../runtime/network.ts";
import type { Rng } from "../runtime/rng.ts";

/** A transport whose outgoing messages pass through `rewrite` (which may drop, add or delay). */
export class InterceptedTransport implements Transport {
  readonly address: string;
  readonly #inner: Transport;
  readonly #rewrite: (to: string, bytes: Uint8Array, send: (b: Uint8Array) => void) => void;

  constructor(
    inner: Transport,
    rewrite: (to: string, bytes: Uint8Array, send: (b: Uint8Array) => void) => void,
  ) {
    this.#inner = inner;
    this.address = inner.address;
    this.#rewrite = rewrite;
  }

  start(): void {
    this.#inner.start();
  }

  stop(): void {
    this.#inner.stop();
  }

  handle(handler: MessageHandler): void {
    this.#inner.handle(handler);
  }

  send(to: string, bytes: Uint8Array): void {
    this.#rewrite(to, bytes, (b) => this.#inner.send(to, b));
  }
}

/** The round of an outgoing BBNP report or reveal (undefined for anything else). */
function bbnpRound(bytes: Uint8Array): { type: "report" | "reveal"; round: bigint } | undefined {
  if (bytes[1] !== WIRE_TYPE.bbnpReport && bytes[1] !== WIRE_TYPE.bbnpReveal) return undefined;
  const m = decodeWire(bytes);
  if (m.type === "bbnpReport") return { type: "report", round: m.report.round };
  if (m.type === "bbnpReveal") return { type: "reveal", round: m.reveal.round };
  return undefined;
}

/** A user that sends no report in the rounds where `absent(round)` holds. */
export function droppingUser(inner: Transport, absent: (round: bigint) => boolean): Transport {
  return new InterceptedTransport(inner, (_to, bytes, send) => {
    const m = bbnpRound(bytes);
    if (m?.type === "report" && absent(m.round)) return;
    send(bytes);
  });
}

/**
 * A user that stays silent when asked to reveal masks in the rounds where `silent(round)` holds;
 * `onSilenced(round)` is called for every reveal withheld (the runner's own record).
 */
export function silentInRecovery(
  inner: Transport,
  silent: (round: bigint) => boolean,
  onSilenced: (round: bigint) => void,
): Transport {
  return new InterceptedTransport(inner, (_to, bytes, send) => {
    const m = bbnpRound(bytes);
    if (m?.type === "reveal" && silent(m.round)) {
      onSilenced(m.round);
      return;
    }
    send(bytes);
  });
}

export const BBNP_ATTACKS = ["forged-tag", "tampered", "replay"] as const;
/**
 * - `forged-tag`: an outsider injects a report in the victim's name (random C, random tag) before
 *   the victim's genuine one: rejected `bad-tag`, the genuine report is accepted.
 * - `tampered`: a man in the middle adds 1,000 Wh to the victim's masked value in transit (tag
 *   unchanged; the genuine report is lost): rejected `bad-tag`, the victim is recovered around as
 *   missing and its reading is not in the sum.
 * - `replay`: the victim's previous-round report is replayed (`wrong-round`) and its current
 *   report is sent twice (`duplicate`).
 */
export type BbnpAttackName = (typeof BBNP_ATTACKS)[number];

/** What the attacker did, for the runner's verdict. */
export interface AttackRecord {
  /** Rounds in which the victim's genuine report did not reach the gateway (tampered). */
  readonly lostRounds: Set<bigint>;
  /** Rounds attacked. */
  readonly attackedRounds: Set<bigint>;
}

/** A fresh, empty attack record. */
export function attackRecord(): AttackRecord {
  return { lostRounds: new Set(), attackedRounds: new Set() };
}

/**
 * A man in the middle on one user's link to the gateway, acting on that user's report of round
 * `attack.round` when `attack.active()` holds (the victim may be drawn only in that round). Keeps
 * the user's previous report (for the replay); `rng` draws the forged report; what it did goes to
 * `record`.
 */
export function reportAttacker(
  inner: Transport,
  attack: { readonly kind: BbnpAttackName; readonly round: bigint; active(): boolean },
  rng: Rng,
  record: AttackRecord,
): Transport {
  let previous: Uint8Array | undefined;
  return new InterceptedTransport(inner, (_to, bytes, send) => {
    const m = bbnpRound(bytes);
    if (m?.type !== "report") return send(bytes);
    const last = previous;
    previous = bytes;
    if (m.round !== attack.round || !attack.active()) return send(bytes);
    record.attackedRounds.add(m.round);
    const decoded = decodeWire(bytes);
    if (decoded.type !== "bbnpReport") return send(bytes);
    const mine = decoded.report;
    if (attack.kind === "forged-tag") {
      const forged: BbnpReport = {
        userId: mine.userId,
        round: mine.round,
        masked: u256(rng.nextBigInt(BBNP_ORDER)),
        tag: rng.bytes(32),
      };
      send(encodeWire({ type: "bbnpReport", report: forged }));
      send(bytes);
    } else if (attack.kind === "tampered") {
      const c = bytesToBigInt(mine.masked);
      const altered: BbnpReport = { ...mine, masked: u256((c + 1_000n) % BBNP_ORDER) };
      record.lostRounds.add(m.round);
      send(encodeWire({ type: "bbnpReport", report: altered }));
    } else {
      if (!last) throw new RangeError("reportAttacker: no earlier report of the victim to replay");
      send(last);
      send(bytes);
      send(bytes);
    }
  });
}

/** A consensus node whose votes are delayed by `delayMs` (they miss the collection window). */
export function slowNode(inner: Transport, clock: Clock, delayMs: number): Transport {
  return new InterceptedTransport(inner, (_to, bytes, send) => {
    if (bytes[1] === WIRE_TYPE.consensusVote) clock.setTimeout(() => send(bytes), delayMs);
    else send(bytes);
  });
}

/** A crashed node: an agent shape that never starts (its address drops everything sent to it). */
export function crashedNode(index: number): {
  readonly index: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): Readonly<Record<string, unknown>>;
} {
  return {
    index,
    start: async () => {},
    stop: async () => {},
    status: () => ({ crashed: true }),
  };
}

/** The node state machine with one of the Byzantine behaviours of consensus/faults.ts. */
export function byzantineNode(
  init: ConsensusNodeInit,
  behaviour: Exclude<NodeBehaviour, "honest" | "crashed" | "slow">,
  crypto: ConsensusCrypto,
): ConsensusNode {
  return new ConsensusNode({ ...init, behaviour }, { crypto });
}
