// The meter fleet's durable state (offchain/node/roles/meters.ts `DurableMeter`; issue 11 item "a
// killed meter-fleet process resumes exactly"): a meter rebuilt on the same store after a crash
// re-signs, byte for byte, the entries of the interval it had reported (the interval under way
// when it died, announced again by CC), and continues the next interval from the stored carry —
// where a fresh meter (carry 0) would report other values under the same pseudonyms.
import { expect } from "chai";

import { meterKeysFromSecret } from "../../offchain/crypto/keys.ts";
import { sha256 } from "../../offchain/crypto/hash.ts";
import { Meter, MeterError, type MeterInit } from "../../offchain/meter/meter.ts";
import { DurableMeter } from "../../offchain/node/roles/meters.ts";
import { decodeWire } from "../../offchain/protocol/wire/index.ts";
import { Store } from "../../offchain/runtime/store.ts";
import { CATEGORIES, ccKeys, DOMAIN, seedScalar, WINDOW } from "../roles/fixtures.ts";

function init(index: number): MeterInit {
  return {
    index,
    keys: meterKeysFromSecret(
      seedScalar(`meter-${index}`),
      sha256(new TextEncoder().encode(`K-${index}`)),
    ),
    ccPublicKey: ccKeys().publicKey,
    domain: DOMAIN,
    categories: CATEGORIES,
  };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const entries = (r: {
  entries: readonly { id: Uint8Array; value: bigint; signature: unknown }[];
}) =>
  r.entries.map((e) => [
    hex(e.id),
    e.value,
    JSON.stringify(e.signature, (_k, v) =>
      typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? hex(v) : v,
    ),
  ]);

describe("meter fleet: durable carry", () => {
  it("a meter rebuilt on its store re-signs the interval under way and continues from the carry", () => {
    const store = Store.open({ path: ":memory:" });
    try {
      const ts = WINDOW.end - 1n;
      // 1234 Wh leaves 34 Wh of carry (below c1 = 100): with it, 70 Wh in interval 2 fill one 100 Wh
      // chunk; without it (a fresh meter) they fill none.
      const first = new DurableMeter(init(3), store);
      const r1 = first.reportInterval(1, 1234n, ts);
      const r2 = first.reportInterval(2, 70n, ts);
      expect(r1.carryOutWh).to.be.greaterThan(0n);
      expect(r2.carryInWh).to.equal(r1.carryOutWh);
      const r3 = first.reportInterval(3, 505n, ts);

      // Crash inside interval 2 (reported): the rebuilt meter signs interval 2 again, identically.
      const again = new DurableMeter(init(3), store);
      const r2b = again.reportInterval(2, 70n, ts);
      expect(r2b.carryInWh).to.equal(r1.carryOutWh);
      expect(entries(r2b)).to.deep.equal(entries(r2));
      // ... and interval 3 as before.
      expect(entries(again.reportInterval(3, 505n, ts))).to.deep.equal(entries(r3));

      // Crash between intervals: the next interval starts from the stored carry-out.
      const next = new DurableMeter(init(3), store);
      const r4 = next.reportInterval(4, 300n, ts);
      expect(r4.carryInWh).to.equal(r3.carryOutWh);

      // The user batch of each interval is stored with it (handed to a user that lacks it).
      const batch = store.get("fleet", "batch/3/2");
      const m = decodeWire(batch!);
      expect(m.type === "userBatch" && m.interval).to.equal(2);

      // Without the store a fresh meter re-reports interval 2 from carry 0: other values under
      // the same pseudonyms (what the durable state prevents).
      const fresh = new Meter(init(3)).reportInterval(2, 70n, ts);
      expect(fresh.carryInWh).to.equal(0n);
      expect(entries(fresh)).to.not.deep.equal(entries(r2));
    } finally {
      store.close();
    }
  });

  it("Meter.resumeAt refuses a non-positive interval and a negative carry", () => {
    const m = new Meter(init(1));
    expect(() => m.resumeAt(0, 0n)).to.throw(MeterError);
    expect(() => m.resumeAt(2, -1n)).to.throw(MeterError);
  });
});
