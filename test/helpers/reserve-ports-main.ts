// `node test/helpers/reserve-ports-main.ts SEED COUNT HOLD_MS`: reserves COUNT ports with a random
// sequence seeded by SEED (so two processes given the same seed draw the same candidates), prints
// them as JSON, holds the reservations for HOLD_MS and exits (test/node/devnet.test.ts).
import { resolve as resolvePath } from "node:path";
import { fileURLToPath as toPath } from "node:url";

import { reservePorts } from "../../offchain/node/hardhat-node.ts";

// Hardhat's mocha runner imports every .ts under test/: run only as a script.
if (process.argv[1] !== undefined && resolvePath(process.argv[1]) === toPath(import.meta.url)) {
  const [seed, count, holdMs] = process.argv.slice(2).map(Number);
  let x = seed >>> 0 || 1;
  const random = () => {
    // xorshift32: the same seed, the same draws.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
  const ports = await reservePorts(count, random);
  process.stdout.write(JSON.stringify(ports) + "\n");
  await new Promise((r) => setTimeout(r, holdMs));
}
