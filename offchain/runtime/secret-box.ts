// Secrets encrypted at rest (DESIGN §1: CC holds every meter's K_i "encrypted at rest"; §3
// "secret keys encrypted at rest"). AES-256-GCM from node:crypto.
//
// Key: derived from what the operator supplies at start-up and never stored —
//  - a passphrase, through scrypt (default N = 2^15, r = 8, p = 1: ≈ 32 MiB and ~0.1 s, so
//    guessing passphrases from a stolen database file is expensive), or
//  - a high-entropy operator key (≥ 32 bytes, e.g. from a KMS or a hardware token) through
//    HKDF-SHA256 (no stretching needed).
// The KDF salt and parameters are not secret and live next to the data (SecretStore keeps them in
// the store); a sealed "check" record lets SecretStore reject a wrong passphrase at open time.
//
// Record format (version 1): 0x01 ‖ nonce (12 bytes, random per record) ‖ ciphertext ‖ tag (16).
// Associated data: "GridLedger/secret-box/v1" ‖ u32 len(ns) ‖ ns ‖ u32 len(key) ‖ key (UTF-8), so
// a record copied to another namespace or key fails authentication. Random 96-bit nonces are safe
// for far more records than a service keeps (NIST SP 800-38D: < 2^32 per key).
// Randomness is injected (`randomBytes`), defaulting to node:crypto's CSPRNG.
import {
  createCipheriv,
  createDecipheriv,
  hkdfSync,
  randomBytes as cryptoRandomBytes,
  scryptSync,
} from "node:crypto";

import type { Store } from "./store.ts";

export class SecretBoxError extends Error {
  override name = "SecretBoxError";
}

/** A sealed record failed authentication: tampered, truncated, or moved to another ns/key. */
export class SecretBoxAuthenticationError extends SecretBoxError {
  override name = "SecretBoxAuthenticationError";
}

/** The supplied passphrase or key does not match the one the store was sealed with. */
export class SecretBoxWrongKeyError extends SecretBoxError {
  override name = "SecretBoxWrongKeyError";
}

export interface ScryptParams {
  /** CPU/memory cost, a power of two ≥ 2^10 (default 2^15). */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1 };

/** Exactly one of `passphrase` or `key`. */
export interface SecretBoxInit {
  readonly passphrase?: string | Uint8Array;
  readonly key?: Uint8Array;
  /** KDF salt, ≥ 16 bytes, not secret. */
  readonly salt: Uint8Array;
  readonly scrypt?: ScryptParams;
}

export interface SecretBoxComponents {
  /** Source of nonces (default node:crypto randomBytes). */
  readonly randomBytes?: (n: number) => Uint8Array;
}

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const AAD_PREFIX = new TextEncoder().encode("GridLedger/secret-box/v1");
const HKDF_INFO = "GridLedger/secret-box/v1/key";
const enc = new TextEncoder();

