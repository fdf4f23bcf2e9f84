// Meter registration with the control center (DESIGN §1, §4.2; docs/PROTOCOL.md "Key set-up"): the
// meter seals `K_i` to `pk_CC` with ECIES and sends its signing base key `B_i = b_i·G` beside it.
// The box's context (AES-GCM associated data) is `pk_i ‖ B_i`, so a box opens only for the meter
// key and the base key it was made for: nobody can re-register another meter's box under their own
// `pk` or swap its `B_i`.
import { expectBytes } from "../crypto/bytes.ts";

/** The ECIES context of a registration box: `pk_i ‖ B_i` (66 bytes). */
export function registrationContext(publicKey: Uint8Array, basePublicKey: Uint8Array): Uint8Array {
  expectBytes(publicKey, 33, "registrationContext: publicKey");
  expectBytes(basePublicKey, 33, "registrationContext: basePublicKey");
  const out = new Uint8Array(66);
  out.set(publicKey, 0);
  out.set(basePublicKey, 33);
  return out;
}
