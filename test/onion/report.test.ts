import { expect } from "chai";
import fc from "fast-check";

import { bytesToHex, equalBytes } from "../../offchain/crypto/bytes.ts";
import { OnionPayloadError } from "../../offchain/onion/errors.ts";
import { seededRandom, shuffle, uniformInt } from "../../offchain/onion/random.ts";
import {
  buildReportOnion,
  decodeHopPayload,
  encodeHopPayload,
  FORWARD_HOP_FOOTPRINT,
  makeCoverPacket,
  maxReportMessageSize,
  onionAssociatedData,
  peelAtCC,
  peelAtRelay,
  selectRelayPath,
} from "../../offchain/onion/report.ts";
import { buildOnion, HOP_PAYLOADS_SIZE, ONION_PACKET_SIZE } from "../../offchain/onion/sphinx.ts";
import { encodeTlvStream } from "../../offchain/onion/tlv.ts";
import { TEST_DOMAIN, testNode, testNodes } from "./helpers.ts";

const relays = testNodes("relay", 6);
const cc = testNode("cc", 0);
const ad = onionAssociatedData(TEST_DOMAIN, 1);
const seed = (n: number) => new Uint8Array(32).fill(n);

describe("onion/report", function () {
  describe("hop payload TLV", function () {
    it("round-trips each instruction kind", function () {
      const instructions = [
        { kind: "forward", nextNodeId: relays[0].nodeId },
        { kind: "deliver", message: Uint8Array.of(1, 2, 3) },
        { kind: "loop", loopTag: new Uint8Array(16).fill(5) },
      ] as const;
      for (const ins of instructions) {
        expect(decodeHopPayload(encodeHopPayload(ins))).to.deep.equal(ins);
      }
    });

    it("forward payload is type 2, length 33, node id; footprint 68 bytes", function () {
      const enc = encodeHopPayload({ kind: "forward", nextNodeId: relays[0].nodeId });
      expect(bytesToHex(enc)).to.equal("0221" + bytesToHex(relays[0].nodeId));
      expect(FORWARD_HOP_FOOTPRINT).to.equal(1 + enc.length + 32);
    });

    it("ignores unknown odd types, rejects unknown even types and ambiguous payloads", function () {
      const fwd = { type: 2n, value: relays[0].nodeId };
      expect(
        decodeHopPayload(encodeTlvStream([fwd, { type: 7n, value: Uint8Array.of(1) }])),
      ).to.deep.equal({ kind: "forward", nextNodeId: relays[0].nodeId });
      expect(() =>
        decodeHopPayload(encodeTlvStream([fwd, { type: 8n, value: Uint8Array.of(1) }])),
      ).to.throw(OnionPayloadError, /unknown even/);
      expect(() =>
        decodeHopPayload(encodeTlvStream([fwd, { type: 4n, value: Uint8Array.of(1) }])),
      ).to.throw(OnionPayloadError, /one instruction/);
      expect(() =>
        decodeHopPayload(encodeTlvStream([{ type: 1n, value: new Uint8Array(1) }])),
      ).to.throw(OnionPayloadError, /one instruction/);
      expect(() =>
        decodeHopPayload(encodeTlvStream([{ type: 2n, value: new Uint8Array(32) }])),
      ).to.throw(OnionPayloadError, /33-byte/);
      expect(() => decodeHopPayload(Uint8Array.of(2, 5, 1))).to.throw(OnionPayloadError);
    });
  });

  describe("report onions", function () {
    it("meter → 3 relays → CC: each relay learns its next hop, CC the message", function () {
      const path = relays.slice(0, 3);
      const message = new TextEncoder().encode("signed OCD entry");
      const { firstHop, packet } = buildReportOnion(
        path.map((r) => r.nodeId),
        cc.nodeId,
        message,
        12345n,
        ad,
      );
      expect(equalBytes(firstHop, path[0].nodeId)).to.equal(true);
      let current = packet;
      for (const [i, relay] of path.entries()) {
        expect(current.length).to.equal(ONION_PACKET_SIZE);
        const peel = peelAtRelay(current, relay.privateKey, ad);
        if (peel.kind !== "forward") throw new Error("expected forward");
        const expectedNext = i + 1 < path.length ? path[i + 1].nodeId : cc.nodeId;
        expect(bytesToHex(peel.nextNodeId)).to.equal(bytesToHex(expectedNext));
        current = peel.packet;
      }
      expect(bytesToHex(peelAtCC(current, cc.privateKey, ad).message)).to.equal(
        bytesToHex(message),
      );
    });

    it("every link carries 1366 bytes for 1..5 relays and any message size", function () {
      fc.assert(
        fc.property(
          fc
            .integer({ min: 1, max: 5 })
            .chain((n) =>
              fc.tuple(
                fc.constant(n),
                fc.integer({ min: 1, max: maxReportMessageSize(n) }),
                fc.bigInt({ min: 1n, max: 2n ** 250n }),
              ),
            ),
          ([n, size, sessionKey]) => {
            const path = relays.slice(0, n);
            const message = new Uint8Array(size).fill(0x5a);
            let { packet } = buildReportOnion(
              path.map((r) => r.nodeId),
              cc.nodeId,
              message,
              sessionKey,
              ad,
            );
            for (const relay of path) {
              expect(packet.length).to.equal(ONION_PACKET_SIZE);
              const peel = peelAtRelay(packet, relay.privateKey, ad);
              if (peel.kind !== "forward") throw new Error("expected forward");
              packet = peel.packet;
            }
            expect(packet.length).to.equal(ONION_PACKET_SIZE);
            expect(peelAtCC(packet, cc.privateKey, ad).message.length).to.equal(size);
          },
        ),
        { numRuns: 30 },
      );
    });

    it("maxReportMessageSize is tight: the limit fills 1300 bytes exactly, one more overflows", function () {
      for (let n = 1; n <= 5; n++) {
        const limit = maxReportMessageSize(n);
        const path = relays.slice(0, n).map((r) => r.nodeId);
        expect(() =>
          buildReportOnion(path, cc.nodeId, new Uint8Array(limit), 1n, ad),
        ).to.not.throw();
        expect(() => buildReportOnion(path, cc.nodeId, new Uint8Array(limit + 1), 1n, ad)).to.throw(
          RangeError,
          /^buildReportOnion/,
        );
        // Independently of the helper's own check: raw Sphinx refuses limit + 1.
        const hops = [...path, cc.nodeId].map((pubkey, i, all) => ({
          pubkey,
          payload: encodeHopPayload(
            i < n
              ? { kind: "forward", nextNodeId: all[i + 1] }
              : { kind: "deliver", message: new Uint8Array(limit + 1) },
          ),
        }));
        expect(() => buildOnion({ sessionKey: 1n, hops, associatedData: ad })).to.throw(RangeError);
      }
      // The documented figure for DESIGN's default path (docs/ONION.md).
      expect(maxReportMessageSize()).to.equal(1057);
      expect(HOP_PAYLOADS_SIZE - 3 * FORWARD_HOP_FOOTPRINT - 32 - 3 - 1 - 3).to.equal(1057);
    });

    it("a relay cannot take the CC's layer and the CC cannot take a relay's", function () {
      const path = relays.slice(0, 1);
      const { packet } = buildReportOnion([path[0].nodeId], cc.nodeId, Uint8Array.of(1), 5n, ad);
      expect(() => peelAtCC(packet, path[0].privateKey, ad)).to.throw(OnionPayloadError, /final/);
      const peel = peelAtRelay(packet, path[0].privateKey, ad);
      if (peel.kind !== "forward") throw new Error("expected forward");
      expect(() => peelAtRelay(peel.packet, cc.privateKey, ad)).to.throw(
        OnionPayloadError,
        /OCD message addressed to a relay/,
      );
    });

    it("cover packets loop back to their sender with the tag", function () {
      const self = relays[5];
      const path = relays.slice(0, 3);
      const tag = new Uint8Array(16).fill(0x77);
      let { packet } = makeCoverPacket(
        self.nodeId,
        path.map((r) => r.nodeId),
        tag,
        77n,
        ad,
      );
      for (const relay of path) {
        const peel = peelAtRelay(packet, relay.privateKey, ad);
        if (peel.kind !== "forward") throw new Error("expected forward");
        packet = peel.packet;
      }
      const home = peelAtRelay(packet, self.privateKey, ad);
      expect(home.kind).to.equal("loop");
      if (home.kind === "loop") expect(bytesToHex(home.loopTag)).to.equal(bytesToHex(tag));
    });

    it("the associated data binds the epoch and the deployment", function () {
      expect(bytesToHex(onionAssociatedData(TEST_DOMAIN, 1))).to.not.equal(
        bytesToHex(onionAssociatedData(TEST_DOMAIN, 2)),
      );
      expect(bytesToHex(onionAssociatedData(TEST_DOMAIN, 1))).to.not.equal(
        bytesToHex(onionAssociatedData(new Uint8Array(32), 1)),
      );
      expect(() => onionAssociatedData(new Uint8Array(31), 1)).to.throw(/^onionAssociatedData/);
    });
  });

  describe("injected randomness", function () {
    it("shuffle returns a permutation, deterministic given the randomness", function () {
      const items = Array.from({ length: 20 }, (_, i) => i);
      const a = shuffle(items, seededRandom(seed(1)));
      const b = shuffle(items, seededRandom(seed(1)));
      const c = shuffle(items, seededRandom(seed(2)));
      expect(a).to.deep.equal(b);
      expect(a).to.not.deep.equal(c);
      expect(a).to.not.deep.equal(items);
      expect([...a].sort((x, y) => x - y)).to.deep.equal(items);
      expect(items).to.deep.equal(Array.from({ length: 20 }, (_, i) => i)); // input untouched
    });

    it("shuffle is uniform over the 6 orders of 3 items (loose bound)", function () {
      const counts = new Map<string, number>();
      const random = seededRandom(seed(3));
      const runs = 6000;
      for (let i = 0; i < runs; i++) {
        const key = shuffle([0, 1, 2], random).join("");
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      expect(counts.size).to.equal(6);
      // Each ≈ 1000 with σ ≈ 29: ±200 is ≈ 7σ, so this fails only for a biased shuffle.
      for (const c of counts.values()) expect(c).to.be.within(800, 1200);
    });

    it("uniformInt stays in range and rejects bad bounds", function () {
      const random = seededRandom(seed(4));
      for (let i = 0; i < 1000; i++) expect(uniformInt(7, random)).to.be.within(0, 6);
      expect(() => uniformInt(0, random)).to.throw(/^uniformInt/);
    });

    it("selectRelayPath draws distinct relays, never the excluded ones", function () {
      const directory = relays.map((r) => r.nodeId);
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (s) => {
          const path = selectRelayPath(directory, 3, seededRandom(s), [directory[0]]);
          const hex = path.map(bytesToHex);
          expect(new Set(hex).size).to.equal(3);
          expect(hex).to.not.include(bytesToHex(directory[0]));
        }),
        { numRuns: 50 },
      );
      expect(() => selectRelayPath(directory, 6, seededRandom(seed(5)), [directory[0]])).to.throw(
        /^selectRelayPath/,
      );
    });
  });
});
