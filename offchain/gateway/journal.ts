// The gateway's round journal (issue 11 "--kill gateway@2"; DESIGN §3 "Persistence", §4.7
// "Dropouts"): what a restarted gateway needs to RESUME the round that was open when it died,
// without ever making a second, different recovery of that round. The journal holds the round's
// DECISIONS, each durable before it is acted on:
//
//   closed      the accepted masked reports, written when collection closes, BEFORE the first
//               reveal request (or the signature); from then on the counted set is fixed;
//   pass        the reveals accepted in one recovery pass, written with the pass's close, BEFORE
//               the next pass's requests (the silent set of the pass is fixed by them);
//   correction  the TA's answer Σ_D β_d(t), before the sum is unmasked;
//   signed      the signed statement (t, Σ, |R|, σ), before it is published;
//   aborted     a clean abort (too few reporters, recovery exhausted, TA refused): final.
//
// Replaying the entries through `BbnpGateway` (openRound, the reports, beginRecovery, each pass's
// reveals and closeRecoveryPass) rebuilds exactly the state the dead process had decided: the
// recovery is deterministic in them (the round graph and `recoveryPlan` are pure). Before `closed`
// nothing of the round is durable and nothing was revealed: the restarted gateway re-announces the
// round and the users resend their identical reports (BbnpUserAgent's resend path).
// Pure encode/decode; `StoreGatewayJournal` keeps the entries in a `Store` log, one namespace per
// round, each `append` one transaction.
import { bytesToHex, hexToBytes } from "../crypto/bytes.ts";
import { BbnpError } from "../protocol/bbnp/errors.ts";
import {
  decodeReport,
  decodeReveal,
  encodeReport,
  encodeReveal,
  type BbnpReport,
  type MaskReveal,
} from "../protocol/bbnp/report.ts";
import type { AbortReason } from "./errors.ts";
import type { SignedRoundSum } from "./gateway.ts";

/** One decision of a round, in the order it was taken. */
export type GatewayJournalEntry =
  | { readonly kind: "closed"; readonly reports: readonly BbnpReport[] }
  | { readonly kind: "pass"; readonly reveals: readonly MaskReveal[] }
  | { readonly kind: "correction"; readonly value: bigint }
  | { readonly kind: "signed"; readonly signed: SignedRoundSum }
  | { readonly kind: "aborted"; readonly reason: AbortReason };

/**
 * Where the gateway agent records its decisions. `append` must be durable when it returns, or
 * throw (the agent then stops the round: nothing undurable is acted on).
 */
export interface GatewayRoundJournal {
  append(round: bigint, entry: GatewayJournalEntry): void;
}

/** A journal that cannot be replayed (corrupt, or it does not match the gateway's keys). */
export class GatewayJournalError extends BbnpError {
  override name = "GatewayJournalError";
}

const ABORT_REASONS: readonly AbortReason[] = ["too-few-reporters", "recovery-exhausted", "caller"];

/** Encodes one entry as UTF-8 JSON (bytes as hex, scalars as decimal strings). */
export function encodeJournalEntry(e: GatewayJournalEntry): Uint8Array {
  let v: unknown;
  switch (e.kind) {
    case "closed":
      v = { kind: e.kind, reports: e.reports.map((r) => bytesToHex(encodeReport(r))) };
      break;
    case "pass":
      v = { kind: e.kind, reveals: e.reveals.map((r) => bytesToHex(encodeReveal(r))) };
      break;
    case "correction":
      v = { kind: e.kind, value: e.value.toString() };
      break;
    case "signed": {
      const s = e.signed;
      v = {
        kind: e.kind,
        round: s.round.toString(),
        sum: s.sum.toString(),
        reporters: s.reporters,
        missing: s.missing,
        excluded: s.excluded,
        passes: s.passes,
        signature: bytesToHex(s.signature),
      };
      break;
    }
    case "aborted":
      v = { kind: e.kind, reason: e.reason };
      break;
  }
  return new TextEncoder().encode(JSON.stringify(v));
}

/** Decodes {@link encodeJournalEntry}; throws {@link GatewayJournalError} on anything else. */
export function decodeJournalEntry(bytes: Uint8Array): GatewayJournalEntry {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    if (typeof v !== "object" || v === null) throw new Error("not an object");
    const strings = (x: unknown): string[] => {
      if (!Array.isArray(x) || x.some((s) => typeof s !== "string")) throw new Error("list");
      return x as string[];
    };
    const ints = (x: unknown): number[] => {
      if (!Array.isArray(x) || x.some((n) => !Number.isSafeInteger(n))) throw new Error("ints");
      return x as number[];
    };
    const dec = (x: unknown): bigint => {
      if (typeof x !== "string" || !/^[0-9]{1,80}$/.test(x)) throw new Error("decimal");
      return BigInt(x);
    };
    switch (v.kind) {
      case "closed":
        return {
          kind: "closed",
          reports: strings(v.reports).map((h) => decodeReport(hexToBytes(h))),
        };
      case "pass":
        return {
          kind: "pass",
          reveals: strings(v.reveals).map((h) => decodeReveal(hexToBytes(h))),
        };
      case "correction":
        return { kind: "correction", value: dec(v.value) };
      case "signed": {
        if (!Number.isSafeInteger(v.reporters) || !Number.isSafeInteger(v.passes)) {
          throw new Error("counts");
        }
        if (typeof v.signature !== "string") throw new Error("signature");
        return {
          kind: "signed",
          signed: {
            round: dec(v.round),
            sum: dec(v.sum),
            reporters: v.reporters as number,
            missing: ints(v.missing),
            excluded: ints(v.excluded),
            passes: v.passes as number,
            signature: hexToBytes(v.signature),
          },
        };
      }
      case "aborted":
        if (!ABORT_REASONS.includes(v.reason as AbortReason)) throw new Error("reason");
        return { kind: "aborted", reason: v.reason as AbortReason };
      default:
        throw new Error(`kind ${String(v.kind)}`);
    }
  } catch (e) {
    throw new GatewayJournalError(
      `gateway journal: undecodable entry (${e instanceof Error ? e.message : String(e)})`,
    );
  }
}

/** The part of `Store` the journal uses. */
export interface JournalStore {
  append(ns: string, value: Uint8Array): number;
  readLog(ns: string): readonly { readonly value: Uint8Array }[];
}

/** The journal in a `Store` (offchain/runtime/store.ts): log namespace `gateway-round/<t>`. */
export class StoreGatewayJournal implements GatewayRoundJournal {
  readonly #store: JournalStore;

  constructor(store: JournalStore) {
    this.#store = store;
  }

  append(round: bigint, entry: GatewayJournalEntry): void {
    this.#store.append(namespace(round), encodeJournalEntry(entry));
  }

  /** Round `round`'s entries in the order they were appended (empty if none). */
  entries(round: bigint): GatewayJournalEntry[] {
    return this.#store.readLog(namespace(round)).map((r) => decodeJournalEntry(r.value));
  }
}

function namespace(round: bigint): string {
  return `gateway-round/${round}`;
}
