// The online TA service's desk (offchain/ta/service.ts; DESIGN §4.7 "Dropouts"): from round
// material only it gives exactly the simulator TA's correction, under the same rules (minimum
// reporters, once per round with rounds increasing, material of that round only), and a restart
// from its store never reveals a second set for a round.
import { expect } from "chai";

import { BBNP_ORDER } from "../../offchain/protocol/bbnp/params.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { CorrectionRefusedError, TrustedAuthority } from "../../offchain/ta/authority.ts";
import { TaCorrectionDesk, type TaDeskStore } from "../../offchain/ta/service.ts";
import { scalarBytes } from "../../offchain/node/roles/bbnp-setup.ts";

const N = 12;
const R = 4;

function setup() {
  const rng = createRng("ta-service-test");
  const ta = new TrustedAuthority(
    { userCount: N, neighbours: 4, maxReading: 1_000_000n, minReporters: 8 },
    {
      randomScalar: () => rng.nextBigInt(BBNP_ORDER - 1n) + 1n,
      randomBytes: (k) => rng.bytes(k),
    },
  );
  const keys = ta.setup();
  const material = new Uint8Array(32 * N * R);
  for (let t = 1; t <= R; t++) {
    ta.roundBlindings(0, BigInt(t)).forEach((b, i) =>
      material.set(scalarBytes(b), 32 * ((t - 1) * N + i)),
    );
  }
  return { ta, keys, material };
}

function memoryStore(): TaDeskStore & { data: Map<string, Uint8Array> } {
  const data = new Map<string, Uint8Array>();
  return {
    data,
    get: (ns, key) => data.get(`${ns}/${key}`),
    put: (ns, key, value) => void data.set(`${ns}/${key}`, value),
  };
}

const refused = (f: () => unknown, reason: string) => {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(CorrectionRefusedError);
    expect((e as CorrectionRefusedError).reason).to.equal(reason);
    return;
  }
  expect.fail(`expected a refusal (${reason})`);
};

describe("TA service desk: dropout corrections from round material only", () => {
  it("equals TrustedAuthority.dropoutCorrection for the same (t, D)", () => {
    const { ta, keys, material } = setup();
    const desk = new TaCorrectionDesk(
      { userCount: N, minReporters: keys.params.minReporters, rounds: R, material },
      memoryStore(),
    );
    for (const [t, d] of [
      [1n, [3]],
      [2n, [0, 11]],
      [4n, [1, 2, 5, 7]],
    ] as const) {
      expect(desk.correct({ round: t, missing: d })).to.equal(ta.dropoutCorrection(0, t, d));
    }
  });

  it("refuses too few reporters, a second set for a round, an earlier round, unknown rounds and bad sets", () => {
    const { keys, material } = setup();
    const desk = new TaCorrectionDesk(
      { userCount: N, minReporters: keys.params.minReporters, rounds: R, material },
      memoryStore(),
    );
    const tooMany = Array.from({ length: N - keys.params.minReporters + 1 }, (_, i) => i);
    refused(() => desk.correct({ round: 1n, missing: tooMany }), "too-few-reporters");
    refused(() => desk.correct({ round: 1n, missing: [] }), "bad-set");
    refused(() => desk.correct({ round: 1n, missing: [N] }), "bad-set");
    refused(() => desk.correct({ round: 1n, missing: [2, 2] }), "bad-set");
    refused(() => desk.correct({ round: BigInt(R + 1), missing: [1] }), "unknown-round");
    refused(() => desk.correct({ round: 0n, missing: [1] }), "unknown-round");
    const c = desk.correct({ round: 2n, missing: [4, 9] });
    // The same request again (a lost answer): the same value, nothing new revealed.
    expect(desk.correct({ round: 2n, missing: [4, 9] })).to.equal(c);
    refused(() => desk.correct({ round: 2n, missing: [4] }), "already-issued");
    refused(() => desk.correct({ round: 1n, missing: [4] }), "already-issued");
    expect(desk.lastRevealed()).to.deep.equal({ round: 2n, missing: [4, 9], correction: c });
  });

  it("a restarted desk (same store) never reveals a second set for a round", () => {
    const { keys, material } = setup();
    const store = memoryStore();
    const init = { userCount: N, minReporters: keys.params.minReporters, rounds: R, material };
    const c = new TaCorrectionDesk(init, store).correct({ round: 3n, missing: [1] });
    const restarted = new TaCorrectionDesk(init, store);
    refused(() => restarted.correct({ round: 3n, missing: [1, 2] }), "already-issued");
    expect(restarted.correct({ round: 3n, missing: [1] })).to.equal(c);
    // A fresh store would have answered: the refusal comes from what was persisted.
    expect(() =>
      new TaCorrectionDesk(init, memoryStore()).correct({ round: 3n, missing: [1, 2] }),
    ).to.not.throw();
  });

  it("refuses material of the wrong size", () => {
    const { keys, material } = setup();
    expect(
      () =>
        new TaCorrectionDesk(
          { userCount: N, minReporters: keys.params.minReporters, rounds: R + 1, material },
          memoryStore(),
        ),
    ).to.throw(RangeError, /32·R·N/);
  });
});
