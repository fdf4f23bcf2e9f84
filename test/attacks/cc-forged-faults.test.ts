// Threat model (issue 16): an outsider — or the household, which gets its meter's pseudonyms at
// interval end, including a lost chunk's still-live pseudonym — sends CC reports under a meter's
// pseudonym that the meter never signed, or replays one faulty final-hop packet, to get an honest
// meter excluded. Defence: CC checks the signature under the meter's own message key before any
// check that counts a fault; a report whose signature fails is refused (with a resend request) but
// never counted; a fault counts once per message; CC's exit drops replayed final-hop packets before
// admission.
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ControlCenterAgent, exitReplayCap } from "../../offchain/cc/agent.ts";
import { DEFAULT_MAX_TAGS_PER_EPOCH } from "../../offchain/onion/replay.ts";
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
  makeControlCenter,
  makeMeter,
  messageSecret,
  seedScalar,
} from "../roles/fixtures.ts";

const T = WINDOW.end - 1n; // DESIGN §4.4: T is the interval's last second
const J = 3;

describe("attack: getting an honest meter excluded with reports it did not sign", function () {
  const cc = ccKeys();

  it("unsigned garbage under one live pseudonym never counts against the meter", function () {
    const meters = [makeMeter(0, cc), makeMeter(1, cc)];
    const center = makeControlCenter(meters, cc, 3);
    center.openInterval(J, WINDOW, CATEGORIES);
    // The household knows the pseudonym of a chunk that was lost on the way (still live at CC).
    const lost = meters[0].reportInterval(J, 1_000n, T).entries[0];
    const forgeries = [
      { ...lost, value: 7n }, // not a category
      { ...lost, timestamp: WINDOW.end + 5n }, // not the interval's last second
      signEntry(DOMAIN, { ...lost, value: 9n }, 0xbadn), // signed, but not with the meter's key
      { ...lost, value: 11n },
    ];
    for (const f of forgeries) {
      const a = center.admit(encodeMeterReport(f));
      expect(a.accepted).to.equal(false);
      if (!a.accepted) {
        expect(["bad-signature", "key-mismatch"]).to.include(a.reason);
        expect(a.excluded).to.equal(undefined);
      }
    }
    // Before the fix the first three excluded meter 0 for every later interval.
    expect(center.isExcluded(0)).to.equal(false);
    expect(center.admit(encodeMeterReport(lost)).accepted).to.equal(true);
  });

  it("CC started at a later epoch: its exit's replay cap follows the registered city at once, and after a restart", async function () {
    // Regression (issue 14): the city-sized cap (exitReplayCap) was applied only at an epoch
    // rotation, so a CC started at epoch 5 kept 65,536 tags for epoch 5 whatever it registered.
    const dir = mkdtempSync(join(tmpdir(), "gridledger-exitcap-"));
    const store = Store.open({ path: join(dir, "cc.sqlite") });
    const secrets = SecretStore.open(store, {
      passphrase: "p",
      scrypt: { N: 1 << 10, r: 8, p: 1 },
    });
    try {
      const chain = {
        meterCount: async () => 0,
        registerMeters: async () => {},
      } as unknown as ControlCenterChainClient;
      // 20,000 slots per meter: one meter's city-sized cap (80,000) is above the 65,536 default.
      const init = { keys: cc, domain: DOMAIN, maxMessagesPerMeter: 20_000, epoch: 5 };
      const agent = ControlCenterAgent.start(init, { store, secrets, chain });
      expect(agent.exitMaxTagsPerEpoch).to.equal(DEFAULT_MAX_TAGS_PER_EPOCH);
      await agent.registerMeters([makeMeter(0, cc).registration(seedScalar("eph-cap"))]);
      expect(agent.exitMaxTagsPerEpoch).to.equal(exitReplayCap(1, 20_000));
      expect(exitReplayCap(1, 20_000)).to.be.greaterThan(DEFAULT_MAX_TAGS_PER_EPOCH);
      // Restarted from its store at the same epoch: the cap is the city's from the start.
      const again = ControlCenterAgent.start(init, { store, secrets, chain });
      expect(again.exitMaxTagsPerEpoch).to.equal(exitReplayCap(1, 20_000));
      // An explicit cap is kept.
      const fixed = ControlCenterAgent.start(
        { ...init, maxTagsPerEpoch: 10 },
        { store, secrets, chain },
      );
      expect(fixed.exitMaxTagsPerEpoch).to.equal(10);
    } finally {
      secrets.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("one faulty final-hop packet replayed to CC counts once, not three times", async function () {
    const dir = mkdtempSync(join(tmpdir(), "gridledger-faults-"));
    const store = Store.open({ path: join(dir, "cc.sqlite") });
    const secrets = SecretStore.open(store, {
      passphrase: "p",
      scrypt: { N: 1 << 10, r: 8, p: 1 },
    });
    try {
      const meter = makeMeter(0, cc);
      const chain = {
        meterCount: async () => 1_000_000,
        intervalProgress: async () => ({ state: INTERVAL_STATE.Open, lastId: new Uint8Array(32) }),
      } as unknown as ControlCenterChainClient;
      const agent = ControlCenterAgent.start(
        { keys: cc, domain: DOMAIN, maxMessagesPerMeter: 32, maxFailures: 3, epoch: 5 },
        { store, secrets, chain },
      );
      await agent.registerMeters([meter.registration(seedScalar("eph-0"))]);
      await agent.openInterval(J, WINDOW, CATEGORIES);
      const [e1, e2] = meter.reportInterval(J, 2_000n + 1_000n, T).entries;
      // A meter with a wrong category table: its own key signed the faulty value.
      const faulty = signEntry(DOMAIN, { ...e1, value: 7n }, messageSecret(0, J, 1));
      const packet = buildOnion({
        sessionKey: 4242n,
        hops: [
          {
            pubkey: cc.publicKey,
            payload: encodeHopPayload({ kind: "deliver", message: encodeMeterReport(faulty) }),
          },
        ],
        associatedData: onionAssociatedData(DOMAIN, 5),
      });
      const first = agent.onPacket(packet);
      expect(first.admission).to.deep.include({ accepted: false, reason: "not-a-category" });
      for (let i = 0; i < 3; i++) {
        expect(agent.onPacket(packet)).to.deep.equal({
          onion: { accepted: false, reason: "replay" },
        });
      }
      expect(agent.exitCounters().dropped.replay).to.equal(3);
      expect(agent.center.isExcluded(0)).to.equal(false);
      expect(agent.center.stats(J).rejected["not-a-category"]).to.equal(1);
      expect(agent.onReport(encodeMeterReport(e2)).accepted).to.equal(true);
    } finally {
      secrets.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
