// `node supervise-main.ts DIR N`: a parent that starts N ping processes under a Supervisor with its
// exit handlers installed, prints `{"pids": [...]}` once they are healthy, then waits (the tests
// interrupt it). Used to check that no child outlives an interrupted or killed parent.
import { join } from "node:path";

import { Supervisor } from "../../offchain/node/supervisor.ts";
import { pingSpec, writePingConfig } from "./ping-fixture.ts";
import { freePort } from "./hardhat-node.ts";

import { fileURLToPath as toPath } from "node:url";
import { resolve as resolvePath } from "node:path";

// Hardhat's mocha runner imports every .ts under test/: run only as a script (`node this-file`),
// never on import (it would parse mocha's argv, exit, or keep the runner alive).
if (process.argv[1] !== undefined && resolvePath(process.argv[1]) === toPath(import.meta.url)) {
  await main();
}

async function main(): Promise<void> {
  const [dir, n] = process.argv.slice(2);
  const count = Number(n);
  const supervisor = new Supervisor({ stopTimeoutMs: 5_000 });
  supervisor.installExitHandlers();
  const book: Record<string, string> = {};
  for (let i = 0; i < count; i++) book[`p${i}`] = `127.0.0.1:${await freePort()}`;
  for (let i = 0; i < count; i++) {
    const cfg = writePingConfig(dir, `p${i}`, {
      address: `p${i}`,
      peers: Object.keys(book).filter((a) => a !== `p${i}`),
      intervals: 1_000_000,
      intervalMs: 100,
      addressBook: book,
    });
    await supervisor.start(pingSpec(`p${i}`, cfg, join(dir, `data-p${i}`)));
  }
  console.log(JSON.stringify({ pids: supervisor.allPids() }));
  setInterval(() => undefined, 1 << 30);
}
