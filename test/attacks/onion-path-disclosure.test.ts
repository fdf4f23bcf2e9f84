// Threat model: honest-but-curious relays (other meters, Oksuz §4) and link observers try to learn
// where a packet is on its path (hop position reveals who the sender is when a relay is first) or
// anything about the path beyond the next hop. DESIGN §4.6 / Oksuz gap "variable-size onion layers
// reveal hop position": every packet is 1366 bytes whatever the path length and message size; a
// relay's decrypted view holds only its own instruction and an opaque packet for the next hop;
// blinding gives every hop an unrelated-looking ephemeral key.
import { expect } from "chai";
import fc from "fast-check";

import { bytesToHex } from "../../offchain/crypto/bytes.ts";
import { OnionHmacError } from "../../offchain/onion/errors.ts";
import {
  buildReportOnion,
  maxReportMessageSize,
  onionAssociatedData,
  peelAtRelay,
} from "../../offchain/onion/report.ts";
import { ONION_PACKET_SIZE, peelOnion } from "../../offchain/onion/sphinx.ts";
import { containsBytes, TEST_DOMAIN, testNode, testNodes } from "../onion/helpers.ts";

const relays = testNodes("disclosure", 5);
const cc = testNode("cc", 0);
const ad = onionAssociatedData(TEST_DOMAIN, 1);

describe("attack: onion path disclosure", function () {
  it("all links carry 1366 bytes for any path length and message size", function () {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: maxReportMessageSize(5) }),
        (n, size) => {
          let { packet } = buildReportOnion(
            relays.slice(0, n).map((r) => r.nodeId),
            cc.nodeId,
            new Uint8Array(size).fill(1),
            BigInt(n * 1000 + size),
            ad,
          );
          const seen = [packet.length];
          for (const r of relays.slice(0, n)) {
            const peel = peelAtRelay(packet, r.privateKey, ad);
            if (peel.kind !== "forward") throw new Error("expected forward");
            packet = peel.packet;
            seen.push(packet.length);
          }
          expect(seen.every((l) => l === ONION_PACKET_SIZE)).to.equal(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("a relay learns its next hop but neither the hops after it nor the message", function () {
    const message = new TextEncoder().encode("meter 17: 1234 Wh in interval 42");
    const path = relays.slice(0, 3);
    const { packet } = buildReportOnion(
      path.map((r) => r.nodeId),
      cc.nodeId,
      message,
      4242n,
      ad,
    );
    const peel = peelAtRelay(packet, path[0].privateKey, ad);
    if (peel.kind !== "forward") throw new Error("expected forward");
    expect(bytesToHex(peel.nextNodeId)).to.equal(bytesToHex(path[1].nodeId));
    for (const hidden of [path[2].nodeId, cc.nodeId, message]) {
      expect(containsBytes(peel.packet, hidden)).to.equal(false);
    }
    // Its key opens nothing more of what it forwards.
    expect(() => peelOnion(peel.packet, path[0].privateKey, ad)).to.throw(OnionHmacError);
  });

  it("consecutive hops see different ephemeral keys (blinding)", function () {
    let { packet } = buildReportOnion(
      relays.slice(0, 3).map((r) => r.nodeId),
      cc.nodeId,
      Uint8Array.of(1),
      777n,
      ad,
    );
    const keys = new Set([bytesToHex(packet.subarray(1, 34))]);
    for (const r of relays.slice(0, 3)) {
      const peel = peelAtRelay(packet, r.privateKey, ad);
      if (peel.kind !== "forward") throw new Error("expected forward");
      packet = peel.packet;
      keys.add(bytesToHex(packet.subarray(1, 34)));
    }
    expect(keys.size).to.equal(4);
  });
});
