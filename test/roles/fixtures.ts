// Shared set-up for role tests: deterministic keys, a domain, category values. Exports only.
import {
  meterKeysFromSecret,
  keyPairFromSecret,
  type KeyPair,
} from "../../offchain/crypto/keys.ts";
import { sha256 } from "../../offchain/crypto/hash.ts";
import { ledgerDomain } from "../../offchain/protocol/entry.ts";
import { Meter } from "../../offchain/meter/meter.ts";
import { ControlCenter } from "../../offchain/cc/control-center.ts";
import { deriveMessageKey } from "../../offchain/crypto/ggm.ts";

export const CATEGORIES = [100n, 250n, 500n, 1000n, 2000n] as const;
export const WINDOW = { start: 1_700_000_000n, end: 1_700_003_600n };
export const DOMAIN = ledgerDomain(31337n, "0x" + "5a".repeat(20));

export function seedScalar(label: string): bigint {
  return BigInt("0x" + Buffer.from(sha256(new TextEncoder().encode(label))).toString("hex")) >> 8n;
}

export function ccKeys(): KeyPair {
  return keyPairFromSecret(seedScalar("cc"));
}

export function makeMeter(index: number, cc: KeyPair): Meter {
  const keys = meterKeysFromSecret(
    seedScalar(`meter-${index}`),
    sha256(new TextEncoder().encode(`K-${index}`)),
  );
  return new Meter({
    index,
    keys,
    ccPublicKey: cc.publicKey,
    domain: DOMAIN,
    categories: CATEGORIES,
  });
}

/** A CC with `meters` registered through their encrypted registration boxes. */
export function makeControlCenter(meters: readonly Meter[], cc: KeyPair, maxFailures = 3) {
  const center = new ControlCenter({
    keys: cc,
    domain: DOMAIN,
    maxMessagesPerMeter: 8, // K, the meters' default slots (DESIGN §7)
    maxFailures,
  });
  for (const m of meters) {
    const reg = m.registration(seedScalar(`eph-${m.index}`));
    center.registerMeter(reg.index, reg.publicKey, reg.encryptedGgmKey, reg.basePublicKey);
  }
  return center;
}

/**
 * Meter `index`'s own message key `sigSk_{i,j,k}` (what its firmware signs with): lets a test
 * forge a report the meter really signed (a faulty meter), as opposed to an outsider's.
 */
export function messageSecret(index: number, interval: number, counter: number): bigint {
  // The meter's own message key (DESIGN §4.2): sigSk = b_i + H3(f_{K_i}(x)), the keys of makeMeter.
  const keys = meterKeysFromSecret(
    seedScalar(`meter-${index}`),
    sha256(new TextEncoder().encode(`K-${index}`)),
  );
  return deriveMessageKey(keys.ggmKey, keys.baseKey, interval, counter).sigSk;
}
