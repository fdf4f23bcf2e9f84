// QBFT `extraData` (Besu's QbftExtraDataCodec), DESIGN §2 "Besu": the genesis header's extraData is
//   RLP([vanity (32 bytes), [validator addresses], vote, round, [committed seals]])
// with QBFT's encodings of the two fields that differ from IBFT 2.0:
//   - no vote is an empty list `0xc0` (IBFT 2.0: the empty string `0x80`); a vote is the list
//     [recipient (20 bytes), type (1 byte: 0xff add, 0x00 drop)];
//   - the round is a minimal RLP scalar, so round 0 is `0x80` (IBFT 2.0: 4 bytes `0x8400000000`).
// Besu's QBFT decoder rejects the IBFT 2.0 form, and so does `decodeQbftExtraData`. Sources: Besu
// docs "Configure QBFT consensus" → "Extra data" (the documented vectors are the known answers of
// test/besu/extra-data.test.ts). RLP itself is ethers' `encodeRlp`/`decodeRlp`.
import { decodeRlp, encodeRlp, getAddress, isHexString, type RlpStructuredData } from "ethers";

import { QbftExtraDataError } from "./errors.ts";

/** A validator vote carried in a header (never in a genesis header). */
export interface QbftVote {
  /** Checksummed address of the validator voted on. */
  readonly recipient: string;
  /** `add` (0xff) or `drop` (0x00). */
  readonly type: "add" | "drop";
}

/** The decoded fields of a QBFT extraData. */
export interface QbftExtraData {
  /** 32 bytes, 0x-hex. */
  readonly vanity: string;
  /** Checksummed addresses, in header order. */
  readonly validators: readonly string[];
  readonly vote: QbftVote | null;
  readonly round: number;
  /** 65-byte committed seals, 0x-hex. */
  readonly seals: readonly string[];
}

const ZERO_VANITY = "0x" + "00".repeat(32);
const VOTE_ADD = "0xff";
const VOTE_DROP = "0x00";

/**
 * The genesis extraData for block-header validator selection: zero vanity, `validators` in the
 * given order (the kit passes them ascending, as Besu's docs ask), no vote, round 0, no seals.
 * An empty list is the genesis form of contract validator selection. Throws QbftExtraDataError on a
 * malformed address.
 */
export function genesisExtraData(validators: readonly string[]): string {
  return encodeQbftExtraData({ vanity: ZERO_VANITY, validators, vote: null, round: 0, seals: [] });
}

/** RLP-encodes `x` in QBFT's form. Throws QbftExtraDataError on a field of the wrong size. */
export function encodeQbftExtraData(x: QbftExtraData): string {
  if (!isHexString(x.vanity, 32)) {
    throw new QbftExtraDataError("encodeQbftExtraData: vanity must be 32 bytes of hex");
  }
  if (!Number.isSafeInteger(x.round) || x.round < 0 || x.round > 0xffffffff) {
    throw new QbftExtraDataError("encodeQbftExtraData: round must be an integer in [0, 2^32)");
  }
  for (const seal of x.seals) {
    if (!isHexString(seal, 65)) {
      throw new QbftExtraDataError("encodeQbftExtraData: every seal must be 65 bytes of hex");
    }
  }
  const vote: RlpStructuredData = x.vote
    ? [address(x.vote.recipient).toLowerCase(), x.vote.type === "add" ? VOTE_ADD : VOTE_DROP]
    : [];
  return encodeRlp([
    x.vanity.toLowerCase(),
    x.validators.map((v) => address(v).toLowerCase()),
    vote,
    roundScalar(x.round),
    x.seals.map((s) => s.toLowerCase()),
  ]);
}

/**
 * Decodes a QBFT extraData. Throws QbftExtraDataError unless it is a 5-item RLP list with a 32-byte
 * vanity, 20-byte validators, a vote list (empty or [20 bytes, 0xff | 0x00]), a minimal round scalar
 * and 65-byte seals — in particular on the IBFT 2.0 form (vote `0x80`, round `0x8400000000`).
 */
export function decodeQbftExtraData(extraData: string): QbftExtraData {
  let decoded: RlpStructuredData;
  try {
    decoded = decodeRlp(extraData);
  } catch (err) {
    throw new QbftExtraDataError(`decodeQbftExtraData: not RLP (${(err as Error).message})`);
  }
  if (!Array.isArray(decoded) || decoded.length !== 5) {
    throw new QbftExtraDataError("decodeQbftExtraData: expected an RLP list of 5 items");
  }
  const [vanity, validators, vote, round, seals] = decoded;
  if (typeof vanity !== "string" || !isHexString(vanity, 32)) {
    throw new QbftExtraDataError("decodeQbftExtraData: vanity must be 32 bytes");
  }
  if (
    !Array.isArray(validators) ||
    validators.some((v) => typeof v !== "string" || !isHexString(v, 20))
  ) {
    throw new QbftExtraDataError(
      "decodeQbftExtraData: validators must be a list of 20-byte addresses",
    );
  }
  if (!Array.isArray(vote)) {
    throw new QbftExtraDataError(
      "decodeQbftExtraData: the vote must be an RLP list (0xc0 for none); this is the IBFT 2.0 form",
    );
  }
  let parsedVote: QbftVote | null = null;
  if (vote.length !== 0) {
    const [recipient, type] = vote;
    if (
      vote.length !== 2 ||
      typeof recipient !== "string" ||
      !isHexString(recipient, 20) ||
      (type !== VOTE_ADD && type !== VOTE_DROP)
    ) {
      throw new QbftExtraDataError(
        "decodeQbftExtraData: a vote is [20-byte recipient, 0xff | 0x00]",
      );
    }
    parsedVote = { recipient: getAddress(recipient), type: type === VOTE_ADD ? "add" : "drop" };
  }
  if (typeof round !== "string" || round.length > 2 + 8 || round.startsWith("0x00")) {
    throw new QbftExtraDataError(
      "decodeQbftExtraData: the round must be a minimal RLP scalar of at most 4 bytes (0x80 for 0); a fixed 4-byte round is the IBFT 2.0 form",
    );
  }
  if (!Array.isArray(seals) || seals.some((s) => typeof s !== "string" || !isHexString(s, 65))) {
    throw new QbftExtraDataError("decodeQbftExtraData: seals must be a list of 65-byte signatures");
  }
  return {
    vanity,
    validators: (validators as string[]).map((v) => getAddress(v)),
    vote: parsedVote,
    round: round === "0x" ? 0 : Number(BigInt(round)),
    seals: seals as string[],
  };
}

function roundScalar(round: number): string {
  if (round === 0) return "0x";
  const hex = round.toString(16);
  return "0x" + (hex.length % 2 === 0 ? hex : "0" + hex);
}

function address(value: string): string {
  try {
    return getAddress(value);
  } catch {
    throw new QbftExtraDataError(`QBFT extraData: "${value}" is not an address`);
  }
}
