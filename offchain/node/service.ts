// The contract between a role and the process that runs it (issue 11 "Composition root"; STYLE
// "libp2p": services with start()/stop(), dependencies injected). A role module under
// offchain/node/roles/ exports a `RoleDefinition`; the runner (offchain/node/runner.ts) builds the
// `ServiceEnv` from the command line, the role's config file and the environment, then owns the
// process: data directory, per-process log file, health endpoint, SIGINT/SIGTERM → `stop()`.
//
// Roles get everything from the env: they never read process.env, process.argv, the wall clock or
// Math.random themselves. A role module here is composition: it may import `chain/` to build the
// chain client it injects into its agent (offchain/cc, sp, gateway, consensus ...), which never
// imports `chain/` itself (STYLE "Our shape").
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { Transport } from "../runtime/network.ts";
import type { Rng } from "../runtime/rng.ts";
import type { Store } from "../runtime/store.ts";

/** A long-running service: one per process (or several composed, e.g. a meter fleet). */
export interface Service {
  /** Binds sockets, opens stores, resumes from the data directory; resolves once serving. */
  start(): Promise<void>;
  /** Stops timers and sockets, flushes and closes stores; idempotent; must not throw. */
  stop(): Promise<void>;
  /**
   * JSON-serialisable status for the health endpoint (`GET /health`) and the status line, e.g.
   * `{ phase: "admission", interval: 2, admitted: 96 }`. Cheap: called on every health request.
   */
  status(): ServiceStatus;
  /** Resolves when the service has finished its configured work (e.g. N intervals); optional. */
  readonly done?: Promise<void>;
}

/** What the health endpoint returns besides the runner's own fields (role, pid, uptime). */
export type ServiceStatus = Readonly<Record<string, unknown>>;

/** What the runner hands a role; everything a role touches outside pure logic comes from here. */
export interface ServiceEnv {
  /** Role name ("cc", "sp", "meters", "gateway", "node", ...). */
  readonly role: string;
  /** This process's name within a deployment ("cc", "meters-0", "node-3"). */
  readonly name: string;
  /** Existing directory owned by this process; everything durable lives here. */
  readonly dataDir: string;
  /** The role's config (parsed TOML/JSON file), validated by the role's `parseConfig`. */
  readonly config: unknown;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Seeded from the config's seed (deterministic runs) or from a CSPRNG. */
  readonly rng: Rng;
  /** Opens (or reopens after a crash) the SQLite store `dataDir/<name>.sqlite`. */
  openStore(name: string): Store;
  /** A socket transport bound to this address's entry in the address book (loopback only). */
  transport(address: string): Transport;
  /**
   * Secret material by name, decrypted with the operator key from the environment
   * (`GRIDLEDGER_OPERATOR_KEY`); throws a named error when missing. Key files are written by the
   * set-up tools (`gridledger devnet`, the trusted authority).
   */
  secret(name: string): Uint8Array;
  /** The chain's URL and contract addresses; the role's chain key is `secret("chain-key")`. */
  readonly chain: ChainEnv;
}

/** Where the chain is; a role builds its provider with `chain/provider.ts` (never its own). */
export interface ChainEnv {
  /** JSON-RPC URL (loopback in a devnet); undefined for roles without chain access. */
  readonly rpcUrl?: string;
  /** Deployed contract addresses by name ("BillingLedger", "AggregationLedger", ...). */
  readonly contracts: Readonly<Record<string, string>>;
}

/** One role: how to read its config and how to build its service. */
export interface RoleDefinition<Config = unknown> {
  readonly role: string;
  /** One-line description for `gridledger --help`. */
  readonly description: string;
  /** Validates a parsed config file; throws `ServiceConfigError` naming the bad field. */
  parseConfig(raw: unknown): Config;
  /**
   * What the role needs of the config's `chain` table: `rpcUrl` and these contract names. The
   * runner checks it with the rest of the config, before the data directory is created, so a
   * config without them is one line naming the file and the field (exit 2) and creates nothing.
   */
  readonly chain?: { readonly rpcUrl: true; readonly contracts: readonly string[] };
  create(env: ServiceEnv & { readonly config: Config }): Promise<Service>;
}

/** A config file field is missing or malformed (one line, names the file and the field). */
export class ServiceConfigError extends Error {
  override name = "ServiceConfigError";
}