function lengthPrefixed(s: string): Uint8Array {
  const b = enc.encode(s);
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

function associatedData(ns: string, key: string): Buffer {
  return Buffer.concat([AAD_PREFIX, lengthPrefixed(ns), lengthPrefixed(key)]);
}

function checkParams(p: ScryptParams): void {
  const { N, r, p: par } = p;
  if (!Number.isSafeInteger(N) || N < 1 << 10 || (N & (N - 1)) !== 0) {
    throw new SecretBoxError("SecretBox.derive: scrypt N must be a power of two ≥ 1024");
  }
  if (!Number.isSafeInteger(r) || r < 1 || !Number.isSafeInteger(par) || par < 1) {
    throw new SecretBoxError("SecretBox.derive: scrypt r and p must be positive integers");
  }
}

function checkName(v: string, what: string, fn: string): void {
  if (typeof v !== "string" || v.length === 0) {
    throw new SecretBoxError(`${fn}: ${what} must be a non-empty string`);
  }
}

export class SecretBox {
  #key: Uint8Array;
  readonly #randomBytes: (n: number) => Uint8Array;

  private constructor(key: Uint8Array, randomBytes: (n: number) => Uint8Array) {
    this.#key = key;
    this.#randomBytes = randomBytes;
  }

  /** Derives the 256-bit record key from the operator's passphrase or key (see header). */
  static derive(init: SecretBoxInit, components: SecretBoxComponents = {}): SecretBox {
    const fn = "SecretBox.derive";
    if (!(init?.salt instanceof Uint8Array) || init.salt.length < 16) {
      throw new SecretBoxError(`${fn}: salt must be at least 16 bytes`);
    }
    const hasPass = init.passphrase !== undefined;
    const hasKey = init.key !== undefined;
    if (hasPass === hasKey)
      throw new SecretBoxError(`${fn}: give exactly one of passphrase or key`);
    let key: Uint8Array;
    if (hasPass) {
      const pass =
        typeof init.passphrase === "string" ? enc.encode(init.passphrase) : init.passphrase;
      if (!(pass instanceof Uint8Array) || pass.length === 0) {
        throw new SecretBoxError(`${fn}: passphrase must be a non-empty string or Uint8Array`);
      }
      const params = init.scrypt ?? DEFAULT_SCRYPT;
      checkParams(params);
      key = new Uint8Array(
        scryptSync(pass, init.salt, 32, {
          N: params.N,
          r: params.r,
          p: params.p,
          maxmem: 256 * params.N * params.r * params.p, // 2× the 128·N·r·p scrypt needs
        }),
      );
    } else {
      if (!(init.key instanceof Uint8Array) || init.key.length < 32) {
        throw new SecretBoxError(`${fn}: key must be at least 32 bytes`);
      }
      key = new Uint8Array(hkdfSync("sha256", init.key, init.salt, HKDF_INFO, 32));
    }
    const randomBytes =
      components.randomBytes ?? ((n: number) => new Uint8Array(cryptoRandomBytes(n)));
    return new SecretBox(key, randomBytes);
  }

  #checkOpen(fn: string): void {
    if (this.#key.length === 0) throw new SecretBoxError(`${fn}: secret box destroyed`);
  }

  /** Encrypts `plaintext` bound to (ns, key). */
  seal(ns: string, key: string, plaintext: Uint8Array): Uint8Array {
    this.#checkOpen("seal");
    checkName(ns, "namespace", "seal");
    checkName(key, "key", "seal");
    if (!(plaintext instanceof Uint8Array))
      throw new SecretBoxError("seal: plaintext must be a Uint8Array");
    const nonce = this.#randomBytes(NONCE_BYTES);
    if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) {
      throw new SecretBoxError("seal: randomBytes returned a wrong-sized nonce");
    }
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(ns, key));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const out = new Uint8Array(1 + NONCE_BYTES + body.length + TAG_BYTES);
    out[0] = VERSION;
    out.set(nonce, 1);
    out.set(body, 1 + NONCE_BYTES);
    out.set(cipher.getAuthTag(), 1 + NONCE_BYTES + body.length);
    return out;
  }

  /** Decrypts a record sealed for (ns, key); throws SecretBoxAuthenticationError if altered. */
  open(ns: string, key: string, sealed: Uint8Array): Uint8Array {
    this.#checkOpen("open");
    checkName(ns, "namespace", "open");
    checkName(key, "key", "open");
    if (!(sealed instanceof Uint8Array) || sealed.length < 1 + NONCE_BYTES + TAG_BYTES) {
      throw new SecretBoxAuthenticationError("open: sealed record too short");
    }
    if (sealed[0] !== VERSION) {
      throw new SecretBoxAuthenticationError(`open: unknown record version ${sealed[0]}`);
    }
    const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
    const body = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, nonce, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(associatedData(ns, key));
    decipher.setAuthTag(tag);
    try {
      return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
    } catch {
      throw new SecretBoxAuthenticationError(`open: authentication failed for ${ns}/${key}`);
    }
  }

  /** Wipes the key from memory; the box cannot be used afterwards. */
  destroy(): void {
    this.#key.fill(0);
    this.#key = new Uint8Array(0);
  }
}

export interface SecretStoreInit {
  readonly passphrase?: string | Uint8Array;
  readonly key?: Uint8Array;
  /** scrypt parameters used when the store is first initialised (later read from the store). */
  readonly scrypt?: ScryptParams;
}

