// The control center's admission on worker threads (issue 14, offchain/cc/admission-pool.ts): for
// any mix of reports (honest, replayed, forged, signed faults that exclude a meter, unknown
// pseudonyms, junk) cut into any batches, the pool admits exactly what one-by-one admission
// admits, refuses the rest for the same reasons, and gives the same receipts and ledger entries,
// whatever the number of threads; and a report is still acknowledged only once it is durable.
import { expect } from "chai";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { AdmissionPool, BatchAdmission } from "../../offchain/cc/admission-pool.ts";
import { gcFunction } from "../../offchain/bench/heap.ts";
import type { Admission, ControlCenter } from "../../offchain/cc/control-center.ts";
import { signatureJobVerifies } from "../../offchain/cc/admission-verify.ts";
import { AdmissionCommitError, ControlCenterAgent } from "../../offchain/cc/agent.ts";
import type { ControlCenterChainClient } from "../../offchain/cc/chain-client.ts";
import { INTERVAL_STATE } from "../../offchain/protocol/billing.ts";
import { encodeHopPayload, onionAssociatedData } from "../../offchain/onion/report.ts";
import { buildOnion } from "../../offchain/onion/sphinx.ts";
import { signEntry } from "../../offchain/protocol/entry.ts";
import { encodeMeterReport } from "../../offchain/protocol/meter-report.ts";
import { SecretStore } from "../../offchain/runtime/secret-box.ts";
import { Store } from "../../offchain/runtime/store.ts";
import {
  CATEGORIES,
  DOMAIN,
  WINDOW,
  ccKeys,
  makeMeter,
  messageSecret,
  seedScalar,
} from "./fixtures.ts";

const T = WINDOW.end - 1n;
const J = 7;
const FAST_SCRYPT = { N: 1 << 10, r: 8, p: 1 };
const stubLedger = {
  meterCount: async () => 1_000_000,
  intervalProgress: async () => ({ state: INTERVAL_STATE.Open, lastId: new Uint8Array(32) }),
} as unknown as ControlCenterChainClient;

const cc = ccKeys();
const meters = [0, 1, 2, 3].map((i) => makeMeter(i, cc));
const registrations = meters.map((m) => m.registration(seedScalar(`eph-${m.index}`)));
const honest = meters.map((m, i) =>
  m.reportInterval(J, 1_000n * BigInt(i + 1) + 250n, T).entries.map(encodeMeterReport),
);
type ReportKind =
  | { honest: number; slot: number }
  | { fault: number; slot: number }
  | { forged: number; slot: number; byte: number }
  | { junk: Uint8Array }
  | { malformed: number; slot: number }
  | { unknown: Uint8Array };

