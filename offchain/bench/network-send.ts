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
import { cli, decimalNumber, parseOptions } from "../cli/common.ts";
import { counted } from "../runtime/log.ts";
import { VirtualClock } from "../runtime/clock.ts";
import { MemoryNetwork } from "../runtime/network.ts";
import { createRng } from "../runtime/rng.ts";

const USAGE = `usage: network-send.ts [--sends N] [--endpoints E] [--loss P] [--jitter-ms MS] [--reps R]
  --sends N        sends per repetition, default 1000000
  --endpoints E    started endpoints, ≥ 2, default 2000
  --loss P         loss probability in [0, 1), default 0.05
  --jitter-ms MS   latency jitter, default 10
  --reps R         repetitions, default 3`;
const c = cli("network-send", USAGE);
// parseOptions: `--help`, one-line usage errors, and `--jitter-ms -1` read as that option's value.
const values = parseOptions(c, USAGE, {
  sends: { type: "string" },
  endpoints: { type: "string" },
  loss: { type: "string" },
  "jitter-ms": { type: "string" },
  reps: { type: "string" },
  help: { type: "boolean", short: "h" },
});
const sends = c.intOption(values.sends, "sends", 1_000_000, 1);
const endpoints = c.intOption(values.endpoints, "endpoints", 2_000, 2);
const reps = c.intOption(values.reps, "reps", 3, 1);
const loss = c.fractionOption(values.loss ?? "0.05", "loss");
const jitterMs = decimalNumber(values["jitter-ms"] ?? "10");
if (!(jitterMs >= 0)) c.fail(`--jitter-ms must be a number ≥ 0, got "${values["jitter-ms"]}"`);
const clock = new VirtualClock({ startMs: 0 });
const net = new MemoryNetwork(
  {
    latency: { baseMs: 20, jitterMs },
    lossProbability: loss,
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
  `µs per send, ${counted(reps, "repetition")} of ${sends}: ${perSendUs.join(" ")}; lost ${net.stats().dropped.lost} of ${net.stats().sent}`,
);
