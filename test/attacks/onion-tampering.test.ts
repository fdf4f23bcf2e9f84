// Threat model: an active adversary on a link (or a malicious relay) flips bits of an onion packet
// in flight, hoping the next hop forwards a modified packet (to tag it and recognise it later,
// Sphinx's "tagging attack", or to redirect it). DESIGN §4.6: every hop checks the HMAC over
// hop_payloads ‖ associated data before anything else, so any modified byte makes the next hop
// drop the packet, counted by reason; nothing modified is ever forwarded.
import { expect } from "chai";
import fc from "fast-check";

import { OnionError, OnionHmacError } from "../../offchain/onion/errors.ts";
import { OnionRelay } from "../../offchain/onion/relay.ts";
import { buildReportOnion, onionAssociatedData, peelAtRelay } from "../../offchain/onion/report.ts";
import { ONION_PACKET_SIZE, peelOnion } from "../../offchain/onion/sphinx.ts";
import { TEST_DOMAIN, testNode, testNodes } from "../onion/helpers.ts";

const relays = testNodes("tamper", 3);
const cc = testNode("cc", 0);
const ad = onionAssociatedData(TEST_DOMAIN, 1);
const { packet } = buildReportOnion(
  relays.map((r) => r.nodeId),
  cc.nodeId,
  new TextEncoder().encode("OCD report"),
  31337n,
  ad,
);
const peeledOnce = peelAtRelay(packet, relays[0].privateKey, ad);
if (peeledOnce.kind !== "forward") throw new Error("fixture: expected forward");
const secondLink = peeledOnce.packet;

const tamper = fc.record({
  index: fc.integer({ min: 0, max: ONION_PACKET_SIZE - 1 }),
  mask: fc.integer({ min: 1, max: 255 }),
});

describe("attack: onion packet tampering", function () {
  it("any modified byte on the first link is rejected by the first relay", function () {
    fc.assert(
      fc.property(tamper, ({ index, mask }) => {
        const bad = packet.slice();
        bad[index] ^= mask;
        // Version byte → version error; ephemeral key → key or HMAC error; the rest → HMAC error.
        const expected = index >= 34 ? OnionHmacError : OnionError;
        expect(() => peelOnion(bad, relays[0].privateKey, ad)).to.throw(expected);
      }),
      { numRuns: 300 },
    );
  });

  it("any modified byte on a later link is rejected by the next relay, which counts the drop", function () {
    fc.assert(
      fc.property(tamper, ({ index, mask }) => {
        const relay = new OnionRelay({
          privateKey: relays[1].privateKey,
          domain: TEST_DOMAIN,
          epoch: 1,
        });
        const bad = secondLink.slice();
        bad[index] ^= mask;
        const receipt = relay.receive(bad);
        expect(receipt.accepted).to.equal(false);
        if (index >= 34) expect(receipt).to.deep.equal({ accepted: false, reason: "hmac" });
        expect(relay.queued).to.equal(0);
        const dropped = Object.values(relay.counters().dropped).reduce((a, b) => a + b, 0);
        expect(dropped).to.equal(1);
      }),
      { numRuns: 200 },
    );
    // The untouched packet is accepted by the same relay: the rejections above are the tampering.
    const honest = new OnionRelay({
      privateKey: relays[1].privateKey,
      domain: TEST_DOMAIN,
      epoch: 1,
    });
    expect(honest.receive(secondLink)).to.deep.equal({ accepted: true, kind: "forward" });
  });

  it("a packet replayed into another epoch or deployment fails the HMAC", function () {
    for (const otherAd of [
      onionAssociatedData(TEST_DOMAIN, 9),
      onionAssociatedData(new Uint8Array(32), 1),
    ]) {
      expect(() => peelOnion(packet, relays[0].privateKey, otherAd)).to.throw(OnionHmacError);
    }
  });
});
