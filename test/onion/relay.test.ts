import { expect } from "chai";

import { bytesToHex } from "../../offchain/crypto/bytes.ts";
import { seededRandom } from "../../offchain/onion/random.ts";
import { OnionRelay, type OutgoingPacket } from "../../offchain/onion/relay.ts";
import {
  buildReportOnion,
  onionAssociatedData,
  peelAtCC,
  selectRelayPath,
} from "../../offchain/onion/report.ts";
import { ONION_PACKET_SIZE } from "../../offchain/onion/sphinx.ts";
import { TEST_DOMAIN, testNode, testNodes } from "./helpers.ts";

const nodes = testNodes("relay-net", 6);
const cc = testNode("cc", 0);
const directory = nodes.map((n) => n.nodeId);
const seed = (n: number) => new Uint8Array(32).fill(n);

function makeRelays(epoch: number, cover?: { loopsPerRound?: number; minBatch?: number }) {
  return new Map(
    nodes.map((n) => [
      bytesToHex(n.nodeId),
      new OnionRelay({ privateKey: n.privateKey, domain: TEST_DOMAIN, epoch, cover }),
    ]),
  );
}

/**
 * Runs rounds over an in-memory network until nothing is in flight; returns what reached CC
 * and every packet seen on a link.
 */
function runNetwork(
  relays: Map<string, OnionRelay>,
  initial: OutgoingPacket[],
  epoch: number,
  rounds: number,
  random = seededRandom(seed(9)),
) {
  const delivered: Uint8Array[] = [];
  const links: Uint8Array[] = [];
  let inFlight = initial;
  const ad = onionAssociatedData(TEST_DOMAIN, epoch);
  for (let r = 0; r < rounds; r++) {
    for (const out of inFlight) {
      links.push(out.packet);
      const hex = bytesToHex(out.nextNodeId);
      if (hex === bytesToHex(cc.nodeId))
        delivered.push(peelAtCC(out.packet, cc.privateKey, ad).message);
      else relays.get(hex)!.receive(out.packet);
    }
    inFlight = [];
    for (const relay of relays.values()) inFlight.push(...relay.endRound({ random, directory }));
  }
  return { delivered, links, inFlight };
}

