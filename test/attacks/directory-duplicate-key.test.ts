// Threat: a meter key registered twice (in one registerMeters call or in two) gets two indices, so
// two report slots per interval (DESIGN §7) and two onion-directory entries; or a directory whose
// index → key map cannot be rebuilt once the contract keeps only each key's hash.
// Defence: the directory keeps keccak256(prefix ‖ x) → index + 1 (one storage slot per meter) and
// refuses a key whose hash is present, naming the first index; every index → key pair is in a
// `MeterRegistered` event, from which the directory is rebuilt and checked against `meterIndexOf`.
import { expect } from "chai";
import { network } from "hardhat";

import { publicKeyStruct, type BillingLedger } from "../../offchain/chain/billing.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import { deployBillingLedger, testKey } from "../ledger/fixtures.ts";

const { ethers } = await network.create();

describe("attack: a meter key registered twice", () => {
  it("refuses the copy within one call and across calls; the count does not move", async () => {
    const d = await deployBillingLedger(ethers, { configure: false });
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    const keys = [0, 1, 2].map((i) => publicKeyStruct(secp.mulBase(testKey(`dup/${i}`), true)));
    await (await cc.registerMeters(keys)).wait();
    await expect(cc.registerMeters([keys[2]]))
      .to.be.revertedWithCustomError(cc, "ParticipantDirectoryMeterRegistered")
      .withArgs(keys[2].prefix, keys[2].x, 2);
    const fresh = publicKeyStruct(secp.mulBase(testKey("dup/fresh"), true));
    await expect(cc.registerMeters([fresh, keys[0]]))
      .to.be.revertedWithCustomError(cc, "ParticipantDirectoryMeterRegistered")
      .withArgs(keys[0].prefix, keys[0].x, 0);
    await expect(cc.registerMeters([fresh, fresh]))
      .to.be.revertedWithCustomError(cc, "ParticipantDirectoryMeterRegistered")
      .withArgs(fresh.prefix, fresh.x, 3);
    expect(await cc.meterCount()).to.equal(3n);
    expect((await cc.meterIndexOf(fresh))[0]).to.equal(false);
  });

  it("the index → key directory is rebuilt from MeterRegistered logs and matches the chain", async () => {
    const d = await deployBillingLedger(ethers, { configure: false });
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    const keys = Array.from({ length: 7 }, (_, i) =>
      publicKeyStruct(secp.mulBase(testKey(`rebuild/${i}`), true)),
    );
    await (await cc.registerMeters(keys.slice(0, 4))).wait();
    await (await cc.registerMeters(keys.slice(4))).wait();
    const logs = await cc.queryFilter(cc.filters.MeterRegistered());
    const rebuilt = logs.map((l) => ({
      index: Number(l.args.meterIndex),
      prefix: Number(l.args.prefix),
      x: l.args.x,
    }));
    expect(rebuilt.map((r) => r.index)).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    for (const r of rebuilt) {
      expect({ prefix: r.prefix, x: r.x }).to.deep.equal({
        prefix: keys[r.index].prefix,
        x: keys[r.index].x,
      });
      expect(await cc.meterIndexOf({ prefix: r.prefix, x: r.x })).to.deep.equal([
        true,
        BigInt(r.index),
      ]);
    }
    expect(await cc.meterCount()).to.equal(BigInt(rebuilt.length));
  });
});
