// The gateway's round journal (offchain/gateway/journal.ts; issue 11 "--kill gateway@2"): a gateway
// stopped inside a recovery resumes the round from its journal on a MemoryNetwork with a
// VirtualClock. The decisive case: a neighbour silent in pass 1 (so dropped, and its own neighbours
// asked in pass 2) is back when the gateway restarts. Redoing the round would count it and ask
// other masks: a second, different recovery of one round. The resumed gateway keeps the journalled
// decision (the neighbour stays dropped and is never asked to reveal), runs pass 2 only and signs
// the sum of the users counted by that decision. A complete journal is published again without a
// single message to the users, a journal that does not replay is refused, and the codec is strict.
import { expect } from "chai";

import { BbnpUserAgent } from "../../offchain/bbnp-user/agent.ts";
import { BbnpUser } from "../../offchain/bbnp-user/user.ts";
import { GatewayAgent, type GatewayLedgerClient } from "../../offchain/gateway/agent.ts";
import {
  decodeJournalEntry,
  encodeJournalEntry,
  GatewayJournalError,
  type GatewayJournalEntry,
} from "../../offchain/gateway/journal.ts";
import { BBNP_ORDER } from "../../offchain/protocol/bbnp/params.ts";
import { VirtualClock } from "../../offchain/runtime/clock.ts";
import { MemoryNetwork, type MemoryEndpoint } from "../../offchain/runtime/network.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { TrustedAuthority } from "../../offchain/ta/authority.ts";
import { drive } from "../helpers/drive.ts";

const DOMAIN = new Uint8Array(32).fill(9);
const USERS = 10;
const ABSENT = 3;

function world() {
  const rng = createRng("gateway-journal-test");
  const ta = new TrustedAuthority(
    { userCount: USERS, neighbours: 2, maxReading: 10_000n, minReporters: 3 },
    {
      randomScalar: () => rng.nextBigInt(BBNP_ORDER - 1n) + 1n,
      randomBytes: (k) => rng.bytes(k),
    },
  );
  const keys = ta.setup();
  const clock = new VirtualClock();
  const network = new MemoryNetwork(
    { latency: { baseMs: 5, jitterMs: 10 } },
    { clock, rng: rng.fork("net") },
  );
  const readings = Array.from({ length: USERS }, (_, i) => BigInt(200 + 31 * i));
  const users = readings.map(
    (w, i) =>
      new BbnpUserAgent(
        { params: keys.params, userId: i, secret: keys.userSecrets[i] },
        {
          transport: network.endpoint(`bbnp-user-${i}`),
          reading: () => (i === ABSENT ? undefined : w),
        },
      ),
  );
  const recorded: { round: bigint; sum: bigint; reporters: number; sig: Uint8Array }[] = [];
  const ledger: GatewayLedgerClient = {
    async recordRound(round, sum, reporters, signature) {
      recorded.push({ round, sum, reporters, sig: signature });
      return { sum, gasUsed: 1n };
    },
    async headDigest() {
      return new Uint8Array(32);
    },
  };
  const endpoint = network.endpoint("gateway");
  const gateway = (journal: (e: GatewayJournalEntry) => void, transport: MemoryEndpoint) =>
    new GatewayAgent(
      { params: keys.params, secret: keys.gatewaySecret, domain: DOMAIN, mode: "gateway" },
      {
        transport,
        clock,
        ledger,
        ta: {
          blinding: (t) => ta.gatewayBlinding(0, t),
          correction: (t, d) => ta.dropoutCorrection(0, t, d),
        },
        journal: { append: (_round, e) => journal(e) },
      },
    );
  // The round's graph is public: the absent user's neighbours.
  const graph = new BbnpUser({ params: keys.params, userId: 0, secret: keys.userSecrets[0] }).graph(
    1n,
  );
  return { clock, network, readings, users, recorded, gateway, endpoint, graph };
}

