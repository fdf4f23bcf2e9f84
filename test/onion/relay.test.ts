import { expect } from "chai";

import { bytesToHex } from "../../offchain/crypto/bytes.ts";
import { seededRandom } from "../../offchain/onion/random.ts";
import { OnionExit, OnionRelay, type OutgoingPacket } from "../../offchain/onion/relay.ts";
import { ReplayCache, replayCacheMaxBytes } from "../../offchain/onion/replay.ts";
import {
  buildReportOnion,
  encodeHopPayload,
  onionAssociatedData,
  peelAtCC,
  selectRelayPath,
} from "../../offchain/onion/report.ts";
import { buildOnion, ONION_PACKET_SIZE } from "../../offchain/onion/sphinx.ts";
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

  describe("lookahead: a packet of the next epoch (its meter missed CC's announcement)", function () {
    const build = (epoch: number, k: bigint, path = [nodes[0].nodeId]) =>
      buildReportOnion(
        path,
        cc.nodeId,
        Uint8Array.of(1),
        k,
        onionAssociatedData(TEST_DOMAIN, epoch),
      ).packet;
    const relayAt = (epoch: number, i = 0) =>
      new OnionRelay({ privateKey: nodes[i].privateKey, domain: TEST_DOMAIN, epoch });

    it("is accepted and forwarded, counted, and refused as a replay while its epoch is live; the relay's epoch does not move", function () {
      // Regression: a relay refused epoch-(j+1) onions as "hmac" until its own meter heard CC's
      // announcement of j+1 (lost at 20 % loss: `relays dropped hmac 492` in the 100-meter demo).
      const relay = relayAt(5);
      const next = build(6, 11n, [nodes[0].nodeId, nodes[1].nodeId]);
      expect(relay.receive(next)).to.deep.equal({ accepted: true, kind: "forward" });
      expect(relay.epoch).to.equal(5);
      expect(relay.counters().nextEpochAccepted).to.equal(1);
      expect(relay.counters().replayTags).to.equal(1);
      expect(relay.receive(next)).to.deep.equal({ accepted: false, reason: "replay" });
      // The forward is a valid epoch-6 layer for the next hop.
      const [out] = relay.endRound({ random: seededRandom(seed(10)) });
      expect(bytesToHex(out.nextNodeId)).to.equal(bytesToHex(nodes[1].nodeId));
      expect(relayAt(6, 1).receive(out.packet)).to.deep.equal({ accepted: true, kind: "forward" });
      // The agent's rotation at the announcement: the early tag is the current epoch's now …
      relay.rotateEpoch(6);
      expect(relay.receive(next)).to.deep.equal({ accepted: false, reason: "replay" });
      expect(relay.counters().replayTags).to.equal(1);
      // … then the previous epoch's; once epoch 6 is no longer live the packet fails its HMAC.
      relay.rotateEpoch(7);
      expect(relay.receive(next)).to.deep.equal({ accepted: false, reason: "replay" });
      relay.rotateEpoch(8);
      expect(relay.receive(next)).to.deep.equal({ accepted: false, reason: "hmac" });
      expect(relay.counters().nextEpochAccepted).to.equal(1);
      expect(relay.counters().dropped.replay).to.equal(3);
    });

    it("two epochs ahead is refused as hmac, and next-epoch packets do not move the window: no chain of them walks a relay ahead", function () {
      const relay = relayAt(5);
      expect(relay.receive(build(7, 21n))).to.deep.equal({ accepted: false, reason: "hmac" });
      expect(relay.receive(build(6, 22n)).accepted).to.equal(true);
      // Anyone can build these (the associated data is public): had the relay moved to 6, the
      // next packet would take it to 7, and so on.
      expect(relay.receive(build(7, 23n))).to.deep.equal({ accepted: false, reason: "hmac" });
      // The previous epoch's packets in flight are still taken; older ones are not.
      expect(relay.receive(build(4, 24n)).accepted).to.equal(true);
      expect(relay.receive(build(3, 25n))).to.deep.equal({ accepted: false, reason: "hmac" });
      expect(relay.epoch).to.equal(5);
      expect(relay.counters().dropped.hmac).to.equal(3);
      // The agent's guard (`interval > relay.epoch`) keeps rotating to the announced interval.
      relay.rotateEpoch(6);
      expect(relay.receive(build(7, 26n)).accepted).to.equal(true);
    });

    it("a rotation that skips the next epoch keeps its early tags as the previous epoch's", function () {
      const relay = relayAt(5);
      const next = build(6, 31n);
      expect(relay.receive(next).accepted).to.equal(true);
      relay.rotateEpoch(7); // the meter missed announcement 6 altogether
      expect(relay.receive(next)).to.deep.equal({ accepted: false, reason: "replay" });
      expect(relay.receive(build(8, 32n)).accepted).to.equal(true);
      relay.rotateEpoch(8);
      expect(relay.receive(next)).to.deep.equal({ accepted: false, reason: "hmac" });
    });

    it("the last u32 epoch has no next one: refused as hmac, nothing thrown", function () {
      const relay = relayAt(0xffffffff);
      expect(relay.receive(build(0, 41n))).to.deep.equal({ accepted: false, reason: "hmac" });
      expect(relay.receive(build(0xfffffffe, 42n)).accepted).to.equal(true);
    });

    it("CC's exit takes no packet of the next epoch (CC announces the epochs: it is never behind)", function () {
      const exit = new OnionExit({ privateKey: cc.privateKey, domain: TEST_DOMAIN, epoch: 5 });
      const finalHop = (epoch: number, k: bigint) =>
        buildOnion({
          sessionKey: k,
          hops: [
            {
              pubkey: cc.nodeId,
              payload: encodeHopPayload({ kind: "deliver", message: Uint8Array.of(7) }),
            },
          ],
          associatedData: onionAssociatedData(TEST_DOMAIN, epoch),
        });
      expect(exit.receive(finalHop(6, 51n))).to.deep.equal({ accepted: false, reason: "hmac" });
      expect(exit.receive(finalHop(5, 52n)).accepted).to.equal(true);
    });

    it("the replay cache's next-epoch table is capped like the others (≤ 3 tables' bytes)", function () {
      const cache = new ReplayCache({ epoch: 5, maxTagsPerEpoch: 40 });
      const ss = new Uint8Array(32);
      for (const e of [4, 5, 6]) {
        for (let i = 0; i < 40; i++) {
          ss[0] = e;
          ss[1] = i;
          expect(cache.checkAndInsert(ss, e)).to.equal(true);
        }
        ss[1] = 99;
        expect(() => cache.checkAndInsert(ss, e)).to.throw(/cap/);
      }
      expect(cache.size).to.equal(120);
      expect(cache.bytes).to.be.at.most(replayCacheMaxBytes(40, 3));
      expect(replayCacheMaxBytes(40, 3)).to.equal((3 / 2) * replayCacheMaxBytes(40));
      expect(() => cache.has(ss, 7)).to.throw(/not live/);
      expect(() => cache.has(ss, 3)).to.throw(/not live/);
      cache.rotate(6);
      expect(cache.size).to.equal(80); // epoch 4 forgotten; 5 and 6 kept
      ss[0] = 6;
      ss[1] = 0;
      expect(cache.checkAndInsert(ss, 6)).to.equal(false);
    });
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
