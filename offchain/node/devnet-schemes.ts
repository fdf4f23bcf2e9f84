// What `gridledger devnet` can run (issue 11 "The devnet"): one `DevnetSchemeDefinition` per scheme
// turns the devnet's options into processes (through the scheme's set-up: `oksuzSetup`,
// `bbnpSetup`), follows its progress from the health endpoints and audits the result from the
// chain's events alone. A scheme runs only when every role it needs is registered in
// ./roles/index.ts; the devnet says which schemes it runs and which roles are missing.
import { sha256 } from "@noble/hashes/sha2.js";

import { bbnpDevnetScheme } from "./devnet-bbnp.ts";
import { oksuzDevnetScheme } from "./devnet-oksuz.ts";
import { findRole } from "./roles/index.ts";
import type { DevnetProcess, DevnetScheme, HealthMap } from "./devnet.ts";
import { counted } from "../runtime/log.ts";

/** The devnet's options, validated (offchain/cli/devnet.ts). */
export interface DevnetOptions {
  readonly meters: number;
  readonly intervals: number;
  readonly meterProcesses: number;
  readonly nodes: number;
  readonly users: number;
  readonly rounds: number;
  readonly seed: string;
  readonly loss: number;
  /** Wall-clock length of a ping interval in the smoke scheme (ms). */
  readonly smokeIntervalMs: number;
  /** CC's admission window per interval, the gateway's report window per round (ms). */
  readonly windowMs: number;
  /**
   * BBNP: fraction of users silent in each round, in [0, 1) (the demo's `--dropout`; drawn from
   * the seed); the gateway recovers around them with the TA service (default 0).
   */
  readonly dropout?: number;
}

/** What a scheme's set-up gets. */
export interface SchemeContext {
  readonly options: DevnetOptions;
  /** JSON-RPC URL of the chain (undefined for schemes that need none). */
  readonly rpcUrl?: string;
  /** Private key (0x hex) of funded account `i` of the chain (Hardhat's dev accounts on 31337). */
  readonly fundedKey: (i: number) => string;
  readonly print: (line: string) => void;
}

/** A table for the final report. */
export interface AuditTable {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** A scheme's audit of the finished run. */
export interface SchemeAudit {
  readonly tables: readonly AuditTable[];
  readonly lines: readonly string[];
  /** Hex digest of the final ledgers (equal for the same seed with or without `--kill`). */
  readonly digest: string;
  /** False when the audit found a mismatch (the devnet then exits 1). */
  readonly ok: boolean;
  /** For `--json`. */
  readonly json: unknown;
}

/** A prepared scheme: its processes, contracts and how to follow and audit it. */
export interface PreparedScheme {
  readonly processes: readonly DevnetProcess[];
  readonly contracts: Readonly<Record<string, string>>;
  readonly follow: DevnetScheme;
  audit(health: HealthMap): Promise<SchemeAudit>;
}

export interface DevnetSchemeDefinition {
  readonly name: string;
  /** One line for the devnet's banner. */
  readonly title: string;
  /** Roles the scheme runs (all must be registered). */
  readonly roles: readonly string[];
  readonly needsChain: boolean;
  /** The process names the options produce (to check `--kill` targets before any work). */
  processNames(options: DevnetOptions): string[];
  /** Steps of the run ("interval"/"round", count) for `--kill name@j` checks. */
  steps(options: DevnetOptions): { readonly stepName: string; readonly steps: number };
  /** Undefined when the scheme can run, else why not (one line). */
  unavailable(): string | undefined;
  prepare(ctx: SchemeContext): Promise<PreparedScheme>;
}

function missingRoles(roles: readonly string[]): string | undefined {
  const missing = roles.filter((r) => findRole(r) === undefined);
  return missing.length === 0 ? undefined : `roles not registered yet: ${missing.join(", ")}`;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/**
 * The smoke scheme: `--nodes` diagnostic ping processes ("ping-0" …) that ping each other over the
 * address book for `--intervals` intervals of `smokeIntervalMs`, each keeping a durable hash chain
 * (./roles/ping.ts). It exercises everything of the devnet but the protocol: processes, address
 * book, sealed key files, health, `--kill`, restart from the data directory, teardown. Its digest
 * is over every process's chain, so a restart that lost or repeated an interval changes it.
 */
export const smokeScheme: DevnetSchemeDefinition = {
  name: "smoke",
  title: "smoke test: diagnostic ping processes (no protocol, no chain)",
  roles: ["ping"],
  needsChain: false,
  processNames: (o) => Array.from({ length: o.nodes }, (_, i) => `ping-${i}`),
  steps: (o) => ({ stepName: "interval", steps: o.intervals }),
  unavailable: () => missingRoles(["ping"]),
  async prepare(ctx) {
    const o = ctx.options;
    const names = this.processNames(o);
    const processes: DevnetProcess[] = names.map((name) => ({
      name,
      role: "ping",
      scheme: "smoke",
      config: {
        address: name,
        peers: names.filter((n) => n !== name),
        intervals: o.intervals,
        intervalMs: o.smokeIntervalMs,
      },
      // A sealed key file per process proves the operator-key plumbing (the role does not read it).
      secrets: { "node-id": sha256(new TextEncoder().encode(`${o.seed}/${name}`)) },
      addresses: [name],
    }));
    const intervalOf = (h: HealthMap, n: string): number | undefined =>
      h.get(n)?.status.interval as number | undefined;
    const follow: DevnetScheme = {
      name: "smoke",
      stepName: "interval",
      steps: o.intervals,
      step: (h) => Math.max(0, ...names.map((n) => intervalOf(h, n) ?? 0)),
      finished: (h) =>
        names.every((n) => h.get(n)?.state === "done" && intervalOf(h, n) === o.intervals),
      progress: (h) =>
        names.map((n) => `${n} ${intervalOf(h, n) ?? "-"}/${o.intervals}`).join(" · ") +
        ` · pongs ${names.reduce((s, n) => s + ((h.get(n)?.status.pongs as number) ?? 0), 0)}`,
    };
    return {
      processes,
      contracts: {},
      follow,
      async audit(h) {
        const rows = names.map((n) => {
          const st = h.get(n)?.status ?? {};
          return [
            n,
            String(st.interval ?? "-"),
            String(st.pings ?? "-"),
            String(st.pongs ?? "-"),
            String(st.digest ?? "-").slice(0, 16),
          ];
        });
        const complete = names.every((n) => intervalOf(h, n) === o.intervals);
        const digest = hex(
          sha256(
            new TextEncoder().encode(
              names.map((n) => `${n}:${h.get(n)?.status.digest ?? ""}`).join("\n"),
            ),
          ),
        );
        return {
          tables: [
            {
              title: "ping processes",
              header: ["process", "intervals", "pings in", "pongs in", "chain digest"],
              rows,
            },
          ],
          lines: [
            `every process completed ${counted(o.intervals, "interval")}: ${complete ? "yes" : "NO"}`,
          ],
          digest,
          ok: complete,
          json: Object.fromEntries(names.map((n) => [n, h.get(n)?.status ?? null])),
        };
      },
    };
  },
};

/** The protocol schemes `gridledger devnet` runs (when available), in order. */
export const DEVNET_SCHEMES: readonly DevnetSchemeDefinition[] = [
  oksuzDevnetScheme,
  bbnpDevnetScheme,
];
