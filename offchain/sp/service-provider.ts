// Service provider (Oksuz 2020 §5 "Data aggregation and dynamic pricing", "Bill calculation", §6):
// a pure state machine over the sealed OCD ledger. It aggregates, prices the interval by the public
// tariff, and bills every pseudonym `B = p_j·c` in OCD order. The contracts refuse any other price
// or bill (DESIGN §2); SP still checks the OCD ledger it bills against, as the paper requires.
import type { ServiceProviderKeys } from "../crypto/keys.ts";
import { secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";
import { signBillBatch, type BillFields, type SignedBillBatch } from "../protocol/billing.ts";
import { tariffPrice, type TariffSchedule } from "../protocol/tariff.ts";
import { ENTRY_KIND, signEntry, verifyEntry, type LedgerEntry } from "../protocol/entry.ts";
import { spUserPseudonym } from "../protocol/pseudonym.ts";

/**
 * What pricing and billing read of an OCD entry (DESIGN §4.4): its pseudonym (32 bytes) and its
 * consumption `c` (Wh). A `LedgerEntry` is one; the SP agent keeps only these while it bills.
 */
export type BillableEntry = Pick<LedgerEntry, "id" | "value">;

export interface ServiceProviderInit {
  readonly keys: ServiceProviderKeys;
  /** `sigSk_SP`: the long-term Schnorr key registered on-chain as `sigPk_SP`. */
  readonly signingKey: bigint;
  readonly ccPublicKey: Uint8Array;
  /** The billing ledger's §4.4 domain. */
  readonly domain: Uint8Array;
  /** Bills per batch (one SP signature per batch), default 100. */
  readonly billBatchSize?: number;
  readonly backend?: Secp256k1Backend;
}

/**
 * Deliberate misbehaviour, for the attack scenarios of Oksuz §3.1 (a malicious SP). The contracts
 * must refuse every one of these; an honest SP sets none.
 */
export interface ServiceProviderFaults {
  /** Added to the tariff price. */
  readonly priceOffset?: bigint;
  /** Added to the bill at this OCD index. */
  readonly billOffset?: { readonly index: number; readonly delta: bigint };
  /** Bill at this OCD index left out. */
  readonly skipBill?: number;
  /** Bill at this OCD index posted twice. */
  readonly duplicateBill?: number;
}

export class ServiceProviderError extends Error {
  override name = "ServiceProviderError";
}

export class ServiceProvider {
  readonly sigPk: Uint8Array;
  readonly #init: ServiceProviderInit;
  readonly #backend: Secp256k1Backend;
  faults: ServiceProviderFaults = {};

  constructor(init: ServiceProviderInit) {
    this.#init = init;
    this.#backend = init.backend ?? secp;
    this.sigPk = this.#backend.mulBase(init.signingKey, true);
    const size = init.billBatchSize ?? 100;
    if (!Number.isInteger(size) || size < 1) {
      throw new ServiceProviderError("ServiceProvider: billBatchSize must be a positive integer");
    }
  }

  /**
   * Checks every OCD entry's signature; returns the indices of bad ones (empty when sound).
   * `progress(checked, total)` is called every 1,000 entries and at the end (issue 14: ≈ 160,000
   * signatures at 100,000 meters, a minute of CPU).
   */
  checkOcd(
    ocd: readonly LedgerEntry[],
    progress?: (checked: number, total: number) => void,
  ): number[] {
    const bad: number[] = [];
    ocd.forEach((e, i) => {
      if (e.kind !== ENTRY_KIND.OCD || !verifyEntry(this.#init.domain, e, this.#backend))
        bad.push(i);
      if (progress && ((i + 1) % 1_000 === 0 || i + 1 === ocd.length)) progress(i + 1, ocd.length);
    });
    return bad;
  }

  /** `Σc` of the interval (each OCD entry's `value`, Wh). */
  aggregate(ocd: readonly BillableEntry[]): bigint {
    return ocd.reduce((sum, e) => sum + e.value, 0n);
  }

  /** The interval price `p_j = tariff(Σc)` (plus the injected fault, if any). */
  price(tariff: TariffSchedule, sumWh: bigint): bigint {
    return tariffPrice(tariff, sumWh) + (this.faults.priceOffset ?? 0n);
  }

  /**
   * DAP entries for interval `interval`. Relayed mode (paper §5): one entry under SP's pseudonym
   * towards CC, `H(H1(sk_SP·pk_CC), "GridLedger/SPU" ‖ ID_SP ‖ j)`. Direct mode (paper §6): one
   * entry per user, under the SP-to-user pseudonym each user can recompute (DESIGN §4.5).
   */
  dapEntries(
    interval: number,
    price: bigint,
    timestamp: bigint,
    userPublicKeys?: readonly Uint8Array[],
  ): LedgerEntry[] {
    const peers = userPublicKeys ?? [this.#init.ccPublicKey];
    const entries = peers.map((peer) =>
      signEntry(
        this.#init.domain,
        {
          kind: ENTRY_KIND.DAP,
          interval,
          id: spUserPseudonym(
            this.#init.keys.secretKey,
            peer,
            this.#init.keys.id,
            interval,
            this.#backend,
          ),
          timestamp,
          value: price,
        },
        this.#init.signingKey,
        { sigPk: this.sigPk, backend: this.#backend },
      ),
    );
    // The ledger takes one DAP entry per id, ids strictly increasing across batches (DESIGN §2,
    // docs/PROTOCOL.md): sorted here, so posting them in order, in any batch sizes, is accepted.
    return entries.sort((a, b) => Buffer.compare(a.id, b.id));
  }

  /**
   * Bills `B = p·c` for the OCD entries in ledger order, in signed batches (only each entry's
   * pseudonym and value are read: the entries' signatures are checked before, `checkOcd`).
   */
  billBatches(
    interval: number,
    ocd: readonly BillableEntry[],
    price: bigint,
    timestamp: bigint,
  ): SignedBillBatch[] {
    const bills: BillFields[] = [];
    ocd.forEach((e, i) => {
      if (this.faults.skipBill === i) return;
      const delta = this.faults.billOffset?.index === i ? this.faults.billOffset.delta : 0n;
      const bill = {
        interval,
        id: e.id,
        timestamp,
        bill: price * e.value + delta,
        consumptionWh: e.value,
      };
      bills.push(bill);
      if (this.faults.duplicateBill === i) bills.push(bill);
    });
    const size = this.#init.billBatchSize ?? 100;
    const batches: SignedBillBatch[] = [];
    for (let first = 0; first < bills.length; first += size) {
      batches.push(
        signBillBatch(
          this.#init.domain,
          interval,
          first,
          bills.slice(first, first + size),
          this.#init.signingKey,
        ),
      );
    }
    return batches;
  }
}
