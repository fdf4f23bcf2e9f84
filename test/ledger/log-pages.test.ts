// The ledger reader's `eth_getLogs` pages are sized by the bytes they return, not by a block count
// (issue 14, docs/SCALE.md "Reading the ledger in pages of bytes"): the in-process chain keeps
// memory after each large response (100 blocks of a 100,000-meter interval were a 42 MB page).
// `nextPageBlocks` is the pure rule; the chain test reads a real interval through a provider whose
// `getLogs` is counted, and checks every page against the rule and the report against one read a
// block at a time.
import { expect } from "chai";
import fc from "fast-check";
import { network } from "hardhat";

import { openInterval, postOcdBatch, type BillingLedger } from "../../offchain/chain/billing.ts";
import {
  DEFAULT_BLOCK_RANGE,
  EMPTY_PAGE_BLOCKS_MAX,
  nextPageBlocks,
  readInterval,
} from "../../offchain/chain/ledgerReader.ts";
import { WINDOW_END, WINDOW_START, deployBillingLedger, makeOcdEntries } from "./fixtures.ts";

const { ethers } = await network.create();

describe("ledger reader: log pages sized by bytes (issue 14)", () => {
  it("nextPageBlocks: known answers", () => {
    // 10 blocks gave 4 MB against a 1 MB target: 2 blocks next (10 · 1 / 4 = 2.5, rounded down).
    expect(nextPageBlocks(10, 4 << 20, 1 << 20, 100)).to.equal(2);
    // One block already above the target: still one block (a block is never split).
    expect(nextPageBlocks(1, 3 << 20, 1 << 20, 100)).to.equal(1);
    // Sparse: at most twice the last span, and at most the caller's cap.
    expect(nextPageBlocks(4, 1_000, 1 << 20, 100)).to.equal(8);
    expect(nextPageBlocks(80, 1_000, 1 << 20, 100)).to.equal(100);
    // Empty: doubling up to EMPTY_PAGE_BLOCKS_MAX, and a larger span is kept.
    expect(nextPageBlocks(1, 0, 1 << 20, 100)).to.equal(2);
    expect(nextPageBlocks(EMPTY_PAGE_BLOCKS_MAX, 0, 1 << 20, 100)).to.equal(EMPTY_PAGE_BLOCKS_MAX);
    expect(nextPageBlocks(40, 0, 1 << 20, 100)).to.equal(40);
    expect(nextPageBlocks(1, 0, 1 << 20, 1)).to.equal(1);
  });

  it("nextPageBlocks: within [1, cap], at most doubling, and a page at the last density within the target", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5_000 }),
        fc.nat({ max: 1 << 30 }),
        fc.integer({ min: 1, max: 1 << 24 }),
        fc.integer({ min: 1, max: 10_000 }),
        (blocks, bytes, target, cap) => {
          const next = nextPageBlocks(blocks, bytes, target, cap);
          expect(Number.isSafeInteger(next)).to.equal(true);
          expect(next).to.be.within(1, cap);
          expect(next).to.be.at.most(Math.max(1, 2 * blocks));
          if (bytes > 0 && next > 1) {
            // At the density just seen, the next page stays within the target.
            expect((next * bytes) / blocks).to.be.at.most(target * (1 + 1e-12));
          }
          if (bytes === 0) {
            expect(next).to.be.at.most(Math.max(blocks, EMPTY_PAGE_BLOCKS_MAX));
            expect(next).to.be.at.least(Math.min(blocks, cap));
          }
        },
      ),
    );
  });

  it("a read's pages follow the log bytes: none above the target but single blocks and the first after an empty run; same report as block by block", async function () {
    this.timeout(120_000);
    const d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    // Empty blocks first (no log of the interval): the reader starts at block 0.
    for (let i = 0; i < 40; i++) await ethers.provider.send("evm_mine", []);
    await openInterval(cc, 3, WINDOW_START, WINDOW_END);
    // 30 OCD batches of 2 entries (the fixture ledger holds 64 slots), one block each: ≈ 400 log data bytes per block (two 133-byte records and the event's words).
    const ocd = makeOcdEntries(d.domain, 3, 60);
    for (let k = 0; k < ocd.length; k += 2) await postOcdBatch(cc, 3, ocd.slice(k, k + 2));

    const provider = ethers.provider;
    const pages: { blocks: number; bytes: number }[] = [];
    const getLogs = provider.getLogs.bind(provider);
    // Counted: the reader makes two queries per page over the same blocks (its interval's logs
    // and SP's key event); both answers count toward the page's bytes.
    let pending: { from: number; to: number; bytes: number; calls: number } | undefined;
    provider.getLogs = (async (filter: { fromBlock: number; toBlock: number }) => {
      const logs = await getLogs(filter as never);
      const bytes = logs.reduce((s, l) => s + (l.data.length - 2) / 2, 0);
      if (pending === undefined || pending.from !== filter.fromBlock) {
        pending = { from: filter.fromBlock, to: filter.toBlock, bytes: 0, calls: 0 };
      }
      pending.bytes += bytes;
      if (++pending.calls === 2)
        pages.push({ blocks: pending.to - pending.from + 1, bytes: pending.bytes });
      return logs;
    }) as typeof provider.getLogs;
    const PAGE_BYTES = 1_000; // ≈ 2.5 blocks of logs
    let report;
    try {
      report = await readInterval(d.ledger, 3, { pageBytes: PAGE_BYTES });
    } finally {
      provider.getLogs = getLogs;
    }
    expect(report.mismatches).to.deep.equal([]);
    expect(report.ocd).to.deep.equal(ocd);
    expect(pages.reduce((s, p) => s + p.bytes, 0)).to.be.at.least(60 * 133);
    for (let i = 0; i < pages.length; i++) {
      const { blocks, bytes } = pages[i];
      expect(blocks, `page ${i}`).to.be.at.most(DEFAULT_BLOCK_RANGE);
      const afterEmpty = i === 0 || pages[i - 1].bytes === 0;
      if (blocks > 1 && !afterEmpty)
        expect(bytes, `page ${i}: ${blocks} blocks`).to.be.at.most(PAGE_BYTES);
      if (afterEmpty) expect(blocks, `page ${i}`).to.be.at.most(EMPTY_PAGE_BLOCKS_MAX);
    }
    // Dense pages were two blocks (≈ 400 B each, 1,000 B target), not the old 100-block span.
    expect(
      pages.filter((p) => p.bytes > 0).every((p) => p.blocks <= EMPTY_PAGE_BLOCKS_MAX),
    ).to.equal(true);
    expect(pages.some((p) => p.bytes > 0 && p.blocks === 2)).to.equal(true);

    const blockByBlock = await readInterval(d.ledger, 3, { blockRange: 1 });
    expect(report).to.deep.equal(blockByBlock);
  });
});
