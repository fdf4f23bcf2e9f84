// Onion layer figures (DESIGN §4.6, docs/ONION.md): `relay.hop_us`, the median time for one relay
// to take one packet (ECDH, HMAC, decrypt, blind, replay cache, TLV) and emit it at round end;
// `onion.build_us`, the median time for a meter to build a 3-relay report onion. Default backend.
import { sha256 } from "../../crypto/hash.ts";
import { CURVE_ORDER, secp } from "../../crypto/secp256k1.ts";
import { bytesToBigInt } from "../../crypto/bytes.ts";
import { seededRandom } from "../../onion/random.ts";
import { OnionRelay } from "../../onion/relay.ts";
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
}
