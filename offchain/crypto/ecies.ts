// ECIES over secp256k1 for the meter's key set-up (issue "Oksuz end to end": `K_i` is sent to CC
// encrypted to `pk_CC`). Ephemeral-static ECDH, HKDF-SHA256, AES-256-GCM (node:crypto):
//   E = e·G;  S = compressed(e·pk);  (key ‖ nonce) = HKDF(S, salt = E, info = label ‖ "key"), 44 bytes
//   box = E (33) ‖ AES-256-GCM(key, nonce, plaintext, aad = label ‖ context) ‖ tag (16)
// The key is used for exactly one message (fresh `e`), so a derived nonce is safe. `context` binds
// the box to its purpose (e.g. the meter's public key), so a box cannot be replayed for another meter.
import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";

import { concatBytes } from "./bytes.ts";
import { CURVE_ORDER, secp, type Secp256k1Backend } from "./secp256k1.ts";

const LABEL = new TextEncoder().encode("GridLedger/ECIES/v1");
const TAG_SIZE = 16;
const EPHEMERAL_SIZE = 33;

export class EciesError extends Error {
  override name = "EciesError";
}

function deriveKeyNonce(shared: Uint8Array, ephemeral: Uint8Array) {
  const okm = new Uint8Array(
    hkdfSync("sha256", shared, ephemeral, concatBytes(LABEL, new TextEncoder().encode("key")), 44),
  );
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44) };
}

/** Encrypts `plaintext` to `recipientPublicKey` with the ephemeral secret `ephemeralSecret`. */
export function eciesEncrypt(
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
  ephemeralSecret: bigint,
  context: Uint8Array = new Uint8Array(0),
  backend: Secp256k1Backend = secp,
): Uint8Array {
  if (ephemeralSecret <= 0n || ephemeralSecret >= CURVE_ORDER) {
    throw new RangeError("eciesEncrypt: ephemeral secret out of range [1, n-1]");
  }
  if (!backend.isValidPoint(recipientPublicKey)) {
    throw new EciesError("eciesEncrypt: recipient public key is not a valid point");
  }
  const ephemeral = backend.mulBase(ephemeralSecret, true);
  const shared = backend.mul(recipientPublicKey, ephemeralSecret, true);
  const { key, nonce } = deriveKeyNonce(shared, ephemeral);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_SIZE });
  cipher.setAAD(concatBytes(LABEL, context));
  const body = concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
  key.fill(0);
  shared.fill(0);
  return concatBytes(ephemeral, body);
}

/** Decrypts a box made by {@link eciesEncrypt}; throws {@link EciesError} if it was altered. */
export function eciesDecrypt(
  recipientSecretKey: bigint,
  box: Uint8Array,
  context: Uint8Array = new Uint8Array(0),
  backend: Secp256k1Backend = secp,
): Uint8Array {
  if (!(box instanceof Uint8Array) || box.length < EPHEMERAL_SIZE + TAG_SIZE) {
    throw new EciesError("eciesDecrypt: box too short");
  }
  const ephemeral = box.subarray(0, EPHEMERAL_SIZE);
  if (!backend.isValidPoint(ephemeral)) {
    throw new EciesError("eciesDecrypt: ephemeral key is not a valid point");
  }
  const shared = backend.mul(ephemeral, recipientSecretKey, true);
  const { key, nonce } = deriveKeyNonce(shared, ephemeral);
  const ciphertext = box.subarray(EPHEMERAL_SIZE, box.length - TAG_SIZE);
  const tag = box.subarray(box.length - TAG_SIZE);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_SIZE });
    decipher.setAAD(concatBytes(LABEL, context));
    decipher.setAuthTag(tag);
    return new Uint8Array(concatBytes(decipher.update(ciphertext), decipher.final()));
  } catch {
    throw new EciesError("eciesDecrypt: authentication failed (wrong key, context or altered box)");
  } finally {
    key.fill(0);
    shared.fill(0);
  }
}
