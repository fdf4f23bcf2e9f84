// Pseudonyms of DESIGN §4.5 (Oksuz 2020 §4 and §6):
//   meter:   P_{i,j,k} = HMAC-SHA256(A_i, "GridLedger/P" ‖ ID_i ‖ u32 j ‖ u16 k),
//            A_i = H1(sk_{i,CC}), sk_{i,CC} = sk_i·pk_CC = sk_CC·pk_i, ID_i = H1(pk_i);
//   SP→user: HMAC-SHA256(H1(sk_SP·pk_U), "GridLedger/SPU" ‖ ID_SP ‖ u32 j).
// The meter computes its pseudonyms from (sk_i, pk_CC), the control center from (sk_CC, pk_i); both
// give the same bytes (property-tested). The CC keeps a map P → (meter, j, k) for O(1) admission.
import {
  bytesToHex,
  concatBytes,
  equalBytes,
  expectBytes,
  u16,
  u32,
  wipe,
} from "../crypto/bytes.ts";
import { h1, hmacSha256, hmacSha256Keyed } from "../crypto/hash.ts";
import { MAX_COUNTER, MAX_INTERVAL } from "../crypto/ggm.ts";
import { ecdh, identityOf } from "../crypto/keys.ts";
import { CURVE_ORDER, secp, type Secp256k1Backend } from "../crypto/secp256k1.ts";
import type { ByteSlab } from "../runtime/byte-slab.ts";

const encoder = new TextEncoder();
/** Domain label of meter pseudonyms. */
export const PSEUDONYM_LABEL = encoder.encode("GridLedger/P");
/** Domain label of SP-to-user pseudonyms (Oksuz §6). */
export const SP_USER_PSEUDONYM_LABEL = encoder.encode("GridLedger/SPU");

function checkInterval(interval: number, fn: string): void {
  if (!Number.isInteger(interval) || interval < 0 || interval > MAX_INTERVAL) {
    throw new RangeError(`${fn}: interval ${interval} is not a u32`);
  }
}

function checkCounter(counter: number, fn: string): void {
  if (!Number.isInteger(counter) || counter < 1 || counter > MAX_COUNTER) {
    throw new RangeError(`${fn}: counter ${counter} outside [1, 65535] (1-based)`);
  }
}

/** `A_i = H1(sk_i·pk_CC)`: the meter's side of the pseudonym key. */
export function meterPseudonymKey(
  meterSecretKey: bigint,
  ccPublicKey: Uint8Array,
  backend: Secp256k1Backend = secp,
): Uint8Array {
  const shared = ecdh(meterSecretKey, ccPublicKey, backend);
  const a = h1(shared);
  wipe(shared);
  return a;
}

/** `A_i = H1(sk_CC·pk_i)`: the control center's side (same bytes as {@link meterPseudonymKey}). */
export function controlCenterPseudonymKey(
  ccSecretKey: bigint,
  meterPublicKey: Uint8Array,
  backend: Secp256k1Backend = secp,
): Uint8Array {
  return meterPseudonymKey(ccSecretKey, meterPublicKey, backend);
}

/** `P_{i,j,k} = HMAC(A_i, "GridLedger/P" ‖ ID_i ‖ u32 j ‖ u16 k)` (DESIGN §4.5). */
export function meterPseudonym(
  pseudonymKey: Uint8Array,
  meterId: Uint8Array,
  interval: number,
  counter: number,
): Uint8Array {
  expectBytes(pseudonymKey, 32, "meterPseudonym: pseudonymKey");
  expectBytes(meterId, 32, "meterPseudonym: meterId");
  checkInterval(interval, "meterPseudonym");
  checkCounter(counter, "meterPseudonym");
  return hmacSha256(
    pseudonymKey,
    concatBytes(PSEUDONYM_LABEL, meterId, u32(interval), u16(counter)),
  );
}

/** A meter's pseudonym generator with `A_i` and `ID_i` computed once (one ECDH per lifetime). */
export class MeterPseudonyms {
  readonly meterId: Uint8Array;
  readonly #key: Uint8Array;

  /**
   * `meterId`, if given, is the caller's copy of `ID_i = identityOf(meterPublicKey)`, kept instead
   * of a buffer of its own (issue 14: a simulator holds one generator per meter, and the meter's
   * keys already hold `ID_i`). Checked: a different value throws a TypeError. `store`, if given,
   * holds the 32-byte pseudonym key `A_i` instead of a buffer of its own (issue 14): a slab of the
   * fleet of meters, which no other role can reach (the key is never handed out).
   */
  constructor(
    meterSecretKey: bigint,
    meterPublicKey: Uint8Array,
    ccPublicKey: Uint8Array,
    backend: Secp256k1Backend = secp,
    meterId?: Uint8Array,
    store?: ByteSlab,
  ) {
    const id = identityOf(meterPublicKey);
    if (meterId !== undefined && !equalBytes(meterId, id)) {
      throw new TypeError("MeterPseudonyms: meterId is not identityOf(meterPublicKey)");
    }
    this.meterId = meterId ?? id;
    const key = meterPseudonymKey(meterSecretKey, ccPublicKey, backend);
    if (store === undefined) {
      this.#key = key;
    } else {
      this.#key = store.copy(key);
      wipe(key);
    }
  }

