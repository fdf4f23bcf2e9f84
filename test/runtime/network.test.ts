// In-memory network: determinism by seed, latency bounds, loss, FIFO vs reordering, crash
// injection, counters and per-link packet sizes.
import { expect } from "chai";
import { expectClose } from "../helpers/approx.ts";

import { VirtualClock } from "../../offchain/runtime/clock.ts";
import { MemoryLogger } from "../../offchain/runtime/log.ts";
import {
  MemoryNetwork,
  NetworkError,
  type MemoryNetworkInit,
} from "../../offchain/runtime/network.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { gcFunction } from "../../offchain/bench/heap.ts";

interface Delivery {
  at: number;
  from: string;
  to: string;
  seq: number;
}

/** n nodes each sending `perNode` messages round-robin; returns the delivery trace and stats. */
function run(seed: string, init: MemoryNetworkInit, nodes = 4, perNode = 50, stepMs = 1) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(init, { clock, rng: createRng(seed) });
  const trace: Delivery[] = [];
  const eps = Array.from({ length: nodes }, (_, i) => net.endpoint(`n${i}`));
  for (const ep of eps) {
    ep.handle((from, bytes) => {
      trace.push({
        at: clock.now(),
        from,
        to: ep.address,
        seq: new DataView(bytes.buffer).getUint32(0),
      });
    });
    ep.start();
  }
  for (let k = 0; k < perNode; k++) {
    for (let i = 0; i < nodes; i++) {
      const msg = new Uint8Array(8);
      new DataView(msg.buffer).setUint32(0, k);
      eps[i].send(`n${(i + 1) % nodes}`, msg);
    }
    clock.advance(stepMs);
  }
  clock.runUntilIdle();
  return { trace, stats: net.stats(), net };
}

