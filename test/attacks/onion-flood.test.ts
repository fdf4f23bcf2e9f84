// Threat model (issue 16, "hostile load"): anyone can send a relay — or CC, the final hop — as many
// packets as they like, and anyone can build a packet with a valid HMAC for a hop from its public
// key alone. Such a flood must not grow the hop's memory without bound, must not make it throw,
// and a final-hop packet replayed to CC must be delivered (and so counted) once. Defences: the
// replay cache remembers only authenticated, well-formed layers, has a hard cap per epoch and is
// emptied by epoch rotation; the forward queue is capped per round; non-byte inputs are dropped
// with a named reason; CC's exit keeps its own replay cache.
import { expect } from "chai";

import { EXIT_TAGS_PER_SLOT, exitReplayCap } from "../../offchain/cc/agent.ts";
import { seededRandom } from "../../offchain/onion/random.ts";
import { OnionExit, OnionRelay } from "../../offchain/onion/relay.ts";
import {
  DEFAULT_MAX_TAGS_PER_EPOCH,
  ReplayCache,
  replayCacheMaxBytes,
} from "../../offchain/onion/replay.ts";
import {
  buildReportOnion,
  encodeHopPayload,
  onionAssociatedData,
} from "../../offchain/onion/report.ts";
import { buildOnion } from "../../offchain/onion/sphinx.ts";
import { TEST_DOMAIN, testNode, testNodes } from "../onion/helpers.ts";

const [relayNode, next] = testNodes("flood", 2);
const cc = testNode("cc", 0);
const EPOCH = 9;
const ad = (epoch: number) => onionAssociatedData(TEST_DOMAIN, epoch);
const random = () => seededRandom(new Uint8Array(32).fill(3));

/** A packet with a valid HMAC for `hop` and a junk payload: needs only the hop's public key. */
function junkFor(hop: Uint8Array, sessionKey: bigint, epoch = EPOCH): Uint8Array {
  return buildOnion({
    sessionKey,
    hops: [{ pubkey: hop, payload: new Uint8Array(64).fill(0xee) }],
    associatedData: ad(epoch),
  });
}

/** The last layer of a report onion, as the final relay hands it to CC. */
function finalHop(message: Uint8Array, sessionKey: bigint, epoch = EPOCH): Uint8Array {
  return buildOnion({
    sessionKey,
    hops: [{ pubkey: cc.nodeId, payload: encodeHopPayload({ kind: "deliver", message }) }],
    associatedData: ad(epoch),
  });
}

/** A well-formed report onion through the relay (anyone can build one too). */
function forward(sessionKey: bigint, epoch = EPOCH): Uint8Array {
  return buildReportOnion(
    [relayNode.nodeId, next.nodeId],
    cc.nodeId,
    Uint8Array.of(1, 2, 3),
    sessionKey,
    ad(epoch),
  ).packet;
}

function relay(init: { maxTagsPerEpoch?: number; maxQueued?: number } = {}): OnionRelay {
  return new OnionRelay({
    privateKey: relayNode.privateKey,
    domain: TEST_DOMAIN,
    epoch: EPOCH,
    ...init,
  });
}

