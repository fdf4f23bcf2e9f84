// Control-center agent over a real SQLite file (issue 16): a report is acknowledged only once it is
// durable, whatever the store does, and an exclusion survives a restart. The chain is not needed by
// these paths: a stub ledger answers the two reads `registerMeters` and `openInterval` make.
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ControlCenterAgent } from "../../offchain/cc/agent.ts";
import type { ControlCenterChainClient } from "../../offchain/cc/chain-client.ts";
import { INTERVAL_STATE } from "../../offchain/protocol/billing.ts";
import type { Meter } from "../../offchain/meter/meter.ts";
import { signEntry, type LedgerEntry } from "../../offchain/protocol/entry.ts";
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

const T = WINDOW.end - 1n; // DESIGN §4.4: T is the interval's last second
const J = 7;
const FAST_SCRYPT = { N: 1 << 10, r: 8, p: 1 };

/** The two ledger reads the agent makes off the posting path; anything else would throw. */
const stubLedger = {
  meterCount: async () => 1_000_000,
  intervalProgress: async () => ({ state: INTERVAL_STATE.Open, lastId: new Uint8Array(32) }),
} as unknown as ControlCenterChainClient;

describe("control-center agent (store-backed)", function () {
  const cc = ccKeys();
  let dir: string;
  let path: string;
  let meters: Meter[];
  const open: { store: Store; secrets: SecretStore }[] = [];

  function startAgent(maxFailures = 3): ControlCenterAgent {
    const store = Store.open({ path, busyTimeoutMs: 20 });
    const secrets = SecretStore.open(store, { passphrase: "test pass", scrypt: FAST_SCRYPT });
    open.push({ store, secrets });
    return ControlCenterAgent.start(
      { keys: cc, domain: DOMAIN, maxMessagesPerMeter: 32, maxFailures },
      { store, secrets, chain: stubLedger },
    );
  }

  /** Kills the agent as a process exit would: closes its database handle. */
  function stopAgents(): void {
    for (const { store, secrets } of open.splice(0)) {
      secrets.close();
      store.close();
    }
  }

  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), "gridledger-cc-"));
    path = join(dir, "cc.sqlite");
    meters = [0, 1].map((i) => makeMeter(i, cc));
  });
  afterEach(function () {
    stopAgents();
    rmSync(dir, { recursive: true, force: true });
  });

  async function freshAgent(maxFailures = 3): Promise<ControlCenterAgent> {
    const agent = startAgent(maxFailures);
    await agent.registerMeters(meters.map((m) => m.registration(seedScalar(`eph-${m.index}`))));
    await agent.openInterval(J, WINDOW, CATEGORIES);
    return agent;
  }

  it("registers a batch in one store transaction: all of it survives a restart, a bad registration stores none; progress counted", async function () {
    // Issue 14: 100,000 registrations were 100,000 commits and the phase printed nothing.
    const three = [0, 1, 2].map((i) => makeMeter(i, cc));
    const regs = three.map((m) => m.registration(seedScalar(`eph-${m.index}`)));
    const bad = { ...regs[2], encryptedGgmKey: new Uint8Array(regs[2].encryptedGgmKey.length) };
    const agent = startAgent();
    let failed: unknown;
    try {
      await agent.registerMeters([regs[0], regs[1], bad]);
    } catch (err) {
      failed = err;
    }
    expect(failed, "a registration whose K_i does not open is refused").to.be.instanceOf(Error);
    stopAgents();
    // Nothing of the failed batch reached the store (before: meters 0 and 1 did).
    expect(startAgent().center.meterCount).to.equal(0);
    stopAgents();
    const steps: string[] = [];
    const chainCalls: number[] = [];
    const store = Store.open({ path, busyTimeoutMs: 20 });
    const secrets = SecretStore.open(store, { passphrase: "test pass", scrypt: FAST_SCRYPT });
    open.push({ store, secrets });
    const counting = {
      meterCount: async () => 0,
      registerMeters: async (pks: readonly Uint8Array[], progress?: (done: number) => void) => {
        chainCalls.push(pks.length);
        progress?.(pks.length);
      },
    } as unknown as ControlCenterChainClient;
    const good = ControlCenterAgent.start(
      { keys: cc, domain: DOMAIN, maxMessagesPerMeter: 32 },
      { store, secrets, chain: counting },
    );
    await good.registerMeters(regs, (task, done, total) => steps.push(`${task} ${done}/${total}`));
    expect(steps).to.deep.equal(["registrations stored 3/3", "meters registered on-chain 3/3"]);
    expect(chainCalls).to.deep.equal([3]);
    stopAgents();
    expect(startAgent().center.meterCount).to.equal(3);
  });

  it("a report arriving while another connection holds the write lock is not acknowledged, and its resend is admitted and survives a restart", async function () {
    const agent = await freshAgent();
    const [first, second] = meters[0].reportInterval(J, 1_000n + 500n, T).entries;
    expect(agent.onReport(encodeMeterReport(first)).accepted).to.equal(true);

    const other = new DatabaseSync(path);
    other.exec("BEGIN IMMEDIATE"); // e.g. a backup or an operator's sqlite3 shell
    let refused;
    try {
      refused = agent.onReport(encodeMeterReport(second));
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    // Before the fix: admitted in memory, listed in the receipt, the resend refused as a replay,
    // and lost at the next restart.
    expect(refused).to.deep.include({ accepted: false, reason: "not-stored" });
    expect(refused).to.have.property("resend").that.deep.equals({
      meter: 0,
      interval: J,
      counter: 2,
    });
    expect([...(agent.receipts(J).get(0) ?? [])]).to.deep.equal([1]);

    const resent = agent.onReport(encodeMeterReport(meters[0].resend(J, 2)!));
    expect(resent.accepted).to.equal(true);
    expect(agent.center.stats(J).rejected["not-stored"]).to.equal(1);

    stopAgents();
    const restarted = startAgent();
    expect([...(restarted.receipts(J).get(0) ?? [])].sort()).to.deep.equal([1, 2]);
  });

  it("every acknowledged report is in the store, also when writes fail intermittently", async function () {
    const agent = await freshAgent();
    const entries = meters[1].reportInterval(J, 2_000n * 3n + 1_000n + 500n + 250n, T).entries;
    const acknowledged = new Set<number>();
    const other = new DatabaseSync(path);
    entries.forEach((e, i) => {
      const locked = i % 2 === 1;
      if (locked) other.exec("BEGIN IMMEDIATE");
      const a = agent.onReport(encodeMeterReport(e));
      if (locked) other.exec("ROLLBACK");
      if (a.accepted) acknowledged.add(i + 1);
      else expect(a.reason).to.equal("not-stored");
    });
    other.close();
    expect(acknowledged.size).to.equal(Math.ceil(entries.length / 2));
    stopAgents();
    const restarted = startAgent();
    expect(new Set(restarted.receipts(J).get(1))).to.deep.equal(acknowledged);
  });

  it("an excluded meter stays excluded after a restart (until readmitted)", async function () {
    const agent = await freshAgent(2);
    const entries = meters[1].reportInterval(J, 2_000n + 1_000n + 500n, T).entries;
    const signedFault = (e: LedgerEntry, k: number): Uint8Array =>
      encodeMeterReport(signEntry(DOMAIN, { ...e, value: 7n }, messageSecret(1, J, k)));
    expect(agent.onReport(encodeMeterReport(entries[0])).accepted).to.equal(true);
    agent.onReport(signedFault(entries[1], 2));
    const second = agent.onReport(signedFault(entries[2], 3));
    expect(second).to.deep.include({ accepted: false, reason: "not-a-category", excluded: true });

    stopAgents();
    const restarted = startAgent(2);
    expect(restarted.center.isExcluded(1)).to.equal(true); // before the fix: silently readmitted
    expect(restarted.receipts(J).get(1)).to.deep.equal(new Set([1])); // admitted before: kept
    expect(restarted.onReport(encodeMeterReport(entries[2]))).to.deep.include({
      accepted: false,
      reason: "meter-excluded",
    });
    restarted.readmit(1);
    stopAgents();
    const again = startAgent(2);
    expect(again.center.isExcluded(1)).to.equal(false);
    expect(again.onReport(encodeMeterReport(entries[2])).accepted).to.equal(true);
  });
});
