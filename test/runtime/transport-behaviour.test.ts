// One behaviour suite for every `Transport` (STYLE: shared behaviour test suites), run on the
// in-memory endpoint and on the socket transport: what an agent relies on holds on both, so an
// agent runs unchanged on either (issue 11 "A real transport").
import { expect } from "chai";

import { SystemClock } from "../../offchain/runtime/clock.ts";
import { MemoryNetwork, NetworkError, type Transport } from "../../offchain/runtime/network.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { AddressBook, SocketTransport } from "../../offchain/runtime/socket-transport.ts";

interface Pair {
  readonly a: Transport;
  readonly b: Transport;
  /** Both started and reachable. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

const MAX = 4096;

function memoryPair(): Pair {
  const net = new MemoryNetwork(
    { maxMessageBytes: MAX, latency: { baseMs: 1, jitterMs: 0 } },
    { clock: new SystemClock(), rng: createRng("behaviour") },
  );
  const a = net.endpoint("a");
  const b = net.endpoint("b");
  return {
    a,
    b,
    async ready() {
      a.start();
      b.start();
    },
    async close() {
      a.stop();
      b.stop();
      await new Promise((r) => setTimeout(r, 5)); // let in-flight timers drain
    },
  };
}

function socketPair(): Pair {
  const book = new AddressBook();
  const make = (address: string) =>
    new SocketTransport(
      { address, addressBook: book, maxFrameBytes: MAX },
      { clock: new SystemClock(), rng: createRng(`behaviour/${address}`) },
    );
  const a = make("a");
  const b = make("b");
  return {
    a,
    b,
    async ready() {
      for (const t of [a, b]) {
        t.start();
        book.set(t.address, await t.listening());
      }
    },
    async close() {
      await a.close();
      await b.close();
    },
  };
}

async function settle(ms = 100): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > 5000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function shouldBehaveLikeTransport(name: string, makePair: () => Pair): void {
  describe(`Transport behaviour: ${name}`, () => {
    it("delivers to the handler with the sender's address, in order", async () => {
      const p = makePair();
      try {
        await p.ready();
        const got: string[] = [];
        p.b.handle((from, bytes) => void got.push(`${from}:${bytes.join(",")}`));
        for (let i = 0; i < 20; i++) p.a.send("b", Uint8Array.of(i, i + 1));
        await waitFor(() => got.length === 20, "20 messages");
        expect(got).to.deep.equal(Array.from({ length: 20 }, (_, i) => `a:${i},${i + 1}`));
      } finally {
        await p.close();
      }
    });

    it("the receiver gets the bytes as sent, even if the sender reuses its buffer", async () => {
      const p = makePair();
      try {
        await p.ready();
        let got: Uint8Array | undefined;
        p.b.handle((_f, bytes) => void (got = bytes));
        const buf = Uint8Array.of(1, 2, 3);
        p.a.send("b", buf);
        buf.fill(9);
        await waitFor(() => got !== undefined, "the message");
        expect([...got!]).to.deep.equal([1, 2, 3]);
      } finally {
        await p.close();
      }
    });

    it("the last handler set wins; a throwing handler does not break delivery", async () => {
      const p = makePair();
      try {
        await p.ready();
        const first: number[] = [];
        const second: number[] = [];
        p.b.handle((_f, m) => void first.push(m[0]));
        p.b.handle((_f, m) => {
          second.push(m[0]);
          if (m[0] === 0) throw new Error("handler bug");
        });
        p.a.send("b", Uint8Array.of(0));
        p.a.send("b", Uint8Array.of(1));
        await waitFor(() => second.length === 2, "both messages");
        expect(first).to.deep.equal([]);
      } finally {
        await p.close();
      }
    });

    it("oversize refused with a NetworkError; unknown destination dropped without throwing", async () => {
      const p = makePair();
      try {
        await p.ready();
        expect(() => p.a.send("b", new Uint8Array(MAX + 1))).to.throw(NetworkError);
        expect(() => p.a.send("nobody", Uint8Array.of(1))).to.not.throw();
      } finally {
        await p.close();
      }
    });

    it("nothing is delivered to a stopped endpoint or from a stopped sender", async () => {
      const p = makePair();
      try {
        await p.ready();
        const got: number[] = [];
        p.b.handle((_f, m) => void got.push(m[0]));
        p.a.stop();
        p.a.send("b", Uint8Array.of(1));
        await settle();
        expect(got).to.deep.equal([]);
        const atA: number[] = [];
        p.a.handle((_f, m) => void atA.push(m[0]));
        p.a.start();
        p.b.stop();
        p.b.send("a", Uint8Array.of(2)); // a stopped sender, seen from the other side
        p.a.send("b", Uint8Array.of(3)); // to a stopped receiver
        await settle();
        expect(got).to.deep.equal([]);
        expect(atA).to.deep.equal([]);
      } finally {
        await p.close();
      }
    });
  });
}

shouldBehaveLikeTransport("MemoryEndpoint", memoryPair);
shouldBehaveLikeTransport("SocketTransport", socketPair);
