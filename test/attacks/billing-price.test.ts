// Threat: SP posts a dynamic price that does not follow the public tariff (Oksuz §5 lets SP set
// p_j freely; users detect it only afterwards), or CC relays a price SP never signed.
// Defence: `p_j == tariff_v(Σc_j)` with the tariff version snapshotted at open, and the DAP
// signature checked against the registered sigPk_SP (DESIGN §2 "Price").
import { expect } from "chai";
import { network } from "hardhat";

import { ENTRY_PROBLEM, toDapEntryStruct } from "../../offchain/chain/billing.ts";
import { ENTRY_KIND, signEntry } from "../../offchain/protocol/entry.ts";
import {
  WINDOW_END,
  deployBillingLedger,
  sealedInterval,
  makeDap,
  testKey,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

describe("attack: SP price not matching the tariff", () => {
  it("prices one unit off either way, a price under a newer tariff, and a CC-signed price are refused", async () => {
    const d = await deployBillingLedger(ethers);
    const { cc, price: p } = await sealedInterval(d, 1, 20);
    for (const wrong of [p - 1n, p + 1n]) {
      await expect(cc.postDap(1, [toDapEntryStruct(makeDap(d.domain, 1, wrong))]))
        .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
        .withArgs(1, 0, ENTRY_PROBLEM.PriceMismatch);
    }
    // A tariff published after the interval opened does not apply to it.
    await (await d.ledger.setTariff([0n], [99n], 99n)).wait();
    await expect(cc.postDap(1, [toDapEntryStruct(makeDap(d.domain, 1, 99n))]))
      .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
      .withArgs(1, 0, ENTRY_PROBLEM.PriceMismatch);
    // The right price signed by someone other than SP.
    const byCc = signEntry(
      d.domain,
      {
        kind: ENTRY_KIND.DAP,
        interval: 1,
        id: new Uint8Array(32).fill(7),
        timestamp: WINDOW_END,
        value: p,
      },
      testKey("cc/sig"),
    );
    await expect(cc.postDap(1, [toDapEntryStruct(byCc)]))
      .to.be.revertedWithCustomError(cc, "BillingLedgerInvalidEntry")
      .withArgs(1, 0, ENTRY_PROBLEM.BadSignature);
    await expect(cc.postDap(1, [toDapEntryStruct(makeDap(d.domain, 1, p))])).to.emit(
      cc,
      "IntervalPriced",
    );
  });
});
