// Typed peel failures (DESIGN §4.6). Each carries a stable `reason` so a relay can count its drops
// by cause without parsing messages; the classes let callers `instanceof`-match one cause.

/** Why a packet was dropped; the relay's counters are keyed by these. */
export type OnionDropReason = "length" | "version" | "key" | "hmac" | "replay" | "payload";

export const ONION_DROP_REASONS: readonly OnionDropReason[] = [
  "length",
  "version",
  "key",
  "hmac",
  "replay",
  "payload",
];

export class OnionError extends Error {
  override name = "OnionError";
  readonly reason: OnionDropReason;
  constructor(reason: OnionDropReason, message: string) {
    super(message);
    this.reason = reason;
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
