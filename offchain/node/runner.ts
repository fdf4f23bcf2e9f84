// The runner: one `RoleDefinition` (./service.ts) operated as this OS process (issue 11 "The CLI":
// "Every long-running service has a data directory, a health endpoint or status line, logs per
// process, and stops cleanly on SIGINT and SIGTERM"). docs/RUNTIME.md "Services" describes it.
//
// Start-up, in this order (nothing is touched before the config is valid):
//  1. read the config file (TOML, or JSON when it ends in .json) and validate the runner's fields
//     (`parseRunnerConfig`) and the role's (`RoleDefinition.parseConfig`): a bad file is one line
//     naming the file and the field, exit 2 (`ServiceConfigError`);
//  2. create the data directory and lock it (`LOCK` holds our pid; a lock whose pid is dead — a
//     SIGKILLed predecessor — is taken over, a live one refuses with `DataDirLockedError`);
//  3. open the per-process log (`<dataDir>/<name>.log`, appended, also on stderr) and the key file
//     store (`<dataDir>/keys.sqlite`, sealed with GRIDLEDGER_OPERATOR_KEY; a wrong key fails here);
//  4. build the `ServiceEnv`, `create` + `start` the service, check that every transport it opened
//     is listening, then serve `GET /health` on 127.0.0.1:`healthPort` and write
//     `<dataDir>/process.json` ({ pid, role, name, healthUrl }) for supervisors.
// Stop: SIGINT or SIGTERM (or `done` resolving, with `exitWhenDone = true`) → `stop()` once, close stores and
// transports, release the lock, exit 0; a second signal exits at once (130/143); a stop that hangs
// longer than `stopTimeoutMs` exits 1. A start failure is one line and exit 1.
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import { randomBytes } from "node:crypto";
import { basename, join, resolve } from "node:path";

import { parse as parseToml } from "smol-toml";

import { SystemClock } from "../runtime/clock.ts";
import { makeDirectory } from "../runtime/fs.ts";
import { consoleLogger, type Logger, type LogLevel } from "../runtime/log.ts";
import type { MessageHandler, Transport } from "../runtime/network.ts";
import { createRng, type Rng } from "../runtime/rng.ts";
import { SecretStore } from "../runtime/secret-box.ts";
import { AddressBook, SocketTransport } from "../runtime/socket-transport.ts";
import { Store } from "../runtime/store.ts";
import {
  ServiceConfigError,
  type ChainEnv,
  type RoleDefinition,
  type Service,
  type ServiceEnv,
} from "./service.ts";

/** Environment variable holding the operator key that seals the key files (see `operatorKey`). */
export const OPERATOR_KEY_ENV = "GRIDLEDGER_OPERATOR_KEY";
/** Set by the supervisor: the runner stops itself when its parent process goes away. */
export const SUPERVISED_ENV = "GRIDLEDGER_SUPERVISED";
/** Set by the supervisor: how many times it restarted this process (shown on /health). */
export const RESTART_COUNT_ENV = "GRIDLEDGER_RESTART_COUNT";
/** Namespace of the key files inside `keys.sqlite`. */
export const SECRETS_NS = "keys";
const SECRETS_FILE = "keys.sqlite";
const LOCK_FILE = "LOCK";
export const PROCESS_FILE = "process.json";

/** The data directory is held by another live process. */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

/** A secret is missing, or the operator key is missing or wrong. */
export class ServiceSecretError extends Error {
  override name = "ServiceSecretError";
}

/** The runner's own fields of a config file; every other field belongs to the role. */
export interface RunnerConfig {
  /** This process's name in the deployment (default: the role). */
  readonly name: string;
  /** Agent address → "host:port" (the devnet writes one book into every config). */
  readonly addressBook: AddressBook;
  readonly chain: ChainEnv;
  /** Health endpoint port on 127.0.0.1 (default 0: any free port, see process.json). */
  readonly healthPort: number;
  /** Seed of the env's rng (deterministic runs); absent → 32 bytes from the CSPRNG. */
  readonly seed?: string;
  readonly logLevel: LogLevel;
  /** Exit 0 once the service's `done` resolves (default false: stay up, /health says "done"). */
  readonly exitWhenDone: boolean;
  /**
   * Fault injection: probability in [0, 1) that a message this process sends is dropped before it
   * reaches the socket (default 0; `gridledger devnet --loss P`). Counted on /health.
   */
  readonly loss: number;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Reads a config file: TOML, or JSON when the name ends in `.json`. Throws `ServiceConfigError`
 * ("<file>: ...") when it cannot be read or parsed or is not a table/object.
 */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ServiceConfigError(
      `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`,
    );
  }
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    const first = String((e as Error).message).split("\n")[0];
    throw new ServiceConfigError(
      `${path}: not valid ${path.endsWith(".json") ? "JSON" : "TOML"}: ${first}`,
    );
  }
  if (!isRecord(raw)) throw new ServiceConfigError(`${path}: expected a table of fields`);
  return raw;
}

