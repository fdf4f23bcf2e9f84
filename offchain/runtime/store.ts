// Persistence for services (DESIGN §3 "Persistence"): SQLite through Node's built-in `node:sqlite`
// (no native build). Two shapes cover what the agents keep:
//  - a key-value map per namespace (`put`/`get`/`delete`/`list`): registries, pseudonym maps,
//    per-meter carry, sealed secrets (see secret-box.ts);
//  - an append-only log per namespace (`append`/`readLog`): admitted entries, audit trails.
//
// Crash safety: WAL journal with `synchronous = FULL` (default), so a transaction that returned is
// durable even on power loss, and one interrupted at any point leaves no trace: every single write
// is an autocommit transaction and `transaction(fn)` groups writes atomically (savepoints when
// nested). `synchronous = "normal"` trades the durability of the last few commits on power loss
// (never consistency) for speed; simulations may choose it.
//
// Bounded WAL (issue 16): SQLite checkpoints the WAL back into the database every
// `WAL_AUTOCHECKPOINT_PAGES` pages and truncates the file to `WAL_SIZE_LIMIT_BYTES` after each
// checkpoint, but a checkpoint can only copy frames no reader still needs. So no statement may be
// left mid-step: every read and write here runs to completion (`all`/`run`), never `get` on an
// INSERT … RETURNING, which leaves its statement un-reset and a read transaction open for ever.
//
// Failed writes are named (`StoreBusyError` after the busy timeout, `StoreFullError`,
// `StoreIoError`): the write did not happen, the caller must not acknowledge it.
//
// Note: Node 22 prints "ExperimentalWarning: SQLite is an experimental feature" once when this
// module is loaded. It is left as is: filtering process warnings globally would hide other ones.
import { statSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";

export class StoreError extends Error {
  override name = "StoreError";
}

export class StoreClosedError extends StoreError {
  override name = "StoreClosedError";
}

/**
 * Another connection held the lock for longer than the busy timeout (SQLITE_BUSY / SQLITE_LOCKED):
 * the write was not made.
 */
export class StoreBusyError extends StoreError {
  override name = "StoreBusyError";
}

/** The disk or the database is full (SQLITE_FULL): the write was not made. */
export class StoreFullError extends StoreError {
  override name = "StoreFullError";
}

/** The operating system reported an I/O error (SQLITE_IOERR, SQLITE_CANTOPEN…): not written. */
export class StoreIoError extends StoreError {
  override name = "StoreIoError";
}

/** WAL pages written before SQLite checkpoints them into the database (SQLite's default). */
export const WAL_AUTOCHECKPOINT_PAGES = 1000;
/** Size the WAL file is truncated to after a checkpoint: 4 MiB. */
export const WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;

export interface StoreInit {
  /** File path, or ":memory:" for a private in-memory database. */
  readonly path: string;
  /** "full" (default): every commit durable; "normal": faster, last commits may be lost on power loss. */
  readonly synchronous?: "full" | "normal";
  /**
   * Milliseconds a write waits for another connection's lock before failing with
   * {@link StoreBusyError} (default 5000).
   */
  readonly busyTimeoutMs?: number;
}

export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
}

export interface LogEntry {
  /** 1-based position in the namespace's log. */
  readonly seq: number;
  readonly value: Uint8Array;
}

const SCHEMA_VERSION = 1;
const MAX_NAME_LENGTH = 1024;

function checkName(value: string, what: string, fn: string): void {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new StoreError(
      `${fn}: ${what} must be a non-empty string of at most ${MAX_NAME_LENGTH} characters`,
    );
  }
}

function checkBytes(value: Uint8Array, fn: string): void {
  if (!(value instanceof Uint8Array)) throw new StoreError(`${fn}: value must be a Uint8Array`);
}

// SQLite primary result codes (https://sqlite.org/rescode.html); extended codes keep them in the
// low byte.
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;

/** Maps a node:sqlite error to a named StoreError (others are rethrown unchanged). */
function translate(err: unknown, fn: string): unknown {
  const code = (err as { errcode?: unknown })?.errcode;
  if (typeof code !== "number") return err;
  const message = `${fn}: ${(err as Error).message}`;
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return new StoreBusyError(message, { cause: err });
    case SQLITE_FULL:
      return new StoreFullError(message, { cause: err });
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return new StoreIoError(message, { cause: err });
    default:
      return new StoreError(message, { cause: err });
  }
}

/** Runs one SQLite call, naming its failure (busy, full, I/O). */
function sqlite<T>(fn: string, call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw translate(err, fn);
  }
}

/** Blobs come back as Uint8Array; a zero-length blob may come back as null in some builds. */
function asBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v === null) return new Uint8Array(0);
  throw new StoreError(`store: unexpected column value ${typeof v}`);
}

