// One codec per message the roles exchange (issue 11 "Every message on a wire"; byte layouts in
// docs/PROTOCOL.md "Wire messages"). Each message is `u8 WIRE_VERSION ‖ u8 type ‖ body` (codec.ts).
// Existing encodings are framed, not re-implemented: the onion packet (onion/sphinx.ts, DESIGN §4.6),
// the meter report (protocol/meter-report.ts), the BBNP report and mask reveal
// (protocol/bbnp/report.ts, DESIGN §4.7) and the packed reputation vector of consensus blocks
// (consensus/block.ts, DESIGN §5.1) are carried byte for byte.
import {
  packReputations,
  quantizeReputation,
  REPUTATION_PACKED_BYTES,
  unpackReputations,
  type ConsensusBlock,
  type QuorumCertificate,
} from "../../consensus/block.ts";
import type { ConsensusMessage } from "../../consensus/node.ts";
import { BLS_R, BLS_SIGNATURE_LENGTH } from "../../crypto/bls.ts";
import { bytesToBigInt } from "../../crypto/bytes.ts";
import { ONION_PACKET_SIZE, ONION_VERSION } from "../../onion/sphinx.ts";
import {
  decodeReport,
  decodeReveal,
  encodeReport,
  encodeReveal,
  REPORT_BYTES,
  REVEAL_BYTES,
  type BbnpReport,
  type MaskReveal,
} from "../bbnp/report.ts";
import { BBNP_ORDER } from "../bbnp/params.ts";
import type { BillFields, SignedBillBatch } from "../billing.ts";
import { ENTRY_KIND, type LedgerEntry } from "../entry.ts";
import { decodeMeterReport, encodeMeterReport, METER_REPORT_SIZE } from "../meter-report.ts";
import {
  decodeUserBatch,
  encodeUserBatch,
  USER_BATCH_SLOT_SIZE,
  type UserBatchSlot,
} from "../user-batch.ts";
import { CURVE_ORDER } from "../../crypto/secp256k1.ts";
import {
  checkAscending,
  checkLength,
  concatBytes,
  enc,
  encodeList,
  requireAscending,
  u16,
  u256,
  u32,
  u64,
  WIRE_HEADER_BYTES,
  WIRE_VERSION,
  WireDecodeError,
  WireEncodeError,
  WireReader,
  WireTruncatedError,
  WireUnknownTypeError,
  WireVersionError,
} from "./codec.ts";

/** Type bytes. Grouped by protocol: 0x1_ Oksuz meter/CC/user, 0x2_ BBNP, 0x3_ consensus. */
export const WIRE_TYPE = {
  onionPacket: 0x10,
  meterReport: 0x11,
  ccReceipt: 0x12,
  ccResendRequest: 0x13,
  meterRegistration: 0x14,
  pseudonymBatch: 0x15,
  intervalAnnouncement: 0x16,
  dapEntries: 0x17,
  billBatch: 0x18,
  userBatch: 0x19,
  userBatchReceipt: 0x1a,
  bbnpReport: 0x20,
  bbnpRevealRequest: 0x21,
  bbnpReveal: 0x22,
  bbnpDropoutCorrection: 0x23,
  bbnpRoundOpen: 0x24,
  bbnpCorrectionRequest: 0x25,
  consensusGateway: 0x30,
  consensusProposal: 0x31,
  consensusVote: 0x32,
  consensusCommitted: 0x33,
  selectionOpen: 0x34,
  selectionReveal: 0x35,
  blockRequest: 0x36,
} as const;

/** Most committed blocks one `blockRequest` may ask for (and a peer sends back per request). */
export const MAX_BLOCK_REQUEST = 64;

/** ECIES box of the 32-byte GGM key: ephemeral (33) ‖ ciphertext (32) ‖ GCM tag (16). */
export const ENCRYPTED_GGM_KEY_BYTES = 33 + 32 + 16;
/** A message counter k is a u16 in [1, 65535] (DESIGN §4.2, x = j·2^16 + k). */
export const MAX_COUNTER = 0xffff;
/** Consensus node indices are u16 (blockDigest's primary); the signer bitmap is a uint256. */
export const MAX_CONSENSUS_NODES = 256;
/** List bound for user ids in one BBNP message (users per gateway, protocol/bbnp/params.ts). */
export const MAX_LIST = 0xffff;

/** CC → meter: send message `counter` of `interval` again (cc/control-center.ts `ResendRequest`). */
export interface ResendRequest {
  readonly meter: number;
  readonly interval: number;
  /** In [1, 65535]. */
  readonly counter: number;
}

/**
 * Meter → CC at set-up: `K_i` ECIES-encrypted to `pk_CC`, bound to `pk_i` and `B_i`
 * (meter/meter.ts `registration`; DESIGN §4.2).
 */
