// Socket transport over 127.0.0.1: round trip, frame-size limit (sender and receiver side), hello
// rules, reconnect with backoff after a peer restarts, and a lossy link (a proxy that cuts
// connections mid-frame) on which a resend-until-ack loop still delivers every message. Every
// socket and timer is closed in `finally`.
import { expect } from "chai";
import net from "node:net";

import { SystemClock, type Clock, type TimerHandle } from "../../offchain/runtime/clock.ts";
import { NetworkError } from "../../offchain/runtime/network.ts";
import { createRng, type Rng } from "../../offchain/runtime/rng.ts";
import {
  AddressBook,
  backoffDelayMs,
  encodeFrame,
  FRAME_DATA,
  FRAME_HELLO,
  FrameReader,
  SocketTransport,
  SocketTransportError,
  SocketTransportFrameTooLargeError,
  SocketTransportProtocolError,
  type SocketTransportInit,
} from "../../offchain/runtime/socket-transport.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Records every delay scheduled on the clock (re-dial backoff) and delegates to `SystemClock`. */
class RecordingClock implements Clock {
  readonly inner = new SystemClock();
  readonly delays: number[] = [];
  now(): number {
    return this.inner.now();
  }
  setTimeout(cb: () => void, delayMs: number): TimerHandle {
    this.delays.push(delayMs);
    return this.inner.setTimeout(cb, delayMs);
  }
  clearTimeout(h: TimerHandle): void {
    this.inner.clearTimeout(h);
  }
}

function transport(
  address: string,
  book: AddressBook,
  extra: Partial<SocketTransportInit> = {},
  clock: Clock = new SystemClock(),
  rng: Rng = createRng(`socket/${address}`),
): SocketTransport {
  return new SocketTransport({ address, addressBook: book, ...extra }, { clock, rng });
}

async function up(t: SocketTransport, book: AddressBook): Promise<void> {
  t.start();
  book.set(t.address, await t.listening());
}

/** Opens a raw client socket to `port` and resolves when it is closed (by the peer). */
function rawClient(port: number, bytes: Uint8Array): Promise<{ closedByPeer: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => s.write(bytes));
    s.on("error", () => undefined);
    s.on("close", () => resolve({ closedByPeer: true }));
    setTimeout(() => {
      s.destroy();
      reject(new Error("peer did not close the connection"));
    }, 5000).unref();
  });
}

