// The Oksuz scheme of `gridledger devnet` (issue 11 "The devnet"): `oksuzSetup` (the oksuz-agents'
// deterministic set-up, ./roles/oksuz-setup.ts) gives every key, the ledger configuration and each
// process's config and secrets; the devnet deploys the BillingLedger with them (CC and SP sign with
// funded accounts 1 and 2, their "chain-key"), runs CC, SP and the meter fleet in
// `--meter-processes` processes, follows CC's interval from its /health and audits every interval
// from the chain's events alone (chain/ledgerReader.ts `readIntervalFromUrl`).
import { sha256 } from "@noble/hashes/sha2.js";
import { Wallet } from "ethers";

import { deployBillingLedger } from "../chain/deploy.ts";
import { readIntervalFromUrl, type IntervalReport } from "../chain/ledgerReader.ts";
import { jsonRpcProvider } from "../chain/provider.ts";
import { INTERVAL_STATE_NAME } from "../protocol/ledger-audit.ts";
import type { DevnetProcess, HealthMap } from "./devnet.ts";
import type { DevnetSchemeDefinition, SchemeAudit } from "./devnet-schemes.ts";
import { findRole } from "./roles/index.ts";
import { oksuzSetup } from "./roles/oksuz-setup.ts";
import { counted } from "../runtime/log.ts";

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Interval `j`'s ledgers in a form independent of arrival order (sorted), for the digest. */
function canonical(r: IntervalReport): string {
  const ocd = r.ocd.map((e) => `${hex(e.id)}:${e.value}`).sort();
  const zero = [...r.zeroSlots].map(hex).sort();
  const dap = r.dap.map((e) => `${hex(e.id)}:${e.value}`).sort();
  const bills = r.bills.map((b) => `${hex(b.id)}:${b.consumptionWh}:${b.bill}`).sort();
  return JSON.stringify({
    j: r.interval,
    state: r.state,
    sumWh: String(r.sumWh),
    price: String(r.price),
    ocd,
    zero,
    dap,
    bills,
  });
}

export function oksuzDigest(reports: readonly IntervalReport[]): string {
  return hex(sha256(enc.encode(reports.map(canonical).join("\n"))));
}

