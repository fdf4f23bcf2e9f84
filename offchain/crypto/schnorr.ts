// Schnorr signatures in the EVM-verifiable form of DESIGN §4.3 (Oksuz 2020 Definition 5):
// signature `(addr(R), y)` on a 32-byte message, `c = keccak256(addr(R) ‖ Zc ‖ m) mod n`,
// `y = r + c·z mod n`; verified on-chain by contracts/libraries/SchnorrVerifier.sol.
import { bytesToBigInt, concatBytes, equalBytes, expectBytes, u256 } from "./bytes.ts";
import { keccak256, taggedHashInt } from "./hash.ts";
import { CURVE_ORDER, modN, secp, type Secp256k1Backend } from "./secp256k1.ts";

export interface SchnorrSignature {
  /** `addr(R)`: the last 20 bytes of keccak256(x(R) ‖ y(R)). */
  readonly rAddr: Uint8Array;
  /** The response scalar `y ∈ [1, n−1]`. */
  readonly y: bigint;
}

export interface SchnorrKeyPair {
  readonly secretKey: bigint;
  /** 33-byte compressed public key `Zc`. */
  readonly publicKey: Uint8Array;
}

/** `addr(P)`: the Ethereum address of a point (DESIGN §4.3). */
export function pointAddress(point: Uint8Array, backend: Secp256k1Backend = secp): Uint8Array {
  const uncompressed = point.length === 65 ? point : backend.convert(point, false);
  return keccak256(uncompressed.subarray(1)).subarray(12);
}

/** `c = int(keccak256(addr(R) ‖ Zc ‖ m)) mod n`. */
export function schnorrChallenge(
  rAddr: Uint8Array,
  publicKey: Uint8Array,
  message: Uint8Array,
): bigint {
  return bytesToBigInt(keccak256(concatBytes(rAddr, publicKey, message))) % CURVE_ORDER;
}

/** Key pair from a secret scalar in [1, n−1]. */
export function schnorrKeyPair(
  secretKey: bigint,
  backend: Secp256k1Backend = secp,
): SchnorrKeyPair {
  return { secretKey, publicKey: backend.mulBase(secretKey, true) };
}

/**
 * Deterministic nonce in the spirit of RFC 6979: `r = int(TH("GridLedger/Schnorr/nonce",
 * u256(z) ‖ m ‖ aux)) mod (n−1) + 1`. The same key never signs two messages with one nonce, and
 * signing needs no randomness source (vectors are reproducible); `aux` may add fresh randomness.
 */
export function schnorrNonce(secretKey: bigint, message: Uint8Array, aux?: Uint8Array): bigint {
  const input = aux
    ? concatBytes(u256(secretKey), message, aux)
    : concatBytes(u256(secretKey), message);
  return (taggedHashInt("GridLedger/Schnorr/nonce", input) % (CURVE_ORDER - 1n)) + 1n;
}

/**
 * Signs a 32-byte message. `publicKey` may be passed when the caller already has it (it is part of
 * the challenge), saving one base multiplication.
 */
export function schnorrSign(
  secretKey: bigint,
  message: Uint8Array,
  options: { publicKey?: Uint8Array; aux?: Uint8Array; backend?: Secp256k1Backend } = {},
): SchnorrSignature {
  expectBytes(message, 32, "schnorrSign: message");
  if (typeof secretKey !== "bigint" || secretKey <= 0n || secretKey >= CURVE_ORDER) {
    throw new RangeError("schnorrSign: secret key out of range [1, n-1]");
  }
  const backend = options.backend ?? secp;
  const publicKey = options.publicKey ?? backend.mulBase(secretKey, true);
  expectBytes(publicKey, 33, "schnorrSign: publicKey");
  // A key with x(Z) ≥ n cannot be verified on-chain (ecrecover takes r = x(Z) < n); such keys
  // occur with probability ≈ 2^-128 and are refused rather than producing unverifiable entries.
  if (bytesToBigInt(publicKey.subarray(1)) >= CURVE_ORDER) {
    throw new RangeError("schnorrSign: public key x-coordinate ≥ n is not EVM-verifiable");
  }
  const r = schnorrNonce(secretKey, message, options.aux);
  const rAddr = pointAddress(backend.mulBase(r, false), backend);
  const c = schnorrChallenge(rAddr, publicKey, message);
  const y = modN(r + c * secretKey);
  if (y === 0n) throw new RangeError("schnorrSign: y = 0 (negligible); sign with fresh aux");
  return { rAddr, y };
}

/**
 * The input rules of DESIGN §4.3 shared by both verifiers (and the on-chain library): a 33-byte
 * key with prefix 2/3 and `0 < x(Z) < n` (so also `< p`), a 32-byte message, a non-zero 20-byte
 * `addr(R)` (ecrecover's failure value is the zero address) and `0 < y < n`.
 */
