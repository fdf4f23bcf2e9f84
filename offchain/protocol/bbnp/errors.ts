// Typed BBNP errors (STYLE "typed error classes everywhere (BBNP code included)"). Messages are
// prefixed by the function that threw; callers branch on the class, never on the text.

/** Base class of every BBNP error. */
export class BbnpError extends Error {
  override name = "BbnpError";
}

/** An argument is malformed or out of range (bad length, id, round, scalar, parameter set). */
export class BbnpInputError extends BbnpError {
  override name = "BbnpInputError";
}

/**
 * A call came out of order for the party's state machine (a round still open, no recovery in
 * progress, a mask already revealed, a correction already issued for that round…).
 */
export class BbnpStateError extends BbnpError {
  override name = "BbnpStateError";
}