describe("MemoryNetwork", () => {
  const lossy: MemoryNetworkInit = {
    latency: { baseMs: 5, jitterMs: 20 },
    lossProbability: 0.1,
    reorderProbability: 0.1,
  };

  it("a run is a deterministic function of the seed", () => {
    const a = run("seed-a", lossy);
    const b = run("seed-a", lossy);
    const c = run("seed-b", lossy);
    expect(a.trace).to.deep.equal(b.trace);
    expect(a.stats).to.deep.equal(b.stats);
    expect(a.trace).to.not.deep.equal(c.trace);
  });

  it("delivers with latency in [base, base + jitter] and counts bytes", () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork(
      { latency: { baseMs: 10, jitterMs: 5 } },
      { clock, rng: createRng(1) },
    );
    const a = net.endpoint("a");
    const b = net.endpoint("b");
    const times: number[] = [];
    b.handle(() => void times.push(clock.now()));
    a.start();
    b.start();
    for (let i = 0; i < 200; i++) {
      clock.advance(100);
      const sentAt = clock.now();
      a.send("b", new Uint8Array(3));
      clock.advance(20);
      expect(times.at(-1)! - sentAt).to.be.within(10, 15);
    }
    const s = net.stats();
    expect(s).to.include({
      sent: 200,
      delivered: 200,
      bytesSent: 600,
      bytesDelivered: 600,
      inFlight: 0,
    });
    expect(new Set(times.map((t, i) => t - (i + 1) * 120 + 20)).size).to.be.greaterThan(50); // jitter varies
  });

  it("loses about lossProbability of the messages and counts them as lost", () => {
    const { stats } = run("loss", { lossProbability: 0.3 }, 4, 500);
    expect(stats.sent).to.equal(2000);
    expectClose(stats.dropped.lost / stats.sent, 0.3, 0.04);
    expect(stats.delivered + stats.dropped.lost).to.equal(stats.sent);
  });

  it("keeps each link FIFO under jitter when reordering is off", () => {
    const { trace, stats } = run("fifo", { latency: { baseMs: 1, jitterMs: 50 } });
    expect(stats.reordered).to.equal(0);
    for (const link of ["n0", "n1", "n2", "n3"]) {
      const seqs = trace.filter((d) => d.from === link).map((d) => d.seq);
      expect(seqs).to.deep.equal([...seqs].sort((x, y) => x - y));
      expect(seqs).to.have.length(50);
    }
  });

  it("reorders messages when reorderProbability > 0", () => {
    const { trace, stats } = run("reorder", {
      latency: { baseMs: 1, jitterMs: 2 },
      reorderProbability: 0.2,
    });
    expect(stats.reordered).to.be.greaterThan(0);
    const seqs = trace.filter((d) => d.from === "n0").map((d) => d.seq);
    expect(seqs).to.not.deep.equal([...seqs].sort((x, y) => x - y));
    expect([...seqs].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
  });

  it("loss does not change the delay of surviving messages (every packet on the wire gets its draws)", () => {
    // Sends 100 ms apart with at most 32 ms of delay: FIFO clamping never applies, so each
    // delivery time is exactly send time + drawn delay.
    const init = { latency: { baseMs: 2, jitterMs: 30 } };
    const base = run("streams", init, 4, 50, 100);
    const lossy = run("streams", { ...init, lossProbability: 0.5 }, 4, 50, 100);
    const key = (d: Delivery) => `${d.from}/${d.seq}`;
    const baseAt = new Map(base.trace.map((d) => [key(d), d.at]));
    expect(lossy.trace.length).to.be.within(60, 140);
    for (const d of lossy.trace) expect(d.at, key(d)).to.equal(baseAt.get(key(d)));
  });

  describe("a packet's draws depend only on its sender's own sends (issue 14, session 10)", () => {
    // Three senders each send `perSender` packets to one receiver, all at the same virtual
    // instant, in an order given by `order` (sender indices): what each packet met (lost, or its
    // delivery time) by sender and the sender's own sequence number.
    const fates = (order: number[], init: MemoryNetworkInit, extraFirst = 0) => {
      const clock = new VirtualClock();
      const net = new MemoryNetwork(init, { clock, rng: createRng("draws") });
      const rx = net.endpoint("rx");
      const fate = new Map<string, number>();
      rx.handle((from, bytes) => {
        fate.set(`${from}/${new DataView(bytes.buffer).getUint32(0)}`, clock.now());
      });
      rx.start();
      const eps = ["a", "b", "c"].map((name) => net.endpoint(name));
      for (const ep of eps) ep.start();
      // An unrelated sender's traffic first (another node's sends in the same instant).
      const other = net.endpoint("other");
      other.start();
      for (let k = 0; k < extraFirst; k++) other.send("rx", new Uint8Array(4));
      const next = [0, 0, 0];
      for (const i of order) {
        const bytes = new Uint8Array(4);
        new DataView(bytes.buffer).setUint32(0, next[i]++);
        eps[i].send("rx", bytes);
      }
      clock.advance(1_000);
      const out: string[] = [];
      for (const [i, ep] of eps.entries()) {
        for (let seq = 0; seq < next[i]; seq++) {
          out.push(`${ep.address}/${seq} ${fate.get(`${ep.address}/${seq}`) ?? "lost"}`);
        }
      }
      return { out, stats: net.stats() };
    };
    const init: MemoryNetworkInit = {
      latency: { baseMs: 5, jitterMs: 20 },
      lossProbability: 0.3,
      reorderProbability: 0.2,
    };
    const perSender = 40;
    const blocks = [0, 1, 2].flatMap((i) => Array<number>(perSender).fill(i)); // a…, b…, c…
    const interleaved = blocks.map((_, k) => k % 3); // a b c a b c …
    const reversed = [2, 1, 0].flatMap((i) => Array<number>(perSender).fill(i)); // c…, b…, a…

    it("senders sending at the same instant in either order meet the same fates (lost, delivery time)", () => {
      const first = fates(blocks, init);
      expect(first.stats.dropped.lost, "some packets are lost").to.be.within(15, 60);
      expect(first.stats.reordered, "some packets are held back").to.be.greaterThan(5);
      expect(fates(interleaved, init).out).to.deep.equal(first.out);
      expect(fates(reversed, init).out).to.deep.equal(first.out);
    });

    it("another sender's extra packets in the same instant change no one else's fates", () => {
      const first = fates(interleaved, init);
      expect(fates(interleaved, init, 7).out).to.deep.equal(first.out);
    });

    it("loss-free jitter too: each delivery time depends only on the sender's own sends", () => {
      const jitterOnly: MemoryNetworkInit = { latency: { baseMs: 5, jitterMs: 20 } };
      const first = fates(blocks, jitterOnly);
      expect(first.out.every((line) => !line.endsWith("lost"))).to.equal(true);
      expect(fates(reversed, jitterOnly, 3).out).to.deep.equal(first.out);
    });
  });

  it("crash injection drops messages to and from a crashed node, in flight too, until recovery", () => {
    const clock = new VirtualClock();
    const logger = new MemoryLogger("", clock);
    const net = new MemoryNetwork(
      { latency: { baseMs: 10, jitterMs: 0 } },
      { clock, rng: createRng(2), logger },
    );
    const a = net.endpoint("a");
    const b = net.endpoint("b");
    let received = 0;
    b.handle(() => void received++);
    a.start();
    b.start();
    a.send("b", new Uint8Array(1)); // in flight when b crashes
    clock.advance(5);
    net.crash("b");
    expect(net.isUp("b")).to.equal(false);
    clock.advance(10);
    a.send("b", new Uint8Array(1));
    b.send("a", new Uint8Array(1));
    clock.advance(20);
    expect(received).to.equal(0);
    net.recover("b");
    a.send("b", new Uint8Array(1));
    a.send("nobody", new Uint8Array(1));
    clock.advance(20);
    expect(received).to.equal(1);
    expect(net.stats().dropped).to.deep.equal({
      "sender-down": 1,
      lost: 0,
      "unknown-destination": 1,
      "destination-down": 2,
    });
    expect(logger.records.map((r) => r.message)).to.include.members(["crashed", "recovered"]);
  });

  it("scheduleCrash takes a node down for a while on the virtual clock", () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork({}, { clock, rng: createRng(3) });
    net.endpoint("x").start();
    net.scheduleCrash("x", 100, 50);
    clock.advance(99);
    expect(net.isUp("x")).to.equal(true);
    clock.advance(1);
    expect(net.isUp("x")).to.equal(false);
    clock.advance(50);
    expect(net.isUp("x")).to.equal(true);
  });

  it("stopped endpoints receive nothing; handler errors are counted, not thrown", async () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork({}, { clock, rng: createRng(4) });
    const a = net.endpoint("a");
    const b = net.endpoint("b");
    a.start();
    b.handle(() => {
      throw new Error("sync boom");
    });
    a.send("b", new Uint8Array(1)); // b not started
    clock.advance(0);
    b.start();
    a.send("b", new Uint8Array(1));
    clock.advance(0);
    b.handle(async () => {
      throw new Error("async boom");
    });
    a.send("b", new Uint8Array(1));
    await clock.advanceAsync(0);
    const s = net.stats();
    expect(s.dropped["destination-down"]).to.equal(1);
    expect(s.delivered).to.equal(2);
    expect(s.handlerErrors).to.equal(2);
  });

  it("delivers a private copy of the bytes", () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork({}, { clock, rng: createRng(5) });
    const a = net.endpoint("a");
    const b = net.endpoint("b");
    let got: Uint8Array | undefined;
    b.handle((_from, bytes) => void (got = bytes));
    a.start();
    b.start();
    const buf = new Uint8Array([1, 2, 3]);
    a.send("b", buf);
    buf[0] = 9;
    clock.advance(0);
    expect([...got!]).to.deep.equal([1, 2, 3]);
    // A Buffer too (its `slice` is a view, not a copy): the receiver gets a copy of its bytes.
    const nodeBuf = Buffer.from([4, 5, 6]);
    a.send("b", nodeBuf);
    nodeBuf[0] = 9;
    expect(net.stats().inFlight).to.equal(1);
    clock.advance(0);
    expect([...got!]).to.deep.equal([4, 5, 6]);
    expect(net.stats().inFlight).to.equal(0);
  });

  it("records packet sizes per sender so uniform-size traffic can be asserted", () => {
    const { net } = run("sizes", lossy);
    // Keyed by sender since issue 14 (per link grew with every distinct relay pair of a city).
    const sizes = net.packetSizesBySender();
    expect([...sizes.keys()].sort()).to.deep.equal(["n0", "n1", "n2", "n3"]);
    for (const m of sizes.values()) expect([...m]).to.deep.equal([[8, 50]]); // lost ones were on the wire
    expect(net.distinctPacketSizes()).to.deep.equal([8]);

    const clock = new VirtualClock();
    const mixed = new MemoryNetwork({}, { clock, rng: createRng(6) });
    const a = mixed.endpoint("a");
    a.start();
    a.send("b", new Uint8Array(1366));
    a.send("b", new Uint8Array(1000));
    expect(mixed.distinctPacketSizes()).to.deep.equal([1000, 1366]);
  });

  it("validates configuration and arguments", () => {
    const clock = new VirtualClock();
    const rng = createRng(7);
    expect(() => new MemoryNetwork({ lossProbability: 2 }, { clock, rng })).to.throw(
      NetworkError,
      /lossProbability/,
    );
    expect(
      () => new MemoryNetwork({ latency: { baseMs: -1, jitterMs: 0 } }, { clock, rng }),
    ).to.throw(NetworkError);
    const net = new MemoryNetwork({ maxMessageBytes: 4 }, { clock, rng });
    const a = net.endpoint("a");
    expect(() => net.endpoint("a")).to.throw(NetworkError, /already in use/);
    expect(() => a.send("b", new Uint8Array(5))).to.throw(NetworkError, /maxMessageBytes/);
    expect(() => net.send("ghost", "a", new Uint8Array(1))).to.throw(
      NetworkError,
      /unknown sender/,
    );
    expect(() => net.crash("ghost")).to.throw(NetworkError, /crash: unknown address/);
  });

  it("retires an endpoint for good: its handler is dropped, what reaches it or leaves it is dropped, its sizes stay counted, its address stays taken (issue 14)", async () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork(
      { latency: { baseMs: 10, jitterMs: 0 } },
      { clock, rng: createRng(7) },
    );
    const a = net.endpoint("a");
    const b = net.endpoint("b");
    const got: string[] = [];
    let handler: ((from: string) => void) | undefined = (from) => void got.push(from);
    const ref = new WeakRef(handler);
    b.handle(handler);
    handler = undefined;
    a.handle(() => {});
    for (const ep of [a, b]) ep.start();
    b.send("a", new Uint8Array(5));
    a.send("b", new Uint8Array(3));
    a.send("b", new Uint8Array(3));
    expect(net.inFlightTo("b")).to.equal(2);
    expect(net.inFlightTo("a")).to.equal(1);
    expect(net.inFlightTo("nobody")).to.equal(0);
    clock.advance(10);
    expect(got).to.deep.equal(["a", "a"]);
    expect(net.inFlightTo("b")).to.equal(0);
    // One on its way when b retires: dropped at delivery as "destination-down".
    a.send("b", new Uint8Array(3));
    b.retire();
    b.retire(); // no effect
    expect(net.inFlightTo("b")).to.equal(0);
    expect(net.isUp("b")).to.equal(false);
    clock.advance(10);
    a.send("b", new Uint8Array(3));
    b.send("a", new Uint8Array(5)); // a retired endpoint's own sends: "sender-down"
    clock.advance(10);
    expect(got).to.have.length(2);
    expect(net.stats().dropped).to.deep.include({ "destination-down": 2, "sender-down": 1 });
    expect(net.stats().inFlight).to.equal(0);
    // Its traffic stays in the per-sender counts, in creation order; the address is not reused.
    expect([...net.packetSizesBySender()]).to.deep.equal([
      ["a", new Map([[3, 4]])],
      ["b", new Map([[5, 1]])],
    ]);
    expect(() => net.endpoint("b")).to.throw(NetworkError, /already in use/);
    expect(() => net.retire("nobody")).to.throw(NetworkError, /unknown address/);
    // A new endpoint after a retired one gets a row of its own.
    const c = net.endpoint("c");
    c.start();
    c.send("a", new Uint8Array(7));
    expect(net.packetSizesBySender().get("c")).to.deep.equal(new Map([[7, 1]]));
    expect(net.packetSizesBySender().get("b")).to.deep.equal(new Map([[5, 1]]));
    // The network keeps nothing of b's handler (what kept a retired simulated meter alive).
    // (A WeakRef keeps its target until the job that made it ends.)
    await new Promise((resolve) => setImmediate(resolve));
    gcFunction()();
    expect(ref.deref()).to.equal(undefined);
  });
});