const reportKinds: fc.Arbitrary<ReportKind> = fc.oneof(
  // an honest report of meter m, slot k (sent once or several times: replays)
  fc.record({ honest: fc.nat({ max: 3 }), slot: fc.nat({ max: 7 }) }),
  // the meter's own key signed a bad value: a counted fault (meter 3 is excluded after 2)
  fc.record({ fault: fc.integer({ min: 2, max: 3 }), slot: fc.nat({ max: 7 }) }),
  // an outsider's signature under a live pseudonym: bad-signature / key-mismatch, never counted
  fc.record({ forged: fc.nat({ max: 3 }), slot: fc.nat({ max: 7 }), byte: fc.nat({ max: 19 }) }),
  fc.record({ junk: fc.uint8Array({ maxLength: 140 }) }),
  // right size, version and live pseudonym, but y ≥ n: gets a signature job, refused as malformed
  fc.record({ malformed: fc.nat({ max: 3 }), slot: fc.nat({ max: 7 }) }),
  fc.record({ unknown: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
);

function materialise(kind: ReportKind): Uint8Array {
  if ("honest" in kind) return honest[kind.honest][kind.slot];
  if ("fault" in kind) {
    const m = kind.fault;
    const k = kind.slot + 1;
    const e = meters[m].resend(J, k) ?? meters[m].reportInterval(J, 0n, T).entries[0];
    return encodeMeterReport(signEntry(DOMAIN, { ...e, value: 7n }, messageSecret(m, J, k)));
  }
  if ("forged" in kind) {
    const r = Uint8Array.from(honest[kind.forged][kind.slot]);
    r[86 + kind.byte] ^= 0x01; // addr(R): the signature no longer verifies
    return r;
  }
  if ("junk" in kind) return kind.junk;
  if ("malformed" in kind) {
    const r = Uint8Array.from(honest[kind.malformed][kind.slot]);
    r.fill(0xff, 106); // y = 2^256 − 1
    return r;
  }
  const r = Uint8Array.from(honest[0][0]);
  r.set(kind.unknown, 5);
  return r;
}

describe("CC admission pool (issue 14)", function () {
  this.timeout(120_000);
  let dir: string;
  const toClose: { agent: ControlCenterAgent; store: Store; secrets: SecretStore }[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "gridledger-pool-"));
  });
  afterEach(async () => {
    for (const { agent, store, secrets } of toClose.splice(0)) {
      await agent.close();
      secrets.close();
      store.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  let files = 0;
  async function startAgent(admissionWorkers: number, path = join(dir, `cc-${files++}.sqlite`)) {
    const store = Store.open({ path, busyTimeoutMs: 20 });
    const secrets = SecretStore.open(store, { passphrase: "pool", scrypt: FAST_SCRYPT });
    const agent = ControlCenterAgent.start(
      { keys: cc, domain: DOMAIN, maxMessagesPerMeter: 8, maxFailures: 2, admissionWorkers },
      { store, secrets, chain: stubLedger },
    );
    toClose.push({ agent, store, secrets });
    return { agent, path };
  }

  async function freshAgent(admissionWorkers: number) {
    const started = await startAgent(admissionWorkers);
    await started.agent.registerMeters(registrations);
    await started.agent.openInterval(J, WINDOW, CATEGORIES);
    return started;
  }

  it("admits and refuses exactly as one-by-one admission, for any batches and 1, 2 or 3 threads", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(reportKinds, { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 8 }),
        async (kinds, cuts) => {
          const reports = kinds.map(materialise);
          const { agent: sequential } = await freshAgent(1);
          const expected = reports.map((r) => sequential.onReport(r));
          for (const workers of [1, 2, 3]) {
            const { agent } = await freshAgent(workers);
            // Cut the reports into batches, submitted without waiting: applied in call order.
            const batches: Promise<unknown[]>[] = [];
            let from = 0;
            for (let b = 0; from < reports.length; b++) {
              const size = cuts[b % cuts.length];
              batches.push(agent.onReports(reports.slice(from, from + size)));
              from += size;
            }
            const got = (await Promise.all(batches)).flat();
            expect(got).to.deep.equal(expected);
            expect(agent.receipts(J)).to.deep.equal(sequential.receipts(J));
            expect(agent.center.admittedEntries(J)).to.deep.equal(
              sequential.center.admittedEntries(J),
            );
            expect(agent.center.stats(J)).to.deep.equal(sequential.center.stats(J));
            expect(agent.center.excludedMeters()).to.deep.equal(sequential.center.excludedMeters());
            expect(agent.center.zeroSlots(J)).to.deep.equal(sequential.center.zeroSlots(J));
          }
          for (const { agent, store, secrets } of toClose.splice(0)) {
            await agent.close();
            secrets.close();
            store.close();
          }
        },
      ),
      { numRuns: 8 },
    );
  });

  it("onPackets peels and admits a batch of final-hop packets as onPacket does one by one (replays dropped once peeled)", async () => {
    const packet = (report: Uint8Array, session: bigint) =>
      buildOnion({
        sessionKey: session,
        hops: [
          {
            pubkey: cc.publicKey,
            payload: encodeHopPayload({ kind: "deliver", message: report }),
          },
        ],
        associatedData: onionAssociatedData(DOMAIN, 0),
      });
    const packets = [
      ...honest[0].map((r, i) => packet(r, 100n + BigInt(i))),
      packet(honest[0][0], 100n), // the same packet again: an onion replay
      packet(honest[0][1], 999n), // the same report in a fresh onion: an admission replay
      new Uint8Array(64), // junk
      ...honest[3].slice(0, 3).map((r, i) => packet(r, 200n + BigInt(i))),
    ];
    const { agent: sequential } = await freshAgent(1);
    const expected = packets.map((p) => sequential.onPacket(p));
    const { agent } = await freshAgent(2);
    const got = await agent.onPackets(packets);
    expect(got).to.deep.equal(expected);
    expect(got.filter((g) => g.admission?.accepted).length).to.equal(11);
    expect(agent.exitCounters()).to.deep.equal(sequential.exitCounters());
    expect(agent.receipts(J)).to.deep.equal(sequential.receipts(J));
  });

  it("group commit: a batch is one store transaction, durable across a restart (issue 14)", async () => {
    const { agent, path } = await freshAgent(1);
    const store = toClose[toClose.length - 1].store;
    const real = store.transaction.bind(store);
    let transactions = 0;
    store.transaction = <T>(fn: () => T): T => {
      transactions++;
      return real(fn);
    };
    const got = await agent.onReports(honest[1]);
    expect(got.every((a) => a.accepted)).to.equal(true);
    expect(transactions).to.equal(1);
    const restarted = await startAgent(1, path);
    expect([...(restarted.agent.receipts(J).get(1) ?? [])].sort()).to.deep.equal([
      1, 2, 3, 4, 5, 6, 7, 8,
    ]);
  });

  it("group commit: a batch whose transaction fails after admission throws AdmissionCommitError, and a restart holds none of it", async () => {
    const { agent, path } = await freshAgent(1);
    const store = toClose[toClose.length - 1].store;
    const real = store.transaction.bind(store);
    // The admissions run inside the real transaction, then it fails as a COMMIT would: rolled back.
    store.transaction = <T>(fn: () => T): T =>
      real(() => {
        fn();
        throw new Error("disk gone");
      });
    let thrown: unknown;
    try {
      await agent.onReports(honest[1]);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).to.be.instanceOf(AdmissionCommitError);
    const restarted = await startAgent(1, path);
    expect(restarted.agent.receipts(J).get(1)).to.equal(undefined);
  });

  it("a batch is acknowledged only once durable: with the store locked nothing is kept, the resent batch is, across a restart", async () => {
    const { agent, path } = await freshAgent(2);
    const batch = honest[1];
    const other = new DatabaseSync(path);
    other.exec("BEGIN IMMEDIATE"); // another connection holds the write lock
    let refused;
    try {
      refused = await agent.onReports(batch);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    expect(refused.map((a) => (a.accepted ? "accepted" : a.reason))).to.deep.equal(
      batch.map(() => "not-stored"),
    );
    expect(agent.receipts(J).size).to.equal(0);
    const resent = await agent.onReports(batch);
    expect(resent.every((a) => a.accepted)).to.equal(true);
    // Restart from the same file: every acknowledged report is there, re-verified.
    const restarted = await startAgent(2, path);
    expect([...(restarted.agent.receipts(J).get(1) ?? [])].sort()).to.deep.equal([
      1, 2, 3, 4, 5, 6, 7, 8,
    ]);
  });

  it("a closed or failing pool falls back to the inline check, with the same outcomes", async () => {
    const { agent } = await freshAgent(2);
    await agent.close();
    const got = await agent.onReports([honest[0][0], honest[0][0], honest[2][3]]);
    expect(got.map((a) => (a.accepted ? "accepted" : a.reason))).to.deep.equal([
      "accepted",
      "replay",
      "accepted",
    ]);
  });

  it("a settled batch's admissions are not kept by the batch queue (issue 14: the last batch lived through billing)", async () => {
    const gc = gcFunction();
    // No pool: the center is never asked for a job; each admission is a fresh object.
    const admission = new BatchAdmission(
      undefined as unknown as ControlCenter,
      undefined,
      (): Admission => ({ accepted: false, reason: "malformed" }) as Admission,
    );
    // Submitted in a function of its own, so this frame holds no admission either.
    const submitWatched = async (): Promise<WeakRef<object>[]> =>
      (await admission.submit([new Uint8Array(1), new Uint8Array(1)])).map((a) => new WeakRef(a));
    const refs: WeakRef<object>[] = [];
    for (let b = 0; b < 3; b++) refs.push(...(await submitWatched()));
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    // Before: the queue's tail resolved to the last batch's admissions (2 kept).
    expect(refs.filter((r) => r.deref() !== undefined)).to.have.length(0);
  });

  it("signatureJob: a job exactly when admission would reach the signature check", async () => {
    const { agent } = await freshAgent(1);
    const center = agent.center;
    const live = honest[0][0];
    const job = center.signatureJob(live)!;
    expect(job.counter).to.equal(1);
    expect(job.basePublicKey).to.deep.equal(registrations[0].basePublicKey);
    expect(signatureJobVerifies(DOMAIN, job)).to.equal(true);
    expect(center.signatureJob(live.subarray(0, 137))).to.equal(undefined); // wrong size
    const otherInterval = Uint8Array.from(live);
    otherInterval[4] ^= 1;
    expect(center.signatureJob(otherInterval)).to.equal(undefined); // interval not open
    const unknown = Uint8Array.from(live);
    unknown[5] ^= 1;
    expect(center.signatureJob(unknown)).to.equal(undefined); // unknown pseudonym
    expect(agent.onReport(live).accepted).to.equal(true);
    expect(center.signatureJob(live)).to.equal(undefined); // replay
    center.exclude(1);
    expect(center.signatureJob(honest[1][0])).to.equal(undefined); // excluded meter
    // The verdict is trusted as given: a false one refuses an honest report (never counted).
    expect(center.admit(honest[2][0], { signatureVerdict: false })).to.deep.include({
      accepted: false,
      reason: "bad-signature",
    });
    center.closeInterval(J);
    expect(center.signatureJob(honest[2][1])).to.equal(undefined); // closed
  });

  it("AdmissionPool.verify gives signatureJobVerifies' verdict for each job, in order", async () => {
    const { agent } = await freshAgent(1);
    const jobs = honest.flat().flatMap((r, i) => {
      const job = agent.center.signatureJob(r)!;
      if (i % 3 !== 0) return [job];
      const bad = Uint8Array.from(r);
      bad[100] ^= 0x80;
      return [job, { ...job, report: bad }];
    });
    const pool = AdmissionPool.start({ domain: DOMAIN, workers: 2, chunk: 5 });
    try {
      const verdicts = await pool.verify(jobs);
      expect([...verdicts]).to.deep.equal(
        jobs.map((j) => (signatureJobVerifies(DOMAIN, j) ? 1 : 0)),
      );
      expect(verdicts.filter((v) => v === 0).length).to.equal(11); // the corrupted ones
      expect(await pool.verify([])).to.deep.equal(new Uint8Array(0));
    } finally {
      await pool.close();
    }
    const closed = await pool.verify(jobs).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(closed).to.be.instanceOf(Error).with.property("name", "AdmissionPoolError");
    expect((closed as Error).message).to.match(/^AdmissionPool.verify: pool is closed/);
    expect(() => AdmissionPool.start({ domain: DOMAIN, workers: 0 })).to.throw(
      /^AdmissionPool: workers 0 outside/,
    );
    expect(() => AdmissionPool.start({ domain: new Uint8Array(31), workers: 1 })).to.throw(
      /^AdmissionPool: domain must be 32 bytes/,
    );
  });
});
