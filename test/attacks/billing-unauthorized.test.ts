// Threat: an account without the right role writes to the ledger: opens intervals, posts or seals
// OCD, publishes prices or bills, reconfigures tariff, categories, keys or mode.
// Defence: every write is role-gated (OpenZeppelin AccessControl); DAP/BC publisher is CC in
// relayed mode and SP in direct mode.
import { expect } from "chai";
import { network } from "hardhat";

import type { BillingLedger } from "../../offchain/chain/billing.ts";
import { CATEGORY_VALUES, deployBillingLedger } from "../ledger/fixtures.ts";

const { ethers } = await network.create();

describe("attack: unauthorized writer", () => {
  it("every write reverts with AccessControlUnauthorizedAccount(account, role)", async () => {
    const d = await deployBillingLedger(ethers);
    const [admin, cc] = [await d.ledger.DEFAULT_ADMIN_ROLE(), await d.ledger.CC_ROLE()];
    const o = d.ledger.connect(d.outsider) as BillingLedger;
    const key = { prefix: 2, x: 5n };
    const calls: [Promise<unknown>, string][] = [
      [o.setTariff([0n], [1n], 1n), admin],
      [o.setCategoryValues([...CATEGORY_VALUES]), admin],
      [o.setDeliveryMode(1), admin],
      [o.setSlotsPerMeter(8), admin],
      [o.setControlCenterKeys(key, key), admin],
      [o.setServiceProviderKeys(key, key), admin],
      [o.registerMeters([key]), cc],
      [o.openInterval(1, 0, 1), cc],
      [o.postOcdBatch(1, []), cc],
      [o.postSlots(1, [], []), cc],
      [o.sealInterval(1), cc],
      [o.postDap(1, []), cc],
      [o.postBills(1, "0x", ethers.ZeroAddress, 0), cc],
      [o.restartBilling(1), cc],
      [o.closeBilling(1), cc],
      // Only the control center hands CC_ROLE on (its role admin is CC_ROLE itself).
      [o.grantRole(cc, d.outsider.address), cc],
    ];
    for (const [call, role] of calls) {
      await expect(call)
        .to.be.revertedWithCustomError(d.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(d.outsider.address, role);
    }
  });

  it("in direct mode CC cannot publish prices or bills (SP_ROLE required)", async () => {
    const d = await deployBillingLedger(ethers, { direct: true });
    await (await (d.ledger.connect(d.cc) as BillingLedger).openInterval(1, 0, 10)).wait();
    const sp = await d.ledger.SP_ROLE();
    const c = d.ledger.connect(d.cc) as BillingLedger;
    for (const call of [
      c.postDap(1, []),
      c.postBills(1, "0x", ethers.ZeroAddress, 0),
      c.closeBilling(1),
      c.restartBilling(1),
    ]) {
      await expect(call)
        .to.be.revertedWithCustomError(d.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(d.cc.address, sp);
    }
  });
});
