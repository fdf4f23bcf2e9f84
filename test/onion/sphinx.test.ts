import { expect } from "chai";
import fc from "fast-check";
import { chacha20 } from "@noble/ciphers/chacha.js";

import { bytesToHex, concatBytes, equalBytes } from "../../offchain/crypto/bytes.ts";
import { backends, secp } from "../../offchain/crypto/secp256k1.ts";
import {
  OnionError,
  OnionHmacError,
  OnionKeyError,
  OnionLengthError,
  OnionVersionError,
} from "../../offchain/onion/errors.ts";
import {
  buildOnion,
  chacha20Xor,
  HOP_PAYLOADS_SIZE,
  hopPayloadFootprint,
  ONION_PACKET_SIZE,
  peelOnion,
} from "../../offchain/onion/sphinx.ts";
import { encodeBigSize } from "../../offchain/onion/tlv.ts";
import { containsBytes, loadBoltVector, testNodes } from "./helpers.ts";

const vector = loadBoltVector();

describe("onion/sphinx", function () {
  describe("chacha20Xor", function () {
    it("equals @noble/ciphers chacha20 with a zero 96-bit nonce (RFC 8439, counter 0)", function () {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ maxLength: 2700 }),
          (key, data) => {
            const expected = chacha20(key, new Uint8Array(12), data);
            return equalBytes(chacha20Xor(key, data), expected);
          },
        ),
        { numRuns: 50 },
      );
    });
  });

  for (const backend of backends) {
    describe(`BOLT #4 variable-length vector (${backend.name})`, function () {
      it("the decode keys are the private keys of the generate pubkeys", function () {
        vector.decodeKeys.forEach((k, i) =>
          expect(bytesToHex(backend.mulBase(k, true))).to.equal(bytesToHex(vector.hops[i].pubkey)),
        );
      });

      it("buildOnion reproduces the vector's onion byte for byte", function () {
        const onion = buildOnion(
          {
            sessionKey: vector.sessionKey,
            hops: vector.hops,
            associatedData: vector.associatedData,
          },
          { backend },
        );
        expect(onion.length).to.equal(ONION_PACKET_SIZE);
        expect(bytesToHex(onion)).to.equal(bytesToHex(vector.onion));
      });

      it("peeling hop by hop yields every payload, 1366-byte packets, and a final null", function () {
        let packet: Uint8Array | null = vector.onion;
        const ephemeralKeys = new Set<string>();
        for (const [i, key] of vector.decodeKeys.entries()) {
          expect(packet, `packet for hop ${i}`).to.not.equal(null);
          expect(packet!.length).to.equal(ONION_PACKET_SIZE);
          ephemeralKeys.add(bytesToHex(packet!.subarray(1, 34)));
          const peeled = peelOnion(packet!, key, vector.associatedData, { backend });
          // Re-framing the payload gives back the vector's listed (length-prefixed) payload.
          const framed = concatBytes(encodeBigSize(peeled.payload.length), peeled.payload);
          expect(bytesToHex(framed)).to.equal(bytesToHex(vector.framedPayloads[i]));
          expect(peeled.next === null).to.equal(i === vector.decodeKeys.length - 1);
          packet = peeled.next;
        }
        // Blinding gives every hop a different ephemeral key.
        expect(ephemeralKeys.size).to.equal(vector.decodeKeys.length);
      });

      it("the packet hop 0 forwards authenticates with hop 1's key and no other", function () {
        // The file lists no intermediate packets; this pins them to the right recipient.
        const first = peelOnion(vector.onion, vector.decodeKeys[0], vector.associatedData, {
          backend,
        });
        for (const [j, key] of vector.decodeKeys.entries()) {
          const attempt = () => peelOnion(first.next!, key, vector.associatedData, { backend });
          if (j === 1) expect(attempt).to.not.throw();
          else expect(attempt).to.throw(OnionHmacError);
        }
      });
    });
  }

  describe("round trips", function () {
    const nodes = testNodes("sphinx", 5);

    it("every hop gets its payload and every packet is 1366 bytes (1..5 hops, any sizes)", function () {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 5 }).chain((n) =>
            fc.tuple(
              fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), {
                minLength: n,
                maxLength: n,
              }),
              fc.bigInt({ min: 1n, max: 2n ** 255n }),
              fc.uint8Array({ maxLength: 64 }),
            ),
          ),
          ([payloads, sessionKey, associatedData]) => {
            const hops = payloads.map((payload, i) => ({ pubkey: nodes[i].nodeId, payload }));
            let packet: Uint8Array | null = buildOnion({ sessionKey, hops, associatedData });
            for (const [i, hop] of hops.entries()) {
              expect(packet!.length).to.equal(ONION_PACKET_SIZE);
              const peeled = peelOnion(packet!, nodes[i].privateKey, associatedData);
              expect(bytesToHex(peeled.payload)).to.equal(bytesToHex(hop.payload));
              expect(peeled.next === null).to.equal(i === hops.length - 1);
              packet = peeled.next;
            }
          },
        ),
        { numRuns: 40 },
      );
    });

    it("payloads filling exactly 1300 bytes fit; one byte more is refused", function () {
      // 2 hops: footprint(p1) + footprint(p2) = 1300 with p1 = 100 bytes.
      const rest = HOP_PAYLOADS_SIZE - hopPayloadFootprint(100);
      let p2 = rest - 32 - 3;
      while (hopPayloadFootprint(p2) < rest) p2++;
      expect(hopPayloadFootprint(100) + hopPayloadFootprint(p2)).to.equal(HOP_PAYLOADS_SIZE);
      const hops = [
        { pubkey: nodes[0].nodeId, payload: new Uint8Array(100).fill(1) },
        { pubkey: nodes[1].nodeId, payload: new Uint8Array(p2).fill(2) },
      ];
      const packet = buildOnion({ sessionKey: 7n, hops, associatedData: new Uint8Array(0) });
      const last = peelOnion(packet, nodes[0].privateKey, new Uint8Array(0)).next!;
      expect(peelOnion(last, nodes[1].privateKey, new Uint8Array(0)).payload.length).to.equal(p2);
      const tooBig = [hops[0], { pubkey: nodes[1].nodeId, payload: new Uint8Array(p2 + 1) }];
      expect(() =>
        buildOnion({ sessionKey: 7n, hops: tooBig, associatedData: new Uint8Array(0) }),
      ).to.throw(RangeError, /^buildOnion:/);
    });

    it("rejects bad inputs at the boundary with the function's name", function () {
      const hop = { pubkey: nodes[0].nodeId, payload: Uint8Array.of(1) };
      const ad = new Uint8Array(0);
      expect(() => buildOnion({ sessionKey: 0n, hops: [hop], associatedData: ad })).to.throw(
        /^buildOnion/,
      );
      expect(() => buildOnion({ sessionKey: 1n, hops: [], associatedData: ad })).to.throw(
        /^buildOnion/,
      );
      expect(() =>
        buildOnion({
          sessionKey: 1n,
          hops: [{ pubkey: nodes[0].nodeId, payload: new Uint8Array(0) }],
          associatedData: ad,
        }),
      ).to.throw(/^buildOnion/);
      // The first x (with prefix 02) that is not on the curve: a definitely invalid pubkey.
      const badKey = new Uint8Array(33);
      badKey[0] = 2;
      for (let x = 1; x < 256; x++) {
        badKey[32] = x;
        if (!secp.isValidPoint(badKey)) break;
      }
      expect(secp.isValidPoint(badKey)).to.equal(false);
      expect(() =>
        buildOnion({
          sessionKey: 1n,
          hops: [{ pubkey: badKey, payload: Uint8Array.of(1) }],
          associatedData: ad,
        }),
      ).to.throw(/^buildOnion: hop 0 pubkey invalid/);
    });
  });

  describe("peel failures are typed", function () {
    const { onion, associatedData, decodeKeys } = vector;

    it("wrong associated data → OnionHmacError", function () {
      const wrong = associatedData.slice();
      wrong[0] ^= 1;
      expect(() => peelOnion(onion, decodeKeys[0], wrong)).to.throw(OnionHmacError);
    });

    it("wrong private key → OnionHmacError", function () {
      expect(() => peelOnion(onion, decodeKeys[1], associatedData)).to.throw(OnionHmacError);
    });

    it("wrong length → OnionLengthError, version ≠ 0 → OnionVersionError", function () {
      expect(() => peelOnion(onion.subarray(1), decodeKeys[0], associatedData)).to.throw(
        OnionLengthError,
      );
      expect(() =>
        peelOnion(concatBytes(onion, Uint8Array.of(0)), decodeKeys[0], associatedData),
      ).to.throw(OnionLengthError);
      const v1 = onion.slice();
      v1[0] = 1;
      expect(() => peelOnion(v1, decodeKeys[0], associatedData)).to.throw(OnionVersionError);
    });

    it("an ephemeral key that is not a point → OnionKeyError", function () {
      const bad = onion.slice();
      bad[1] = 0x04; // not a compressed-point prefix
      expect(() => peelOnion(bad, decodeKeys[0], associatedData)).to.throw(OnionKeyError);
      const err = (() => {
        try {
          peelOnion(bad, decodeKeys[0], associatedData);
        } catch (e) {
          return e;
        }
      })();
      expect(err).to.be.instanceOf(OnionError).and.have.property("reason", "key");
    });

    it("peeling the forwarded packet again with the same key fails (a hop sees one layer)", function () {
      const { next } = peelOnion(onion, decodeKeys[0], associatedData);
      expect(() => peelOnion(next!, decodeKeys[0], associatedData)).to.throw(OnionHmacError);
    });

    it("a hop's decrypted view does not contain later hops' payloads", function () {
      const nodes = testNodes("view", 4);
      const markers = [1, 2, 3].map((h) => new Uint8Array(48).fill(0xa0 + h));
      const hops = [
        { pubkey: nodes[0].nodeId, payload: Uint8Array.of(9, 9, 9) },
        ...markers.map((payload, i) => ({ pubkey: nodes[i + 1].nodeId, payload })),
      ];
      const packet = buildOnion({ sessionKey: 99n, hops, associatedData });
      const first = peelOnion(packet, nodes[0].privateKey, associatedData);
      // Everything hop 0 obtains by decrypting is its payload plus the forwarded packet.
      for (const m of markers) {
        expect(containsBytes(first.next!, m)).to.equal(false);
        expect(containsBytes(packet, m)).to.equal(false);
      }
      // …whereas the marker does appear once its own hop peels.
      const second = peelOnion(first.next!, nodes[1].privateKey, associatedData);
      expect(equalBytes(second.payload, markers[0])).to.equal(true);
    });
  });
});