describe("onion/relay", function () {
  it("forwards reports through 3 relays in rounds; CC receives every message", function () {
    const epoch = 3;
    const ad = onionAssociatedData(TEST_DOMAIN, epoch);
    const random = seededRandom(seed(1));
    const messages = Array.from({ length: 8 }, (_, i) => new TextEncoder().encode(`report ${i}`));
    const initial = messages.map((m, i) => {
      const path = selectRelayPath(directory, 3, random, [directory[i % 6]]);
      const { firstHop, packet } = buildReportOnion(path, cc.nodeId, m, BigInt(1000 + i), ad);
      return { nextNodeId: firstHop, packet, cover: false };
    });
    const relays = makeRelays(epoch);
    const { delivered, links } = runNetwork(relays, initial, epoch, 4);
    expect(delivered.map((d) => new TextDecoder().decode(d)).sort()).to.deep.equal(
      messages.map((m) => new TextDecoder().decode(m)).sort(),
    );
    expect(links.length).to.equal(8 * 4); // meter→R1→R2→R3→CC
    for (const p of links) expect(p.length).to.equal(ONION_PACKET_SIZE);
    let forwarded = 0;
    for (const relay of relays.values()) {
      const c = relay.counters();
      forwarded += c.forwarded;
      expect(Object.values(c.dropped).every((d) => d === 0)).to.equal(true);
    }
    expect(forwarded).to.equal(24);
  });

  it("drops a replayed packet and counts it under 'replay'", function () {
    const ad = onionAssociatedData(TEST_DOMAIN, 1);
    const relay = new OnionRelay({
      privateKey: nodes[0].privateKey,
      domain: TEST_DOMAIN,
      epoch: 1,
    });
    const { packet } = buildReportOnion([nodes[0].nodeId], cc.nodeId, Uint8Array.of(1), 42n, ad);
    expect(relay.receive(packet)).to.deep.equal({ accepted: true, kind: "forward" });
    expect(relay.receive(packet)).to.deep.equal({ accepted: false, reason: "replay" });
    expect(relay.counters().dropped.replay).to.equal(1);
    expect(relay.queued).to.equal(1);
  });

  it("epochs: previous epoch accepted as grace, replays still caught, older epochs fail the HMAC", function () {
    const relay = new OnionRelay({
      privateKey: nodes[0].privateKey,
      domain: TEST_DOMAIN,
      epoch: 5,
    });
    const build = (epoch: number, k: bigint) =>
      buildReportOnion(
        [nodes[0].nodeId],
        cc.nodeId,
        Uint8Array.of(1),
        k,
        onionAssociatedData(TEST_DOMAIN, epoch),
      ).packet;
    const old = build(5, 1n);
    expect(relay.receive(old).accepted).to.equal(true);
    relay.rotateEpoch(6);
    expect(relay.receive(old)).to.deep.equal({ accepted: false, reason: "replay" });
    expect(relay.receive(build(5, 2n)).accepted).to.equal(true);
    expect(relay.receive(build(6, 3n)).accepted).to.equal(true);
    relay.rotateEpoch(7);
    expect(relay.receive(old)).to.deep.equal({ accepted: false, reason: "hmac" });
    expect(relay.receive(build(7, 4n)).accepted).to.equal(true);
    expect(() => relay.rotateEpoch(7)).to.throw(/forward/);
  });

  it("a quiet relay still emits its cover quota; loops come back and are counted", function () {
    const epoch = 2;
    const relays = makeRelays(epoch, { loopsPerRound: 1 });
    const random = seededRandom(seed(2));
    const first = [...relays.values()].flatMap((r) => r.endRound({ random, directory }));
    expect(first.length).to.equal(nodes.length);
    expect(first.every((p) => p.cover && p.packet.length === ONION_PACKET_SIZE)).to.equal(true);
    // 3 relays then home: after 4 deliveries every first-round loop is back.
    runNetwork(relays, first, epoch, 4);
    let returned = 0;
    for (const relay of relays.values()) {
      returned += relay.counters().loopsReturned;
      expect(Object.values(relay.counters().dropped).every((d) => d === 0)).to.equal(true);
    }
    // Every relay sent one loop per round for 5 rounds; those of the first round are back.
    expect(returned).to.be.at.least(nodes.length);
  });

  it("minBatch tops a round up with cover packets", function () {
    const ad = onionAssociatedData(TEST_DOMAIN, 1);
    const relay = new OnionRelay({
      privateKey: nodes[0].privateKey,
      domain: TEST_DOMAIN,
      epoch: 1,
      cover: { minBatch: 4 },
    });
    relay.receive(buildReportOnion([nodes[0].nodeId], cc.nodeId, Uint8Array.of(1), 9n, ad).packet);
    const out = relay.endRound({ random: seededRandom(seed(3)), directory });
    expect(out.length).to.equal(4);
    expect(out.filter((p) => p.cover).length).to.equal(3);
    expect(relay.counters().coverSent).to.equal(3);
    expect(relay.pendingLoops).to.equal(3);
  });

  it("loops that never return are counted lost after the grace epoch", function () {
    const relay = new OnionRelay({
      privateKey: nodes[0].privateKey,
      domain: TEST_DOMAIN,
      epoch: 1,
      cover: { loopsPerRound: 2 },
    });
    relay.endRound({ random: seededRandom(seed(4)), directory }); // loops dropped by the network
    relay.rotateEpoch(2);
    expect(relay.counters().loopsLost).to.equal(0);
    relay.rotateEpoch(3);
    expect(relay.counters().loopsLost).to.equal(2);
    expect(relay.pendingLoops).to.equal(0);
  });

  it("endRound shuffles: the output order depends only on the injected randomness", function () {
    const ad = onionAssociatedData(TEST_DOMAIN, 1);
    const inputs = Array.from(
      { length: 12 },
      (_, i) =>
        buildReportOnion([nodes[0].nodeId], cc.nodeId, Uint8Array.of(i + 1), BigInt(50 + i), ad)
          .packet,
    );
    const order = (s: number) => {
      const relay = new OnionRelay({
        privateKey: nodes[0].privateKey,
        domain: TEST_DOMAIN,
        epoch: 1,
      });
      for (const p of inputs) relay.receive(p);
      const out = relay.endRound({ random: seededRandom(seed(s)) });
      return out.map((o) => peelAtCC(o.packet, cc.privateKey, ad).message[0] - 1);
    };
    const identity = inputs.map((_, i) => i);
    expect(order(7)).to.deep.equal(order(7));
    expect(order(7)).to.not.deep.equal(order(8));
    expect(order(7)).to.not.deep.equal(identity);
    expect([...order(7)].sort((a, b) => a - b)).to.deep.equal(identity);
  });

  it("needs a directory only when cover traffic is on", function () {
    const relay = new OnionRelay({
      privateKey: nodes[0].privateKey,
      domain: TEST_DOMAIN,
      epoch: 1,
      cover: { loopsPerRound: 1 },
    });
    expect(() => relay.endRound({ random: seededRandom(seed(1)) })).to.throw(/directory/);
  });
});
