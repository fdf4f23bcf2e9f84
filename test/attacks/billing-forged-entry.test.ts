// Threat: CC (trusted to admit meters, not to author reports) or an outsider forges a meter's OCD
// entry or alters a signed one (consumption, timestamp, pseudonym, key) before posting.
// Defence: every OCD entry's Schnorr signature is verified on-chain over its §4.4 digest
// (DESIGN §2, §4.3); outsiders lack CC_ROLE.
import { expect } from "chai";
import { network } from "hardhat";

import {
  ENTRY_PROBLEM,
  toOcdEntryStruct,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import { ENTRY_KIND, signEntry } from "../../offchain/protocol/entry.ts";
import {
  CATEGORY_VALUES,
  WINDOW_END,
  WINDOW_START,
  deployBillingLedger,
  makeOcdEntries,
  pseudonym,
  testKey,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

describe("attack: forged or altered OCD entry", () => {
  it("every altered field or a swapped key is refused as BadSignature", async () => {
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await (await cc.openInterval(1, WINDOW_START, WINDOW_END)).wait();
    const [e] = makeOcdEntries(d.domain, 1, 1, { consumption: () => CATEGORY_VALUES[0] });
    const s = toOcdEntryStruct(e);
    const other = secp.mulBase(testKey("cc-own-key"), true);
    // (An altered timestamp is refused earlier, as TimestampNotIntervalEnd: T is fixed.)
    const altered = [
      { ...s, consumptionWh: CATEGORY_VALUES[4] },
      { ...s, id: "0x" + "ff".repeat(32) },
      {
        ...s,
        sigPkX: BigInt("0x" + Buffer.from(other.subarray(1)).toString("hex")),
        sigPkPrefix: other[0],
      },
      { ...s, rAddr: "0x" + "11".repeat(20) },
    ];
    for (const a of altered) {
      await expect(cc.postOcdBatch(1, [a]))
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
        .withArgs(1, 0, ENTRY_PROBLEM.BadSignature);
    }
    // CC signing a report itself under a fresh key it chose does verify: CC vouches for keys
    // (DESIGN §2), so the defence against CC inventing meters is off-chain (meter key registry),
    // but CC cannot change a real meter's signed report, which the cases above show.
    await expect(cc.postOcdBatch(1, [s])).to.emit(cc, "OcdBatchPosted");
  });

  it("an outsider cannot post even a valid entry", async () => {
    const d = await deployBillingLedger(ethers);
    await (
      await (d.ledger.connect(d.cc) as BillingLedger).openInterval(1, WINDOW_START, WINDOW_END)
    ).wait();
    const forged = signEntry(
      d.domain,
      {
        kind: ENTRY_KIND.OCD,
        interval: 1,
        id: pseudonym(1),
        timestamp: WINDOW_START,
        value: CATEGORY_VALUES[0],
      },
      testKey("outsider"),
    );
    await expect(
      (d.ledger.connect(d.outsider) as BillingLedger).postOcdBatch(1, [toOcdEntryStruct(forged)]),
    )
      .to.be.revertedWithCustomError(d.ledger, "AccessControlUnauthorizedAccount")
      .withArgs(d.outsider.address, await d.ledger.CC_ROLE());
  });
});
