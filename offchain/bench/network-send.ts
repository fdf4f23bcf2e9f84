// Wall time per `MemoryNetwork.send` (issue 14, session 10: each packet's draws became one keyed
// SHA-256 instead of three draws from shared ChaCha streams). N sends round-robin over E started
// endpoints (sender i mod E to (7i + 1) mod E), the virtual clock advanced 1 ms after every E
// sends and 100 ms after each repetition so deliveries run outside the timed loop.
//
//   node --disable-warning=ExperimentalWarning offchain/bench/network-send.ts
//        [--sends 1000000] [--endpoints 2000] [--loss 0.05] [--jitter-ms 10] [--reps 3]
//
// Prints µs per send for each repetition (send only: the draws, the link tail, the in-flight copy
// and the timer), and the network's loss count. To compare with an older tree, run the same file
// there (it only needs `MemoryNetwork`, `VirtualClock` and `createRng`).
import { parseArgs } from "node:util";

import { VirtualClock } from "../runtime/clock.ts";
import { MemoryNetwork } from "../runtime/network.ts";
import { createRng } from "../runtime/rng.ts";

const { values } = parseArgs({
  options: {
    sends: { type: "string", default: "1000000" },
    endpoints: { type: "string", default: "2000" },
    loss: { type: "string", default: "0.05" },
    "jitter-ms": { type: "string", default: "10" },
    reps: { type: "string", default: "3" },
  },
});
const sends = Number(values.sends);
const endpoints = Number(values.endpoints);
const reps = Number(values.reps);
if (
  !Number.isSafeInteger(sends) ||
  sends < 1 ||
  !Number.isSafeInteger(endpoints) ||
  endpoints < 2
) {
  throw new RangeError("network-send: --sends ≥ 1 and --endpoints ≥ 2 must be integers");
}
const clock = new VirtualClock({ startMs: 0 });
const net = new MemoryNetwork(
  {
    latency: { baseMs: 20, jitterMs: Number(values["jitter-ms"]) },
    lossProbability: Number(values.loss),
  },
  { clock, rng: createRng("network-send") },
);
const eps = Array.from({ length: endpoints }, (_, i) => {
  const ep = net.endpoint(`n-${i}`);
  ep.handle(() => {});
  ep.start();
  return ep;
});
const bytes = new Uint8Array(100);
const perSendUs: string[] = [];
for (let rep = 0; rep < reps; rep++) {
  const t0 = performance.now();
  for (let i = 0; i < sends; i++) {
    eps[i % endpoints].send(`n-${(i * 7 + 1) % endpoints}`, bytes);
    if (i % endpoints === endpoints - 1) clock.advance(1);
  }
  const t1 = performance.now();
  clock.advance(100);
  perSendUs.push((((t1 - t0) * 1e3) / sends).toFixed(3));
}
console.log(
  `µs per send, ${reps} repetitions of ${sends}: ${perSendUs.join(" ")}; lost ${net.stats().dropped.lost} of ${net.stats().sent}`,
);
