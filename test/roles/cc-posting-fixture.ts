// Shared set-up for the posting tests and the `ccpost` bench (issue 14 "Posting at chain speed"):
// a BillingLedger deployed on any chain (in-process or `hardhat node` over HTTP), `meters` meters
// with the ledger's domain, and store-backed CC agents over one SQLite file, so that an agent can
// be "killed" and restarted from its store. Exports only.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { Signer } from "ethers";

import { ControlCenterAgent, type OcdPostingOptions } from "../../offchain/cc/agent.ts";
import { readDomain, type BillingLedger } from "../../offchain/chain/billing.ts";
import { deployBillingLedger } from "../../offchain/chain/deploy.ts";
import {
  controlCenterChainClient,
  type ControlCenterChainClientOptions,
} from "../../offchain/chain/oksuz-clients.ts";
import { meterKeysFromSecret } from "../../offchain/crypto/keys.ts";
import { sha256 } from "../../offchain/crypto/hash.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import { Meter } from "../../offchain/meter/meter.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { SecretStore } from "../../offchain/runtime/secret-box.ts";
import { Store } from "../../offchain/runtime/store.ts";
import { CATEGORIES, WINDOW, ccKeys, seedScalar } from "./fixtures.ts";

export const SLOTS = 8;
export const T = WINDOW.end - 1n;

export interface PostingRig {
  /** The ledger connected with CC's signer. */
  readonly ledger: BillingLedger;
  readonly meters: readonly Meter[];
  /** A CC agent on the rig's store (a second call after `kill` is a restart). */
  start(
    posting?: OcdPostingOptions,
    clientOptions?: ControlCenterChainClientOptions,
  ): ControlCenterAgent;
  /** Closes every agent's store handles, as a process exit would (the file stays). */
  kill(): void;
  /** Registers the meters, opens `interval` and admits every meter's K reports. */
  admitAll(agent: ControlCenterAgent, interval: number): Promise<number>;
  /** Removes the store directory. */
  dispose(): void;
}

/**
 * Deploys a ledger (K = 8) with `signers` and builds `meters` meters for it. Meter i measures
 * `(i mod 7) × 400 + 150` Wh, so its real chunks vary (1–5 of its 8 slots).
 */
export async function postingRig(
  signers: { admin: Signer; controlCenter: Signer; serviceProvider: Signer },
  meters: number,
): Promise<PostingRig> {
  const spKey = secp.mulBase(seedScalar("sp"), true);
  const { ledger: asAdmin } = await deployBillingLedger(signers, {
    tariff: { breakpointsWh: [0n, 100_000n], values: [10n, 20n], cap: 35n },
    categories: CATEGORIES,
    serviceProvider: { publicKey: spKey, sigPublicKey: spKey },
    slotsPerMeter: SLOTS,
  });
  const ledger = asAdmin.connect(signers.controlCenter) as BillingLedger;
  const domain = await readDomain(ledger);
  const cc = ccKeys();
  const fleet = Array.from(
    { length: meters },
    (_, index) =>
      new Meter({
        index,
        keys: meterKeysFromSecret(
          seedScalar(`meter-${index}`),
          sha256(new TextEncoder().encode(`K-${index}`)),
        ),
        ccPublicKey: cc.publicKey,
        domain,
        categories: CATEGORIES,
        slots: SLOTS,
      }),
  );
  const dir = mkdtempSync(join(tmpdir(), "gridledger-ccpost-"));
  const path = join(dir, "cc.sqlite");
  const open: { store: Store; secrets: SecretStore }[] = [];
  return {
    ledger,
    meters: fleet,
    start(posting, clientOptions) {
      const store = Store.open({ path });
      const secrets = SecretStore.open(store, { key: new Uint8Array(32).fill(3) });
      open.push({ store, secrets });
      return ControlCenterAgent.start(
        { keys: cc, domain, maxMessagesPerMeter: SLOTS, posting },
        { store, secrets, chain: controlCenterChainClient(ledger, clientOptions) },
      );
    },
    kill() {
      for (const { store, secrets } of open.splice(0)) {
        secrets.close();
        store.close();
      }
    },
    async admitAll(agent, interval) {
      await agent.registerMeters(fleet.map((m) => m.registration(seedScalar(`eph-${m.index}`))));
      await agent.openInterval(interval, WINDOW, CATEGORIES);
      let real = 0;
      for (const m of fleet) {
        const measured = BigInt((m.index % 7) * 400 + 150);
        for (const e of m.reportInterval(interval, measured, T).entries) {
          const a = agent.onReport(encodeMeterReport(e));
          if (!a.accepted) throw new Error(`postingRig: report refused (${a.reason})`);
          if (e.value > 0n) real++;
        }
      }
      return real;
    },
    dispose() {
      for (const { store, secrets } of open.splice(0)) {
        secrets.close();
        store.close();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