function wellFormed(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: SchnorrSignature,
): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 33) return false;
  if (publicKey[0] !== 2 && publicKey[0] !== 3) return false;
  if (!(message instanceof Uint8Array) || message.length !== 32) return false;
  const { rAddr, y } = signature;
  if (!(rAddr instanceof Uint8Array) || rAddr.length !== 20) return false;
  if (typeof y !== "bigint" || y <= 0n || y >= CURVE_ORDER) return false;
  const x = bytesToBigInt(publicKey.subarray(1));
  if (x === 0n || x >= CURVE_ORDER) return false;
  return !rAddr.every((b) => b === 0);
}

/**
 * The challenge `c` of a statement both verifiers accept to check, or undefined: the input rules
 * of {@link wellFormed}, a key that is a curve point (the chain refuses any other) and `c ≠ 0`.
 */
function checkedChallenge(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: SchnorrSignature,
  backend: Secp256k1Backend,
): bigint | undefined {
  if (!wellFormed(publicKey, message, signature)) return undefined;
  if (!backend.isValidPoint(publicKey)) return undefined;
  const c = schnorrChallenge(signature.rAddr, publicKey, message);
  return c === 0n ? undefined : c;
}

/**
 * Verifies `(rAddr, y)` on `message` under the compressed key `publicKey`. Returns false for every
 * malformed input (DESIGN §4.3: `0 < y < n`, `x(Z) < n`, valid compressed point), never throws.
 */
export function schnorrVerify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: SchnorrSignature,
  backend: Secp256k1Backend = secp,
): boolean {
  const c = checkedChallenge(publicKey, message, signature, backend);
  if (c === undefined) return false;
  const { rAddr, y } = signature;
  let point: Uint8Array;
  try {
    point = backend.mulBaseSubMul(y, publicKey, c, false);
  } catch {
    return false; // y·G − c·Z at infinity
  }
  return equalBytes(pointAddress(point, backend), rAddr);
}

/**
 * Verification by a party that knows the secret key (the control center knows every per-message
 * `sigSk`, DESIGN §4.2): `r = y − c·z mod n`, accept iff `addr(r·G) == addr(R)`. One fixed-base
 * multiplication instead of a double multiplication; equivalent to {@link schnorrVerify} when
 * `publicKey = z·G` (property-tested). It does not compute `z·G`: when `publicKey = P ≠ z·G`,
 * {@link schnorrVerify} checks `addr(r·G + c·(z·G − P))` instead, so both accept only if two
 * distinct points share a 20-byte address with `c = H(rAddr ‖ P ‖ m)` binding the pair — about
 * 2^−160 per attempt for a signer who controls every input (property-tested: mismatched pairs are
 * refused by both). `publicKey` must be a valid point, as for {@link schnorrVerify}.
 */
export function schnorrVerifyWithSecret(
  secretKey: bigint,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: SchnorrSignature,
  backend: Secp256k1Backend = secp,
): boolean {
  if (typeof secretKey !== "bigint" || secretKey <= 0n || secretKey >= CURVE_ORDER) return false;
  // Same input rules as schnorrVerify, so both always agree.
  const c = checkedChallenge(publicKey, message, signature, backend);
  if (c === undefined) return false;
  const { rAddr, y } = signature;
  const r = modN(y - c * secretKey);
  if (r === 0n) return false;
  return equalBytes(pointAddress(backend.mulBase(r, false), backend), rAddr);
}

/**
 * Verification against a key by public derivation (DESIGN §4.2), for the control center, which
 * knows the registered base key `B` (33 bytes) and the tweak `t` but not `b`: accept iff
 * `addr((y − c·t)·G − c·B) == addr(R)` with `c = H(addr(R) ‖ publicKey ‖ m)`, i.e. the signature
 * verifies under `B + t·G`. One double multiplication (native: one libsecp256k1 recovery), and
 * `B + t·G` is never computed on the accept path. If `publicKey ≠ B + t·G`, the chain's check
 * `addr(y·G − c·publicKey)` and this one differ by `c·(B + t·G − publicKey) ≠ 0`, so both accept
 * only if two distinct points share a 20-byte address with `c` binding `publicKey`: ≈ 2^−160 per
 * attempt for a signer who controls every input (the argument of {@link schnorrVerifyWithSecret};
 * property-tested). Hence acceptance here means "signed by the holder of `b + t`" and, with
 * overwhelming probability, that the chain accepts the entry. Never throws.
 */
export function schnorrVerifyTweaked(
  basePublicKey: Uint8Array,
  tweak: bigint,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: SchnorrSignature,
  backend: Secp256k1Backend = secp,
): boolean {
  if (typeof tweak !== "bigint" || tweak <= 0n || tweak >= CURVE_ORDER) return false;
  if (!(basePublicKey instanceof Uint8Array) || basePublicKey.length !== 33) return false;
  const c = checkedChallenge(publicKey, message, signature, backend);
  if (c === undefined) return false;
  const { rAddr, y } = signature;
  const a = modN(y - c * tweak);
  if (a === 0n) return false; // (y − c·t)·G would be the identity: negligible, refuse
  let point: Uint8Array;
  try {
    point = backend.mulBaseSubMul(a, basePublicKey, c, false);
  } catch {
    return false; // invalid B, or the result at infinity
  }
  return equalBytes(pointAddress(point, backend), rAddr);
}
