// Flood benchmarks (issue 16, "hostile load"; docs/SECURITY.md "Hostile load"), driven directly
// through the modules, no network:
//   relay.reject_per_s_bad_hmac   packets a relay rejects per second when their HMAC is wrong
//                                 (each still costs the relay one ECDH: the HMAC key needs it);
//   cc.reject_per_s_bad_signature reports CC rejects per second under live pseudonyms with a bad
//                                 signature (GGM key, one fixed-base multiplication to verify, one
//                                 more to name the reason);
//   relay.rss_mb_after_flood      growth of the process's resident memory (MB, after a forced GC)
//                                 after 100,000 hostile packets into one relay: junk payloads under
//                                 a valid HMAC (anyone can build them from the relay's public key),
//                                 20,000 distinct well-formed forwards (rounds end every 1000
//                                 packets, as the relay's timer would), bad HMACs, wrong sizes and
//                                 non-byte inputs, into a relay that has forwarded 20,000 honest
//                                 packets before (its working set). Goal: ≤ 10 MB;
//   cc.wal_mb_per_100k_reports    largest write-ahead log (MB) seen while CC's store appends
//                                 100,000 reports of 138 bytes to one interval's log. Goal: ≤ 64.
// `--quick` floods 10,000 packets / appends 10,000 reports and scales nothing: its figures are
// smoke values, not the goals' figures.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import { ControlCenter } from "../../cc/control-center.ts";
import { bytesToBigInt } from "../../crypto/bytes.ts";
import { sha256 } from "../../crypto/hash.ts";
import { keyPairFromSecret, meterKeysFromSecret } from "../../crypto/keys.ts";
import { CURVE_ORDER, secp } from "../../crypto/secp256k1.ts";
import { Meter } from "../../meter/meter.ts";
import { seededRandom } from "../../onion/random.ts";
import { OnionRelay } from "../../onion/relay.ts";
import { replayCacheMaxBytes } from "../../onion/replay.ts";
import { buildReportOnion, onionAssociatedData } from "../../onion/report.ts";
import { buildOnion, ONION_PACKET_SIZE } from "../../onion/sphinx.ts";
import { ledgerDomain } from "../../protocol/entry.ts";
import { encodeMeterReport } from "../../protocol/meter-report.ts";
import { Store } from "../../runtime/store.ts";
import type { BenchContext } from "../harness.ts";

const enc = new TextEncoder();
const scalar = (label: string) =>
  (bytesToBigInt(sha256(enc.encode(label))) % (CURVE_ORDER - 1n)) + 1n;
const MB = 1024 * 1024;

/** A full, forced garbage collection (V8 flag set at run time; no CLI flag needed). */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
}

