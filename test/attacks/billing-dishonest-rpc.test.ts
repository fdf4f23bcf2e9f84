// Threat: a dishonest JSON-RPC node or indexer sits between the chain and a verifying user or
// auditor. Users check their bills with `readInterval` (offchain/chain/ledgerReader.ts) through an
// endpoint they do not control, which can alter, drop, reorder, inject or replay logs in
// `eth_getLogs` and lie in `eth_call` results (domainSeparator, intervalRecord, serviceProviderKeys,
// tariff).
// Defence: the reader trusts neither. It re-verifies every signature (meters' per-message keys,
// SP's key), recomputes Σc, both running digests and tariff(Σc), replays the interval's life cycle
// from the events, computes the §4.4 domain itself from the chain id and the ledger address, drops
// logs that the query did not ask for (another address, another interval, another topic, the same
// log twice) and compares everything with what the contract committed in OcdSealed,
// IntervalPriced, IntervalFinalized and in storage (DESIGN §2, §4.4; docs/PROTOCOL.md "Verifier
// recipe"). Every tampering below must be named by a specific mismatch.
// Limit (docs/SECURITY.md "Dishonest RPC endpoint"): the events and the storage come from the same
// endpoint. An endpoint that lies consistently about a whole interval (events and storage agree
// with each other, SP's key included) cannot be caught from its answers alone: e.g. it can hide an
// interval entirely, or serve fake meters' entries (an OCD key is self-certified) under a fake SP
// key. Mitigation: compare the interval's commitments (OcdSealed's count, Σc and digest, the final
// bill digest, SP's key) across independent endpoints, or check them against a trusted block hash
// (a light client, `eth_getProof` against a trusted state root); users also notice their own
// pseudonyms missing. The last test states this limit executably.
import { expect } from "chai";
import { Log, type Filter, type FilterByBlockHash, type Interface, type Provider } from "ethers";
import { network } from "hardhat";

import {
  closeBilling,
  connectBillingLedger,
  openInterval,
  postBills,
  postDap,
  postOcdBatch,
  publicKeyStruct,
  sealInterval,
  signBillBatch,
  type BillingLedger,
} from "../../offchain/chain/billing.ts";
import {
  decodeBillRecords,
  readInterval,
  type IntervalReport,
} from "../../offchain/chain/ledgerReader.ts";
import { bytesToBigInt, hexToBytes, toHex0x } from "../../offchain/crypto/bytes.ts";
import { secp } from "../../offchain/crypto/secp256k1.ts";
import { ENTRY_KIND, signEntry } from "../../offchain/protocol/entry.ts";
import {
  fillAndSeal,
  WINDOW_END,
  WINDOW_START,
  billsFor,
  deployBillingLedger,
  expectedPrice,
  makeDap,
  makeOcdEntries,
  signBatches,
  testKey,
  type BillingDeployment,
} from "../ledger/fixtures.ts";

const { ethers } = await network.create();

/** What a dishonest endpoint does to one `eth_getLogs` answer. */
type LogTamper = (logs: Log[]) => Log[];
/** What it does to one `eth_call` answer (`data` the calldata, `result` the honest answer). */
type CallTamper = (data: string, result: string) => string;

/** `logs`: the answers to the interval's query; `keyLogs`: to the SP key query. */
interface Tampering {
  logs?: LogTamper;
  keyLogs?: LogTamper;
  call?: CallTamper;
}

/**
 * The real provider behind a Proxy that rewrites `getLogs` and `call` answers: what an RPC node
 * or an indexer in the middle can do. Everything else passes through unchanged. A tampered query
 * is tampered as a whole: the reader asks in pages sized by their bytes (issue 14), so with a log
 * tampering its first pages get the (tampered) answers for every block from the page's first to
 * the head (an endpoint may answer with logs outside the blocks asked for) and its later pages
 * get nothing; without one, the queries are paged as asked.
 */
