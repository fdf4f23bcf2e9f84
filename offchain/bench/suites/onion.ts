// Onion layer figures (DESIGN §4.6, docs/ONION.md): `relay.hop_us`, the median time for one relay
// to take one packet (ECDH, HMAC, decrypt, blind, replay cache, TLV) and emit it at round end;
// `onion.build_us`, the median time for a meter to build a 3-relay report onion;
// `onion.peel_us`, Sphinx alone peeling the first layer (ECDH, HMAC, decrypt, blind: no replay
// cache or TLV), and `onion.ec_floor_build_us` / `onion.ec_floor_peel_us`, the secp256k1 work those
// two cannot avoid (BOLT #4: per hop one ECDH and one blinding), so that what is left is the
// JavaScript overhead (issue 14). Default backend.
import { sha256 } from "../../crypto/hash.ts";
import { CURVE_ORDER, secp } from "../../crypto/secp256k1.ts";
import { bytesToBigInt } from "../../crypto/bytes.ts";
import { seededRandom } from "../../onion/random.ts";
import { OnionRelay } from "../../onion/relay.ts";
import { peelOnion } from "../../onion/sphinx.ts";
import {
  buildReportOnion,
  DEFAULT_PATH_LENGTH,
  maxReportMessageSize,
  onionAssociatedData,
} from "../../onion/report.ts";
import type { BenchContext } from "../harness.ts";

function key(label: string): bigint {
  return (bytesToBigInt(sha256(new TextEncoder().encode(label))) % (CURVE_ORDER - 1n)) + 1n;
}

export async function run(ctx: BenchContext): Promise<void> {
  ctx.log(`  backend: ${secp.name}`);
  const domain = sha256(new TextEncoder().encode("GridLedger bench"));
  const epoch = 1;
  const ad = onionAssociatedData(domain, epoch);
  const relayKeys = Array.from({ length: DEFAULT_PATH_LENGTH }, (_, i) => key(`relay/${i}`));
  const path = relayKeys.map((k) => secp.mulBase(k, true));
  const cc = secp.mulBase(key("cc"), true);
  // A realistic OCD report is ≈ 200 bytes; the size hardly matters (the packet is always 1366).
  const message = new Uint8Array(200).fill(0x42);
  ctx.log(`  max OCD message for ${DEFAULT_PATH_LENGTH} relays: ${maxReportMessageSize()} bytes`);

  const buildUs = ctx.measureUs((i) => buildReportOnion(path, cc, message, BigInt(i + 1), ad), {
    iterations: 100,
  });
  ctx.record("onion.build_us", buildUs, "us");

  // Distinct packets (fresh session keys) so the replay cache never short-cuts the work.
  const quick = ctx.quick;
  const count = quick ? 200 : 2000;
  const packets = Array.from(
    { length: count },
    (_, i) => buildReportOnion(path, cc, message, BigInt(1_000_000 + i), ad).packet,
  );
  const relay = new OnionRelay({ privateKey: relayKeys[0], domain, epoch });
  const random = seededRandom(new Uint8Array(32));
  let next = 0;
  const hopUs = ctx.measureUs(
    () => {
      const receipt = relay.receive(packets[next++ % count]);
      if (!receipt.accepted) throw new Error(`bench: relay dropped a packet (${receipt.reason})`);
      relay.endRound({ random });
    },
    { iterations: quick ? 20 : 200, samples: quick ? 3 : 7, warmup: quick ? 10 : 50 },
  );
  if (next > count) throw new Error("bench: ran out of distinct packets");
  ctx.record("relay.hop_us", hopUs, "us");

  const peelUs = ctx.measureUs((i) => peelOnion(packets[i % count], relayKeys[0], ad), {
    iterations: 100,
  });
  ctx.record("onion.peel_us", peelUs, "us");
  // The EC floor of the same work: a build is 1 + (hops − 1) base multiplications (e_i·G) and one
  // ECDH per hop; a relay's peel is one ECDH and one blinding (two variable-base multiplications).
  const hops = DEFAULT_PATH_LENGTH + 1;
  const scalars = Array.from({ length: 64 }, (_, i) => key(`scalar/${i}`));
  const mulUs = ctx.measureUs((i) => secp.mul(path[i % path.length], scalars[i % 64], true), {
    iterations: 100,
  });
  const mulBaseUs = ctx.measureUs((i) => secp.mulBase(scalars[i % 64], true), {
    iterations: 100,
  });
  ctx.record("onion.ec_floor_build_us", hops * (mulUs + mulBaseUs), "us");
  ctx.record("onion.ec_floor_peel_us", 2 * mulUs, "us");
}
