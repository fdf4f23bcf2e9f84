// EPPA-style baseline (Lu et al. 2012, one dimension): each meter Paillier-encrypts its reading
// under the operation centre's key, the gateway multiplies the ciphertexts mod n² (homomorphic
// addition), the key holder decrypts the sum. Uses the maintained `paillier-bigint` library; the
// benchmark compares BBNP against these exact operations over the same readings. EPPA's per-report
// batch signature verification is not included (BBNP's tag check is), so the baseline's gateway
// cost is a lower bound.
import * as paillier from "paillier-bigint";

export type PaillierPublicKey = paillier.PublicKey;
export type PaillierPrivateKey = paillier.PrivateKey;

export interface PaillierKeyPair {
  readonly publicKey: PaillierPublicKey;
  readonly privateKey: PaillierPrivateKey;
}

/** Key generation (g = n + 1, the usual simple variant). 2048-bit n as in the benchmarks. */
export async function generatePaillierKeys(bits = 2048): Promise<PaillierKeyPair> {
  if (!Number.isInteger(bits) || bits < 512)
    throw new Error("generatePaillierKeys: bits must be ≥ 512");
  return paillier.generateRandomKeys(bits, true);
}

/** `c = g^m · ρ^n mod n²`; `rho` (in [1, n), coprime to n) may be injected for reproducibility. */
export function encryptReading(
  publicKey: PaillierPublicKey,
  reading: bigint,
  rho?: bigint,
): bigint {
  if (reading < 0n || reading >= publicKey.n)
    throw new Error("encryptReading: reading out of range");
  return publicKey.encrypt(reading, rho);
}

/** The gateway's step: Π c_i mod n² = Enc(Σ m_i). */
export function aggregateCiphertexts(
  publicKey: PaillierPublicKey,
  ciphertexts: readonly bigint[],
): bigint {
  if (ciphertexts.length === 0) throw new Error("aggregateCiphertexts: no ciphertexts");
  const n2 = publicKey._n2;
  let acc = 1n;
  for (const c of ciphertexts) {
    if (c <= 0n || c >= n2) throw new Error("aggregateCiphertexts: ciphertext out of range");
    acc = (acc * c) % n2;
  }
  return acc;
}

export function decryptSum(privateKey: PaillierPrivateKey, ciphertext: bigint): bigint {
  return privateKey.decrypt(ciphertext);
}