/**
 * Validates the runner's fields of a parsed config (`name`, `addressBook`, `chain`, `healthPort`,
 * `seed`, `logLevel`, `exitWhenDone`, `loss`; all optional). `defaultName` is used when `name` is absent. Throws
 * `ServiceConfigError` naming the field.
 */
export function parseRunnerConfig(raw: Record<string, unknown>, defaultName: string): RunnerConfig {
  const name = raw.name ?? defaultName;
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new ServiceConfigError(
      `name: expected 1–64 of [A-Za-z0-9._-], got ${JSON.stringify(name)}`,
    );
  }
  let addressBook: AddressBook;
  try {
    addressBook = AddressBook.fromJSON(raw.addressBook ?? {});
  } catch (e) {
    throw new ServiceConfigError(
      `addressBook: ${(e as Error).message.replace(/^AddressBook\.fromJSON: /, "")}`,
    );
  }
  const chainRaw = raw.chain ?? {};
  if (!isRecord(chainRaw))
    throw new ServiceConfigError("chain: expected a table { rpcUrl, contracts }");
  const rpcUrl = chainRaw.rpcUrl;
  if (rpcUrl !== undefined && (typeof rpcUrl !== "string" || !/^https?:\/\/./.test(rpcUrl))) {
    throw new ServiceConfigError(
      `chain.rpcUrl: expected an http(s) URL, got ${JSON.stringify(rpcUrl)}`,
    );
  }
  const contractsRaw = chainRaw.contracts ?? {};
  if (!isRecord(contractsRaw))
    throw new ServiceConfigError("chain.contracts: expected a table name → address");
  const contracts: Record<string, string> = {};
  for (const [k, v] of Object.entries(contractsRaw)) {
    if (typeof v !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(v)) {
      throw new ServiceConfigError(`chain.contracts.${k}: expected a 0x-prefixed 20-byte address`);
    }
    contracts[k] = v;
  }
  const healthPort = raw.healthPort ?? 0;
  if (
    !Number.isInteger(healthPort) ||
    (healthPort as number) < 0 ||
    (healthPort as number) > 65535
  ) {
    throw new ServiceConfigError(`healthPort: expected an integer in [0, 65535]`);
  }
  const seed = raw.seed;
  if (seed !== undefined && (typeof seed !== "string" || seed.length === 0)) {
    throw new ServiceConfigError("seed: expected a non-empty string");
  }
  const logLevel = raw.logLevel ?? "info";
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ServiceConfigError(`logLevel: expected one of ${LOG_LEVELS.join(", ")}`);
  }
  const exitWhenDone = raw.exitWhenDone ?? false;
  if (typeof exitWhenDone !== "boolean")
    throw new ServiceConfigError("exitWhenDone: expected true or false");
  const loss = raw.loss ?? 0;
  if (typeof loss !== "number" || !(loss >= 0 && loss < 1)) {
    throw new ServiceConfigError("loss: expected a probability in [0, 1)");
  }
  return {
    name,
    exitWhenDone,
    loss,
    addressBook,
    chain: { ...(rpcUrl !== undefined ? { rpcUrl: rpcUrl as string } : {}), contracts },
    healthPort: healthPort as number,
    ...(seed !== undefined ? { seed: seed as string } : {}),
    logLevel: logLevel as LogLevel,
  };
}

/**
 * The operator key from `value` (normally `process.env.GRIDLEDGER_OPERATOR_KEY`): ≥ 64 hex digits
 * (optionally 0x-prefixed) are a high-entropy key (HKDF), anything else a passphrase (scrypt) —
 * secret-box.ts. Undefined when unset or empty.
 */
