// Slot disputes a third party can check (DESIGN §2, §4.2, §7; docs/SECURITY.md "What the control
// center can and cannot do"). A user holds its meter's K signed slots for an interval (the user
// batch) and compares each with the public ledger. When a slot's ledger entry differs from what the
// meter signed, the user publishes evidence: the meter-signed entry, the meter's base key `B_i`,
// the slot's tweak `t` (opening that slot only) and what the ledger holds under the pseudonym.
// Anyone checks it with {@link checkSlotDispute}: the meter's entry verifies under
// `sigPk = B_i + t·G`, and the ledger's version disagrees — another value, another key (which
// cannot be `B_i + t·G`: only the meter knows `b_i + t`), a zero slot (absence marker) over a real
// report, or no entry at all. `B_i` is the key the meter registered with CC (the judge confirms
// it with CC's registration record; docs/SECURITY.md residual risks).
import { bytesToHex, equalBytes } from "../crypto/bytes.ts";
import { messagePublicKey } from "../crypto/ggm.ts";
import { secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";
import { ENTRY_KIND, verifyEntry, type LedgerEntry } from "./entry.ts";

/** What the public ledger holds under the disputed pseudonym. */
export type LedgerSlot =
  | { readonly kind: "entry"; readonly entry: LedgerEntry }
  | { readonly kind: "zero" }
  | { readonly kind: "none" };

export type SlotDisputeReason =
  /** The ledger entry carries another value than the meter signed. */
  | "value-altered"
  /** Same value, but under a key that is not `B_i + t·G` (not the meter's signature). */
  | "key-substituted"
  /** A zero slot (absence marker) where the meter reported a chunk. */
  | "report-suppressed"
  /** The pseudonym is not on the ledger at all (its slot was displaced). */
  | "slot-missing";

export interface SlotDispute {
  readonly interval: number;
  /** Hex of the slot's pseudonym. */
  readonly pseudonym: string;
  readonly reason: SlotDisputeReason;
  /** The meter-signed entry of the slot (from the user batch). */
  readonly meterEntry: LedgerEntry;
  /** `B_i`, 33 bytes. */
  readonly basePublicKey: Uint8Array;
  /** `t` of this slot only. */
  readonly tweak: bigint;
  readonly ledger: LedgerSlot;
}

/**
 * What the ledger's version of a slot says against the meter's, or undefined when they agree
 * (a real entry equal to the meter's, or a zero slot for a dummy). Pure.
 */
export function slotDisagreement(
  meterEntry: LedgerEntry,
  ledger: LedgerSlot,
): SlotDisputeReason | undefined {
  if (ledger.kind === "none") return "slot-missing";
  if (ledger.kind === "zero") return meterEntry.value === 0n ? undefined : "report-suppressed";
  const e = ledger.entry;
  if (e.value !== meterEntry.value) return "value-altered";
  if (!equalBytes(e.sigPk, meterEntry.sigPk)) return "key-substituted";
  return undefined;
}

/**
 * Checks a dispute as a third party would: the evidence is well formed (an OCD entry of the
 * stated interval and pseudonym, signed under `B_i + t·G` over this deployment's `domain`), the
 * ledger's version is about the same pseudonym, and it disagrees for the stated reason. True iff
 * the dispute holds. Never throws on malformed evidence.
 */
export function checkSlotDispute(
  domain: Uint8Array,
  dispute: SlotDispute,
  backend: Secp256k1Backend = secp,
): boolean {
  const m = dispute.meterEntry;
  if (m.kind !== ENTRY_KIND.OCD || m.interval !== dispute.interval) return false;
  if (bytesToHex(m.id) !== dispute.pseudonym) return false;
  let expectedKey: Uint8Array;
  try {
    expectedKey = messagePublicKey(dispute.basePublicKey, dispute.tweak, backend);
  } catch {
    return false;
  }
  if (!equalBytes(expectedKey, m.sigPk) || !verifyEntry(domain, m, backend)) return false;
  if (dispute.ledger.kind === "entry") {
    const e = dispute.ledger.entry;
    if (e.interval !== m.interval || !equalBytes(e.id, m.id)) return false;
    // A substituted key must indeed not be the meter's (it cannot be, without b_i).
    if (dispute.reason === "key-substituted" && equalBytes(e.sigPk, expectedKey)) return false;
  }
  return slotDisagreement(m, dispute.ledger) === dispute.reason;
}
