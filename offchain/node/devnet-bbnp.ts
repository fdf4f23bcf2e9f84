// The BBNP scheme of `gridledger devnet` (issue 11 "The devnet"): `bbnpSetup` (the trusted
// authority offline, ./roles/bbnp-setup.ts) gives every key and each process's config and secrets;
// the devnet deploys the AggregationLedger and the ReputationRegistry from its public output
// (chain/aggregation.ts `deployPublic`; the gateway and node j sign with funded accounts 3 and
// 4 + j, their "chain-key"), runs the online TA (its own process "ta", dropout corrections from
// round material only: `bbnpSetup({ taService: true })`), the user fleet and the M consensus
// nodes, then the gateway, follows the gateway's round from its /health and audits every round
// from the chain's `BlockCommitted` events alone against the true readings of the users that
// reported (`--dropout P`: round(P·N) users silent per round, drawn from the seed as the demo does).
import { sha256 } from "@noble/hashes/sha2.js";
import { Contract, Wallet, type InterfaceAbi } from "ethers";

import { AggregationLedgerAdapter } from "../chain/aggregation.ts";
import { readArtifact } from "../chain/deploy.ts";
import { jsonRpcProvider } from "../chain/provider.ts";
import { toFixed18 } from "../protocol/reputation.ts";
import type { DevnetProcess, HealthMap } from "./devnet.ts";
import type { DevnetSchemeDefinition, SchemeAudit } from "./devnet-schemes.ts";
import { bbnpSetup, parseBbnpConfig } from "./roles/bbnp-setup.ts";
import { bbnpDropouts, bbnpReadings } from "./roles/bbnp-users.ts";
import { findRole } from "./roles/index.ts";

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
/** Funded account index of the gateway; node j signs with GATEWAY_ACCOUNT + 1 + j. */
const GATEWAY_ACCOUNT = 3;