export function operatorKey(
  value: string | undefined,
): { key: Uint8Array } | { passphrase: string } | undefined {
  if (value === undefined || value === "") return undefined;
  const hex = value.startsWith("0x") ? value.slice(2) : value;
  if (/^[0-9a-fA-F]{64,}$/.test(hex) && hex.length % 2 === 0) {
    return { key: new Uint8Array(Buffer.from(hex, "hex")) };
  }
  return { passphrase: value };
}

/**
 * Writes named secrets into `<dataDir>/keys.sqlite`, each sealed with the operator key (AES-256-GCM,
 * secret-box.ts; the record is bound to its name). Used by the set-up tools (`gridledger devnet`,
 * `gridledger setup`). Throws `ServiceSecretError` when the key is missing or does not match a key
 * file store sealed earlier.
 */
export function writeSecrets(
  dataDir: string,
  secrets: Readonly<Record<string, Uint8Array>>,
  key: string | undefined,
): void {
  const k = operatorKey(key);
  if (k === undefined) throw new ServiceSecretError(`${OPERATOR_KEY_ENV} is not set`);
  makeDirectory(dataDir);
  const store = Store.open({ path: join(dataDir, SECRETS_FILE) });
  try {
    const box = openSecretStore(store, k);
    try {
      store.transaction(() => {
        for (const [name, value] of Object.entries(secrets)) box.put(SECRETS_NS, name, value);
      });
    } finally {
      box.close();
    }
  } finally {
    store.close();
  }
}

function openSecretStore(
  store: Store,
  k: { key: Uint8Array } | { passphrase: string },
): SecretStore {
  try {
    return SecretStore.open(store, k);
  } catch (e) {
    throw new ServiceSecretError(`${basename(store.path)}: ${(e as Error).message}`);
  }
}

/** Whether a process with this pid exists (signal 0; EPERM counts as alive). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Locks `dataDir` for this process: creates `LOCK` exclusively with our pid. A lock left by a dead
 * process (SIGKILL) is taken over; one held by a live process throws `DataDirLockedError`. Returns
 * the release function (removes the file if it is still ours).
 */
export function lockDataDir(dataDir: string, pid = process.pid): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, "utf8").trim() === String(pid)) rmSync(path);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== pid && pidAlive(holder)) {
        throw new DataDirLockedError(`${resolve(dataDir)} is in use by process ${holder}`);
      }
      rmSync(path, { force: true }); // stale: its holder is dead
    }
  }
  throw new DataDirLockedError(`${resolve(dataDir)}: could not take the lock`);
}

export interface RunOptions {
  readonly configPath: string;
  readonly dataDir: string;
  /** Shown on /health (the supervisor passes how often it restarted this process). */
  readonly restartCount?: number;
  /** Defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Max time `stop()` may take before the process exits 1 (default 10 000 ms). */
  readonly stopTimeoutMs?: number;
}

/** A started service with everything the runner opened for it. */
export interface RunningService {
  readonly role: string;
  readonly name: string;
  readonly service: Service;
  readonly healthUrl: string;
  readonly logger: Logger;
  readonly exitWhenDone: boolean;
  /** `stop()` once, then closes transports, stores, the health server, the log; releases the lock. */
  shutdown(): Promise<void>;
}

/** Health document served on GET /health (JSON). */
export interface HealthDocument {
  readonly role: string;
  readonly name: string;
  readonly pid: number;
  readonly uptimeMs: number;
  readonly restarts: number;
  readonly state: "running" | "stopping" | "done";
  readonly status: Readonly<Record<string, unknown>>;
  /** Messages this process sent and received over its transports, and dropped by `loss`. */
  readonly network: {
    readonly sent: number;
    readonly delivered: number;
    readonly droppedByLoss: number;
  };
}

/**
 * A transport that drops each outgoing message with probability `loss` (draws from `rng`) and passes
 * everything else to `inner` unchanged: the devnet's `--loss` (DESIGN §3 "Simulation": loss as on
 * the in-memory network, here on real sockets). `dropped` counts what it dropped.
 */
export class LossyTransport implements Transport {
  readonly address: string;
  dropped = 0;
  readonly #inner: Transport;
  readonly #loss: number;
  readonly #rng: Rng;