export interface MeterRegistration {
  readonly index: number;
  /** `pk_i`, compressed secp256k1, 33 bytes. */
  readonly publicKey: Uint8Array;
  /** `ENCRYPTED_GGM_KEY_BYTES` bytes. */
  readonly encryptedGgmKey: Uint8Array;
  /** `B_i`, the meter's signing base key, compressed, 33 bytes. */
  readonly basePublicKey: Uint8Array;
}

/**
 * CC → every meter: interval `interval` is open on-chain with window `[start, end)` (Unix seconds;
 * every OCD timestamp is `end − 1`, DESIGN §4.4) and admits onions for `windowMs` from now; relays
 * and meters move to onion epoch `interval` (DESIGN §4.6).
 */
export interface IntervalAnnouncement {
  readonly interval: number;
  readonly start: bigint;
  /** Strictly after `start`. */
  readonly end: bigint;
  /** The admission window on the receiver's clock (ms, u32). */
  readonly windowMs: number;
}

/** SP → CC (relayed mode): SP-signed DAP entries of `interval` for CC to post (Oksuz §5). */
export interface DapEntries {
  readonly interval: number;
  /** Kind-1 entries of `interval`, ids strictly ascending (the ledger's order). */
  readonly entries: readonly LedgerEntry[];
}

/** CC → meter over the direct channel: the counters of `interval` CC admitted from `meter`. */
export interface CcReceipt {
  readonly interval: number;
  readonly meter: number;
  /** Strictly ascending, each in [1, 65535]. */
  readonly counters: readonly number[];
}

/** Meter → its user at interval end: the pseudonyms P_{i,j,1..n} of interval j (Oksuz §5). */
export interface PseudonymBatch {
  readonly interval: number;
  /** 32 bytes each, in counter order (k = index + 1). */
  readonly pseudonyms: readonly Uint8Array[];
}

/** Gateway → reporting user i: reveal AUI_{i,d}(t) for each missing neighbour d (DESIGN §4.7). */
export interface BbnpRevealRequest {
  readonly round: bigint;
  readonly userId: number;
  /** Missing neighbours, strictly ascending. */
  readonly peers: readonly number[];
}

/**
 * TA → gateway: the round-t correction Σ_{d∈D} β_d(t) mod r for the users D not counted in `round`
 * (DESIGN §4.7 "Dropouts"); the answer to a {@link BbnpCorrectionRequest}.
 */
export interface BbnpDropoutCorrection {
  readonly round: bigint;
  /** D, strictly ascending. */
  readonly missing: readonly number[];
  readonly correction: bigint;
}

/**
 * Gateway → TA service: ask the round-t correction for the users D not counted in `round`
 * (DESIGN §4.7 "Dropouts"). The TA answers with a {@link BbnpDropoutCorrection} or, when it
 * refuses (too few reporters, a second request for the round, an unknown round), not at all.
 */
export interface BbnpCorrectionRequest {
  readonly round: bigint;
  /** D, strictly ascending. */
  readonly missing: readonly number[];
}

/** Gateway → every BBNP user: round `round` is open, report now (DESIGN §4.7 step 1). */
export interface BbnpRoundOpen {
  readonly round: bigint;
}

/**
 * Gateway → every consensus node: the reveal phase of round `round` (DESIGN §5.4). `seed` is the
 * ledger's head digest (32 bytes, zero before the first block), `gatewaySignature` is Θ, the GW's
 * BLS signature on `roundRandomMessage(domain, round, seed)` (96 bytes).
 */
export interface SelectionOpen {
  readonly round: bigint;
  readonly seed: Uint8Array;
  readonly gatewaySignature: Uint8Array;
}

/** Pre-selected node `from` → every node: its signature on the same message (X_q, DESIGN §5.4). */
export interface SelectionReveal {
  readonly round: bigint;
  readonly from: number;
  readonly signature: Uint8Array;
}

/**
 * Node → peer node: "send me the committed blocks of rounds after `after`" (at most `limit`, in
 * round order; docs/CONSENSUS.md "Catch-up"). A restarted node that is behind the chain's head asks
 * its peers; each answers with `consensus committed` messages (block, certificate, order), whose
 * certificates the asker verifies before adopting them. `limit` in [1, MAX_BLOCK_REQUEST].
 */
export interface BlockRequest {
  /** The asker's head round (0: none adopted). */
  readonly after: bigint;
  readonly limit: number;
}

