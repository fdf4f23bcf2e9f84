// node:sqlite store: key-value and log API, atomic transactions, WAL, durability across a real
// process crash (SIGKILL in the middle of a transaction).
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { DatabaseSync } from "node:sqlite";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import {
  Store,
  StoreBusyError,
  StoreClosedError,
  StoreError,
} from "../../offchain/runtime/store.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);
const storeModule = pathToFileURL(
  fileURLToPath(new URL("../../offchain/runtime/store.ts", import.meta.url)),
).href;

describe("Store", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "gridledger-store-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("put/get/delete/list by namespace, overwriting on put", () => {
    const s = Store.open({ path: ":memory:" });
    s.put("meters", "m2", bytes("two"));
    s.put("meters", "m1", bytes("one"));
    s.put("meters", "x9", bytes("nine"));
    s.put("other", "m1", bytes("elsewhere"));
    s.put("meters", "m1", bytes("uno"));
    s.put("meters", "empty", new Uint8Array(0));
    expect(text(s.get("meters", "m1"))).to.equal("uno");
    expect(s.get("meters", "empty")).to.deep.equal(new Uint8Array(0));
    expect(s.get("meters", "absent")).to.equal(undefined);
    expect(s.list("meters").map((kv) => kv.key)).to.deep.equal(["empty", "m1", "m2", "x9"]);
    expect(s.list("meters", { prefix: "m" }).map((kv) => text(kv.value))).to.deep.equal([
      "uno",
      "two",
    ]);
    expect(s.delete("meters", "m1")).to.equal(true);
    expect(s.delete("meters", "m1")).to.equal(false);
    expect(text(s.get("other", "m1"))).to.equal("elsewhere");
    s.close();
  });

  it("append-only log numbers records from 1 per namespace and pages through them", () => {
    const s = Store.open({ path: ":memory:" });
    for (let i = 0; i < 5; i++) expect(s.append("ocd", bytes(`e${i}`))).to.equal(i + 1);
    expect(s.append("audit", bytes("a"))).to.equal(1);
    expect(s.logLength("ocd")).to.equal(5);
    expect(s.logLength("none")).to.equal(0);
    expect(
      s.readLog("ocd", { afterSeq: 2, limit: 2 }).map((r) => [r.seq, text(r.value)]),
    ).to.deep.equal([
      [3, "e2"],
      [4, "e3"],
    ]);
    expect(s.readLog("ocd")).to.have.length(5);
  });

  it("transaction commits all writes or none; nested failures roll back to the savepoint", () => {
    const s = Store.open({ path: ":memory:" });
    s.transaction(() => {
      s.put("ns", "a", bytes("1"));
      s.append("log", bytes("x"));
    });
    expect(() =>
      s.transaction(() => {
        s.put("ns", "b", bytes("2"));
        s.append("log", bytes("y"));
        throw new Error("abort");
      }),
    ).to.throw("abort");
    expect(s.get("ns", "b")).to.equal(undefined);
    expect(s.logLength("log")).to.equal(1);
    const r = s.transaction(() => {
      s.put("ns", "c", bytes("3"));
      try {
        s.transaction(() => {
          s.put("ns", "d", bytes("4"));
          throw new Error("inner");
        });
      } catch {
        /* the outer transaction goes on */
      }
      expect(s.inTransaction).to.equal(true);
      return 42;
    });
    expect(r).to.equal(42);
    expect(text(s.get("ns", "c"))).to.equal("3");
    expect(s.get("ns", "d")).to.equal(undefined);
    expect(s.inTransaction).to.equal(false);
  });

  it("transaction refuses async functions and rolls back their synchronous part", async () => {
    const s = Store.open({ path: ":memory:" });
    expect(() =>
      s.transaction(async () => {
        s.put("ns", "sync-part", bytes("x"));
      }),
    ).to.throw(StoreError, /synchronous/);
    expect(s.get("ns", "sync-part")).to.equal(undefined);
  });

  it("a file store uses WAL and keeps committed data across reopen, not aborted data", () => {
    const path = join(dir, "db.sqlite");
    const s = Store.open({ path });
    expect(s.journalMode).to.equal("wal");
    s.put("k", "committed", bytes("yes"));
    s.append("log", bytes("1"));
    expect(() =>
      s.transaction(() => {
        s.put("k", "aborted", bytes("no"));
        throw new Error("abort");
      }),
    ).to.throw();
    s.close();
    const t = Store.open({ path });
    expect(text(t.get("k", "committed"))).to.equal("yes");
    expect(t.get("k", "aborted")).to.equal(undefined);
    expect(t.logLength("log")).to.equal(1);
    t.close();
  });

  it("survives SIGKILL mid-transaction: committed data present, the open transaction absent", () => {
    const path = join(dir, "crash.sqlite");
    const script = `
      const { Store } = await import(${JSON.stringify(storeModule)});
      const s = Store.open({ path: ${JSON.stringify(path)} });
      const b = (x) => new TextEncoder().encode(x);
      for (let i = 0; i < 100; i++) s.put("kv", "k" + i, b("v" + i));
      s.transaction(() => { s.append("log", b("a")); s.append("log", b("b")); });
      s.transaction(() => {
        s.put("kv", "k0", b("overwritten"));
        s.put("kv", "half", b("x"));
        s.append("log", b("c"));
        process.kill(process.pid, "SIGKILL");
      });
    `;
    const r = spawnSync(process.execPath, ["--no-warnings", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(r.signal, r.stderr).to.equal("SIGKILL");
    const s = Store.open({ path });
    expect(s.list("kv")).to.have.length(100);
    expect(text(s.get("kv", "k0"))).to.equal("v0");
    expect(text(s.get("kv", "k99"))).to.equal("v99");
    expect(s.get("kv", "half")).to.equal(undefined);
    expect(s.readLog("log").map((x) => text(x.value))).to.deep.equal(["a", "b"]);
    s.close();
  });

  // Issue 16 (4): `append` ran its INSERT … RETURNING through `get()`, which leaves the statement
  // un-reset and a read transaction open, so no checkpoint could ever complete: 20,000 appends of
  // a 138-byte report grew the WAL to ≈ 134 MB beside a 4 KiB database.
  it("keeps the WAL bounded under continuous appends (checkpoints run; append holds no read)", () => {
    const path = join(dir, "wal.sqlite");
    const s = Store.open({ path });
    const report = new Uint8Array(138).fill(7);
    let peak = 0;
    for (let i = 0; i < 3000; i++) {
      s.append("cc/reports/0", report);
      if (i % 300 === 299) peak = Math.max(peak, statSync(`${path}-wal`).size);
    }
    expect(s.logLength("cc/reports/0")).to.equal(3000);
    // Before the fix: ≈ 19 MB after 3000 appends. Now the auto-checkpoint runs every 1000 pages
    // (4 MiB) and the file is truncated to its limit after each.
    expect(peak).to.be.at.most(8 * 1024 * 1024);
    expect(s.walBytes()).to.be.at.most(8 * 1024 * 1024);
    s.close();
  });

  // Issue 16 (2): another connection holds the write lock; the write must fail with a named error
  // after the busy timeout (the caller then refuses the report), not hang or succeed silently.
  it("a write while another connection holds the write lock throws StoreBusyError, nothing written", () => {
    const path = join(dir, "busy.sqlite");
    const s = Store.open({ path, busyTimeoutMs: 50 });
    s.append("log", bytes("before"));
    const other = new DatabaseSync(path);
    other.exec("PRAGMA busy_timeout = 0");
    other.exec("BEGIN IMMEDIATE");
    try {
      expect(() => s.append("log", bytes("while-locked"))).to.throw(StoreBusyError, /append/);
      expect(() => s.put("kv", "k", bytes("v"))).to.throw(StoreBusyError, /put/);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    expect(s.readLog("log").map((r) => text(r.value))).to.deep.equal(["before"]);
    expect(s.append("log", bytes("after"))).to.equal(2);
    s.close();
    expect(existsSync(path)).to.equal(true);
  });

  it("validates arguments and refuses use after close", () => {
    const s = Store.open({ path: ":memory:" });
    expect(() => s.put("", "k", new Uint8Array(1))).to.throw(StoreError, /put: namespace/);
    expect(() => s.put("n", "k", "str" as unknown as Uint8Array)).to.throw(
      StoreError,
      /Uint8Array/,
    );
    expect(() => s.readLog("n", { afterSeq: -1 })).to.throw(StoreError, /afterSeq/);
    expect(() => Store.open({ path: "" })).to.throw(StoreError);
    s.close();
    s.close();
    expect(() => s.get("n", "k")).to.throw(StoreClosedError);
  });
});