describe("attack: flooding a relay or CC's exit", function () {
  it("valid-HMAC packets with a junk payload are dropped and never enter the replay cache", function () {
    const r = relay();
    for (let i = 0; i < 100; i++) {
      expect(r.receive(junkFor(relayNode.nodeId, BigInt(1000 + i)))).to.deep.equal({
        accepted: false,
        reason: "payload",
      });
    }
    // Before the fix every one of them was cached (≈ 378 bytes each, never freed).
    expect(r.counters().replayTags).to.equal(0);
  });

  it("the replay cache has a hard cap per epoch; beyond it packets are dropped as overload", function () {
    const r = relay({ maxTagsPerEpoch: 4 });
    const receipts = Array.from({ length: 6 }, (_, i) => r.receive(forward(BigInt(2000 + i))));
    expect(receipts.filter((x) => x.accepted)).to.have.length(4);
    expect(receipts.slice(4)).to.deep.equal([
      { accepted: false, reason: "overload" },
      { accepted: false, reason: "overload" },
    ]);
    expect(r.counters().replayTags).to.equal(4);
    // A remembered packet is still a replay, not overload.
    expect(r.receive(forward(2000n))).to.deep.equal({ accepted: false, reason: "replay" });
    r.endRound({ random: random() });
    // Two rotations later the epoch's tags are forgotten (its packets fail the HMAC anyway).
    r.rotateEpoch(EPOCH + 1);
    expect(r.receive(forward(2010n, EPOCH + 1)).accepted).to.equal(true);
    r.rotateEpoch(EPOCH + 2);
    expect(r.counters().replayTags).to.equal(1);
    expect(r.receive(forward(2000n))).to.deep.equal({ accepted: false, reason: "hmac" });
  });

  it("the forward queue is capped per round; endRound frees it", function () {
    const r = relay({ maxQueued: 3 });
    const receipts = Array.from({ length: 5 }, (_, i) => r.receive(forward(BigInt(3000 + i))));
    expect(receipts.map((x) => x.accepted)).to.deep.equal([true, true, true, false, false]);
    expect(r.counters().dropped.overload).to.equal(2);
    expect(r.counters().replayTags).to.equal(3); // dropped packets are not remembered: resendable
    expect(r.endRound({ random: random() })).to.have.length(3);
    expect(r.receive(forward(3003n)).accepted).to.equal(true);
  });

  it("non-byte inputs are dropped with the named reason 'input', never a TypeError", function () {
    const r = relay();
    const inputs: unknown[] = [
      new ArrayBuffer(1366),
      "00".repeat(1366),
      null,
      undefined,
      1366,
      Array.from({ length: 1366 }, () => 0),
      new DataView(new ArrayBuffer(1366)),
      new Uint16Array(683),
      { length: 1366 },
    ];
    for (const input of inputs) {
      expect(r.receive(input as Uint8Array)).to.deep.equal({ accepted: false, reason: "input" });
    }
    expect(r.counters().dropped.input).to.equal(inputs.length);
    const exit = new OnionExit({ privateKey: cc.privateKey, domain: TEST_DOMAIN, epoch: EPOCH });
    for (const input of inputs) {
      expect(exit.receive(input as Uint8Array)).to.deep.equal({ accepted: false, reason: "input" });
    }
  });

  it("CC's exit delivers a replayed final-hop packet once (replays dropped before admission)", function () {
    const exit = new OnionExit({ privateKey: cc.privateKey, domain: TEST_DOMAIN, epoch: EPOCH });
    const packet = finalHop(Uint8Array.of(7), 77n);
    const first = exit.receive(packet);
    expect(first.accepted).to.equal(true);
    if (first.accepted) expect(first.message).to.deep.equal(Uint8Array.of(7));
    for (let i = 0; i < 3; i++) {
      expect(exit.receive(packet)).to.deep.equal({ accepted: false, reason: "replay" });
    }
    expect(exit.receive(junkFor(cc.nodeId, 78n))).to.deep.equal({
      accepted: false,
      reason: "payload",
    });
    // Previous-epoch grace, then expiry, as at a relay.
    const late = finalHop(Uint8Array.of(8), 79n);
    exit.rotateEpoch(EPOCH + 1);
    expect(exit.receive(late).accepted).to.equal(true);
    expect(exit.receive(packet)).to.deep.equal({ accepted: false, reason: "replay" });
    exit.rotateEpoch(EPOCH + 2);
    expect(exit.receive(packet)).to.deep.equal({ accepted: false, reason: "hmac" });
    expect(exit.counters().delivered).to.equal(2);
  });

  it("a full replay cache stays within its documented figure (4 MiB by default)", function () {
    expect(DEFAULT_MAX_TAGS_PER_EPOCH).to.equal(65_536);
    expect(replayCacheMaxBytes()).to.equal(4 * 1024 * 1024);
    const cache = new ReplayCache({ epoch: 1, maxTagsPerEpoch: 3000 });
    const ss = new Uint8Array(32);
    for (let e = 1; e <= 3; e++) {
      if (e > 1) cache.rotate(e);
      for (let i = 0; i < 3000; i++) {
        ss[0] = e;
        ss[1] = i & 0xff;
        ss[2] = i >> 8;
        expect(cache.checkAndInsert(ss, e)).to.equal(true);
      }
      expect(() => cache.checkAndInsert(new Uint8Array(32).fill(0xff), e)).to.throw(/cap/);
      expect(cache.bytes).to.be.at.most(replayCacheMaxBytes(3000));
    }
    expect(cache.size).to.equal(6000); // two live epochs
    ss[0] = 3;
    ss[1] = 5;
    ss[2] = 0;
    expect(cache.checkAndInsert(ss, 3)).to.equal(false);
  });

  it("CC's exit cap follows the city: rotated with a larger cap, the new epoch takes more (issue 14)", function () {
    // Regression: CC's exit kept 65,536 tags per epoch for any city, so from 8,192 meters × 8
    // slots on it refused the rest of an interval as "overload" (10,000 meters: 65,536 of 80,000).
    const exit = new OnionExit({
      privateKey: cc.privateKey,
      domain: TEST_DOMAIN,
      epoch: EPOCH,
      maxTagsPerEpoch: 2,
    });
    const deliver = (i: number, epoch: number) =>
      exit.receive(finalHop(Uint8Array.of(i), BigInt(1000 + i), epoch));
    expect(deliver(1, EPOCH).accepted).to.equal(true);
    expect(deliver(2, EPOCH).accepted).to.equal(true);
    expect(deliver(3, EPOCH)).to.deep.equal({ accepted: false, reason: "overload" });
    exit.rotateEpoch(EPOCH + 1, 5);
    expect(exit.maxTagsPerEpoch).to.equal(5);
    for (let i = 10; i < 15; i++) expect(deliver(i, EPOCH + 1).accepted).to.equal(true);
    expect(deliver(15, EPOCH + 1)).to.deep.equal({ accepted: false, reason: "overload" });
    // The previous epoch keeps the cap it had.
    expect(deliver(4, EPOCH)).to.deep.equal({ accepted: false, reason: "overload" });
    expect(() => exit.rotateEpoch(EPOCH + 2, 0)).to.throw(RangeError);
    // CC's default: room for 4 onions per slot, at least the relay default, at most 2^24.
    expect(exitReplayCap(10, 8)).to.equal(DEFAULT_MAX_TAGS_PER_EPOCH);
    expect(exitReplayCap(10_000, 8)).to.equal(EXIT_TAGS_PER_SLOT * 80_000);
    expect(exitReplayCap(10_000_000, 8)).to.equal(2 ** 24);
  });

  it("CC's exit cap is raised within an epoch, never lowered (meters registered mid-epoch, issue 14)", function () {
    const exit = new OnionExit({
      privateKey: cc.privateKey,
      domain: TEST_DOMAIN,
      epoch: EPOCH,
      maxTagsPerEpoch: 2,
    });
    const deliver = (i: number) =>
      exit.receive(finalHop(Uint8Array.of(i), BigInt(2000 + i), EPOCH));
    expect(deliver(1).accepted).to.equal(true);
    expect(deliver(2).accepted).to.equal(true);
    expect(deliver(3)).to.deep.equal({ accepted: false, reason: "overload" });
    // Before the fix the cap of the epoch CC was in stayed until the next rotation.
    exit.raiseReplayCap(4);
    expect(exit.maxTagsPerEpoch).to.equal(4);
    expect(deliver(3).accepted).to.equal(true);
    expect(deliver(4).accepted).to.equal(true);
    expect(deliver(5)).to.deep.equal({ accepted: false, reason: "overload" });
    exit.raiseReplayCap(1); // lower: nothing changes, the tags held stay held
    expect(exit.maxTagsPerEpoch).to.equal(4);
    expect(deliver(1)).to.deep.equal({ accepted: false, reason: "replay" });
    expect(() => exit.raiseReplayCap(0)).to.throw(RangeError);
    expect(() => exit.raiseReplayCap(2 ** 24 + 1)).to.throw(RangeError);
    // Later epochs start with the raised cap.
    exit.rotateEpoch(EPOCH + 1);
    expect(exit.maxTagsPerEpoch).to.equal(4);
  });

  it("an idle hop's replay cache holds no memory, a quiet one 256–512 B an epoch (city scale)", function () {
    // Regression (issue 14): every table started at 16 KiB, so 100,000 relays held 3.2 GB of empty
    // replay tables before a packet flowed; then at 1 KiB from the first tag (load ≤ 1/2), ≈ 1 kB
    // per simulated meter for the 24 tags a relay sees an interval on average (3 hops × K = 8).
    const cache = new ReplayCache(1);
    expect(cache.bytes).to.equal(0);
    const ss = new Uint8Array(32);
    expect(cache.has(ss, 1)).to.equal(false);
    expect(cache.bytes).to.equal(0);
    const insert = (i: number): void => {
      ss[0] = i;
      expect(cache.checkAndInsert(ss, 1)).to.equal(true);
    };
    for (let i = 0; i < 12; i++) insert(i);
    expect(cache.bytes).to.equal(16 * 16); // 12 tags at load ≤ 3/4
    insert(12);
    expect(cache.bytes).to.equal(32 * 16);
    for (let i = 13; i < 24; i++) insert(i);
    expect(cache.bytes).to.equal(32 * 16); // 24 tags: 512 B (was 1 KiB)
    insert(24);
    expect(cache.bytes).to.equal(64 * 16);
    for (let i = 25; i < 48; i++) insert(i);
    expect(cache.bytes).to.equal(64 * 16);
    insert(48);
    expect(cache.bytes).to.equal(128 * 16); // beyond 64 slots, load ≤ 1/2 again
    for (let i = 0; i <= 48; i++) {
      ss[0] = i;
      expect(cache.has(ss, 1), `tag ${i} after growth`).to.equal(true);
      expect(cache.checkAndInsert(ss, 1)).to.equal(false);
    }
    expect(cache.bytes).to.be.at.most(replayCacheMaxBytes(49));
    cache.rotate(2);
    cache.rotate(3); // epoch 1 forgotten, 2 and 3 empty
    expect(cache.bytes).to.equal(0);
  });
});