  constructor(inner: Transport, loss: number, rng: Rng) {
    this.address = inner.address;
    this.#inner = inner;
    this.#loss = loss;
    this.#rng = rng;
  }
  start(): void {
    this.#inner.start();
  }
  stop(): void {
    this.#inner.stop();
  }
  handle(handler: MessageHandler): void {
    this.#inner.handle(handler);
  }
  send(to: string, bytes: Uint8Array): void {
    if (this.#rng.chance(this.#loss)) {
      this.dropped++;
      return;
    }
    this.#inner.send(to, bytes);
  }
}

/**
 * The role's declared chain needs (`RoleDefinition.chain`) against the config's `chain` table;
 * throws `ServiceConfigError` naming the missing field.
 */
export function checkChainNeeds(def: RoleDefinition<unknown>, chain: ChainEnv): void {
  const needs = def.chain;
  if (!needs) return;
  if (chain.rpcUrl === undefined) {
    throw new ServiceConfigError(`chain.rpcUrl: required by the ${def.role} role`);
  }
  for (const name of needs.contracts) {
    if (chain.contracts[name] === undefined) {
      throw new ServiceConfigError(`chain.contracts.${name}: required by the ${def.role} role`);
    }
  }
}

/**
 * Validates the config, prepares the data directory and starts `def` (steps 1–4 of the header).
 * Throws `ServiceConfigError` (bad config; nothing was created), `DataDirLockedError`,
 * `ServiceSecretError`, or whatever the role's `create`/`start` throws (everything opened so far is
 * closed again first).
 */