const META_NS = "secret-box/meta";
const CHECK_PLAINTEXT = enc.encode("GridLedger/secret-box/check");

interface KdfMeta {
  readonly v: 1;
  readonly kdf: "scrypt" | "hkdf";
  readonly salt: string;
  readonly N?: number;
  readonly r?: number;
  readonly p?: number;
}

/**
 * Sealed secrets kept in a `Store`: values are `SecretBox` records under the caller's namespace
 * and key. The KDF salt and parameters are created on first use (salt from `randomBytes`) and kept
 * in namespace "secret-box/meta" with a sealed check record for wrong-key detection.
 */
export class SecretStore {
  readonly #store: Store;
  readonly #box: SecretBox;

  private constructor(store: Store, box: SecretBox) {
    this.#store = store;
    this.#box = box;
  }

  static open(
    store: Store,
    init: SecretStoreInit,
    components: SecretBoxComponents = {},
  ): SecretStore {
    const randomBytes =
      components.randomBytes ?? ((n: number) => new Uint8Array(cryptoRandomBytes(n)));
    const kdf: "scrypt" | "hkdf" = init.passphrase !== undefined ? "scrypt" : "hkdf";
    return store.transaction(() => {
      const raw = store.get(META_NS, "kdf");
      let meta: KdfMeta;
      if (raw === undefined) {
        const params = init.scrypt ?? DEFAULT_SCRYPT;
        meta = {
          v: 1,
          kdf,
          salt: Buffer.from(randomBytes(32)).toString("hex"),
          ...(kdf === "scrypt" ? { N: params.N, r: params.r, p: params.p } : {}),
        };
      } else {
        meta = JSON.parse(new TextDecoder().decode(raw)) as KdfMeta;
        if (meta.v !== 1) throw new SecretBoxError(`SecretStore.open: unknown metadata version`);
        if (meta.kdf !== kdf) {
          throw new SecretBoxWrongKeyError(
            `SecretStore.open: store was sealed with a ${meta.kdf === "scrypt" ? "passphrase" : "key"}`,
          );
        }
      }
      const box = SecretBox.derive(
        {
          passphrase: init.passphrase,
          key: init.key,
          salt: new Uint8Array(Buffer.from(meta.salt, "hex")),
          scrypt: kdf === "scrypt" ? { N: meta.N!, r: meta.r!, p: meta.p! } : undefined,
        },
        { randomBytes },
      );
      const check = store.get(META_NS, "check");
      if (raw === undefined) {
        store.put(META_NS, "kdf", enc.encode(JSON.stringify(meta)));
        store.put(META_NS, "check", box.seal(META_NS, "check", CHECK_PLAINTEXT));
      } else {
        try {
          if (check === undefined) throw new SecretBoxAuthenticationError("missing check record");
          box.open(META_NS, "check", check);
        } catch (e) {
          box.destroy();
          if (e instanceof SecretBoxAuthenticationError) {
            throw new SecretBoxWrongKeyError("SecretStore.open: wrong passphrase or key");
          }
          throw e;
        }
      }
      return new SecretStore(store, box);
    });
  }

  put(ns: string, key: string, plaintext: Uint8Array): void {
    if (ns === META_NS) throw new SecretBoxError("put: reserved namespace");
    this.#store.put(ns, key, this.#box.seal(ns, key, plaintext));
  }

  /** The decrypted secret, or undefined if absent; SecretBoxAuthenticationError if tampered. */
  get(ns: string, key: string): Uint8Array | undefined {
    const sealed = this.#store.get(ns, key);
    return sealed === undefined ? undefined : this.#box.open(ns, key, sealed);
  }

  delete(ns: string, key: string): boolean {
    return this.#store.delete(ns, key);
  }

  /** Keys of a namespace (values stay sealed). */
  keys(ns: string): string[] {
    return this.#store.list(ns).map((kv) => kv.key);
  }

  /** Wipes the derived key; the underlying store stays open. */
  close(): void {
    this.#box.destroy();
  }
}