function tamperingProvider(inner: Provider, tamper: Tampering): Provider {
  const served = new Set<keyof Tampering>();
  const proxy: Provider = new Proxy(inner, {
    get(target, prop) {
      if (prop === "provider") return proxy;
      if (prop === "getLogs") {
        return async (filter: Filter | FilterByBlockHash) => {
          // The reader asks for (interval events, interval) or for SP's key event alone.
          const kind = filter.topics?.length === 2 ? "logs" : "keyLogs";
          // Both queries whole when either is tampered: their pages must stay in step (SP's key
          // event precedes the DAP and bills it signs only if both come in the first page).
          if (tamper.logs === undefined && tamper.keyLogs === undefined) {
            return target.getLogs(filter);
          }
          if (served.has(kind)) return [];
          served.add(kind);
          const logs = await target.getLogs({ ...filter, toBlock: "latest" });
          const change = tamper[kind];
          return change ? change(logs) : logs;
        };
      }
      if (prop === "call") {
        return async (tx: Parameters<Provider["call"]>[0]) => {
          const result = await target.call(tx);
          return tamper.call ? tamper.call(String(tx.data ?? ""), result) : result;
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as () => unknown).bind(target) : value;
    },
  });
  return proxy;
}

/** A copy of `log` with some fields replaced (logs are immutable). */
function withLog(
  log: Log,
  changes: Partial<Pick<Log, "address" | "data" | "topics" | "blockNumber" | "index">>,
): Log {
  return new Log(
    {
      transactionHash: log.transactionHash,
      blockHash: log.blockHash,
      blockNumber: changes.blockNumber ?? log.blockNumber,
      removed: log.removed,
      address: changes.address ?? log.address,
      data: changes.data ?? log.data,
      topics: changes.topics ?? log.topics,
      index: changes.index ?? log.index,
      transactionIndex: log.transactionIndex,
    },
    log.provider,
  );
}

const ATTACKER_SIG_SK = testKey("attacker/sig");
const ATTACKER_SIG_PK = secp.mulBase(ATTACKER_SIG_SK, true);
const INTERVAL = 1;
const OCD_BATCH = 4;
const OCD_COUNT = 12;
const BILL_BATCH = 6;

describe("attack: dishonest RPC endpoint between the chain and a verifier", function () {
  this.timeout(120_000);
  let d: BillingDeployment;
  let other: BillingDeployment;
  let price: bigint;
  let honest: IntervalReport;
  /** The other interval's and the other deployment's logs, to inject. */
  let interval2Logs: Log[];
  let otherLedgerLogs: Log[];

  const iface = (): Interface => d.ledger.interface;
  const topicOf = (name: string) => iface().getEvent(name)!.topicHash;
  const isEvent = (log: Log, name: string) => log.topics[0] === topicOf(name);
  /** Position of the `nth` log of event `name` in `logs`. */
  const nthOf = (logs: Log[], name: string, nth = 0) =>
    logs.map((l, i) => (isEvent(l, name) ? i : -1)).filter((i) => i >= 0)[nth];

  /** Re-encodes `log` (one of the ledger's events) after `mutate` changed its decoded values. */
  function rewrite(log: Log, mutate: (values: unknown[]) => void): Log {
    const parsed = iface().parseLog(log)!;
    const values = parsed.args.toArray(true) as unknown[];
    mutate(values);
    const { data, topics } = iface().encodeEventLog(parsed.fragment, values);
    return withLog(log, { data, topics });
  }

  /** Replaces the `nth` log of event `name` with `change(log)`. */
  const replaceNth =
    (name: string, change: (log: Log) => Log, nth = 0): LogTamper =>
    (logs) => {
      const at = nthOf(logs, name, nth);
      return at === undefined ? logs : logs.map((l, i) => (i === at ? change(l) : l));
    };

  /** Rewrites byte `offset` onwards of a packed `bytes` argument (index `arg`) of a log. */
  const patchBytes =
    (arg: number, patch: (bytes: Uint8Array) => void) =>
    (log: Log): Log =>
      rewrite(log, (v) => {
        const bytes = hexToBytes(v[arg] as string);
        patch(bytes);
        v[arg] = toHex0x(bytes);
      });

  function read(tamper: Tampering = {}): Promise<IntervalReport> {
    const provider = tamperingProvider(ethers.provider, tamper);
    return readInterval(connectBillingLedger(d.address, provider), INTERVAL);
  }

  /** The report names the problem: some mismatch contains `text`. */
  function expectNamed(report: IntervalReport, ...texts: string[]): void {
    for (const text of texts) {
      expect(
        report.mismatches.some((m) => m.includes(text)),
        `expected a mismatch containing "${text}", got ${JSON.stringify(report.mismatches)}`,
      ).to.equal(true);
    }
  }

  const selector = (name: string) => iface().getFunction(name)!.selector;

  before(async () => {
    d = await deployBillingLedger(ethers);
    const cc = d.ledger.connect(d.cc) as BillingLedger;
    await openInterval(cc, INTERVAL, WINDOW_START, WINDOW_END);
    // A neighbour interval with another window, whose logs a dishonest endpoint may slip in.
    await openInterval(cc, 2, WINDOW_START - 600n, WINDOW_END + 600n);
    await postOcdBatch(cc, 2, makeOcdEntries(d.domain, 2, 3, { timestamp: WINDOW_END + 599n }));
    const ocd = makeOcdEntries(d.domain, INTERVAL, OCD_COUNT);
    for (let k = 0; k < ocd.length; k += OCD_BATCH) {
      await postOcdBatch(cc, INTERVAL, ocd.slice(k, k + OCD_BATCH));
    }
    await fillAndSeal(cc, INTERVAL);
    price = expectedPrice(ocd);
    await postDap(cc, INTERVAL, [makeDap(d.domain, INTERVAL, price)]);
    const bills = billsFor(ocd, price);
    // A first, wrong attempt, restarted: its batch stays in the log, void (BillBatchPosted #0).
    await postBills(cc, signBatches(d.domain, bills.slice(1, 3), 2)[0]);
    await (await cc.restartBilling(INTERVAL)).wait();
    for (const b of signBatches(d.domain, bills, BILL_BATCH)) await postBills(cc, b);
    await closeBilling(cc, INTERVAL);

    // Another deployment with the same keys and the same interval number, another window.
    other = await deployBillingLedger(ethers);
    const otherCc = other.ledger.connect(other.cc) as BillingLedger;
    await openInterval(otherCc, INTERVAL, WINDOW_START - 600n, WINDOW_END + 600n);
    await postOcdBatch(
      otherCc,
      INTERVAL,
      makeOcdEntries(other.domain, INTERVAL, 2, { timestamp: WINDOW_END + 599n }),
    );

    const intervalTopic = (j: number) => "0x" + j.toString(16).padStart(64, "0");
    interval2Logs = await ethers.provider.getLogs({
      address: d.address,
      fromBlock: 0,
      topics: [null, intervalTopic(2)],
    });
    otherLedgerLogs = await ethers.provider.getLogs({ address: other.address, fromBlock: 0 });
    honest = await readInterval(d.ledger, INTERVAL);
    expect(honest.mismatches).to.deep.equal([]);
    expect(honest.state).to.equal(5);
  });

  describe("the wrapper itself", () => {
    it("an untouched read through the wrapper is the honest read, with no mismatch", async () => {
      const report = await read({ logs: (logs) => logs, call: (_, result) => result });
      expect(report.mismatches).to.deep.equal([]);
      expect(report.ocd).to.deep.equal(honest.ocd);
      expect(report.bills).to.deep.equal(honest.bills);
      expect(report.dap).to.deep.equal(honest.dap);
      expect(report.price).to.equal(price);
    });
  });

  describe("altered OCD records", () => {
    it("a changed consumption value fails the meter's signature and Σc", async () => {
      // Entry 5 = batch 1, record 1: 100 Wh → 500 Wh (still a category value).
      const report = await read({
        logs: replaceNth(
          "OcdBatchPosted",
          patchBytes(3, (b) => b.set([0, 0, 0, 0, 0, 0, 0x01, 0xf4], 133 + 40)),
          1,
        ),
      });
      expectNamed(report, "OCD 5: signature does not verify", "OcdSealed Σc", "stored Σc");
    });

    it("a changed pseudonym fails the meter's signature and the OCD digest", async () => {
      const report = await read({
        logs: replaceNth(
          "OcdBatchPosted",
          patchBytes(3, (b) => (b[2 * 133 + 31] ^= 0x01)),
          0,
        ),
      });
      expectNamed(
        report,
        "OCD 2: signature does not verify",
        "OcdSealed digest ≠ recomputed OCD digest",
        "final interval: bill 2 does not match OCD entry 2",
      );
    });

    it("two records swapped keep valid signatures but break the pseudonym order", async () => {
      const report = await read({
        logs: replaceNth(
          "OcdBatchPosted",
          patchBytes(3, (b) => {
            const first = b.slice(0, 133);
            b.set(b.slice(133, 266), 0);
            b.set(first, 133);
          }),
          0,
        ),
      });
      expect(report.mismatches.some((m) => m.includes("signature"))).to.equal(false);
      expectNamed(
        report,
        "OCD 1: pseudonym not increasing",
        "OcdSealed digest ≠ recomputed OCD digest",
        "stored OCD digest ≠ recomputed",
      );
    });

    it("a truncated record is named, not a crash of the reader", async () => {
      const report = await read({
        logs: replaceNth("OcdBatchPosted", (l) =>
          rewrite(l, (v) => (v[3] = (v[3] as string).slice(0, -2))),
        ),
      });
      expectNamed(report, "could not be processed: decodeOcdRecords: length not k·133");
    });

    it("a flipped bit in a meter's signature is named", async () => {
      const report = await read({
        logs: replaceNth(
          "OcdBatchPosted",
          patchBytes(3, (b) => (b[3 * 133 + 132] ^= 0x01)),
          2,
        ),
      });
      expect(report.mismatches).to.deep.equal(["OCD 11: signature does not verify"]);
    });
  });

  describe("dropped, replayed and injected logs", () => {
    it("a dropped OCD batch log breaks the indices and the sealed count", async () => {
      const report = await read({
        logs: (logs) => logs.filter((_, i) => i !== nthOf(logs, "OcdBatchPosted", 1)),
      });
      expectNamed(
        report,
        "OCD batch firstIndex 8 but 4 entries so far",
        "OcdSealed count 12 ≠ 8",
        "stored OCD count 12 ≠ 8",
      );
    });

    it("the last OCD batch dropped (no later batch to expose it) is named by the seal", async () => {
      const report = await read({
        logs: (logs) => logs.filter((_, i) => i !== nthOf(logs, "OcdBatchPosted", 2)),
      });
      expectNamed(report, "OcdSealed count 12 ≠ 8", "OcdSealed Σc");
    });

    it("a batch log served twice (same position) is named as a duplicate", async () => {
      const report = await read({
        logs: (logs) => {
          const at = nthOf(logs, "OcdBatchPosted", 0);
          return [...logs.slice(0, at + 1), logs[at], ...logs.slice(at + 1)];
        },
      });
      expectNamed(report, "duplicate log at block");
    });

    it("a batch log replayed after the seal is out of order and breaks the indices", async () => {
      const report = await read({
        logs: (logs) => {
          const last = logs[logs.length - 1];
          const replay = withLog(logs[nthOf(logs, "OcdBatchPosted", 0)], {
            blockNumber: last.blockNumber + 1,
            index: 0,
          });
          return [...logs, replay];
        },
      });
      expectNamed(
        report,
        "OcdBatchPosted at block",
        "out of order",
        "OCD batch firstIndex 0 but 12 entries so far",
      );
    });

    it("a replayed IntervalPriced (idempotent in value) is out of order", async () => {
      const report = await read({
        logs: (logs) => {
          const priced = logs[nthOf(logs, "IntervalPriced")];
          const bill = logs[nthOf(logs, "BillBatchPosted", 1)];
          return [...logs, withLog(priced, { blockNumber: bill.blockNumber, index: 99 })];
        },
      });
      expectNamed(report, "IntervalPriced at block", "out of order");
    });

    it("a log of another deployment (another window) is refused by its address", async () => {
      const opened = otherLedgerLogs.find((l) => isEvent(l, "IntervalOpened"))!;
      const report = await read({
        logs: (logs) => {
          // Served right after the real IntervalOpened: a reader that took it would use its window.
          const at = nthOf(logs, "IntervalOpened");
          const injected = withLog(opened, {
            blockNumber: logs[at].blockNumber,
            index: logs[at].index + 1000,
          });
          return [...logs.slice(0, at + 1), injected, ...logs.slice(at + 1)];
        },
      });
      expectNamed(report, `from ${other.address}, not the ledger`);
    });

    it("a log of another interval of the same ledger is refused by its topic", async () => {
      const opened = interval2Logs.find((l) => isEvent(l, "IntervalOpened"))!;
      const report = await read({
        logs: (logs) => {
          const at = nthOf(logs, "OcdBatchPosted", 0);
          const injected = withLog(opened, {
            blockNumber: logs[at].blockNumber,
            index: logs[at].index + 1000,
          });
          return [...logs, injected];
        },
      });
      expectNamed(report, "IntervalOpened of interval 2");
    });

    it("a log of an event the query did not ask for is refused", async () => {
      const report = await read({
        logs: (logs) => {
          const [anyLog] = otherLedgerLogs.filter((l) => isEvent(l, "OcdBatchPosted"));
          return [...logs, withLog(anyLog, { address: d.address, topics: [topicOf("TariffSet")] })];
        },
      });
      expectNamed(report, "unexpected log");
    });

    it("a dropped IntervalOpened (no window, categories or tariff to check) is named", async () => {
      const report = await read({
        logs: (logs) => logs.filter((l) => !isEvent(l, "IntervalOpened")),
      });
      expectNamed(
        report,
        "OcdBatchPosted at block",
        "out of order (state None)",
        "stored window, tariff version, category values or mode ≠ IntervalOpened",
      );
    });

    it("a dropped IntervalFinalized is named by the stored state", async () => {
      const report = await read({
        logs: (logs) => logs.filter((l) => !isEvent(l, "IntervalFinalized")),
      });
      expect(report.mismatches).to.deep.equal(["stored state Final ≠ Billing from the events"]);
    });

    it("every log after the seal hidden is named by the stored commitments", async () => {
      const report = await read({
        logs: (logs) => logs.slice(0, nthOf(logs, "OcdSealed") + 1),
      });
      expectNamed(
        report,
        "stored state Final ≠ OcdSealed from the events",
        "stored bill count ≠ 0",
        "stored DAP count ≠ 0",
      );
    });
  });

  describe("altered prices and bills", () => {
    it("a changed price in IntervalPriced is off the tariff, and so is every bill", async () => {
      const report = await read({
        logs: replaceNth("IntervalPriced", (l) => rewrite(l, (v) => (v[1] = price + 1n))),
      });
      expectNamed(
        report,
        `IntervalPriced ${price + 1n} ≠ tariff(Σc) ${price}`,
        "bill 0: ",
        `stored price ${price} ≠ ${price + 1n}`,
      );
    });

    it("a changed price in DapPosted fails SP's signature and the tariff", async () => {
      const report = await read({
        logs: replaceNth("DapPosted", (l) => rewrite(l, (v) => (v[3] = price + 1n))),
      });
      expectNamed(
        report,
        "DAP 0: SP signature invalid",
        `DAP 0: price ${price + 1n} ≠ tariff ${price}`,
      );
    });

    it("a changed bill fails SP's batch signature, B = p·c and the finalized total", async () => {
      const report = await read({
        logs: replaceNth(
          "BillBatchPosted",
          patchBytes(5, (b) => (b[2 * 56 + 55] += 1)),
          2,
        ),
      });
      expectNamed(
        report,
        "bill batch at 6: SP signature invalid",
        "bill 8: ",
        "IntervalFinalized total ≠ Σ bills",
        "stored billed total",
      );
    });

    it("a changed tariff version in IntervalPriced is named against IntervalOpened", async () => {
      const report = await read({
        logs: replaceNth("IntervalPriced", (l) => rewrite(l, (v) => (v[3] = 2n))),
      });
      expect(report.mismatches).to.deep.equal(["IntervalPriced tariff version 2 ≠ 1 at opening"]);
    });

    it("a dropped BillingRestarted revives the void bills and breaks the indices", async () => {
      const report = await read({
        logs: (logs) => logs.filter((l) => !isEvent(l, "BillingRestarted")),
      });
      expectNamed(
        report,
        "bill batch firstIndex 0 but 2 bills so far",
        "IntervalFinalized count ≠ 14",
      );
    });

    it("a changed count in BillingRestarted is named", async () => {
      const report = await read({
        logs: replaceNth("BillingRestarted", (l) => rewrite(l, (v) => (v[1] = 1n))),
      });
      expect(report.mismatches).to.deep.equal(["BillingRestarted discarded 1 ≠ 2 bills posted"]);
    });

    it("a flipped bit in SP's DAP and batch signatures is named", async () => {
      const report = await read({
        logs: (logs) =>
          replaceNth(
            "BillBatchPosted",
            (l) => rewrite(l, (v) => (v[4] = (v[4] as bigint) ^ 1n)),
            1,
          )(
            replaceNth("DapPosted", (l) =>
              rewrite(l, (v) => {
                const rAddr = hexToBytes(v[4] as string);
                rAddr[0] ^= 0x80;
                v[4] = toHex0x(rAddr);
              }),
            )(logs),
          ),
      });
      expect(report.mismatches).to.deep.equal([
        "DAP 0: SP signature invalid",
        "bill batch at 0: SP signature invalid",
      ]);
    });
  });

  describe("SP's key", () => {
    it("a dropped ServiceProviderKeysSet leaves no key for the DAP and the bills", async () => {
      const report = await read({ keyLogs: () => [] });
      expectNamed(
        report,
        "DAP 0: no ServiceProviderKeysSet before it",
        "bill batch at 0: no ServiceProviderKeysSet before it",
        "stored sigPk_SP ≠",
      );
    });

    it("an altered ServiceProviderKeysSet fails SP's signatures", async () => {
      const report = await read({
        keyLogs: replaceNth("ServiceProviderKeysSet", (l) =>
          rewrite(l, (v) => {
            v[2] = publicKeyStruct(ATTACKER_SIG_PK).prefix;
            v[3] = publicKeyStruct(ATTACKER_SIG_PK).x;
          }),
        ),
      });
      expectNamed(report, "DAP 0: SP signature invalid", "bill batch at 0: SP signature invalid");
    });

    it("an attacker's key with a re-signed DAP and bills is named by the stored key", async () => {
      // Every SP signature verifies under the substituted key: only storage can expose the swap.
      const resignDap = (l: Log) =>
        rewrite(l, (v) => {
          const entry = signEntry(
            d.domain,
            {
              kind: ENTRY_KIND.DAP,
              interval: INTERVAL,
              id: hexToBytes(v[1] as string),
              timestamp: v[2] as bigint,
              value: v[3] as bigint,
            },
            ATTACKER_SIG_SK,
          );
          v[4] = toHex0x(entry.signature.rAddr);
          v[5] = entry.signature.y;
        });
      const resignBills = (l: Log) =>
        rewrite(l, (v) => {
          const bills = decodeBillRecords(INTERVAL, hexToBytes(v[5] as string));
          const batch = signBillBatch(d.domain, INTERVAL, Number(v[1]), bills, ATTACKER_SIG_SK);
          v[3] = toHex0x(batch.signature.rAddr);
          v[4] = batch.signature.y;
        });
      const report = await read({
        logs: (logs) =>
          logs.map((l) => {
            if (isEvent(l, "DapPosted")) return resignDap(l);
            if (isEvent(l, "BillBatchPosted")) return resignBills(l);
            return l;
          }),
        keyLogs: replaceNth("ServiceProviderKeysSet", (l) =>
          rewrite(l, (v) => {
            v[2] = publicKeyStruct(ATTACKER_SIG_PK).prefix;
            v[3] = publicKeyStruct(ATTACKER_SIG_PK).x;
          }),
        ),
      });
      expect(report.mismatches.some((m) => m.includes("signature"))).to.equal(false);
      expectNamed(report, "stored sigPk_SP ≠");
    });
  });

  describe("lies in eth_call", () => {
    it("a wrong domainSeparator() is named against keccak256(chainId ‖ ledger)", async () => {
      const report = await read({
        call: (data, result) =>
          data.startsWith(selector("domainSeparator")) ? toHex0x(new Uint8Array(32)) : result,
      });
      expectNamed(report, "domainSeparator() ≠ keccak256(chainId ‖ ledger)");
      // The reader verifies under the domain it computed: the entries themselves still verify.
      expect(report.mismatches).to.have.length(1);
    });

    it("a wrong stored state (Final claimed Open) is named against the events", async () => {
      const report = await read({
        call: (data, result) => {
          if (!data.startsWith(selector("intervalRecord"))) return result;
          const [record] = iface().decodeFunctionResult("intervalRecord", result);
          const changed = record.toObject(true) as Record<string, unknown>;
          changed.state = 1n;
          return iface().encodeFunctionResult("intervalRecord", [changed]);
        },
      });
      expect(report.state).to.equal(1);
      expectNamed(report, "stored state Open ≠ Final from the events");
    });

    it("a wrong stored billed total is named", async () => {
      const report = await read({
        call: (data, result) => {
          if (!data.startsWith(selector("intervalRecord"))) return result;
          const [record] = iface().decodeFunctionResult("intervalRecord", result);
          const changed = record.toObject(true) as Record<string, unknown>;
          changed.billedTotal = (changed.billedTotal as bigint) + 1n;
          return iface().encodeFunctionResult("intervalRecord", [changed]);
        },
      });
      expectNamed(report, "stored billed total");
    });

    it("a wrong serviceProviderKeys() is named against the key events", async () => {
      const report = await read({
        call: (data, result) => {
          if (!data.startsWith(selector("serviceProviderKeys"))) return result;
          const [pk] = iface().decodeFunctionResult("serviceProviderKeys", result);
          return iface().encodeFunctionResult("serviceProviderKeys", [
            pk.toObject(true),
            publicKeyStruct(ATTACKER_SIG_PK),
          ]);
        },
      });
      expectNamed(report, "stored sigPk_SP ≠");
    });

    it("a wrong tariff() makes the recorded price look off the tariff", async () => {
      const report = await read({
        call: (data, result) => {
          if (!data.startsWith(selector("tariff"))) return result;
          const [breakpoints, values, cap] = iface().decodeFunctionResult("tariff", result);
          const raised = (values as bigint[]).map((v) => v + 1n);
          return iface().encodeFunctionResult("tariff", [[...breakpoints], raised, cap]);
        },
      });
      expectNamed(report, `IntervalPriced ${price} ≠ tariff(Σc) ${price + 1n}`);
    });
  });

  describe("limit: one endpoint lying consistently", () => {
    it("an interval hidden in every answer is invisible alone; a second endpoint exposes it", async () => {
      // The endpoint drops every log of the interval and answers intervalRecord with an empty
      // record: nothing it serves contradicts anything else it serves (docs/SECURITY.md).
      const lie = await read({
        logs: () => [],
        call: (data, result) =>
          data.startsWith(selector("intervalRecord"))
            ? toHex0x(new Uint8Array(hexToBytes(result).length))
            : result,
      });
      expect(lie.mismatches).to.deep.equal([]);
      expect(lie.state).to.equal(0);
      // Mitigation: the same read through an independent endpoint disagrees on the commitments.
      const second = await readInterval(d.ledger, INTERVAL);
      expect(second.mismatches).to.deep.equal([]);
      expect([second.state, second.ocd.length, second.sumWh]).to.not.deep.equal([
        lie.state,
        lie.ocd.length,
        lie.sumWh,
      ]);
      expect(bytesToBigInt(second.ocdDigest)).to.not.equal(bytesToBigInt(lie.ocdDigest));
    });
  });
});