export class Store {
  readonly path: string;
  readonly #db: DatabaseSync;
  #open = true;
  #depth = 0;
  readonly #stmts: {
    put: StatementSync;
    get: StatementSync;
    del: StatementSync;
    list: StatementSync;
    listPrefix: StatementSync;
    append: StatementSync;
    readLog: StatementSync;
    logLength: StatementSync;
  };

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
    this.#stmts = {
      put: db.prepare(
        "INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
      ),
      get: db.prepare("SELECT value FROM kv WHERE ns = ? AND key = ?"),
      del: db.prepare("DELETE FROM kv WHERE ns = ? AND key = ?"),
      list: db.prepare("SELECT key, value FROM kv WHERE ns = ? ORDER BY key"),
      listPrefix: db.prepare(
        "SELECT key, value FROM kv WHERE ns = ? AND substr(key, 1, length(?)) = ? ORDER BY key",
      ),
      // One statement computes the next sequence number and inserts it: atomic on its own.
      append: db.prepare(
        "INSERT INTO log (ns, seq, value) SELECT ?, COALESCE(MAX(seq), 0) + 1, ? FROM log WHERE ns = ? RETURNING seq",
      ),
      readLog: db.prepare(
        "SELECT seq, value FROM log WHERE ns = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
      logLength: db.prepare("SELECT COALESCE(MAX(seq), 0) AS n FROM log WHERE ns = ?"),
    };
  }

  /** Opens (creating if needed) a store at `init.path`. */
  static open(init: StoreInit): Store {
    if (typeof init?.path !== "string" || init.path.length === 0) {
      throw new StoreError('Store.open: path must be a non-empty string (or ":memory:")');
    }
    const sync = init.synchronous ?? "full";
    if (sync !== "full" && sync !== "normal") {
      throw new StoreError('Store.open: synchronous must be "full" or "normal"');
    }
    const busyTimeoutMs = init.busyTimeoutMs ?? 5000;
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new StoreError("Store.open: busyTimeoutMs must be a non-negative integer");
    }
    const db = sqlite("Store.open", () => new DatabaseSync(init.path));
    try {
      db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
      db.exec("PRAGMA foreign_keys = ON");
      db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      const version = (db.prepare("PRAGMA user_version").all()[0] as { user_version: number })
        .user_version;
      if (version === 0) {
        db.exec(`BEGIN IMMEDIATE;
          CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
            PRIMARY KEY (ns, key)) WITHOUT ROWID;
          CREATE TABLE IF NOT EXISTS log (ns TEXT NOT NULL, seq INTEGER NOT NULL, value BLOB NOT NULL,
            PRIMARY KEY (ns, seq)) WITHOUT ROWID;
          PRAGMA user_version = ${SCHEMA_VERSION};
          COMMIT;`);
      } else if (version !== SCHEMA_VERSION) {
        throw new StoreError(`Store.open: unsupported schema version ${version}`);
      }
    } catch (e) {
      db.close();
      throw translate(e, "Store.open");
    }
    return new Store(init.path, db);
  }

  #check(fn: string): void {
    if (!this.#open) throw new StoreClosedError(`${fn}: store is closed`);
  }

  /** SQLite's journal mode ("wal" for file stores, "memory" for ":memory:"). */
  get journalMode(): string {
    this.#check("journalMode");
    return (this.#db.prepare("PRAGMA journal_mode").all()[0] as { journal_mode: string })
      .journal_mode;
  }

  get inTransaction(): boolean {
    return this.#depth > 0;
  }

  put(ns: string, key: string, value: Uint8Array): void {
    this.#check("put");
    checkName(ns, "namespace", "put");
    checkName(key, "key", "put");
    checkBytes(value, "put");
    sqlite("put", () => this.#stmts.put.run(ns, key, value));
  }

  get(ns: string, key: string): Uint8Array | undefined {
    this.#check("get");
    checkName(ns, "namespace", "get");
    checkName(key, "key", "get");
    const rows = sqlite("get", () => this.#stmts.get.all(ns, key)) as { value: unknown }[];
    return rows.length === 0 ? undefined : asBytes(rows[0].value);
  }

  /** Removes a key; true if it existed. */
  delete(ns: string, key: string): boolean {
    this.#check("delete");
    checkName(ns, "namespace", "delete");
    checkName(key, "key", "delete");
    return Number(sqlite("delete", () => this.#stmts.del.run(ns, key)).changes) > 0;
  }

  /** Entries of a namespace in key order (binary order of the UTF-8 keys), optionally by prefix. */
  list(ns: string, options: { readonly prefix?: string } = {}): KeyValue[] {
    this.#check("list");
    checkName(ns, "namespace", "list");
    const rows = sqlite("list", () =>
      options.prefix === undefined || options.prefix === ""
        ? this.#stmts.list.all(ns)
        : this.#stmts.listPrefix.all(ns, options.prefix, options.prefix),
    ) as { key: string; value: unknown }[];
    return rows.map((r) => ({ key: r.key, value: asBytes(r.value) }));
  }

  /**
   * Appends to a namespace's log; returns the new record's 1-based sequence number. Durable when it
   * returns (outside a transaction, with `synchronous = "full"`). Throws StoreBusyError,
   * StoreFullError or StoreIoError when the record was not written.
   */
  append(ns: string, value: Uint8Array): number {
    this.#check("append");
    checkName(ns, "namespace", "append");
    checkBytes(value, "append");
    // `all`, not `get`: it steps the statement to completion and resets it, so no read stays open
    // to pin the WAL (issue 16).
    const rows = sqlite("append", () => this.#stmts.append.all(ns, value, ns)) as {
      seq: number | bigint;
    }[];
    return Number(rows[0].seq);
  }

  /** Log records with seq > `afterSeq` (default 0), in order, at most `limit` (default all). */
  readLog(
    ns: string,
    options: { readonly afterSeq?: number; readonly limit?: number } = {},
  ): LogEntry[] {
    this.#check("readLog");
    checkName(ns, "namespace", "readLog");
    const after = options.afterSeq ?? 0;
    const limit = options.limit ?? -1; // SQLite: negative LIMIT = no limit
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new StoreError("readLog: afterSeq must be a non-negative integer");
    }
    if (!Number.isSafeInteger(limit) || limit < -1) {
      throw new StoreError("readLog: limit must be a non-negative integer");
    }
    const rows = sqlite("readLog", () => this.#stmts.readLog.all(ns, after, limit)) as {
      seq: number | bigint;
      value: unknown;
    }[];
    return rows.map((r) => ({ seq: Number(r.seq), value: asBytes(r.value) }));
  }

  /** Number of records in a namespace's log (= its last seq). */
  logLength(ns: string): number {
    this.#check("logLength");
    checkName(ns, "namespace", "logLength");
    const rows = sqlite("logLength", () => this.#stmts.logLength.all(ns)) as {
      n: number | bigint;
    }[];
    return Number(rows[0].n);
  }

  /** Bytes of the write-ahead log file now (0 for ":memory:"). */
  walBytes(): number {
    this.#check("walBytes");
    if (this.path === ":memory:") return 0;
    try {
      return statSync(`${this.path}-wal`).size;
    } catch {
      return 0; // no WAL file yet, or removed by a clean close
    }
  }

  /**
   * Copies the whole WAL into the database and truncates it to zero bytes
   * (`PRAGMA wal_checkpoint(TRUNCATE)`). The automatic checkpoints already bound the WAL; this
   * shrinks it at a quiet moment (CC calls it when it seals an interval). Outside transactions only.
   */
  checkpoint(): void {
    this.#check("checkpoint");
    if (this.#depth > 0) throw new StoreError("checkpoint: not inside a transaction");
    sqlite("checkpoint", () => this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }

  /**
   * Runs `fn` atomically: all its writes commit together when it returns, none if it throws.
   * Nested calls become savepoints. `fn` must be synchronous (DatabaseSync is synchronous, and an
   * `await` inside would let other writes interleave with the open transaction): a returned promise
   * aborts the transaction with a StoreError.
   */
  transaction<T>(fn: () => T): T {
    this.#check("transaction");
    if (typeof fn !== "function") throw new StoreError("transaction: fn must be a function");
    const depth = this.#depth;
    const savepoint = `sp${depth}`;
    sqlite("transaction", () =>
      this.#db.exec(depth === 0 ? "BEGIN IMMEDIATE" : `SAVEPOINT ${savepoint}`),
    );
    this.#depth++;
    let result: T;
    try {
      result = fn();
      if (
        result !== null &&
        typeof result === "object" &&
        typeof (result as { then?: unknown }).then === "function"
      ) {
        throw new StoreError("transaction: fn must be synchronous (it returned a promise)");
      }
    } catch (e) {
      this.#depth--;
      if (this.#open) {
        this.#db.exec(depth === 0 ? "ROLLBACK" : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
      }
      throw e;
    }
    this.#depth--;
    try {
      sqlite("transaction", () => this.#db.exec(depth === 0 ? "COMMIT" : `RELEASE ${savepoint}`));
    } catch (e) {
      // A failed COMMIT (busy, full, I/O) leaves the transaction open: roll it back so nothing of it
      // lands later, and report the failure.
      if (depth === 0 && this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw e;
    }
    return result;
  }

  /** Closes the database (checkpointing the WAL). Idempotent. */
  close(): void {
    if (!this.#open) return;
    if (this.#depth > 0) throw new StoreError("close: cannot close inside a transaction");
    this.#open = false;
    this.#db.close();
  }
}
