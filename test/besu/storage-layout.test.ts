// offchain/besu/storage-layout.ts against the EVM: a harness (StorageLayoutHarness.sol) sets one
// value of every storage shape by transaction; the encoder, given the same values and the
// compiler's storage layout, must produce exactly the words the contract holds — every word it
// writes, and every slot the transaction stored to (struct-log SSTOREs). Plus the refusals.
import { expect } from "chai";
import { keccak256, toUtf8Bytes, zeroPadValue } from "ethers";
import { network } from "hardhat";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { StorageLayoutError } from "../../offchain/besu/errors.ts";
import { layoutStorage, mapping, type StorageLayout } from "../../offchain/besu/storage-layout.ts";

const { ethers, provider } = await network.create();

function harnessLayout(): StorageLayout {
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const artifact = JSON.parse(
    readFileSync(
      `${root}artifacts/test/besu/StorageLayoutHarness.sol/StorageLayoutHarness.json`,
      "utf8",
    ),
  ) as { buildInfoId: string; inputSourceName: string };
  const output = JSON.parse(
    readFileSync(`${root}artifacts/build-info/${artifact.buildInfoId}.output.json`, "utf8"),
  );
  return output.output.contracts[artifact.inputSourceName].StorageLayoutHarness
    .storageLayout as StorageLayout;
}

const addr = (n: number) => zeroPadValue("0x" + n.toString(16).padStart(2, "0"), 20);
const VALUES = {
  _small: 0xab,
  _medium: 0x1234,
  _owner: "0x00000000000000000000000000000000DeaDBeef",
  _selector: "0xcafebabe",
  _big: 2n ** 256n - 2n,
  _packed: [1, 2, 3, 0xffffffff, 5],
  _addresses: [addr(0x1111), addr(0x2222)],
  _pairs: [
    { who: addr(0xaaaa), count: 7, flag: true, tag: keccak256(toUtf8Bytes("first")) },
    {
      who: addr(0xbbbb),
      count: 2n ** 64n - 1n,
      flag: false,
      tag: keccak256(toUtf8Bytes("second")),
    },
  ],
  _nested: mapping([
    [addr(0x1111), mapping([[keccak256(toUtf8Bytes("k")), 42n]])],
    [addr(0x2222), mapping([["0x" + "00".repeat(31) + "01", 43n]])],
  ]),
  _byId: mapping([[99n, { who: addr(0xcccc), count: 3, flag: true, tag: "0x" + "00".repeat(32) }]]),
  _bySelector: mapping([["0xdeadbeef", true]]),
  _halves: [1n, 2n ** 128n - 1n, 3n],
  _last: true,
  _shortBytes: "0x0102030405",
  _longBytes: keccak256(toUtf8Bytes("a")) + keccak256(toUtf8Bytes("b")).slice(2) + "ff",
  _emptyBytes: "0x",
};

describe("besu: storage layout encoder", () => {
  it("lays out every shape exactly as the EVM stores it", async () => {
    const layout = harnessLayout();
    const harness = await ethers.deployContract("StorageLayoutHarness");
    const tx = await harness.fill();
    await tx.wait();
    const address = await harness.getAddress();
    const words = layoutStorage(layout, VALUES);
    const trace = (await provider.request({
      method: "debug_traceTransaction",
      params: [tx.hash],
    })) as {
      structLogs: { op: string; stack?: string[] }[];
    };
    const stored = trace.structLogs
      .filter((l) => l.op === "SSTORE" && l.stack)
      .map((l) => BigInt("0x" + l.stack![l.stack!.length - 1].replace(/^0x/, "")));
    const slots = new Set([...Object.keys(words).map((s) => BigInt(s)), ...stored]);
    expect(stored.length).to.be.greaterThan(20);
    for (const slot of slots) {
      const onChain = await ethers.provider.getStorage(address, slot);
      const expected = words["0x" + slot.toString(16).padStart(64, "0")] ?? "0x" + "00".repeat(32);
      expect(onChain, `slot 0x${slot.toString(16)}`).to.equal(expected);
    }
  });

  it("refuses a missing or unknown variable, a value that does not fit, and a double write", () => {
    const layout = harnessLayout();
    const { _last, ...missing } = VALUES;
    void _last;
    expect(() => layoutStorage(layout, missing)).to.throw(StorageLayoutError, /no value for _last/);
    expect(() => layoutStorage(layout, { ...VALUES, _extra: 1 })).to.throw(
      StorageLayoutError,
      /not in the layout: _extra/,
    );
    expect(() => layoutStorage(layout, { ...VALUES, _small: 256 })).to.throw(
      StorageLayoutError,
      /does not fit in 1 bytes/,
    );
    expect(() => layoutStorage(layout, { ...VALUES, _packed: [1, 2, 3, 4, 5, 6] })).to.throw(
      StorageLayoutError,
      /at most 5/,
    );
    expect(() => layoutStorage(layout, { ...VALUES, _owner: "0x1234" })).to.throw(
      StorageLayoutError,
      /not an address/,
    );
    expect(() => layoutStorage(layout, { ...VALUES, _selector: "0xcafe" })).to.throw(
      StorageLayoutError,
      /4 bytes/,
    );
    expect(() =>
      layoutStorage(layout, { ...VALUES, _pairs: [{ who: addr(1), count: 1, flag: true }] }),
    ).to.throw(StorageLayoutError, /no value for tag/);
    expect(() =>
      layoutStorage(layout, {
        ...VALUES,
        _bySelector: mapping([
          ["0xdeadbeef", true],
          ["0xdeadbeef", true],
        ]),
      }),
    ).to.throw(StorageLayoutError, /written twice/);
  });
});