export async function run(ctx: BenchContext): Promise<void> {
  const quick = ctx.quick;
  const domain = ledgerDomain(31337n, "0x" + "16".repeat(20));
  const epoch = 3;
  const ad = onionAssociatedData(domain, epoch);
  const relayKey = scalar("hostile/relay");
  const relayId = secp.mulBase(relayKey, true);
  const nextId = secp.mulBase(scalar("hostile/next"), true);
  const ccId = secp.mulBase(scalar("hostile/cc"), true);

  // ---- relay.reject_per_s_bad_hmac ------------------------------------------------------------
  {
    const relay = new OnionRelay({ privateKey: relayKey, domain, epoch });
    const base = buildReportOnion([relayId, nextId], ccId, Uint8Array.of(1), 7n, ad).packet;
    // Distinct packets: one payload byte differs (the ephemeral key stays valid, so the relay
    // does its ECDH before the HMAC fails).
    const packets = Array.from({ length: 256 }, (_, i) => {
      const p = base.slice();
      p[100] ^= i + 1 > 255 ? 1 : i + 1;
      return p;
    });
    const us = ctx.measureUs(
      (i) => {
        const r = relay.receive(packets[i % packets.length]);
        if (r.accepted || r.reason !== "hmac") throw new Error("bench: expected an HMAC drop");
      },
      { iterations: 500, samples: 5 },
    );
    ctx.record("relay.reject_per_s_bad_hmac", 1e6 / us, "packets/s");
  }

  // ---- cc.reject_per_s_bad_signature ----------------------------------------------------------
  {
    const cc = keyPairFromSecret(scalar("hostile/cc"));
    const center = new ControlCenter({ keys: cc, domain, maxMessagesPerMeter: 64, maxFailures: 3 });
    const categories = [50n, 100n, 250n, 500n, 1000n];
    const meters = Array.from({ length: 8 }, (_, i) => {
      const m = new Meter({
        index: i,
        keys: meterKeysFromSecret(scalar(`hostile/meter/${i}`), sha256(enc.encode(`K/${i}`))),
        ccPublicKey: cc.publicKey,
        domain,
        categories,
      });
      const reg = m.registration(scalar(`hostile/eph/${i}`));
      center.registerMeter(reg.index, reg.publicKey, reg.encryptedGgmKey, reg.basePublicKey);
      return m;
    });
    center.openInterval(1, { start: 1_000n, end: 2_000n }, categories);
    const forged: Uint8Array[] = [];
    for (const m of meters) {
      for (const e of m.reportInterval(1, 5_000n, 1_500n).entries) {
        forged.push(
          encodeMeterReport({ ...e, signature: { ...e.signature, y: e.signature.y ^ 1n } }),
        );
      }
    }
    const us = ctx.measureUs(
      (i) => {
        const a = center.admit(forged[i % forged.length]);
        if (a.accepted || a.reason !== "bad-signature") throw new Error("bench: expected refusal");
      },
      { iterations: 200, samples: 5 },
    );
    if (center.excludedMeters().length > 0) throw new Error("bench: forgeries excluded a meter");
    ctx.record("cc.reject_per_s_bad_signature", 1e6 / us, "reports/s");
  }

  // ---- relay.rss_mb_after_flood ---------------------------------------------------------------
  {
    const flood = quick ? 10_000 : 100_000;
    const relay = new OnionRelay({ privateKey: relayKey, domain, epoch });
    const random = seededRandom(new Uint8Array(32).fill(16));
    // The attacker builds its packets elsewhere: here they are built before the baseline into one
    // buffer, so the measurement sees the relay's memory, not the generator's garbage. Junk under a
    // valid HMAC is never remembered, so re-sending one of a pool costs the relay as much as a new
    // one; forwards are all distinct (each is remembered in the replay cache).
    const SIZE = ONION_PACKET_SIZE;
    const junkPool = quick ? 500 : 5_000;
    // A relay in service has processed traffic: the baseline is taken after `warmup` honest
    // forwards, so the figure is what the flood adds, not the process's one-time working set (a
    // cold process's RSS rises ≈ 18 MB within its first 20,000 packets of any mix, then stays
    // flat: docs/SECURITY.md "Hostile load").
    const warmup = quick ? 2_000 : 20_000;
    const forwards = flood / 5;
    const slab = new Uint8Array((junkPool + forwards + warmup) * SIZE);
    const junk = new Uint8Array(64).fill(0xee);
    for (let i = 0; i < junkPool; i++) {
      const p = buildOnion({
        sessionKey: BigInt(1_000_000 + i),
        hops: [{ pubkey: relayId, payload: junk }],
        associatedData: ad,
      });
      slab.set(p, i * SIZE);
    }
    for (let i = 0; i < forwards + warmup; i++) {
      const p = buildReportOnion([relayId, nextId], ccId, Uint8Array.of(3), BigInt(5e6 + i), ad);
      slab.set(p.packet, (junkPool + i) * SIZE);
    }
    const packetAt = (k: number) => slab.subarray(k * SIZE, (k + 1) * SIZE);
    const badHmac = slab.slice(0, SIZE);
    badHmac[SIZE - 1] ^= 1;
    const garbage: unknown[] = [new Uint8Array(100), "x".repeat(SIZE), new ArrayBuffer(SIZE), null];
    let nextForward = 0;
    // Per 10 packets: 5 junk payloads under a valid HMAC (anyone can build them from the relay's
    // public key), 2 well-formed forwards, 1 bad HMAC, 2 wrong sizes or non-byte inputs.
    const hostile = (i: number): unknown => {
      const k = i % 10;
      if (k < 5) return packetAt(i % junkPool);
      if (k < 7) return packetAt(junkPool + nextForward++);
      if (k === 7) return badHmac;
      return garbage[i % garbage.length];
    };
    for (let i = 0; i < warmup; i++) {
      const r = relay.receive(packetAt(junkPool + forwards + i));
      if (!r.accepted) throw new Error(`bench: honest warm-up packet dropped (${r.reason})`);
      if (i % 1000 === 999) relay.endRound({ random });
    }
    relay.endRound({ random });
    collectGarbage();
    const before = process.memoryUsage();
    const steps: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < flood; i++) {
      relay.receive(hostile(i) as Uint8Array);
      if (i % 1000 === 999) relay.endRound({ random });
      if (i % 20_000 === 19_999) {
        collectGarbage();
        steps.push(`${(i + 1) / 1000}k: ${(process.memoryUsage().rss / MB).toFixed(1)}`);
      }
    }
    relay.endRound({ random });
    const seconds = (performance.now() - t0) / 1000;
    collectGarbage();
    const after = process.memoryUsage();
    const c = relay.counters();
    const mb = (x: number) => (x / MB).toFixed(1);
    ctx.log(`  rss (MB) during the flood: ${steps.join(", ")}`);
    ctx.log(
      `  flood of ${flood} packets in ${seconds.toFixed(1)} s: rss ${mb(before.rss)} → ` +
        `${mb(after.rss)} MB, JS heap used ${mb(before.heapUsed)} → ${mb(after.heapUsed)} MB, ` +
        `array buffers ${mb(before.arrayBuffers)} → ${mb(after.arrayBuffers)} MB; replay cache ` +
        `${c.replayTags} tags in ${(c.replayBytes / MB).toFixed(2)} MB (cap ` +
        `${(replayCacheMaxBytes() / MB).toFixed(0)} MB); dropped ${JSON.stringify(c.dropped)}`,
    );
    ctx.record("relay.rss_mb_after_flood", (after.rss - before.rss) / MB, "MB");
  }

  // ---- cc.wal_mb_per_100k_reports -------------------------------------------------------------
  {
    const reports = quick ? 10_000 : 100_000;
    const dir = mkdtempSync(join(tmpdir(), "gridledger-bench-wal-"));
    // synchronous = "normal" only to keep the run short (no fsync per append): checkpointing, and
    // so the WAL's size, does not depend on it.
    const store = Store.open({ path: join(dir, "cc.sqlite"), synchronous: "normal" });
    try {
      const report = new Uint8Array(138).fill(0x5a);
      let peak = 0;
      for (let i = 0; i < reports; i++) {
        report[0] = i & 0xff;
        store.append("cc/reports/0", report);
        if (i % 1000 === 999) peak = Math.max(peak, store.walBytes());
      }
      peak = Math.max(peak, store.walBytes());
      ctx.log(
        `  ${reports} appends of 138 bytes: WAL peak ${(peak / MB).toFixed(2)} MB, ` +
          `now ${(store.walBytes() / MB).toFixed(2)} MB`,
      );
      ctx.record("cc.wal_mb_per_100k_reports", peak / MB, "MB");
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