export type WireMessage =
  | { readonly type: "onionPacket"; readonly packet: Uint8Array }
  | { readonly type: "meterReport"; readonly entry: LedgerEntry }
  | { readonly type: "ccReceipt"; readonly receipt: CcReceipt }
  | { readonly type: "ccResendRequest"; readonly request: ResendRequest }
  | { readonly type: "meterRegistration"; readonly registration: MeterRegistration }
  | { readonly type: "pseudonymBatch"; readonly batch: PseudonymBatch }
  | { readonly type: "intervalAnnouncement"; readonly announcement: IntervalAnnouncement }
  | { readonly type: "dapEntries"; readonly dap: DapEntries }
  | { readonly type: "billBatch"; readonly batch: SignedBillBatch }
  | {
      readonly type: "userBatch";
      readonly interval: number;
      /** The K slots in counter order (empty when the meter produced nothing). */
      readonly slots: readonly UserBatchSlot[];
    }
  /** User → its meter: the user batch of `interval` arrived (the meter stops resending it). */
  | { readonly type: "userBatchReceipt"; readonly interval: number }
  | { readonly type: "bbnpReport"; readonly report: BbnpReport }
  | { readonly type: "bbnpRevealRequest"; readonly request: BbnpRevealRequest }
  | { readonly type: "bbnpReveal"; readonly reveal: MaskReveal }
  | { readonly type: "bbnpDropoutCorrection"; readonly correction: BbnpDropoutCorrection }
  | { readonly type: "bbnpCorrectionRequest"; readonly request: BbnpCorrectionRequest }
  | { readonly type: "consensus"; readonly message: ConsensusMessage }
  | { readonly type: "bbnpRoundOpen"; readonly open: BbnpRoundOpen }
  | { readonly type: "selectionOpen"; readonly open: SelectionOpen }
  | { readonly type: "selectionReveal"; readonly reveal: SelectionReveal }
  | { readonly type: "blockRequest"; readonly request: BlockRequest };

export type WireMessageType = WireMessage["type"];

// ---- field helpers -----------------------------------------------------------------------------

function u16List(xs: readonly number[], what: string): Uint8Array {
  return encodeList(xs, MAX_LIST, what, (x) => enc(what, () => u16(x)));
}

function u32List(xs: readonly number[], what: string): Uint8Array {
  return encodeList(xs, MAX_LIST, what, (x) => enc(what, () => u32(x)));
}

function signature(b: Uint8Array, what: string): Uint8Array {
  return checkLength(b, BLS_SIGNATURE_LENGTH, what);
}

function encodeBlock(block: ConsensusBlock): Uint8Array {
  const what = "encodeWire: block";
  if (block.sum < 0n || block.sum >= BLS_R) throw new WireEncodeError(`${what}.sum not below r`);
  block.reputations.forEach((r, j) => {
    // The chain signs only the packed form (consensus/block.ts): an unquantized value would not
    // survive the wire, so refuse it rather than change it.
    if (typeof r === "bigint" && quantizeReputation(r) !== r) {
      throw new WireEncodeError(`${what}.reputations[${j}] is not quantized to 1e-9`);
    }
  });
  if (block.reputations.length > MAX_CONSENSUS_NODES) {
    throw new WireEncodeError(`${what}: more than ${MAX_CONSENSUS_NODES} reputations`);
  }
  return concatBytes(
    enc(what, () => u64(block.round)),
    checkLength(block.previousDigest, 32, `${what}.previousDigest`),
    u256(block.sum),
    signature(block.gatewaySignature, `${what}.gatewaySignature`),
    enc(what, () => u16(block.primary)),
    u16(block.reputations.length),
    enc(what, () => packReputations(block.reputations)),
    enc(what, () => u32(block.epoch)),
    enc(what, () => u32(block.reporters)),
  );
}

function decodeBlock(r: WireReader): ConsensusBlock {
  const round = r.u64("block.round");
  const previousDigest = r.bytes(32, "block.previousDigest");
  const sum = r.u256Below(BLS_R, "block.sum");
  const gatewaySignature = r.bytes(BLS_SIGNATURE_LENGTH, "block.gatewaySignature");
  const primary = r.u16("block.primary");
  const count = r.u16("block.reputations count");
  if (count > MAX_CONSENSUS_NODES) r.fail(`block: ${count} > ${MAX_CONSENSUS_NODES} reputations`);
  const packed = r.bytes(count * REPUTATION_PACKED_BYTES, "block.reputations");
  let reputations: bigint[];
  try {
    reputations = unpackReputations(packed);
  } catch (e) {
    r.fail("block.reputations: entry above 1.0", e);
  }
  // The membership epoch the block was certified under (docs/CONSENSUS.md).
  const epoch = r.u32("block.epoch");
  // The gateway's signed count of reporters (DESIGN §4.7 minimum; docs/BBNP.md).
  const reporters = r.u32("block.reporters");
  return { round, previousDigest, sum, gatewaySignature, primary, reputations, epoch, reporters };
}

function encodeCertificate(c: QuorumCertificate): Uint8Array {
  const what = "encodeWire: certificate";
  return concatBytes(
    enc(what, () => u256(c.signers)),
    signature(c.signature, `${what}.signature`),
  );
}

function decodeCertificate(r: WireReader): QuorumCertificate {
  return {
    signers: r.u256("certificate.signers"),
    signature: r.bytes(BLS_SIGNATURE_LENGTH, "certificate.signature"),
  };
}

