// Encryption at rest: round trip, per-record nonces, binding to (ns, key), tamper detection,
// wrong passphrase detection, nothing secret on disk.
import { expect } from "chai";
import fc from "fast-check";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createRng } from "../../offchain/runtime/rng.ts";
import {
  SecretBox,
  SecretBoxAuthenticationError,
  SecretBoxError,
  SecretBoxWrongKeyError,
  SecretStore,
} from "../../offchain/runtime/secret-box.ts";
import { Store } from "../../offchain/runtime/store.ts";

// Low scrypt cost keeps tests fast; production uses DEFAULT_SCRYPT.
const FAST = { N: 1 << 10, r: 8, p: 1 };
const salt = new Uint8Array(16).fill(7);

function box(seed = "nonces", passphrase = "correct horse"): SecretBox {
  const rng = createRng(seed);
  return SecretBox.derive({ passphrase, salt, scrypt: FAST }, { randomBytes: (n) => rng.bytes(n) });
}

describe("SecretBox", () => {
  it("property: open(seal(x)) = x for any plaintext, ns and key", () => {
    const b = box();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1 }),
        (pt, ns, key) => {
          expect(b.open(ns, key, b.seal(ns, key, pt))).to.deep.equal(pt);
        },
      ),
    );
  });

  it("uses a fresh nonce per record and is deterministic given the injected randomness", () => {
    const a = box("same");
    const b = box("same");
    const pt = new Uint8Array(32).fill(1);
    const r1 = a.seal("keys", "K_1", pt);
    const r2 = a.seal("keys", "K_1", pt);
    expect(r1).to.not.deep.equal(r2);
    expect(r1.length).to.equal(1 + 12 + 32 + 16);
    expect(b.seal("keys", "K_1", pt)).to.deep.equal(r1);
  });

  it("detects tampering with any byte, truncation, and records moved to another ns or key", () => {
    const b = box();
    const sealed = b.seal("keys", "K_1", new Uint8Array([1, 2, 3, 4]));
    for (let i = 0; i < sealed.length; i++) {
      const t = Uint8Array.from(sealed);
      t[i] ^= 0x01;
      expect(() => b.open("keys", "K_1", t), `byte ${i}`).to.throw(SecretBoxAuthenticationError);
    }
    expect(() => b.open("keys", "K_1", sealed.subarray(0, sealed.length - 1))).to.throw(
      SecretBoxAuthenticationError,
    );
    expect(() => b.open("keys", "K_2", sealed)).to.throw(SecretBoxAuthenticationError);
    expect(() => b.open("keyz", "K_1", sealed)).to.throw(SecretBoxAuthenticationError);
    // Length prefixes: ("ab","c") and ("a","bc") are different associated data.
    const s2 = b.seal("ab", "c", new Uint8Array([9]));
    expect(() => b.open("a", "bc", s2)).to.throw(SecretBoxAuthenticationError);
  });

  it("a different passphrase, salt or key derives a different key", () => {
    const sealed = box("n", "pass-1").seal("ns", "k", new Uint8Array([5]));
    expect(() => box("n", "pass-2").open("ns", "k", sealed)).to.throw(SecretBoxAuthenticationError);
    const operatorKey = new Uint8Array(32).fill(3);
    const k1 = SecretBox.derive({ key: operatorKey, salt });
    const k2 = SecretBox.derive({ key: operatorKey, salt: new Uint8Array(16).fill(8) });
    expect(() => k2.open("ns", "k", k1.seal("ns", "k", new Uint8Array([1])))).to.throw(
      SecretBoxAuthenticationError,
    );
    expect(k1.open("ns", "k", k1.seal("ns", "k", new Uint8Array([1])))).to.deep.equal(
      new Uint8Array([1]),
    );
  });

  it("validates inputs and refuses use after destroy", () => {
    expect(() => SecretBox.derive({ passphrase: "p", salt: new Uint8Array(8) })).to.throw(
      SecretBoxError,
      /salt/,
    );
    expect(() => SecretBox.derive({ salt })).to.throw(SecretBoxError, /exactly one/);
    expect(() => SecretBox.derive({ key: new Uint8Array(16), salt })).to.throw(
      SecretBoxError,
      /32 bytes/,
    );
    expect(() =>
      SecretBox.derive({ passphrase: "p", salt, scrypt: { N: 1000, r: 8, p: 1 } }),
    ).to.throw(SecretBoxError, /power of two/);
    const b = box();
    b.destroy();
    expect(() => b.seal("n", "k", new Uint8Array(1))).to.throw(SecretBoxError, /destroyed/);
  });
});

describe("SecretStore", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "gridledger-secrets-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("persists sealed secrets, reopens with the passphrase, and rejects a wrong one", () => {
    const path = join(dir, "cc.sqlite");
    const rng = createRng("salt-and-nonces");
    const randomBytes = (n: number) => rng.bytes(n);
    const secret = new TextEncoder().encode("K_i-of-meter-17-THIS-IS-SECRET");
    let store = Store.open({ path });
    let secrets = SecretStore.open(
      store,
      { passphrase: "operator pass", scrypt: FAST },
      { randomBytes },
    );
    secrets.put("meter-keys", "17", secret);
    expect(secrets.get("meter-keys", "17")).to.deep.equal(secret);
    secrets.close();
    store.close();

    // Nothing secret in the files on disk (database, WAL and shared memory).
    const needle = Buffer.from("THIS-IS-SECRET");
    for (const f of readdirSync(dir))
      expect(readFileSync(join(dir, f)).includes(needle), f).to.equal(false);

    store = Store.open({ path });
    expect(() => SecretStore.open(store, { passphrase: "wrong pass" })).to.throw(
      SecretBoxWrongKeyError,
    );
    expect(() => SecretStore.open(store, { key: new Uint8Array(32) })).to.throw(
      SecretBoxWrongKeyError,
    );
    secrets = SecretStore.open(store, { passphrase: "operator pass" });
    expect(secrets.get("meter-keys", "17")).to.deep.equal(secret);
    expect(secrets.keys("meter-keys")).to.deep.equal(["17"]);
    expect(secrets.get("meter-keys", "18")).to.equal(undefined);

    // Tampering with the stored record is detected.
    const raw = store.get("meter-keys", "17")!;
    raw[20] ^= 0x80;
    store.put("meter-keys", "17", raw);
    expect(() => secrets.get("meter-keys", "17")).to.throw(SecretBoxAuthenticationError);
    // A sealed record copied under another key is detected too.
    secrets.put("meter-keys", "1", new Uint8Array([1]));
    store.put("meter-keys", "2", store.get("meter-keys", "1")!);
    expect(() => secrets.get("meter-keys", "2")).to.throw(SecretBoxAuthenticationError);
    expect(() => secrets.put("secret-box/meta", "x", new Uint8Array(1))).to.throw(
      SecretBoxError,
      /reserved/,
    );
    store.close();
  });

  it("works with an operator key through HKDF", () => {
    const store = Store.open({ path: ":memory:" });
    const key = new Uint8Array(32).fill(0xab);
    const a = SecretStore.open(store, { key });
    a.put("sp", "sigSk", new Uint8Array([1, 2, 3]));
    const b = SecretStore.open(store, { key });
    expect(b.get("sp", "sigSk")).to.deep.equal(new Uint8Array([1, 2, 3]));
    expect(() => SecretStore.open(store, { key: new Uint8Array(32).fill(0xac) })).to.throw(
      SecretBoxWrongKeyError,
    );
  });
});
