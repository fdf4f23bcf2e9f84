import { expect } from "chai";
import fc from "fast-check";

import { EciesError, eciesDecrypt, eciesEncrypt } from "../../offchain/crypto/ecies.ts";
import { backends, CURVE_ORDER } from "../../offchain/crypto/secp256k1.ts";

const scalar = fc.bigInt({ min: 1n, max: CURVE_ORDER - 1n });

describe("ECIES (meter key set-up)", () => {
  for (const backend of backends) {
    describe(`backend ${backend.name}`, () => {
      it("round-trips any plaintext and binds the context", () => {
        fc.assert(
          fc.property(scalar, scalar, fc.uint8Array({ maxLength: 96 }), (sk, e, plaintext) => {
            const pk = backend.mulBase(sk, true);
            const context = new Uint8Array([1, 2, 3]);
            const box = eciesEncrypt(pk, plaintext, e, context, backend);
            expect(box.length).to.equal(33 + plaintext.length + 16);
            expect(eciesDecrypt(sk, box, context, backend)).to.deep.equal(plaintext);
            expect(() => eciesDecrypt(sk, box, new Uint8Array([9]), backend)).to.throw(EciesError);
          }),
          { numRuns: 20 },
        );
      });
    });
  }

  it("rejects any altered byte and a wrong recipient key", () => {
    const sk = 0x1234n;
    const pk = backends[0].mulBase(sk, true);
    const box = eciesEncrypt(pk, new Uint8Array(32).fill(7), 0x55n);
    fc.assert(
      fc.property(
        fc.integer({ min: 33, max: box.length - 1 }),
        fc.integer({ min: 0, max: 7 }),
        (i, bit) => {
          const altered = box.slice();
          altered[i] ^= 1 << bit;
          expect(() => eciesDecrypt(sk, altered)).to.throw(EciesError);
        },
      ),
      { numRuns: 50 },
    );
    expect(() => eciesDecrypt(sk + 1n, box)).to.throw(EciesError);
    expect(() => eciesDecrypt(sk, box.subarray(0, 40))).to.throw(EciesError, /too short/);
  });

  it("uses a fresh ephemeral key per box", () => {
    const pk = backends[0].mulBase(99n, true);
    const m = new Uint8Array(32);
    expect(eciesEncrypt(pk, m, 5n)).to.not.deep.equal(eciesEncrypt(pk, m, 6n));
  });
});
