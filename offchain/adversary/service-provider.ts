// A malicious service provider (Oksuz §3.1) as a wrapper around the pure `ServiceProvider` the SP
// agent drives (issue 11: fault injection beside the agents). It cheats on its first attempt of
// the first interval it bills — a price off the public tariff, or one bill off `p_j·c` — then
// behaves. The ledger must refuse the cheat (BillingLedgerInvalidEntry PriceMismatch / BillMismatch,
// DESIGN §2); the agent prices and bills afresh at its next attempt, so honest bills follow.
import type { ServiceProvider, ServiceProviderFaults } from "../sp/service-provider.ts";

/** The cheats this wrapper knows. */
export type ServiceProviderCheat = "wrong-price" | "wrong-bill";

const FAULTS: Readonly<Record<ServiceProviderCheat, ServiceProviderFaults>> = {
  "wrong-price": { priceOffset: 1n },
  "wrong-bill": { billOffset: { index: 0, delta: 1n } },
};

/**
 * `sp` cheating once as `cheat` says: the faults are on until its first `billBatches` call (the
 * end of one pricing-and-billing attempt), off afterwards. Returns the same object's proxy.
 */
export function cheatingOnce(sp: ServiceProvider, cheat: ServiceProviderCheat): ServiceProvider {
  sp.faults = FAULTS[cheat];
  return new Proxy(sp, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key === "billBatches") {
        return (...args: Parameters<ServiceProvider["billBatches"]>) => {
          try {
            return target.billBatches(...args);
          } finally {
            target.faults = {};
          }
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
