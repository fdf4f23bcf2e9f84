// Typed peel failures (DESIGN §4.6). Each carries a stable `reason` so a relay can count its drops
// by cause without parsing messages; the classes let callers `instanceof`-match one cause.

/** Why a packet was dropped; the relay's counters are keyed by these. */
export type OnionDropReason =
  "input" | "length" | "version" | "key" | "hmac" | "replay" | "payload" | "overload";

export const ONION_DROP_REASONS: readonly OnionDropReason[] = [
  "input",
  "length",
  "version",
  "key",
  "hmac",
  "replay",
  "payload",
  "overload",
];

export class OnionError extends Error {
  override name = "OnionError";
  readonly reason: OnionDropReason;
  constructor(reason: OnionDropReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** The input is not a `Uint8Array` at all (an `ArrayBuffer`, a string, `null`…): a transport bug or
 * a hostile caller; counted and dropped like any bad packet. */
export class OnionInputError extends OnionError {
  override name = "OnionInputError";
  constructor(message: string) {
    super("input", message);
  }
}

/** The packet is not exactly 1366 bytes (every hop sees the same size: a different one is forged). */
export class OnionLengthError extends OnionError {
  override name = "OnionLengthError";
  constructor(message: string) {
    super("length", message);
  }
}

/** Version byte is not 0 (BOLT #4: `invalid_onion_version`). */
export class OnionVersionError extends OnionError {
  override name = "OnionVersionError";
  constructor(message: string) {
    super("version", message);
  }
}

/** The ephemeral key is not a valid compressed secp256k1 point (BOLT #4: `invalid_onion_key`). */
export class OnionKeyError extends OnionError {
  override name = "OnionKeyError";
  constructor(message: string) {
    super("key", message);
  }
}

/** The HMAC does not match: tampered packet, wrong key or wrong associated data. */
export class OnionHmacError extends OnionError {
  override name = "OnionHmacError";
  constructor(message: string) {
    super("hmac", message);
  }
}

/** The same shared secret was already seen in this epoch (DESIGN §4.6 replay cache). */
export class OnionReplayError extends OnionError {
  override name = "OnionReplayError";
  constructor(message: string) {
    super("replay", message);
  }
}

/** The authenticated hop payload is malformed or not meant for this role. */
export class OnionPayloadError extends OnionError {
  override name = "OnionPayloadError";
  constructor(message: string) {
    super("payload", message);
  }
}

/**
 * A bounded resource is full (the epoch's replay cache at its cap, or the round's forward queue):
 * the packet is dropped instead of growing memory (issue 16 "hostile load").
 */
export class OnionOverloadError extends OnionError {
  override name = "OnionOverloadError";
  constructor(message: string) {
    super("overload", message);
  }
}
