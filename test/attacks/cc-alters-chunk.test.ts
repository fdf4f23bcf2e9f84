// Threat: the control center, which holds every meter's GGM key K_i (DESIGN §1), alters a meter's
// signed chunk (100 Wh → 2000 Wh) and re-signs it under the meter's own per-message key. Before
// DESIGN §4.2's public derivation, sigSk = H3(f_{K_i}(x)) was computable by CC and the ledger
// accepted the altered entry. Defence: sigSk = b_i + t with the meter's base key b_i, which CC never
// sees; CC knows t = H3(f_{K_i}(x)) and B_i = b_i·G, enough to check sigPk = B_i + t·G, not to sign.
// So CC can either keep the meter's key (the chain refuses the signature) or use a key of its own
// (the chain accepts the signature, but the key is not B_i + t·G: CC's own admission names it
// key-mismatch, and anyone given t can check it; the user's value check turns it into a dispute).
import { expect } from "chai";
import { network } from "hardhat";

import {
  ENTRY_PROBLEM,
  toOcdEntryStruct,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { MessageKeyDeriver, messagePublicKey } from "../../offchain/crypto/ggm.ts";
import { eciesDecrypt } from "../../offchain/crypto/ecies.ts";
import { meterKeysFromSecret } from "../../offchain/crypto/keys.ts";
import { schnorrSign } from "../../offchain/crypto/schnorr.ts";
import { ControlCenter } from "../../offchain/cc/control-center.ts";
import { Meter } from "../../offchain/meter/meter.ts";
import { entryDigest, signEntry, type LedgerEntry } from "../../offchain/protocol/entry.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { registrationContext } from "../../offchain/protocol/registration.ts";
import { keccak256 } from "../../offchain/crypto/hash.ts";
import { ccKeys, seedScalar } from "../roles/fixtures.ts";
import {
  CATEGORY_VALUES,
  WINDOW_END,
  WINDOW_START,
  deployBillingLedger,
  testKey,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

describe("attack: the control center alters a chunk under the meter's key", () => {
  it("CC holds K_i and B_i, yet neither a re-signed nor a re-keyed altered chunk passes", async () => {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    const ccKeyPair = ccKeys();
    const meter = new Meter({
      index: 0,
      keys: meterKeysFromSecret(seedScalar("victim"), keccak256(new TextEncoder().encode("K"))),
      ccPublicKey: ccKeyPair.publicKey,
      domain: d.domain,
      categories: CATEGORY_VALUES,
    });
    const center = new ControlCenter({ keys: ccKeyPair, domain: d.domain });
    const registration = meter.registration(seedScalar("eph"));
    center.registerMeter(
      0,
      registration.publicKey,
      registration.encryptedGgmKey,
      registration.basePublicKey,
    );
    center.openInterval(1, { start: WINDOW_START, end: WINDOW_END }, CATEGORY_VALUES);
    const [honest] = meter.reportInterval(1, 100n, WINDOW_END - 1n).entries;
    expect(honest.value).to.equal(100n);

    // Everything CC holds: K_i (from the registration box), B_i, hence t and sigPk.
    const ggmKey = eciesDecrypt(
      ccKeyPair.secretKey,
      registration.encryptedGgmKey,
      registrationContext(registration.publicKey, registration.basePublicKey),
    );
    const t = new MessageKeyDeriver(ggmKey).tweak(1, 1);
    expect(messagePublicKey(registration.basePublicKey, t)).to.deep.equal(honest.sigPk);

    // (a) The old attack: sign the altered entry with t (the former sigSk) under the meter's key.
    const altered = { ...honest, value: 2000n };
    const resigned: LedgerEntry = {
      ...altered,
      signature: schnorrSign(t, entryDigest(d.domain, altered), { publicKey: honest.sigPk }),
    };
    await expect(cc.postOcdBatch(1, [toOcdEntryStruct(resigned)]))
      .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
      .withArgs(1, 0, ENTRY_PROBLEM.BadSignature);
    const a = center.admit(encodeMeterReport(resigned));
    expect(a.accepted).to.equal(false);
    if (!a.accepted) expect(a.reason).to.equal("bad-signature");

    // (b) A key of CC's own: the signature verifies, the key is not B_i + t·G.
    const rekeyed = signEntry(d.domain, altered, testKey("cc-forger"));
    const b = center.admit(encodeMeterReport(rekeyed));
    expect(b.accepted).to.equal(false);
    if (!b.accepted) expect(b.reason).to.equal("key-mismatch");
    expect(messagePublicKey(registration.basePublicKey, t)).to.not.deep.equal(rekeyed.sigPk);

    // The honest chunk passes both.
    expect(center.admit(encodeMeterReport(honest)).accepted).to.equal(true);
    await expect(cc.postOcdBatch(1, [toOcdEntryStruct(honest)])).to.emit(cc, "OcdBatchPosted");
  });
});