describe("gateway round journal: resume without a second recovery", function () {
  this.timeout(120_000);

  it("a neighbour silent in pass 1 stays dropped after the restart even though it is back; pass 2 is resumed", async () => {
    const w = world();
    for (const u of w.users) await u.start();
    const silent = w.graph.neighboursOf(ABSENT)[0];
    const journal: GatewayJournalEntry[] = [];
    // Process A: the neighbour goes silent once collection has closed (its report counted); A is
    // stopped right after pass 1 is journalled (the neighbour is back by then).
    const a = w.gateway((e) => {
      journal.push(e);
      if (e.kind === "closed") w.network.crash(`bbnp-user-${silent}`);
      if (e.kind === "pass") {
        w.network.recover(`bbnp-user-${silent}`);
        void a.stop();
      }
    }, w.endpoint);
    await a.start();
    const first = await drive(w.clock, a.runRound(1n));
    expect(first.aborted, "a stop is not journalled as an abort").to.equal("caller");
    expect(journal.map((e) => e.kind)).to.deep.equal(["closed", "pass"]);
    const closed = journal[0] as Extract<GatewayJournalEntry, { kind: "closed" }>;
    expect(closed.reports.map((r) => r.userId)).to.not.include(ABSENT);
    expect(closed.reports.map((r) => r.userId)).to.include(silent);
    expect(w.users[silent].lastRound?.revealed).to.equal(0);

    // Process B resumes from the journal.
    const b = w.gateway((e) => journal.push(e), w.endpoint);
    await b.start();
    const resumed = await drive(w.clock, b.runRound(1n, [...journal]));
    expect(resumed.aborted).to.equal(undefined);
    expect(resumed.signed!.missing).to.deep.equal([ABSENT, silent].sort((x, y) => x - y));
    expect(resumed.signed!.excluded).to.deep.equal([silent]);
    expect(resumed.signed!.passes).to.equal(2);
    // The neighbour, reachable again, was never asked for its mask with the absent user.
    expect(w.users[silent].lastRound?.revealed, "pass 1 not redone").to.equal(0);
    const truth = w.readings.reduce((s, x, i) => (i === ABSENT || i === silent ? s : s + x), 0n);
    expect(w.recorded.map((r) => r.sum)).to.deep.equal([truth]);
    expect(w.recorded[0].reporters).to.equal(USERS - 2);
    expect(journal.map((e) => e.kind)).to.deep.equal([
      "closed",
      "pass",
      "pass",
      "correction",
      "signed",
    ]);

    // A third process with the whole journal publishes the same statement again and sends the
    // users nothing (no announcement, no reveal request).
    await b.stop();
    const sentBefore = w.network.stats().sent;
    const c = w.gateway((e) => journal.push(e), w.endpoint);
    await c.start();
    const again = await drive(w.clock, c.runRound(1n, [...journal]));
    expect(w.network.stats().sent).to.equal(sentBefore);
    expect(again.signed!.sum).to.equal(truth);
    expect(w.recorded.length).to.equal(2);
    expect(Buffer.from(w.recorded[1].sig)).to.deep.equal(Buffer.from(w.recorded[0].sig));
    expect(journal.length, "nothing journalled twice").to.equal(5);
    await c.stop();

    // A journal that signs another sum does not replay.
    const forged = journal.map((e) =>
      e.kind === "signed" ? { ...e, signed: { ...e.signed, sum: e.signed.sum + 1n } } : e,
    );
    const d = w.gateway(() => {}, w.endpoint);
    await d.start();
    let error: unknown;
    await drive(w.clock, d.runRound(1n, forged)).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(GatewayJournalError);
    expect(w.recorded.length, "nothing published from a bad journal").to.equal(2);
    await d.stop();
    for (const u of w.users) await u.stop();
  });

  it("a journalled abort is final: replayed, nothing is announced or signed", async () => {
    const w = world();
    const g = w.gateway(() => {}, w.endpoint);
    await g.start();
    const sentBefore = w.network.stats().sent;
    const out = await drive(
      w.clock,
      g.runRound(1n, [
        { kind: "closed", reports: [] },
        { kind: "aborted", reason: "too-few-reporters" },
      ]),
    );
    expect(out.aborted).to.equal("too-few-reporters");
    expect(w.network.stats().sent).to.equal(sentBefore);
    expect(w.recorded).to.deep.equal([]);
    await g.stop();
  });

  it("journal entries round-trip through the codec; anything else is a GatewayJournalError", () => {
    const entries: GatewayJournalEntry[] = [
      {
        kind: "closed",
        reports: [
          {
            userId: 4,
            round: 7n,
            masked: new Uint8Array(32).fill(1),
            tag: new Uint8Array(32).fill(2),
          },
        ],
      },
      {
        kind: "pass",
        reveals: [{ userId: 1, round: 7n, peer: 2, mask: 12345n, tag: new Uint8Array(32).fill(3) }],
      },
      { kind: "correction", value: BBNP_ORDER - 1n },
      {
        kind: "signed",
        signed: {
          round: 7n,
          sum: 999n,
          reporters: 8,
          missing: [2, 5],
          excluded: [5],
          passes: 2,
          signature: new Uint8Array(96).fill(4),
        },
      },
      { kind: "aborted", reason: "recovery-exhausted" },
    ];
    for (const e of entries) expect(decodeJournalEntry(encodeJournalEntry(e))).to.deep.equal(e);
    const bad = [
      "",
      "null",
      "{}",
      '{"kind":"opened"}',
      '{"kind":"correction","value":"-1"}',
      '{"kind":"closed","reports":["00"]}',
      '{"kind":"aborted","reason":"tired"}',
    ];
    for (const b of bad) {
      expect(() => decodeJournalEntry(new TextEncoder().encode(b)), b).to.throw(
        GatewayJournalError,
      );
    }
  });
});
