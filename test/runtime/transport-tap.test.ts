// TransportTap (offchain/runtime/transport-tap.ts): the one pass-through wrapper the simulator's
// link observer and the adversaries (crashing CC, fake meter, replaying outsider) put around an
// agent's transport. It must change nothing the agent sees, and each tap must see every message.
import { expect } from "chai";

import { VirtualClock } from "../../offchain/runtime/clock.ts";
import { MemoryNetwork, type Transport } from "../../offchain/runtime/network.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { TransportTap } from "../../offchain/runtime/transport-tap.ts";

describe("TransportTap", () => {
  function pair() {
    const clock = new VirtualClock();
    const net = new MemoryNetwork(
      { latency: { baseMs: 5, jitterMs: 0 } },
      { clock, rng: createRng("tap") },
    );
    return { clock, net, a: net.endpoint("a"), b: net.endpoint("b") };
  }

  it("sees every send before it leaves and every delivery around the handler, in order", () => {
    const { clock, a, b } = pair();
    const events: string[] = [];
    const tapped = new TransportTap(b, {
      onSend: (to, bytes) => events.push(`send ${to} ${bytes[0]}`),
      beforeHandle: (from, bytes) => events.push(`before ${from} ${bytes[0]}`),
      afterHandle: (from, bytes) => events.push(`after ${from} ${bytes[0]}`),
    });
    expect(tapped.address).to.equal("b");
    tapped.handle((from, bytes) => {
      events.push(`handler ${from} ${bytes[0]}`);
      tapped.send(from, Uint8Array.of(bytes[0] + 100));
    });
    const back: number[] = [];
    a.handle((_from, bytes) => void back.push(bytes[0]));
    a.start();
    tapped.start();
    a.send("b", Uint8Array.of(1));
    a.send("b", Uint8Array.of(2));
    clock.advance(20);
    expect(events).to.deep.equal([
      "before a 1",
      "handler a 1",
      "send a 101",
      "after a 1",
      "before a 2",
      "handler a 2",
      "send a 102",
      "after a 2",
    ]);
    expect(back, "the peer got what the tapped agent sent").to.deep.equal([101, 102]);
  });

  it("passes start and stop through: nothing reaches a stopped tapped endpoint", () => {
    const { clock, net, a, b } = pair();
    let seen = 0;
    const tapped = new TransportTap(b, { beforeHandle: () => void seen++ });
    tapped.handle(() => {});
    a.start();
    tapped.start();
    tapped.stop();
    a.send("b", Uint8Array.of(1));
    clock.advance(20);
    expect(seen).to.equal(0);
    expect(net.stats().dropped["destination-down"]).to.equal(1);
  });

  it("without delivery taps hands the agent's handler over unwrapped", () => {
    const handler = () => {};
    let installed: unknown;
    const inner: Transport = {
      address: "b",
      start() {},
      stop() {},
      send() {},
      handle: (h) => void (installed = h),
    };
    new TransportTap(inner, { onSend: () => {} }).handle(handler);
    expect(installed).to.equal(handler);
  });
});