describe("SocketTransport", () => {
  it("backoffDelayMs grows by the factor, is capped, and jitter only shortens it", () => {
    const b = { initialMs: 10, maxMs: 100, factor: 2, jitter: 0.5 };
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, b, 0))).to.deep.equal([
      10, 20, 40, 80, 100, 100,
    ]);
    expect(backoffDelayMs(2, b, 0.999)).to.be.within(20, 40);
    expect(backoffDelayMs(9, b, 0.5)).to.equal(75);
  });

  it("FrameReader reassembles frames split across chunks and rejects an oversize header early", () => {
    const r = new FrameReader(8);
    const a = encodeFrame(FRAME_DATA, enc("abc"));
    const b = encodeFrame(FRAME_DATA, enc("12345678"));
    const all = Buffer.concat([a, b]);
    const out: Uint8Array[] = [];
    for (let i = 0; i < all.length; i++) r.push(all.subarray(i, i + 1), (x) => out.push(x));
    expect(out.map((x) => dec(x.subarray(1)))).to.deep.equal(["abc", "12345678"]);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(10); // kind + 9 bytes > 8
    const seen: Uint8Array[] = [];
    expect(() => new FrameReader(8).push(Buffer.concat([a, header]), (x) => seen.push(x))).to.throw(
      SocketTransportFrameTooLargeError,
    );
    expect(seen.length, "the frame before the violation is passed on").to.equal(1);
    expect(() => new FrameReader(8).push(Buffer.alloc(4), () => undefined)).to.throw(
      SocketTransportProtocolError,
    );
  });

  it("AddressBook parses host:port JSON and refuses malformed entries", () => {
    const book = AddressBook.fromJSON({ cc: "127.0.0.1:7001", sp: "localhost:7002" });
    expect(book.get("cc")).to.deep.equal({ host: "127.0.0.1", port: 7001 });
    expect(book.toJSON()).to.deep.equal({ cc: "127.0.0.1:7001", sp: "localhost:7002" });
    expect(() => AddressBook.fromJSON({ cc: "127.0.0.1" })).to.throw(SocketTransportError);
    expect(() => AddressBook.fromJSON({ cc: "h:70000" })).to.throw(SocketTransportError);
    expect(() => AddressBook.fromJSON([])).to.throw(SocketTransportError);
  });

  it("round trip between two endpoints on free 127.0.0.1 ports, in order, sender identified", async () => {
    const book = new AddressBook();
    const a = transport("meter-1", book);
    const b = transport("cc", book);
    try {
      await up(a, book);
      await up(b, book);
      const atB: string[] = [];
      const atA: string[] = [];
      b.handle((from, bytes) => {
        atB.push(`${from}:${dec(bytes)}`);
        b.send(from, enc(`ack ${dec(bytes)}`));
      });
      a.handle((from, bytes) => void atA.push(`${from}:${dec(bytes)}`));
      for (let i = 0; i < 200; i++) a.send("cc", enc(`m${i}`));
      // One large message (1366-byte onion packets and bigger) survives segmentation.
      const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
      let bigAtB: Uint8Array | undefined;
      await waitFor(() => atA.length === 200, "200 acks");
      b.handle((_from, bytes) => void (bigAtB = bytes));
      a.send("cc", big);
      await waitFor(() => bigAtB !== undefined, "large message");
      expect(atB).to.deep.equal(Array.from({ length: 200 }, (_, i) => `meter-1:m${i}`));
      expect(atA).to.deep.equal(Array.from({ length: 200 }, (_, i) => `cc:ack m${i}`));
      expect(Buffer.from(bigAtB!).equals(Buffer.from(big))).to.equal(true);
      expect(a.stats().connects).to.equal(1);
      expect(b.stats().delivered).to.equal(201);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("send refuses an oversize message with the named error; an unknown peer is a counted drop", async () => {
    const book = new AddressBook();
    const a = transport("a", book, { maxFrameBytes: 1366 });
    try {
      await up(a, book);
      expect(() => a.send("a", new Uint8Array(1367))).to.throw(SocketTransportFrameTooLargeError);
      // As on MemoryNetwork: the named error is also a NetworkError, and an unknown destination
      // is dropped, not thrown, so an agent behaves the same on both transports.
      expect(() => a.send("a", new Uint8Array(1367))).to.throw(NetworkError);
      a.send("nobody", new Uint8Array(1));
      expect(a.stats().dropped["unknown-destination"]).to.equal(1);
    } finally {
      await a.close();
    }
  });

  it("a peer announcing an oversize frame is disconnected before its body is read", async () => {
    const book = new AddressBook();
    const b = transport("b", book, { maxFrameBytes: 1366 });
    let got = 0;
    try {
      await up(b, book);
      b.handle(() => void got++);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(1 + 1367);
      const hello = encodeFrame(FRAME_HELLO, enc("attacker"));
      const ok = encodeFrame(FRAME_DATA, new Uint8Array(1366));
      const res = await rawClient(book.get("b")!.port, Buffer.concat([hello, ok, header]));
      expect(res.closedByPeer).to.equal(true);
      expect(got).to.equal(1); // the frame at the limit was delivered, the oversize one was not
      expect(b.stats().peersRejected).to.equal(1);
    } finally {
      await b.close();
    }
  });

  it("a peer sending data before its hello is disconnected and nothing is delivered", async () => {
    const book = new AddressBook();
    const b = transport("b", book);
    let got = 0;
    try {
      await up(b, book);
      b.handle(() => void got++);
      await rawClient(book.get("b")!.port, encodeFrame(FRAME_DATA, enc("no hello")));
      expect(got).to.equal(0);
      expect(b.stats().peersRejected).to.equal(1);
    } finally {
      await b.close();
    }
  });

  it("stop() then start() at once: the new listener is not clobbered by the old close", async () => {
    // Regression: close() used to clear the listening promise after awaiting, erasing the one
    // a start() in between had created, so listening() rejected on a running transport.
    const book = new AddressBook();
    const a = transport("a", book);
    const b = transport("b", book);
    try {
      await up(a, book);
      await up(b, book);
      b.stop();
      b.start();
      await new Promise((r) => setTimeout(r, 50)); // the old close() completes meanwhile
      book.set("b", await b.listening());
      const got: string[] = [];
      b.handle((_f, m) => void got.push(dec(m)));
      a.send("b", enc("after restart"));
      await waitFor(() => got.length === 1, "delivery after restart");
      expect(got).to.deep.equal(["after restart"]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a peer that restarts is re-dialled with backoff and later messages arrive", async () => {
    const book = new AddressBook();
    const clock = new RecordingClock();
    const a = transport("a", book, { backoff: { initialMs: 10, maxMs: 80, jitter: 0 } }, clock);
    let b = transport("b", book);
    let b2: SocketTransport | undefined;
    try {
      await up(a, book);
      await up(b, book);
      const port = book.get("b")!.port;
      const got: string[] = [];
      b.handle((_f, m) => void got.push(dec(m)));
      a.send("b", enc("before"));
      await waitFor(() => got.length === 1, "first message");
      await b.close(); // the peer goes down
      await waitFor(() => a.peerState("b") !== "connected", "a to notice b's close");
      a.send("b", enc("while-down-1"));
      a.send("b", enc("while-down-2"));
      // Let several re-dials fail against the closed port.
      await waitFor(() => clock.delays.length >= 4, "four re-dials");
      expect(clock.delays.slice(0, 4)).to.deep.equal([10, 20, 40, 80]);
      b2 = transport("b", book, { listen: { port } });
      b = b2;
      const got2: string[] = [];
      b2.handle((_f, m) => void got2.push(dec(m)));
      await up(b2, book);
      await waitFor(() => got2.length === 2, "queued messages after restart");
      a.send("b", enc("after"));
      await waitFor(() => got2.length === 3, "message after restart");
      expect(got2).to.deep.equal(["while-down-1", "while-down-2", "after"]);
      expect(a.stats().connects).to.equal(2);
      expect(a.stats().reconnectsScheduled).to.be.at.least(4);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("lossy link: through a proxy that cuts connections mid-frame, resend-until-ack delivers all", async () => {
    // Threat/fault model: TCP connections between services break (process restarts, NAT, proxies);
    // the bytes in flight are lost, possibly mid-frame. A sender that resends every message until
    // its receipt arrives must still deliver each one (issue 11, "Lossy links lose nothing").
    const book = new AddressBook();
    const a = transport("sender", book, { backoff: { initialMs: 5, maxMs: 40 } });
    const b = transport("receiver", book);
    const proxyRng = createRng("lossy-proxy");
    const cuts = { count: 0 };
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const upstream = net.connect({ host: "127.0.0.1", port: receiverPort });
      sockets.add(client).add(upstream);
      const cut = (): void => {
        client.destroy();
        upstream.destroy();
      };
      // Each connection dies after a random 1–16 KiB, usually in the middle of a frame.
      let budget = 1024 + proxyRng.nextInt(15 * 1024);
      client.on("data", (chunk: Buffer) => {
        if (chunk.length >= budget) {
          cuts.count++;
          upstream.write(chunk.subarray(0, budget), cut);
          budget = 0;
          return;
        }
        budget -= chunk.length;
        upstream.write(chunk);
      });
      for (const s of [client, upstream]) {
        s.on("error", () => undefined);
        s.on("close", () => {
          sockets.delete(s);
          cut();
        });
      }
    });
    let receiverPort = 0;
    let resendTimer: NodeJS.Timeout | undefined;
    try {
      await up(a, book);
      await up(b, book);
      receiverPort = book.get("receiver")!.port;
      await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()));
      // The sender reaches the receiver only through the proxy.
      book.set("receiver", { host: "127.0.0.1", port: (proxy.address() as net.AddressInfo).port });

      const total = 300;
      const received = new Map<number, number>();
      const acked = new Set<number>();
      b.handle((from, m) => {
        const seq = new DataView(m.buffer, m.byteOffset).getUint32(0);
        received.set(seq, (received.get(seq) ?? 0) + 1);
        b.send(from, m.subarray(0, 4)); // receipt, on the direct link
      });
      a.handle((_f, m) => void acked.add(new DataView(m.buffer, m.byteOffset).getUint32(0)));
      const message = (seq: number): Uint8Array => {
        const m = new Uint8Array(600).fill(seq & 0xff);
        new DataView(m.buffer).setUint32(0, seq);
        return m;
      };
      const resend = (): void => {
        for (let s = 0; s < total; s++) if (!acked.has(s)) a.send("receiver", message(s));
        resendTimer = setTimeout(resend, 50);
      };
      resend();
      await waitFor(() => acked.size === total, "every receipt", 30_000);
      expect([...received.keys()].sort((x, y) => x - y)).to.deep.equal(
        Array.from({ length: total }, (_, i) => i),
      );
      expect(cuts.count, "the proxy cut connections").to.be.greaterThan(3);
      expect(a.stats().connects).to.be.greaterThan(3);
    } finally {
      clearTimeout(resendTimer);
      await a.close();
      await b.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });
});