export async function startService<C>(
  def: RoleDefinition<C>,
  options: RunOptions,
): Promise<RunningService> {
  const env = options.env ?? process.env;
  const raw = readConfigFile(options.configPath);
  let runner: RunnerConfig;
  let config: C;
  try {
    runner = parseRunnerConfig(raw, def.role);
    config = def.parseConfig(raw);
    checkChainNeeds(def, runner.chain);
  } catch (e) {
    if (e instanceof ServiceConfigError)
      throw new ServiceConfigError(`${options.configPath}: ${e.message}`);
    throw e;
  }
  const dataDir = resolve(options.dataDir);
  makeDirectory(dataDir);
  const release = lockDataDir(dataDir);
  const cleanups: (() => void | Promise<void>)[] = [release];
  const cleanup = async (): Promise<void> => {
    for (const f of cleanups.splice(0).reverse()) {
      try {
        await f();
      } catch {
        // best effort: the process is going away
      }
    }
  };
  try {
    const logFd = openSync(join(dataDir, `${runner.name}.log`), "a");
    cleanups.push(() => closeSync(logFd));
    const clock = new SystemClock();
    const logger = consoleLogger({
      component: runner.name,
      level: runner.logLevel,
      clock,
      write: (line) => {
        writeSync(logFd, line + "\n");
        statusLine.clear();
        process.stderr.write(line + "\n");
        statusLine.redraw();
      },
    });
    const k = operatorKey(env[OPERATOR_KEY_ENV]);
    let secrets: SecretStore | undefined;
    const secretsPath = join(dataDir, SECRETS_FILE);
    if (existsSync(secretsPath)) {
      if (k === undefined)
        throw new ServiceSecretError(`${OPERATOR_KEY_ENV} is not set (needed for ${secretsPath})`);
      const store = Store.open({ path: secretsPath });
      cleanups.push(() => store.close());
      secrets = openSecretStore(store, k);
      cleanups.push(() => secrets!.close());
    }
    const stores = new Map<string, Store>();
    cleanups.push(() => {
      for (const s of stores.values()) s.close();
    });
    const transports: SocketTransport[] = [];
    const lossyTransports: LossyTransport[] = [];
    cleanups.push(async () => {
      await Promise.all(transports.map((t) => t.close()));
    });
    const rng = createRng(
      runner.seed !== undefined ? `${runner.seed}/${runner.name}` : randomBytes(32),
    );
    const serviceEnv: ServiceEnv & { readonly config: C } = {
      role: def.role,
      name: runner.name,
      dataDir,
      config,
      logger,
      clock,
      rng,
      openStore(name: string): Store {
        if (!NAME_RE.test(name))
          throw new ServiceConfigError(`openStore: bad store name ${JSON.stringify(name)}`);
        const existing = stores.get(name);
        if (existing !== undefined) return existing;
        const store = Store.open({ path: join(dataDir, `${name}.sqlite`) });
        stores.set(name, store);
        return store;
      },
      transport(address: string): Transport {
        const loc = runner.addressBook.get(address);
        if (loc === undefined) {
          throw new ServiceConfigError(
            `addressBook: no entry for this process's address "${address}"`,
          );
        }
        const t = new SocketTransport(
          { address, listen: loc, addressBook: runner.addressBook },
          { clock, rng: rng.fork(`transport/${address}`), logger },
        );
        transports.push(t);
        if (runner.loss === 0) return t;
        const lossy = new LossyTransport(t, runner.loss, rng.fork(`loss/${address}`));
        lossyTransports.push(lossy);
        return lossy;
      },
      secret(name: string): Uint8Array {
        if (secrets === undefined) {
          throw new ServiceSecretError(`secret "${name}": no key file store in ${dataDir}`);
        }
        const v = secrets.get(SECRETS_NS, name);
        if (v === undefined)
          throw new ServiceSecretError(`secret "${name}" is missing from ${secretsPath}`);
        return v;
      },
      chain: runner.chain,
    };
    const service = await def.create(serviceEnv);
    let stopped: Promise<void> | undefined;
    const stopService = (): Promise<void> =>
      (stopped ??= service.stop().catch((e: unknown) => {
        logger.error("stop failed", { error: e instanceof Error ? e : String(e) });
      }));
    cleanups.push(stopService);
    await service.start();
    // A transport whose port could not be bound fails the start (SocketTransport only logs it);
    // one the role never started is its own business.
    for (const t of transports) {
      try {
        await t.listening();
      } catch (e) {
        if (/not started/.test((e as Error).message)) continue;
        throw new Error(`transport "${t.address}": cannot listen: ${(e as Error).message}`);
      }
    }

    const startedMs = Date.now();
    const restarts =
      options.restartCount ?? (Number.parseInt(env[RESTART_COUNT_ENV] ?? "0", 10) || 0);
    let state: HealthDocument["state"] = "running";
    const health = (): HealthDocument => {
      let status: Readonly<Record<string, unknown>>;
      try {
        status = service.status();
      } catch (e) {
        status = { error: String((e as Error).message) };
      }
      return {
        role: def.role,
        name: runner.name,
        pid: process.pid,
        uptimeMs: Date.now() - startedMs,
        restarts: restarts,
        state,
        status,
        network: {
          sent: transports.reduce((n, t) => n + t.stats().sent, 0),
          delivered: transports.reduce((n, t) => n + t.stats().delivered, 0),
          droppedByLoss: lossyTransports.reduce((n, t) => n + t.dropped, 0),
        },
      };
    };
    const server = await serveHealth(runner.healthPort, health);
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as { port: number }).port;
    const healthUrl = `http://127.0.0.1:${port}/health`;
    writeFileSync(
      join(dataDir, PROCESS_FILE),
      JSON.stringify({ pid: process.pid, role: def.role, name: runner.name, healthUrl }) + "\n",
    );
    cleanups.push(() => rmSync(join(dataDir, PROCESS_FILE), { force: true }));
    if (service.done !== undefined) {
      service.done.then(
        () => {
          if (state === "running") state = "done";
        },
        () => undefined,
      );
    }
    statusLine.start(() => formatStatusLine(health()));
    cleanups.push(() => statusLine.stop());
    logger.info("started", { role: def.role, pid: process.pid, health: healthUrl, dataDir });
    return {
      role: def.role,
      name: runner.name,
      service,
      healthUrl,
      logger,
      exitWhenDone: runner.exitWhenDone,
      shutdown: async () => {
        if (state !== "done") state = "stopping";
        logger.info("stopping");
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

function serveHealth(port: number, health: () => HealthDocument): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/health" || req.url === "/")) {
      const body = JSON.stringify(health(), (_k, v: unknown) =>
        typeof v === "bigint" ? v.toString() : v,
      );
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body + "\n");
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
    }
  });
  return new Promise((resolveServer, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolveServer(server);
    });
  });
}