function counterList(r: WireReader, field: string): number[] {
  const xs = r.list(field, MAX_COUNTER, (rr) => rr.u16(field));
  if (xs.some((k) => k === 0)) r.fail(`${field}: counter 0 (counters start at 1)`);
  requireAscending(xs, field, r);
  return xs;
}

function userList(r: WireReader, field: string): number[] {
  const xs = r.list(field, MAX_LIST, (rr) => rr.u32(field));
  requireAscending(xs, field, r);
  return xs;
}

/** Runs an existing fixed-size decoder on the next `size` bytes, mapping its errors. */
function framed<T>(r: WireReader, size: number, field: string, decode: (b: Uint8Array) => T): T {
  const bytes = r.bytes(size, field);
  try {
    return decode(bytes);
  } catch (e) {
    r.fail(`${field}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}

function compareIds(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** A Schnorr `y` (DESIGN §4.3): in [1, n − 1]. */
function encodeScalar(y: bigint, what: string): Uint8Array {
  if (y < 1n || y >= CURVE_ORDER) throw new WireEncodeError(`${what} not in [1, n − 1]`);
  return u256(y);
}

function scalar(r: WireReader, field: string): bigint {
  const y = r.u256(field);
  if (y === 0n || y >= CURVE_ORDER) r.fail(`${field} not in [1, n − 1]`);
  return y;
}

function compressedKey(r: WireReader, field: string): Uint8Array {
  const key = r.bytes(33, field);
  if (key[0] !== 2 && key[0] !== 3) r.fail(`${field} prefix is not 2 or 3`);
  return key;
}

/** DAP entry: bytes32 id ‖ u64 timestamp ‖ u64 price ‖ bytes33 sigPk ‖ bytes20 addr(R) ‖ u256 y. */
function encodeDapEntry(e: LedgerEntry, interval: number, what: string): Uint8Array {
  if (e.kind !== ENTRY_KIND.DAP) throw new WireEncodeError(`${what}: entry is not a DAP entry`);
  if (e.interval !== interval) throw new WireEncodeError(`${what}: entry of another interval`);
  if (e.sigPk[0] !== 2 && e.sigPk[0] !== 3) throw new WireEncodeError(`${what}: sigPk prefix`);
  return concatBytes(
    checkLength(e.id, 32, `${what}.id`),
    enc(what, () => u64(e.timestamp)),
    enc(what, () => u64(e.value)),
    checkLength(e.sigPk, 33, `${what}.sigPk`),
    checkLength(e.signature.rAddr, 20, `${what}.rAddr`),
    encodeScalar(e.signature.y, `${what}.y`),
  );
}

function decodeDapEntry(r: WireReader, interval: number): LedgerEntry {
  const id = r.bytes(32, "dap.id");
  const timestamp = r.u64("dap.timestamp");
  const value = r.u64("dap.price");
  const sigPk = compressedKey(r, "dap.sigPk");
  const rAddr = r.bytes(20, "dap.rAddr");
  const y = scalar(r, "dap.y");
  return { kind: ENTRY_KIND.DAP, interval, id, timestamp, value, sigPk, signature: { rAddr, y } };
}

/** Bill: bytes32 id ‖ u64 consumptionWh ‖ u64 timestamp ‖ u64 bill (the `BillBatchPosted` record). */
function encodeBill(b: BillFields, interval: number, what: string): Uint8Array {
  if (b.interval !== interval) throw new WireEncodeError(`${what}: bill of another interval`);
  return concatBytes(
    checkLength(b.id, 32, `${what}.id`),
    enc(what, () => concatBytes(u64(b.consumptionWh), u64(b.timestamp), u64(b.bill))),
  );
}

function decodeBill(r: WireReader, interval: number): BillFields {
  const id = r.bytes(32, "bill.id");
  const consumptionWh = r.u64("bill.consumptionWh");
  const timestamp = r.u64("bill.timestamp");
  const bill = r.u64("bill.bill");
  return { interval, id, timestamp, bill, consumptionWh };
}

// ---- bodies ------------------------------------------------------------------------------------

function encodeBody(m: WireMessage): Uint8Array {
  switch (m.type) {
    case "onionPacket": {
      const p = checkLength(m.packet, ONION_PACKET_SIZE, "encodeWire: onion packet");
      if (p[0] !== ONION_VERSION) throw new WireEncodeError("encodeWire: onion packet version");
      return p;
    }
    case "meterReport":
      return enc("encodeWire: meter report", () => encodeMeterReport(m.entry));
    case "ccReceipt": {
      const { interval, meter, counters } = m.receipt;
      const what = "encodeWire: receipt";
      if (counters.some((k) => k === 0)) throw new WireEncodeError(`${what}: counter 0`);
      checkAscending(counters, `${what}.counters`);
      return concatBytes(
        enc(what, () => u32(interval)),
        enc(what, () => u32(meter)),
        u16List(counters, `${what}.counters`),
      );
    }
    case "ccResendRequest": {
      const { interval, meter, counter } = m.request;
      const what = "encodeWire: resend request";
      if (counter === 0) throw new WireEncodeError(`${what}: counter 0`);
      return enc(what, () => concatBytes(u32(interval), u32(meter), u16(counter)));
    }
    case "meterRegistration": {
      const g = m.registration;
      const what = "encodeWire: registration";
      return concatBytes(
        enc(what, () => u32(g.index)),
        checkLength(g.publicKey, 33, `${what}.publicKey`),
        checkLength(g.encryptedGgmKey, ENCRYPTED_GGM_KEY_BYTES, `${what}.encryptedGgmKey`),
        checkLength(g.basePublicKey, 33, `${what}.basePublicKey`),
      );
    }
    case "pseudonymBatch": {
      const what = "encodeWire: pseudonym batch";
      return concatBytes(
        enc(what, () => u32(m.batch.interval)),
        encodeList(m.batch.pseudonyms, MAX_COUNTER, `${what}.pseudonyms`, (p) =>
          checkLength(p, 32, `${what}.pseudonym`),
        ),
      );
    }
    case "intervalAnnouncement": {
      const a = m.announcement;
      const what = "encodeWire: interval announcement";
      if (a.end <= a.start) throw new WireEncodeError(`${what}: end not after start`);
      return enc(what, () =>
        concatBytes(u32(a.interval), u64(a.start), u64(a.end), u32(a.windowMs)),
      );
    }
    case "dapEntries": {
      const what = "encodeWire: DAP entries";
      const { interval, entries } = m.dap;
      for (let i = 1; i < entries.length; i++) {
        if (compareIds(entries[i].id, entries[i - 1].id) <= 0) {
          throw new WireEncodeError(`${what}: ids must be strictly ascending`);
        }
      }
      return concatBytes(
        enc(what, () => u32(interval)),
        encodeList(entries, MAX_LIST, `${what}.entries`, (e) => encodeDapEntry(e, interval, what)),
      );
    }
    case "billBatch": {
      const what = "encodeWire: bill batch";
      const { interval, firstIndex, bills, signature } = m.batch;
      if (bills.length === 0) throw new WireEncodeError(`${what}: empty batch`);
      return concatBytes(
        enc(what, () => u32(interval)),
        enc(what, () => u64(BigInt(firstIndex))),
        encodeList(bills, MAX_LIST, `${what}.bills`, (b) => encodeBill(b, interval, what)),
        checkLength(signature.rAddr, 20, `${what}.rAddr`),
        encodeScalar(signature.y, `${what}.y`),
      );
    }
    case "userBatch": {
      const what = "encodeWire: user batch";
      if (m.slots.some((slot) => slot.entry.interval !== m.interval)) {
        throw new WireEncodeError(`${what}: a slot of another interval`);
      }
      if (m.slots.length > MAX_COUNTER) throw new WireEncodeError(`${what}: too many slots`);
      return concatBytes(
        enc(what, () => u32(m.interval)),
        u16(m.slots.length),
        enc(what, () => encodeUserBatch(m.slots)),
      );
    }
    case "userBatchReceipt":
      return enc("encodeWire: user batch receipt", () => u32(m.interval));
    case "bbnpReport": {
      const masked = checkLength(m.report.masked, 32, "encodeWire: report.masked");
      if (bytesToBigInt(masked) >= BBNP_ORDER) {
        throw new WireEncodeError("encodeWire: report.masked not below r");
      }
      return enc("encodeWire: report", () => encodeReport(m.report));
    }
    case "bbnpRevealRequest": {
      const q = m.request;
      const what = "encodeWire: reveal request";
      checkAscending(q.peers, `${what}.peers`);
      return concatBytes(
        enc(what, () => u64(q.round)),
        enc(what, () => u32(q.userId)),
        u32List(q.peers, `${what}.peers`),
      );
    }
    case "bbnpReveal": {
      checkLength(m.reveal.tag, 32, "encodeWire: reveal.tag");
      return enc("encodeWire: reveal", () => encodeReveal(m.reveal));
    }
    case "bbnpDropoutCorrection": {
      const c = m.correction;
      const what = "encodeWire: dropout correction";
      checkAscending(c.missing, `${what}.missing`);
      if (c.correction < 0n || c.correction >= BBNP_ORDER) {
        throw new WireEncodeError(`${what}: correction not below r`);
      }
      return concatBytes(
        enc(what, () => u64(c.round)),
        u32List(c.missing, `${what}.missing`),
        u256(c.correction),
      );
    }
    case "bbnpCorrectionRequest": {
      const what = "encodeWire: correction request";
      checkAscending(m.request.missing, `${what}.missing`);
      return concatBytes(
        enc(what, () => u64(m.request.round)),
        u32List(m.request.missing, `${what}.missing`),
      );
    }
    case "consensus":
      return encodeConsensus(m.message);
    case "bbnpRoundOpen":
      return enc("encodeWire: round open", () => u64(m.open.round));
    case "selectionOpen": {
      const what = "encodeWire: selection open";
      return concatBytes(
        enc(what, () => u64(m.open.round)),
        checkLength(m.open.seed, 32, `${what}.seed`),
        signature(m.open.gatewaySignature, `${what}.gatewaySignature`),
      );
    }
    case "selectionReveal": {
      const what = "encodeWire: selection reveal";
      if (m.reveal.from >= MAX_CONSENSUS_NODES) {
        throw new WireEncodeError(`${what}.from: node index ≥ ${MAX_CONSENSUS_NODES}`);
      }
      return concatBytes(
        enc(what, () => u64(m.reveal.round)),
        enc(what, () => u16(m.reveal.from)),
        signature(m.reveal.signature, `${what}.signature`),
      );
    }
    case "blockRequest": {
      const what = "encodeWire: block request";
      const { limit } = m.request;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BLOCK_REQUEST) {
        throw new WireEncodeError(`${what}.limit: not in [1, ${MAX_BLOCK_REQUEST}]`);
      }
      return concatBytes(
        enc(what, () => u64(m.request.after)),
        enc(what, () => u16(limit)),
      );
    }
  }
}

function encodeConsensus(m: ConsensusMessage): Uint8Array {
  const what = `encodeWire: consensus ${m.type}`;
  switch (m.type) {
    case "gateway":
      if (m.sum < 0n || m.sum >= BLS_R) throw new WireEncodeError(`${what}: sum not below r`);
      return concatBytes(
        enc(what, () => u64(m.round)),
        u256(m.sum),
        enc(what, () => u32(m.reporters)),
        signature(m.gatewaySignature, `${what}.gatewaySignature`),
      );
    case "proposal":
      return concatBytes(
        enc(what, () => u64(m.round)),
        enc(what, () => u32(m.view)),
        encodeBlock(m.block),
      );
    case "vote":
      return concatBytes(
        enc(what, () => u64(m.round)),
        enc(what, () => u32(m.view)),
        enc(what, () => u16(m.from)),
        checkLength(m.digest, 32, `${what}.digest`),
        signature(m.signature, `${what}.signature`),
      );
    case "committed":
      return concatBytes(
        encodeBlock(m.block),
        encodeCertificate(m.certificate),
        encodeList(m.order, MAX_CONSENSUS_NODES, `${what}.order`, (x) => enc(what, () => u16(x))),
      );
  }
}

const TYPE_OF: Readonly<Record<WireMessageType, number>> = {
  onionPacket: WIRE_TYPE.onionPacket,
  meterReport: WIRE_TYPE.meterReport,
  ccReceipt: WIRE_TYPE.ccReceipt,
  ccResendRequest: WIRE_TYPE.ccResendRequest,
  meterRegistration: WIRE_TYPE.meterRegistration,
  pseudonymBatch: WIRE_TYPE.pseudonymBatch,
  intervalAnnouncement: WIRE_TYPE.intervalAnnouncement,
  dapEntries: WIRE_TYPE.dapEntries,
  billBatch: WIRE_TYPE.billBatch,
  userBatch: WIRE_TYPE.userBatch,
  userBatchReceipt: WIRE_TYPE.userBatchReceipt,
  bbnpReport: WIRE_TYPE.bbnpReport,
  bbnpRevealRequest: WIRE_TYPE.bbnpRevealRequest,
  bbnpReveal: WIRE_TYPE.bbnpReveal,
  bbnpDropoutCorrection: WIRE_TYPE.bbnpDropoutCorrection,
  bbnpCorrectionRequest: WIRE_TYPE.bbnpCorrectionRequest,
  consensus: 0, // per variant, below
  bbnpRoundOpen: WIRE_TYPE.bbnpRoundOpen,
  selectionOpen: WIRE_TYPE.selectionOpen,
  selectionReveal: WIRE_TYPE.selectionReveal,
  blockRequest: WIRE_TYPE.blockRequest,
};

const CONSENSUS_TYPE: Readonly<Record<ConsensusMessage["type"], number>> = {
  gateway: WIRE_TYPE.consensusGateway,
  proposal: WIRE_TYPE.consensusProposal,
  vote: WIRE_TYPE.consensusVote,
  committed: WIRE_TYPE.consensusCommitted,
};

/**
 * Encodes `message` as `u8 WIRE_VERSION ‖ u8 type ‖ body` (docs/PROTOCOL.md "Wire messages").
 * Throws `WireEncodeError` for a value the wire cannot carry (wrong length, out of range, a list
 * that must be ascending and is not, an unquantized reputation).
 */
export function encodeWire(message: WireMessage): Uint8Array {
  const type =
    message.type === "consensus" ? CONSENSUS_TYPE[message.message.type] : TYPE_OF[message.type];
  if (type === undefined) throw new WireEncodeError(`encodeWire: unknown message type`);
  const body = encodeBody(message);
  // Header and body in one allocation (a relay forwards ≈ 40 packets of 1,368 bytes per meter).
  const out = new Uint8Array(WIRE_HEADER_BYTES + body.length);
  out[0] = WIRE_VERSION;
  out[1] = type;
  out.set(body, WIRE_HEADER_BYTES);
  return out;
}

/** Decodes one message; throws only `WireDecodeError` subclasses (see codec.ts). */
export function decodeWire(bytes: Uint8Array): WireMessage {
  if (!(bytes instanceof Uint8Array)) throw new WireTruncatedError("decodeWire: not a Uint8Array");
  if (bytes.length < WIRE_HEADER_BYTES) {
    throw new WireTruncatedError(`decodeWire: ${bytes.length} bytes, no header`);
  }
  if (bytes[0] !== WIRE_VERSION) throw new WireVersionError(bytes[0]);
  const type = bytes[1];
  const r = new WireReader(bytes.subarray(WIRE_HEADER_BYTES), `decodeWire(0x${type.toString(16)})`);
  try {
    const m = decodeBody(type, r);
    r.end();
    return m;
  } catch (e) {
    if (e instanceof WireDecodeError) throw e;
    // Defence in depth: a decoder bug must still surface as the named error.
    throw new WireDecodeError("field", `decodeWire: ${String(e)}`, { cause: e });
  }
}

/**
 * {@link decodeWire} for a role's receive path: a message that does not decode is handed to
 * `refuse` (the role counts and logs it) and gives `undefined`; any other error is rethrown.
 */
export function decodeWireOr(
  bytes: Uint8Array,
  refuse: (error: WireDecodeError) => void,
): WireMessage | undefined {
  try {
    return decodeWire(bytes);
  } catch (e) {
    if (!(e instanceof WireDecodeError)) throw e;
    refuse(e);
    return undefined;
  }
}

function decodeBody(type: number, r: WireReader): WireMessage {
  switch (type) {
    case WIRE_TYPE.onionPacket: {
      const packet = r.bytes(ONION_PACKET_SIZE, "onion packet");
      if (packet[0] !== ONION_VERSION) r.fail(`onion packet version ${packet[0]}`);
      return { type: "onionPacket", packet };
    }
    case WIRE_TYPE.meterReport:
      return {
        type: "meterReport",
        entry: framed(r, METER_REPORT_SIZE, "meter report", decodeMeterReport),
      };
    case WIRE_TYPE.ccReceipt: {
      const interval = r.u32("interval");
      const meter = r.u32("meter");
      return {
        type: "ccReceipt",
        receipt: { interval, meter, counters: counterList(r, "counters") },
      };
    }
    case WIRE_TYPE.ccResendRequest: {
      const interval = r.u32("interval");
      const meter = r.u32("meter");
      const counter = r.u16("counter");
      if (counter === 0) r.fail("counter 0 (counters start at 1)");
      return { type: "ccResendRequest", request: { meter, interval, counter } };
    }
    case WIRE_TYPE.meterRegistration: {
      const index = r.u32("index");
      const publicKey = compressedKey(r, "publicKey");
      const encryptedGgmKey = r.bytes(ENCRYPTED_GGM_KEY_BYTES, "encryptedGgmKey");
      if (encryptedGgmKey[0] !== 2 && encryptedGgmKey[0] !== 3) {
        r.fail("encryptedGgmKey ephemeral key prefix is not 2 or 3");
      }
      const basePublicKey = compressedKey(r, "basePublicKey");
      return {
        type: "meterRegistration",
        registration: { index, publicKey, encryptedGgmKey, basePublicKey },
      };
    }
    case WIRE_TYPE.pseudonymBatch: {
      const interval = r.u32("interval");
      const pseudonyms = r.list("pseudonyms", MAX_COUNTER, (rr) => rr.bytes(32, "pseudonym"));
      return { type: "pseudonymBatch", batch: { interval, pseudonyms } };
    }
    case WIRE_TYPE.intervalAnnouncement: {
      const interval = r.u32("interval");
      const start = r.u64("start");
      const end = r.u64("end");
      if (end <= start) r.fail("end not after start");
      const windowMs = r.u32("windowMs");
      return { type: "intervalAnnouncement", announcement: { interval, start, end, windowMs } };
    }
    case WIRE_TYPE.dapEntries: {
      const interval = r.u32("interval");
      const entries = r.list("entries", MAX_LIST, (rr) => decodeDapEntry(rr, interval));
      for (let i = 1; i < entries.length; i++) {
        if (compareIds(entries[i].id, entries[i - 1].id) <= 0) {
          r.fail("entries: ids must be strictly ascending");
        }
      }
      return { type: "dapEntries", dap: { interval, entries } };
    }
    case WIRE_TYPE.billBatch: {
      const interval = r.u32("interval");
      const first = r.u64("firstIndex");
      if (first > BigInt(Number.MAX_SAFE_INTEGER)) r.fail("firstIndex above 2^53 − 1");
      const bills = r.list("bills", MAX_LIST, (rr) => decodeBill(rr, interval));
      if (bills.length === 0) r.fail("bills: empty batch");
      const rAddr = r.bytes(20, "rAddr");
      const y = scalar(r, "y");
      return {
        type: "billBatch",
        batch: { interval, firstIndex: Number(first), bills, signature: { rAddr, y } },
      };
    }
    case WIRE_TYPE.userBatch: {
      const interval = r.u32("interval");
      const k = r.u16("slots count");
      const slots = framed(r, k * USER_BATCH_SLOT_SIZE, "slots", (b) => decodeUserBatch(b, k));
      if (slots.some((slot) => slot.entry.interval !== interval)) {
        r.fail("slots: a slot of another interval");
      }
      return { type: "userBatch", interval, slots };
    }
    case WIRE_TYPE.userBatchReceipt:
      return { type: "userBatchReceipt", interval: r.u32("interval") };
    case WIRE_TYPE.bbnpReport: {
      const report = framed(r, REPORT_BYTES, "report", decodeReport);
      if (bytesToBigInt(report.masked) >= BBNP_ORDER) {
        r.fail("report.masked not below r");
      }
      return { type: "bbnpReport", report };
    }
    case WIRE_TYPE.bbnpRevealRequest: {
      const round = r.u64("round");
      const userId = r.u32("userId");
      return { type: "bbnpRevealRequest", request: { round, userId, peers: userList(r, "peers") } };
    }
    case WIRE_TYPE.bbnpReveal: {
      const reveal = framed(r, REVEAL_BYTES, "reveal", decodeReveal);
      if (reveal.mask >= BBNP_ORDER) r.fail("reveal.mask not below r");
      return { type: "bbnpReveal", reveal };
    }
    case WIRE_TYPE.bbnpDropoutCorrection: {
      const round = r.u64("round");
      const missing = userList(r, "missing");
      const correction = r.u256Below(BBNP_ORDER, "correction");
      return { type: "bbnpDropoutCorrection", correction: { round, missing, correction } };
    }
    case WIRE_TYPE.bbnpCorrectionRequest: {
      const round = r.u64("round");
      return { type: "bbnpCorrectionRequest", request: { round, missing: userList(r, "missing") } };
    }
    case WIRE_TYPE.consensusGateway: {
      const round = r.u64("round");
      const sum = r.u256Below(BLS_R, "sum");
      const reporters = r.u32("reporters");
      const gatewaySignature = r.bytes(BLS_SIGNATURE_LENGTH, "gatewaySignature");
      return {
        type: "consensus",
        message: { type: "gateway", round, sum, reporters, gatewaySignature },
      };
    }
    case WIRE_TYPE.consensusProposal: {
      const round = r.u64("round");
      const view = r.u32("view");
      const block = decodeBlock(r);
      return { type: "consensus", message: { type: "proposal", round, view, block } };
    }
    case WIRE_TYPE.consensusVote: {
      const round = r.u64("round");
      const view = r.u32("view");
      const from = r.u16("from");
      const digest = r.bytes(32, "digest");
      const signature = r.bytes(BLS_SIGNATURE_LENGTH, "signature");
      return {
        type: "consensus",
        message: { type: "vote", round, view, from, digest, signature },
      };
    }
    case WIRE_TYPE.consensusCommitted: {
      const block = decodeBlock(r);
      const certificate = decodeCertificate(r);
      const order = r.list("order", MAX_CONSENSUS_NODES, (rr) => rr.u16("order"));
      return { type: "consensus", message: { type: "committed", block, certificate, order } };
    }
    case WIRE_TYPE.bbnpRoundOpen:
      return { type: "bbnpRoundOpen", open: { round: r.u64("round") } };
    case WIRE_TYPE.selectionOpen: {
      const round = r.u64("round");
      const seed = r.bytes(32, "seed");
      const gatewaySignature = r.bytes(BLS_SIGNATURE_LENGTH, "gatewaySignature");
      return { type: "selectionOpen", open: { round, seed, gatewaySignature } };
    }
    case WIRE_TYPE.selectionReveal: {
      const round = r.u64("round");
      const from = r.u16("from");
      if (from >= MAX_CONSENSUS_NODES) r.fail(`from: node index ${from} ≥ ${MAX_CONSENSUS_NODES}`);
      const signature = r.bytes(BLS_SIGNATURE_LENGTH, "signature");
      return { type: "selectionReveal", reveal: { round, from, signature } };
    }
    case WIRE_TYPE.blockRequest: {
      const after = r.u64("after");
      const limit = r.u16("limit");
      if (limit < 1 || limit > MAX_BLOCK_REQUEST) {
        r.fail(`limit: ${limit} not in [1, ${MAX_BLOCK_REQUEST}]`);
      }
      return { type: "blockRequest", request: { after, limit } };
    }
    default:
      throw new WireUnknownTypeError(type);
  }
}
