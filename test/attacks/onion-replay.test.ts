// Threat model: a link observer records a packet entering a relay and re-injects it (possibly many
// times, possibly later) to see which output repeats, linking the relay's input to its output and,
// hop by hop, the meter to its report. DESIGN §4.6: each relay keeps a cache of tags of the shared
// secrets it accepted, scoped to the current and previous epoch; the associated data binds every
// packet to its epoch so anything older fails the HMAC. A replay is therefore dropped whenever it
// arrives, and the relay emits nothing for it.
import { expect } from "chai";

import { OnionRelay } from "../../offchain/onion/relay.ts";
import { buildReportOnion, onionAssociatedData } from "../../offchain/onion/report.ts";
import { seededRandom } from "../../offchain/onion/random.ts";
import { TEST_DOMAIN, testNode, testNodes } from "../onion/helpers.ts";

const [entry, middle] = testNodes("replay", 2);
const cc = testNode("cc", 0);

function makeRelay(epoch: number) {
  return new OnionRelay({ privateKey: entry.privateKey, domain: TEST_DOMAIN, epoch });
}

function report(epoch: number, sessionKey: bigint) {
  return buildReportOnion(
    [entry.nodeId, middle.nodeId],
    cc.nodeId,
    Uint8Array.of(0xab),
    sessionKey,
    onionAssociatedData(TEST_DOMAIN, epoch),
  ).packet;
}

describe("attack: onion replay", function () {
  it("a packet replayed in the same round produces exactly one output", function () {
    const relay = makeRelay(4);
    const p = report(4, 1n);
    for (let i = 0; i < 5; i++) relay.receive(p);
    const out = relay.endRound({ random: seededRandom(new Uint8Array(32)) });
    expect(out.length).to.equal(1);
    expect(relay.counters().dropped.replay).to.equal(4);
  });

  it("a packet replayed in a later round of the same epoch is dropped", function () {
    const relay = makeRelay(4);
    const p = report(4, 2n);
    relay.receive(p);
    relay.endRound({ random: seededRandom(new Uint8Array(32)) });
    expect(relay.receive(p)).to.deep.equal({ accepted: false, reason: "replay" });
    expect(relay.endRound({ random: seededRandom(new Uint8Array(32)) }).length).to.equal(0);
  });

  it("a packet replayed after any number of epoch rotations is still dropped", function () {
    const relay = makeRelay(4);
    const p = report(4, 3n);
    relay.receive(p);
    relay.rotateEpoch(5);
    expect(relay.receive(p).accepted).to.equal(false); // cache of the grace epoch
    for (const e of [6, 7, 100]) {
      relay.rotateEpoch(e);
      expect(relay.receive(p)).to.deep.equal({ accepted: false, reason: "hmac" }); // expired
    }
  });

  it("the same report re-built with a fresh session key is not a replay (honest retry)", function () {
    const relay = makeRelay(4);
    expect(relay.receive(report(4, 10n)).accepted).to.equal(true);
    expect(relay.receive(report(4, 11n)).accepted).to.equal(true);
  });
});
