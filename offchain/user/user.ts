// User / consumer (Oksuz 2020 §5 "Bill calculation", Remark 5; §6): verifies its own bill from the
// ledgers alone. It knows only the pseudonyms its meter delivered (one batch per interval) and the
// public keys; it finds its OCD entries, checks every signature (meter entries, SP's DAP entry and
// bill batches), recomputes the price from the public tariff and the ledger's aggregate, and its
// bill `Σ_k p_j·c_{i,j,k}`. Anything that does not match is a dispute, named.
import { bytesToHex, equalBytes } from "../crypto/bytes.ts";
import type { BillFields } from "../chain/billing.ts";
import type { KeyPair } from "../crypto/keys.ts";
import type { IntervalReport } from "../chain/ledgerReader.ts";
import { ENTRY_KIND, verifyEntry, type LedgerEntry } from "../protocol/entry.ts";
import { spUserPseudonym } from "../protocol/pseudonym.ts";

export interface UserInit {
  /** The household's meter (for reports only; the user never reveals it). */
  readonly meterIndex: number;
  readonly domain: Uint8Array;
  /** SP's registered `sigPk_SP`. */
  readonly spSigPk: Uint8Array;
  /** Direct mode (paper §6): the user's key pair and SP's `pk_SP`, `ID_SP` to find its DAP entry. */
  readonly direct?: {
    readonly keys: KeyPair;
    readonly spPublicKey: Uint8Array;
    readonly spId: Uint8Array;
  };
}

export interface UserIntervalCheck {
  readonly interval: number;
  readonly meterIndex: number;
  /** Own pseudonyms found in the OCD ledger. */
  readonly entries: number;
  /** Own pseudonyms the meter delivered that the ledger lacks. */
  readonly missing: number;
  readonly consumptionWh: bigint;
  readonly price?: bigint;
  /** `Σ p·c` over the user's entries, by the user's own arithmetic. */
  readonly expectedBill: bigint;
  /** Σ of the bills the BC ledger holds for the user's pseudonyms. */
  readonly postedBill: bigint;
  /** True iff there is no dispute. */
  readonly verified: boolean;
  readonly disputes: readonly string[];
}

export class User {
  readonly meterIndex: number;
  readonly #init: UserInit;
  readonly #pseudonyms = new Map<number, readonly Uint8Array[]>();

  constructor(init: UserInit) {
    this.#init = init;
    this.meterIndex = init.meterIndex;
  }

  /** The meter's batch for an interval (over the pairing channel, at interval end). */
  receivePseudonyms(interval: number, pseudonyms: readonly Uint8Array[]): void {
    this.#pseudonyms.set(
      interval,
      pseudonyms.map((p) => Uint8Array.from(p)),
    );
  }

  pseudonyms(interval: number): readonly Uint8Array[] {
    return this.#pseudonyms.get(interval) ?? [];
  }

  /** Verifies interval `report.interval` as rebuilt from chain events (offchain/chain/ledgerReader). */
  verifyInterval(report: IntervalReport): UserIntervalCheck {
    const { domain, spSigPk } = this.#init;
    const interval = report.interval;
    const disputes: string[] = [];
    const mine = this.pseudonyms(interval).map(bytesToHex);
    const index = indexOf(report);

    let entries = 0;
    let consumptionWh = 0n;
    for (const key of mine) {
      const e = index.ocd.get(key);
      if (e === undefined) continue;
      entries++;
      consumptionWh += e.value;
      if (!verifyEntry(domain, e))
        disputes.push(`OCD entry ${key.slice(0, 12)}… has a bad signature`);
    }
    const missing = mine.length - entries;
    if (missing > 0) disputes.push(`${missing} of my reports are missing from the OCD ledger`);

    // Price: SP-signed DAP entry, equal to the tariff at the ledger's own aggregate.
    let price: bigint | undefined;
    const dap = this.#myDapEntries(report);
    if (dap.length === 0) disputes.push("no DAP entry for me");
    for (const d of dap) {
      if (!equalBytes(d.sigPk, spSigPk) || !verifyEntry(domain, d)) {
        disputes.push("DAP entry not signed by the registered SP key");
      }
      price ??= d.value;
      if (d.value !== price) disputes.push("DAP entries disagree on the price");
    }
    if (
      price !== undefined &&
      report.expectedPrice !== undefined &&
      price !== report.expectedPrice
    ) {
      disputes.push(`price ${price} differs from tariff(Σc) = ${report.expectedPrice}`);
    }
    for (const m of report.mismatches) disputes.push(`ledger: ${m}`);

    // Bills: every own pseudonym billed exactly once, B = p·c, in a batch SP signed.
    let postedBill = 0n;
    for (const key of mine) {
      const bills = index.bills.get(key) ?? [];
      if (bills.length !== 1 && report.state >= 4) {
        disputes.push(`pseudonym ${key.slice(0, 12)}… billed ${bills.length} times`);
      }
      for (const { bill, signedBySp } of bills) {
        postedBill += bill.bill;
        if (!signedBySp) disputes.push(`bill ${key.slice(0, 12)}… in a batch SP did not sign`);
        if (price !== undefined && bill.bill !== price * bill.consumptionWh) {
          disputes.push(
            `bill ${key.slice(0, 12)}… is ${bill.bill}, expected ${price * bill.consumptionWh}`,
          );
        }
      }
    }
    const expectedBill = price === undefined ? 0n : price * consumptionWh;
    if (postedBill !== expectedBill) {
      disputes.push(`posted bill ${postedBill} differs from my computation ${expectedBill}`);
    }
    return {
      interval,
      meterIndex: this.meterIndex,
      entries,
      missing,
      consumptionWh,
      price,
      expectedBill,
      postedBill,
      verified: disputes.length === 0,
      disputes,
    };
  }

  #myDapEntries(report: IntervalReport) {
    const direct = this.#init.direct;
    if (direct === undefined) return report.dap.filter((d) => d.kind === ENTRY_KIND.DAP);
    const id = spUserPseudonym(
      direct.keys.secretKey,
      direct.spPublicKey,
      direct.spId,
      report.interval,
    );
    return report.dap.filter((d) => equalBytes(d.id, id));
  }
}

interface ReportIndex {
  readonly ocd: ReadonlyMap<string, LedgerEntry>;
  readonly bills: ReadonlyMap<string, readonly { bill: BillFields; signedBySp: boolean }[]>;
}

/**
 * The report indexed by pseudonym, built once per report object and shared by every user that
 * checks it in this process (a simulation runs many users over one read of the chain): each
 * user's check then costs O(own entries), not O(ledger).
 */
const indexes = new WeakMap<IntervalReport, ReportIndex>();

function indexOf(report: IntervalReport): ReportIndex {
  let index = indexes.get(report);
  if (index === undefined) {
    const ocd = new Map<string, LedgerEntry>();
    for (const e of report.ocd) ocd.set(bytesToHex(e.id), e);
    const bills = new Map<string, { bill: BillFields; signedBySp: boolean }[]>();
    for (const batch of report.billBatches) {
      for (const bill of batch.bills) {
        const key = bytesToHex(bill.id);
        let list = bills.get(key);
        if (!list) bills.set(key, (list = []));
        list.push({ bill, signedBySp: batch.signatureValid });
      }
    }
    index = { ocd, bills };
    indexes.set(report, index);
  }
  return index;
}