export const bbnpDevnetScheme: DevnetSchemeDefinition = {
  name: "bbnp",
  title: "BBNP aggregation and consensus (gateway, ta, bbnp-users, node)",
  roles: ["gateway", "ta", "node", "bbnp-users"],
  needsChain: true,
  processNames: (o) => [
    "gateway",
    "ta",
    "bbnp-users-0",
    ...Array.from({ length: o.nodes }, (_, j) => `node-${j}`),
  ],
  steps: (o) => ({ stepName: "round", steps: o.rounds }),
  unavailable: () => {
    const missing = ["gateway", "ta", "node", "bbnp-users"].filter(
      (r) => findRole(r) === undefined,
    );
    return missing.length === 0 ? undefined : `roles not registered yet: ${missing.join(", ")}`;
  },
  async prepare(ctx) {
    const o = ctx.options;
    if (ctx.rpcUrl === undefined) throw new Error("bbnp: needs a chain");
    const setup = bbnpSetup({
      seed: o.seed,
      users: o.users,
      nodes: o.nodes,
      rounds: o.rounds,
      windowMs: o.windowMs,
      taService: true,
      dropout: o.dropout ?? 0,
    });
    const provider = jsonRpcProvider(ctx.rpcUrl);
    const gatewayKey = ctx.fundedKey(GATEWAY_ACCOUNT);
    const nodeKeys = Array.from({ length: o.nodes }, (_, j) =>
      ctx.fundedKey(GATEWAY_ACCOUNT + 1 + j),
    );
    let adapter: AggregationLedgerAdapter;
    try {
      adapter = await AggregationLedgerAdapter.deployPublic(
        {
          admin: new Wallet(ctx.fundedKey(0), provider),
          gateway: new Wallet(gatewayKey, provider),
          nodes: nodeKeys.map((k) => new Wallet(k, provider)),
        },
        setup.deployment.gatewayPublicKey,
        setup.deployment.minReporters,
        {
          publicKeys: setup.deployment.nodes.map((x) => x.publicKey),
          proofsOfPossession: setup.deployment.nodes.map((x) => x.proofOfPossession),
          reputations: setup.deployment.nodes.map((x) => toFixed18(x.reputation)),
        },
      );
    } finally {
      provider.destroy();
    }
    const address = adapter.address;
    const registry =
      adapter.registry === undefined ? undefined : await adapter.registry.getAddress();
    ctx.print(
      `AggregationLedger deployed at ${address}${registry ? `, ReputationRegistry at ${registry}` : ""} (${o.users} users, ${o.nodes} nodes)`,
    );
    const chainKey = (k: string): Uint8Array => new Uint8Array(Buffer.from(k.slice(2), "hex"));
    const userIds = (c: Record<string, unknown>): number[] =>
      (c.bbnp as { users?: number[] }).users ?? [];
    const processes: DevnetProcess[] = setup.processes.map((p) => {
      const config = p.config as unknown as Record<string, unknown>;
      if (p.role === "gateway") {
        return {
          name: p.name,
          role: p.role,
          scheme: "bbnp",
          group: 1,
          config,
          secrets: { ...p.secrets, "chain-key": chainKey(gatewayKey) },
          addresses: ["gateway"],
        };
      }
      if (p.role === "ta") {
        // No chain access: round material only, talking to the gateway.
        return {
          name: p.name,
          role: p.role,
          scheme: "bbnp",
          config,
          secrets: p.secrets,
          addresses: ["ta"],
        };
      }
      if (p.role === "node") {
        const j = Number(p.name.slice("node-".length));
        return {
          name: p.name,
          role: p.role,
          scheme: "bbnp",
          config,
          secrets: { ...p.secrets, "chain-key": chainKey(nodeKeys[j]) },
          addresses: [p.name],
        };
      }
      return {
        name: p.name,
        role: p.role,
        scheme: "bbnp",
        config,
        secrets: p.secrets,
        addresses: userIds(config).map((i) => `bbnp-user-${i}`),
      };
    });
    const nodes = processes.filter((p) => p.role === "node").map((p) => p.name);
    const st = (h: HealthMap, n: string): Record<string, unknown> =>
      (h.get(n)?.status ?? {}) as Record<string, unknown>;
    const gatewayConfig = parseBbnpConfig(
      setup.processes.find((p) => p.role === "gateway")!.config,
      "gateway",
    );
    const rpcUrl = ctx.rpcUrl;
    return {
      processes,
      contracts: {
        AggregationLedger: address,
        ...(registry ? { ReputationRegistry: registry } : {}),
      },
      follow: {
        name: "bbnp",
        stepName: "round",
        steps: o.rounds,
        step: (h) => Number(st(h, "gateway").round) || 0,
        finished: (h) =>
          h.get("gateway")?.state === "done" &&
          nodes.every(
            (n) => Number(st(h, n).head) >= Number(st(h, "gateway").committed ?? o.rounds),
          ),
        progress: (h) => {
          const g = st(h, "gateway");
          return `gateway ${g.phase ?? "-"} committed ${g.committed ?? "-"} · node heads ${nodes.map((n) => st(h, n).head ?? "-").join("/")} · primary ${nodes.find((n) => st(h, n).isPrimary === true) ?? "-"}`;
        },
      },
      async audit(h): Promise<SchemeAudit> {
        const p = jsonRpcProvider(rpcUrl);
        let committed: {
          round: bigint;
          sum: bigint;
          reporters: bigint;
          primary: bigint;
          digest: string;
        }[];
        try {
          const { abi } = readArtifact("ledger/AggregationLedger.sol", "AggregationLedger");
          const ledger = new Contract(address, abi as InterfaceAbi, p);
          const events = await ledger.queryFilter(ledger.filters.BlockCommitted());
          committed = events.map((e) => {
            const a = (
              e as unknown as {
                args: {
                  round: bigint;
                  sum: bigint;
                  reporters: bigint;
                  primary: bigint;
                  digest: string;
                };
              }
            ).args;
            return {
              round: a.round,
              sum: a.sum,
              reporters: a.reporters,
              primary: a.primary,
              digest: a.digest,
            };
          });
        } finally {
          p.destroy();
        }
        const rows: string[][] = [];
        const problems: string[] = [];
        for (let t = 1; t <= o.rounds; t++) {
          const silent = bbnpDropouts(gatewayConfig, BigInt(t));
          const truth = bbnpReadings(gatewayConfig, BigInt(t)).reduce(
            (s, x, i) => (silent.has(i) ? s : s + x),
            0n,
          );
          const c = committed.filter((x) => x.round === BigInt(t));
          if (c.length > 1) problems.push(`round ${t} committed ${c.length} times`);
          const ok = c.length === 1 && c[0].sum === truth;
          if (c.length === 1 && !ok)
            problems.push(`round ${t}: on-chain sum ${c[0].sum} ≠ Σ readings ${truth}`);
          const reporters = BigInt(o.users - silent.size);
          if (c.length === 1 && c[0].reporters !== reporters)
            problems.push(`round ${t}: ${c[0].reporters} reporters on-chain ≠ ${reporters}`);
          rows.push([
            String(t),
            c.length === 0 ? "not committed" : "committed",
            String(c[0]?.reporters ?? "-"),
            String(truth),
            String(c[0]?.sum ?? "-"),
            c.length === 0 ? "-" : ok ? "yes" : "NO",
            c.length === 0 ? "-" : `node-${c[0].primary}`,
          ]);
        }
        const missing = rows.filter((r) => r[1] !== "committed").map((r) => r[0]);
        // What the TA process did (its last /health): the dropout corrections behind the rounds
        // with silent users (newcomer trial: the output never showed the TA at work).
        const ta = h.get("ta")?.status as { corrected?: number; refused?: number } | undefined;
        const taLine =
          ta === undefined
            ? []
            : [
                `TA service: ${ta.corrected ?? 0} dropout correction(s) revealed, ${ta.refused ?? 0} refused`,
              ];
        const digest = hex(
          sha256(
            enc.encode(
              committed
                .map((c) => `${c.round}:${c.sum}:${c.reporters}`)
                .sort()
                .join("\n"),
            ),
          ),
        );
        return {
          tables: [
            {
              title: "per round, from BlockCommitted events",
              header: [
                "t",
                "status",
                "reporters",
                "Σ readings",
                "on-chain sum",
                "match",
                "primary",
              ],
              rows,
            },
          ],
          lines: [
            `ledger audit from events alone (${address}): ${problems.length === 0 ? "no mismatch" : problems.join("; ")}`,
            ...(missing.length > 0 ? [`rounds not committed on-chain: ${missing.join(", ")}`] : []),
            ...taLine,
          ],
          digest,
          ok: problems.length === 0 && missing.length === 0,
          json: committed.map((c) => ({
            round: c.round,
            sum: c.sum,
            reporters: c.reporters,
            primary: c.primary,
            digest: c.digest,
          })),
        };
      },
    };
  },
};