/** One line for a terminal: "cc · running · up 12 s · interval=2 phase=admission". */
export function formatStatusLine(h: HealthDocument): string {
  const fields = Object.entries(h.status)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" ");
  return `${h.name} · ${h.state} · up ${Math.round(h.uptimeMs / 1000)} s${fields ? " · " + fields : ""}`;
}

/** The status line on stderr, redrawn every second, only when stderr is a terminal. */
const statusLine = (() => {
  let render: (() => string) | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let shown = false;
  const tty = (): boolean => process.stderr.isTTY === true;
  return {
    start(r: () => string): void {
      if (!tty()) return;
      render = r;
      timer = setInterval(() => this.redraw(), 1000);
      timer.unref();
      this.redraw();
    },
    stop(): void {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      this.clear();
      render = undefined;
    },
    clear(): void {
      if (shown && tty()) process.stderr.write("\r\x1b[K");
      shown = false;
    },
    redraw(): void {
      if (render === undefined || !tty()) return;
      const cols = process.stderr.columns ?? 100;
      process.stderr.write("\r\x1b[K" + render().slice(0, Math.max(10, cols - 1)));
      shown = true;
    },
  };
})();

/**
 * Runs `def` as this process until SIGINT/SIGTERM or its `done`, then exits (see header for the
 * exit codes). `prog` prefixes the one-line errors ("gridledger cc"). Never returns.
 */
export async function runServiceMain<C>(
  def: RoleDefinition<C>,
  options: RunOptions,
  prog: string,
): Promise<never> {
  let running: RunningService | undefined;
  let stopping = false;
  /** A signal that arrived while the service was starting: acted on once it has started. */
  let early: "SIGINT" | "SIGTERM" | undefined;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const stopAndExit = async (code: number, why: string): Promise<never> => {
    stopping = true;
    const service = running as RunningService;
    service.logger.info("shutting down", { reason: why });
    const timer = setTimeout(() => {
      service.logger.error("stop did not finish in time", { timeoutMs: stopTimeoutMs });
      process.exit(1);
    }, stopTimeoutMs);
    timer.unref();
    await service.shutdown();
    process.exit(code);
  };
  // Installed before the service starts: `startService` writes process.json, and a supervisor
  // that reads it may signal at once. Before, the handlers came after `startService` returned,
  // so a signal in between took Node's default action (no clean stop); seen under load in
  // test/node/runner.test.ts "a second signal exits at once when stop() hangs".
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      const atOnce = signal === "SIGINT" ? 130 : 143;
      if (stopping) process.exit(atOnce); // second signal: at once
      if (running === undefined) {
        if (early !== undefined) process.exit(atOnce);
        early = signal;
        return;
      }
      void stopAndExit(0, signal);
    });
  }
  try {
    running = await startService(def, options);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`${prog}: ${message.split("\n")[0]}`);
    process.exit(e instanceof ServiceConfigError ? 2 : 1);
  }
  const { logger } = running;
  if (early !== undefined) void stopAndExit(0, early);
  process.on("uncaughtException", (e) => {
    logger.error("uncaught exception", { error: e });
    if (stopping) process.exit(1);
    void stopAndExit(1, "uncaught exception");
  });
  process.on("unhandledRejection", (e) => {
    logger.error("unhandled rejection", { error: e instanceof Error ? e : String(e) });
    if (stopping) process.exit(1);
    void stopAndExit(1, "unhandled rejection");
  });
  if ((options.env ?? process.env)[SUPERVISED_ENV] === "1") {
    // Supervised: when the supervisor dies (even by SIGKILL) we are re-parented; stop then.
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid !== parent && !stopping) void stopAndExit(1, "supervisor gone");
    }, 500);
    watch.unref();
  }
  if (running.service.done !== undefined) {
    running.service.done.then(
      () => {
        logger.info("done");
        if (running.exitWhenDone && !stopping) void stopAndExit(0, "done");
      },
      (e: unknown) => {
        logger.error("service failed", { error: e instanceof Error ? e : String(e) });
        if (!stopping) void stopAndExit(1, "service failed");
      },
    );
  }
  // Keep the event loop alive until a signal or `done`.
  return new Promise<never>(() => setInterval(() => undefined, 1 << 30));
}