  pseudonym(interval: number, counter: number): Uint8Array {
    return meterPseudonym(this.#key, this.meterId, interval, counter);
  }

  wipe(): void {
    wipe(this.#key);
  }
}

/** Where a pseudonym came from (the control center's admission lookup). */
export interface PseudonymOrigin<M> {
  readonly meter: M;
  readonly interval: number;
  readonly counter: number;
}

/**
 * The control center's side: `A_i` and `ID_i` cached per registered meter (one ECDH each), an
 * interval's pseudonyms precomputed with the HMAC pads and the `label ‖ ID_i ‖ u32 j` prefix
 * reused, and a lookup map `hex(P) → (meter, j, k)` for O(1) admission (DESIGN §4.5).
 * `M` is whatever the caller uses to name a meter (an index, an address...).
 */
export class ControlCenterPseudonyms<M> {
  readonly #ccSecretKey: bigint;
  readonly #backend: Secp256k1Backend;
  readonly #meters = new Map<
    M,
    { id: Uint8Array; mac: (data: Uint8Array) => Uint8Array; key: Uint8Array }
  >();
  readonly #index = new Map<string, PseudonymOrigin<M>>();

  constructor(ccSecretKey: bigint, backend: Secp256k1Backend = secp) {
    if (typeof ccSecretKey !== "bigint" || ccSecretKey <= 0n || ccSecretKey >= CURVE_ORDER) {
      throw new RangeError("ControlCenterPseudonyms: secret key out of range [1, n-1]");
    }
    this.#ccSecretKey = ccSecretKey;
    this.#backend = backend;
  }

  /** Registers a meter by its public key (one ECDH); re-registering replaces its key. */
  registerMeter(meter: M, meterPublicKey: Uint8Array): void {
    const key = controlCenterPseudonymKey(this.#ccSecretKey, meterPublicKey, this.#backend);
    this.#meters.set(meter, {
      id: identityOf(meterPublicKey),
      mac: hmacSha256Keyed(key),
      key,
    });
  }

  #meter(meter: M, fn: string) {
    const m = this.#meters.get(meter);
    if (m === undefined) throw new Error(`${fn}: meter ${String(meter)} is not registered`);
    return m;
  }

  /** `ID_i` of a registered meter. */
  meterId(meter: M): Uint8Array {
    return this.#meter(meter, "ControlCenterPseudonyms.meterId").id;
  }

  /** `A_i` of a registered meter (a copy). */
  pseudonymKey(meter: M): Uint8Array {
    return Uint8Array.from(this.#meter(meter, "ControlCenterPseudonyms.pseudonymKey").key);
  }

  /** `P_{i,j,k}` of one message. */
  pseudonym(meter: M, interval: number, counter: number): Uint8Array {
    return this.intervalPseudonyms(meter, interval, counter, counter)[0];
  }

  /** `P_{i,j,k}` for `k = firstCounter … lastCounter`, in order. */
  intervalPseudonyms(
    meter: M,
    interval: number,
    firstCounter: number,
    lastCounter: number,
  ): Uint8Array[] {
    const fn = "ControlCenterPseudonyms.intervalPseudonyms";
    const m = this.#meter(meter, fn);
    checkInterval(interval, fn);
    checkCounter(firstCounter, fn);
    checkCounter(lastCounter, fn);
    if (lastCounter < firstCounter) throw new RangeError(`${fn}: lastCounter < firstCounter`);
    const message = concatBytes(PSEUDONYM_LABEL, m.id, u32(interval), u16(0));
    const at = message.length - 2;
    const out: Uint8Array[] = [];
    for (let k = firstCounter; k <= lastCounter; k++) {
      message[at] = k >>> 8;
      message[at + 1] = k & 0xff;
      out.push(m.mac(message));
    }
    return out;
  }

  /**
   * Precomputes and indexes the pseudonyms of every registered meter for `interval`, counters
   * 1…maxCounter (the CC does this before the interval opens).
   */
  indexInterval(interval: number, maxCounter: number): void {
    for (const meter of this.#meters.keys()) {
      const ps = this.intervalPseudonyms(meter, interval, 1, maxCounter);
      for (let k = 0; k < ps.length; k++) {
        this.#index.set(bytesToHex(ps[k]), { meter, interval, counter: k + 1 });
      }
    }
  }

  /** Drops an interval's entries from the index (after it is sealed). */
  forgetInterval(interval: number): void {
    for (const [p, origin] of this.#index) if (origin.interval === interval) this.#index.delete(p);
  }

  /** O(1) admission lookup: which meter, interval and counter a pseudonym belongs to. */
  lookup(pseudonym: Uint8Array): PseudonymOrigin<M> | undefined {
    expectBytes(pseudonym, 32, "ControlCenterPseudonyms.lookup: pseudonym");
    return this.#index.get(bytesToHex(pseudonym));
  }

  wipe(): void {
    for (const m of this.#meters.values()) wipe(m.key);
    this.#meters.clear();
    this.#index.clear();
  }
}

/**
 * SP-to-user pseudonym of Oksuz §6: `HMAC(H1(sk·pk), "GridLedger/SPU" ‖ ID_SP ‖ u32 j)`. The SP
 * calls it with `(sk_SP, pk_U)`, the user with `(sk_U, pk_SP)`; both get the same 32 bytes.
 */
export function spUserPseudonym(
  secretKey: bigint,
  peerPublicKey: Uint8Array,
  spId: Uint8Array,
  interval: number,
  backend: Secp256k1Backend = secp,
): Uint8Array {
  expectBytes(spId, 32, "spUserPseudonym: spId");
  checkInterval(interval, "spUserPseudonym");
  const shared = ecdh(secretKey, peerPublicKey, backend);
  const key = h1(shared);
  wipe(shared);
  const p = hmacSha256(key, concatBytes(SP_USER_PSEUDONYM_LABEL, spId, u32(interval)));
  wipe(key);
  return p;
}
