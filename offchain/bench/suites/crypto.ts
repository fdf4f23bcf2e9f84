// Crypto micro-benchmarks (Foundation issue): Schnorr sign/verify (DESIGN §4.3) on the default
// backend and the noble reference, per-message key derivation with a warm GGM cache (§4.2), meter
// pseudonyms with A_i cached (§4.5), the control center's verification with the secret key, and
// the gas of one on-chain verification. Medians of repeated samples (harness.ts).
import { bytesToBigInt, toHex0x, u256 } from "../../crypto/bytes.ts";
import { hmacSha256Concat, sha256 } from "../../crypto/hash.ts";
import { MessageKeyDeriver } from "../../crypto/ggm.ts";
import {
  schnorrSign,
  schnorrVerify,
  schnorrVerifyTweaked,
  schnorrVerifyWithSecret,
  type SchnorrSignature,
} from "../../crypto/schnorr.ts";
import { nobleBackend, secp } from "../../crypto/secp256k1.ts";
import { keyPairFromSecret } from "../../crypto/keys.ts";
import { MeterPseudonyms } from "../../protocol/pseudonym.ts";
import { benchEthers } from "../chain.ts";
import type { BenchContext } from "../harness.ts";

export async function run(ctx: BenchContext): Promise<void> {
  ctx.log(`  secp256k1 backend: ${secp.name}`);
  // The short-input primitives of the onion path (issue 14, docs/BENCHMARKS.md "CPU per meter"):
  // SHA-256 of a 33-byte ECDH point (word-level path), HMAC(mu, hop_payloads ‖ associated data)
  // as Sphinx computes it (1,300 + 32 bytes, two updates), a scalar to 32 bytes.
  const point = Uint8Array.from({ length: 33 }, (_, i) => (i * 37 + 2) & 0xff);
  ctx.record(
    "crypto.sha256_33_us",
    ctx.measureUs((i) => {
      point[1] = i & 0xff;
      return sha256(point);
    }),
    "us",
  );
  const hopPayloads = new Uint8Array(1300).fill(0x61);
  const associatedData = new Uint8Array(32).fill(0x62);
  ctx.record(
    "crypto.hmac_onion_us",
    ctx.measureUs((i) => {
      point[2] = i & 0xff;
      return hmacSha256Concat(point.subarray(1), hopPayloads, associatedData);
    }),
    "us",
  );
  ctx.record(
    "crypto.u256_us",
    ctx.measureUs((i) =>
      u256(0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364n - BigInt(i)),
    ),
    "us",
  );
  const count = 64;
  const keys = Array.from({ length: count }, (_, i) =>
    keyPairFromSecret(0x1000n + BigInt(i) * 7919n),
  );
  const messages = Array.from({ length: count }, (_, i) => u256(0xabcdef00n + BigInt(i)));
  const sigs: SchnorrSignature[] = keys.map((k, i) =>
    schnorrSign(k.secretKey, messages[i], { publicKey: k.publicKey }),
  );

  const signUs = ctx.measureUs((i) => {
    const k = keys[i % count];
    return schnorrSign(k.secretKey, messages[i % count], { publicKey: k.publicKey });
  });
  ctx.record("crypto.schnorr_sign_us", signUs, "us");

  const verifyUs = ctx.measureUs((i) => {
    const j = i % count;
    if (!schnorrVerify(keys[j].publicKey, messages[j], sigs[j])) throw new Error("verify failed");
  });
  ctx.record("crypto.schnorr_verify_us", verifyUs, "us");

  const nobleUs = ctx.measureUs(
    (i) => {
      const j = i % count;
      if (!schnorrVerify(keys[j].publicKey, messages[j], sigs[j], nobleBackend)) {
        throw new Error("verify failed");
      }
    },
    { iterations: 20, warmup: 10 },
  );
  ctx.record("crypto.schnorr_verify_noble_us", nobleUs, "us");

  // Next message key of a meter (counter + 1, wrapping to the next interval), cache warm.
  const deriver = new MessageKeyDeriver(new Uint8Array(32).fill(0x5a));
  const messageKeyUs = ctx.measureUs((i) =>
    deriver.messageKey(0x5a5an, 1000 + Math.floor(i / 65535), (i % 65535) + 1),
  );
  ctx.record("crypto.message_key_us", messageKeyUs, "us");

  const cc = keyPairFromSecret(0xcc00ccn);
  const meter = keys[0];
  const pseudonyms = new MeterPseudonyms(meter.secretKey, meter.publicKey, cc.publicKey);
  const pseudonymUs = ctx.measureUs((i) => pseudonyms.pseudonym(1000, (i % 65535) + 1), {
    iterations: 2000,
  });
  ctx.record("crypto.pseudonym_us", pseudonymUs, "us");

  const withSecretUs = ctx.measureUs((i) => {
    const j = i % count;
    if (!schnorrVerifyWithSecret(keys[j].secretKey, keys[j].publicKey, messages[j], sigs[j])) {
      throw new Error("verify failed");
    }
  });
  ctx.record("crypto.cc_verify_with_secret_us", withSecretUs, "us");

  // CC's check since DESIGN §4.2's public derivation: knowing B = b·G and t (here the keys as
  // b + t with b = 1, so B = G), one double multiplication (native: one ECDSA recovery).
  const base = secp.mulBase(1n, true);
  const tweakedUs = ctx.measureUs((i) => {
    const j = i % count;
    const t = keys[j].secretKey - 1n;
    if (!schnorrVerifyTweaked(base, t, keys[j].publicKey, messages[j], sigs[j])) {
      throw new Error("verify failed");
    }
  });
  ctx.record("crypto.cc_verify_tweaked_us", tweakedUs, "us");

  const ethers = await benchEthers();
  const harness = await ethers.deployContract("CryptoHarness");
  const gas: number[] = [];
  for (let j = 0; j < (ctx.quick ? 4 : 16); j++) {
    const pk = keys[j].publicKey;
    const [valid, used] = (await harness
      .getFunction("verifyGas")
      .staticCall(
        pk[0],
        bytesToBigInt(pk.subarray(1)),
        toHex0x(messages[j]),
        toHex0x(sigs[j].rAddr),
        sigs[j].y,
      )) as [boolean, bigint];
    if (!valid) throw new Error("on-chain verification failed");
    gas.push(Number(used));
  }
  gas.sort((a, b) => a - b);
  ctx.record("gas.schnorr_verify", gas[gas.length >> 1], "gas");
}