export const oksuzDevnetScheme: DevnetSchemeDefinition = {
  name: "oksuz",
  title: "Oksuz metering and billing (cc, sp, meters)",
  roles: ["cc", "sp", "meters"],
  needsChain: true,
  processNames: (o) => [
    "cc",
    "sp",
    ...Array.from({ length: o.meterProcesses }, (_, i) => `meters-${i}`),
  ],
  steps: (o) => ({ stepName: "interval", steps: o.intervals }),
  unavailable: () => {
    const missing = ["cc", "sp", "meters"].filter((r) => findRole(r) === undefined);
    return missing.length === 0 ? undefined : `roles not registered yet: ${missing.join(", ")}`;
  },
  async prepare(ctx) {
    const o = ctx.options;
    if (ctx.rpcUrl === undefined) throw new Error("oksuz: needs a chain");
    const setup = oksuzSetup(o.seed, o.meters, {
      fleets: o.meterProcesses,
      intervals: o.intervals,
      windowMs: o.windowMs,
    });
    const provider = jsonRpcProvider(ctx.rpcUrl);
    const admin = new Wallet(ctx.fundedKey(0), provider);
    const ccKey = ctx.fundedKey(1);
    const spKey = ctx.fundedKey(2);
    let address: string;
    try {
      ({ address } = await deployBillingLedger(
        {
          admin,
          controlCenter: new Wallet(ccKey, provider),
          serviceProvider: new Wallet(spKey, provider),
        },
        setup.ledger,
      ));
    } finally {
      provider.destroy();
    }
    ctx.print(
      `BillingLedger deployed at ${address} (${o.meters} meters, K = ${setup.ledger.slotsPerMeter})`,
    );
    const chainKey = (k: string): Uint8Array => new Uint8Array(Buffer.from(k.slice(2), "hex"));
    const processes: DevnetProcess[] = [
      {
        name: "cc",
        role: "cc",
        scheme: "oksuz",
        config: setup.cc.config as unknown as Record<string, unknown>,
        secrets: { ...setup.cc.secrets, "chain-key": chainKey(ccKey) },
        addresses: ["cc"],
      },
      {
        name: "sp",
        role: "sp",
        scheme: "oksuz",
        config: setup.sp.config as unknown as Record<string, unknown>,
        secrets: { ...setup.sp.secrets, "chain-key": chainKey(spKey) },
        addresses: ["sp"],
      },
      ...setup.fleets.map((f) => ({
        name: f.name,
        role: "meters",
        scheme: "oksuz",
        config: f.config as unknown as Record<string, unknown>,
        secrets: f.secrets,
        addresses: Array.from({ length: f.config.count }, (_, k) => [
          `meter-${f.config.first + k}`,
          `user-${f.config.first + k}`,
        ]).flat(),
      })),
    ];
    const names = processes.map((p) => p.name);
    const fleets = names.filter((n) => n.startsWith("meters-"));
    const st = (h: HealthMap, n: string): Record<string, unknown> =>
      (h.get(n)?.status ?? {}) as Record<string, unknown>;
    const sum = (h: HealthMap, field: string): number =>
      fleets.reduce((s, n) => s + (Number(st(h, n)[field]) || 0), 0);
    const rpcUrl = ctx.rpcUrl;
    return {
      processes,
      contracts: { BillingLedger: address },
      follow: {
        name: "oksuz",
        stepName: "interval",
        steps: o.intervals,
        step: (h) => Number(st(h, "cc").interval) || 0,
        finished: (h) => names.every((n) => h.get(n)?.state === "done"),
        progress: (h) => {
          const cc = st(h, "cc");
          return (
            `cc ${cc.phase ?? "-"} admitted ${cc.admitted ?? "-"} sealed ${cc.sealed ?? "-"} · ` +
            `sp billed ${st(h, "sp").billedThrough ?? "-"} · meters acked ${sum(h, "reportsAcked")} · ` +
            `bills verified ${sum(h, "billsVerified")}/${o.meters * o.intervals} disputed ${sum(h, "billsDisputed")}`
          );
        },
      },
      async audit(h): Promise<SchemeAudit> {
        const reports: IntervalReport[] = [];
        for (let j = 1; j <= o.intervals; j++)
          reports.push(await readIntervalFromUrl(rpcUrl, address, j));
        const rows = reports.map((r) => [
          String(r.interval),
          INTERVAL_STATE_NAME[r.state] ?? String(r.state),
          `${r.ocd.length}/${r.expectedSlots}`,
          String(r.zeroSlots.size),
          String(r.sumWh),
          String(r.price ?? "-"),
          String(r.bills.length),
          String(r.billedTotal),
          r.mismatches.length === 0 ? "none" : String(r.mismatches.length),
        ]);
        const verified = sum(h, "billsVerified");
        const disputed = sum(h, "billsDisputed");
        const mismatches = reports.flatMap((r) =>
          r.mismatches.map((m) => `interval ${r.interval}: ${m}`),
        );
        const billedAll = reports.every((r) => r.bills.length > 0 && r.price !== undefined);
        const lines = [
          `ledger audit from events alone (${address}): ${mismatches.length === 0 ? "no mismatch" : `${mismatches.length} MISMATCHES`}`,
          ...mismatches.slice(0, 10),
          `users: bills verified ${verified}, disputed ${disputed} (of ${o.meters} households × ${counted(o.intervals, "interval")})`,
        ];
        return {
          tables: [
            {
              title: "per interval, rebuilt from chain events",
              header: [
                "j",
                "state",
                "entries/slots",
                "zero",
                "Σ Wh",
                "price/Wh",
                "bills",
                "billed",
                "mismatches",
              ],
              rows,
            },
          ],
          lines,
          digest: oksuzDigest(reports),
          ok:
            mismatches.length === 0 &&
            billedAll &&
            disputed === 0 &&
            verified === o.meters * o.intervals,
          json: reports.map((r) => ({
            interval: r.interval,
            state: r.state,
            entries: r.ocd.length,
            expectedSlots: r.expectedSlots,
            sumWh: r.sumWh,
            price: r.price,
            bills: r.bills.length,
            billedTotal: r.billedTotal,
            mismatches: r.mismatches,
          })),
        };
      },
    };
  },
};
