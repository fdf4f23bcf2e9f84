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

import { decimalNumber, negativeValuesJoined } from "../cli/common.ts";
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
const OPTIONS = {
  sends: { type: "string", default: "1000000" },
  endpoints: { type: "string", default: "2000" },
  loss: { type: "string", default: "0.05" },
  "jitter-ms": { type: "string", default: "10" },
  reps: { type: "string", default: "3" },
  help: { type: "boolean", short: "h" },
} as const;
let parsed;
try {
  // `--jitter-ms -1` is that option's (bad) value, not an ambiguous option.
  parsed = parseArgs({
    args: negativeValuesJoined(process.argv.slice(2), OPTIONS),
    options: OPTIONS,
  });
} catch (err) {
  console.error(`network-send: ${(err as Error).message.split("\n")[0]}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
/** `--name`'s value as a number, or exit 2 naming the option and what it must be. */
const option = (
  name: keyof typeof values,
  integer: boolean,
  ok: (x: number) => boolean,
  what: string,
) => {
  const text = String(values[name]);
  const x = decimalNumber(text, integer);
  if (!ok(x) || (integer && !Number.isSafeInteger(x))) {
    console.error(`network-send: --${name} must be ${what}, got "${text}"`);
    process.exit(2);
  }
  return x;
};
const sends = option("sends", true, (x) => x >= 1, "an integer ≥ 1");
const endpoints = option("endpoints", true, (x) => x >= 2, "an integer ≥ 2");
const reps = option("reps", true, (x) => x >= 1, "an integer ≥ 1");
const jitterMs = option("jitter-ms", false, (x) => x >= 0, "a decimal ≥ 0");
const loss = option("loss", false, (x) => x >= 0 && x < 1, "a decimal in [0, 1)");
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