describe("MemoryNetwork.onDemand (issue 14: households made on their first batch)", () => {
  /** A network with `a` and a builder of `b`, which records its calls and what `b` receives. */
  function lazyPair(init: MemoryNetworkInit = {}) {
    const clock = new VirtualClock();
    const net = new MemoryNetwork(init, { clock, rng: createRng("on-demand") });
    const a = net.endpoint("a");
    a.start();
    const asked: string[] = [];
    const received: { at: number; from: string; byte: number }[] = [];
    net.onDemand((address) => {
      asked.push(address);
      if (address !== "b") return false;
      const b = net.endpoint("b");
      b.handle((from, bytes) => void received.push({ at: clock.now(), from, byte: bytes[0] }));
      b.start();
      return true;
    });
    return { clock, net, a, asked, received };
  }

  it("builds an endpoint when the first packet to it goes on the wire, and only then; it gets that packet and the next", () => {
    const { clock, net, a, asked, received } = lazyPair({ latency: { baseMs: 5, jitterMs: 0 } });
    clock.advance(100);
    expect(asked, "nothing sent yet: nothing built").to.deep.equal([]);
    expect(net.isUp("b")).to.equal(false);
    a.send("b", Uint8Array.of(1));
    expect(asked).to.deep.equal(["b"]);
    expect(net.isUp("b")).to.equal(true);
    expect(net.inFlightTo("b"), "the first packet counts as in flight to it").to.equal(1);
    a.send("b", Uint8Array.of(2));
    expect(asked, "built once").to.deep.equal(["b"]);
    clock.runUntilIdle();
    expect(received).to.deep.equal([
      { at: 105, from: "a", byte: 1 },
      { at: 105, from: "a", byte: 2 },
    ]);
    expect(net.stats().delivered).to.equal(2);
    expect(net.stats().dropped["unknown-destination"]).to.equal(0);
  });

  it("an address the builder declines stays unknown (dropped as today); a lost packet or a down sender builds nothing", () => {
    const { clock, net, a, asked } = lazyPair({ lossProbability: 1 });
    a.send("b", Uint8Array.of(1));
    expect(asked, "lost on the way: nothing asked").to.deep.equal([]);
    const { clock: c2, net: n2, a: a2, asked: asked2 } = lazyPair();
    a2.send("nobody", Uint8Array.of(1));
    c2.runUntilIdle();
    expect(asked2).to.deep.equal(["nobody"]);
    expect(n2.stats().dropped["unknown-destination"]).to.equal(1);
    a2.stop();
    a2.send("b", Uint8Array.of(1));
    expect(asked2, "sender down: nothing asked").to.deep.equal(["nobody"]);
    clock.runUntilIdle();
    expect(net.stats().dropped.lost).to.equal(1);
  });

  it("never rebuilds a retired address, and rejects a builder that is not a function", () => {
    const { clock, net, a, asked } = lazyPair();
    a.send("b", Uint8Array.of(1));
    clock.runUntilIdle();
    net.retire("b");
    a.send("b", Uint8Array.of(2));
    clock.runUntilIdle();
    expect(asked).to.deep.equal(["b"]);
    expect(net.stats().dropped["destination-down"]).to.equal(1);
    expect(() => net.onDemand(undefined as unknown as () => boolean)).to.throw(NetworkError);
  });
});
