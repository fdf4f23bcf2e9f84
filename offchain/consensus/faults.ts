// Fault models of DESIGN §5.2 (up to f of 3f+1 nodes). A behaviour is data; the node state machine
// (node.ts) and the round driver (driver.ts) interpret it.
export type NodeBehaviour =
  /** Follows the protocol. */
  | "honest"
  /** Sends and answers nothing (also never reveals its random). */
  | "crashed"
  /** Correct votes that arrive after the primary's collection window (untimely). */
  | "slow"
  /** Votes with a signature on another message (invalid for the block digest). */
  | "wrongSignature"
  /** As primary proposes a block with a wrong reputation vector; as voter signs a wrong digest. */
  | "wrongBlock"
  /** As primary sends two different blocks to the two halves of the nodes; votes honestly. */
  | "equivocate"
  /** As primary never proposes (a stalled primary); votes honestly. */
  | "stall";

export const BYZANTINE_BEHAVIOURS: readonly NodeBehaviour[] = [
  "crashed",
  "slow",
  "wrongSignature",
  "wrongBlock",
  "equivocate",
  "stall",
];
