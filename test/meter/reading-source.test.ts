// Meter reading sources: the register arithmetic, the synthetic load model, CSV, and SML read from
// real meter captures (shared/vectors/meters/, known answers in its README) from a file, a TCP
// stream and a serial-like device (a FIFO), including the truncated capture and corrupted input.
import { expect } from "chai";
import fc from "fast-check";
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { CsvReadingSource, parseRegisterCsv } from "../../offchain/meter/source/csv-source.ts";
import { LoadModelSource } from "../../offchain/meter/source/load-model-source.ts";
import {
  crc16X25,
  parseSmlFile,
  SML_START,
  SmlCrcError,
  SmlFrameScanner,
  unescapeSmlFile,
} from "../../offchain/meter/source/sml.ts";
import { SmlReadingSource } from "../../offchain/meter/source/sml-source.ts";
import {
  parseDecimalWhToMilliWh,
  ReadingSourceInputError,
  ReadingSourceNoDataError,
  ReadingSourceRangeError,
  ReadingSourceRegisterDecreasedError,
  RegisterSeries,
  scaledToMilliWh,
} from "../../offchain/meter/source/source.ts";
import { SystemClock, type Clock, type TimerHandle } from "../../offchain/runtime/clock.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { LoadModel } from "../../offchain/sim/load-model.ts";
import { sharedPath } from "../helpers/shared.ts";

const meters = (name: string) => sharedPath(`vectors/meters/${name}`);
const emhFile = () =>
  Buffer.from(readFileSync(meters("emh-sml-1.hex"), "utf8").replace(/\s+/g, ""), "hex");

/** A clock whose every `now()` is one second after the previous (live readings 1 s apart). */
class SteppingClock implements Clock {
  #t = 0;
  now(): number {
    return (this.#t += 1000);
  }
  setTimeout(): TimerHandle {
    throw new Error("not used");
  }
  clearTimeout(): void {}
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("reading sources: register arithmetic", () => {
  it("decimal and OBIS-scaled values convert exactly to milli-Wh (finer digits floored)", () => {
    expect(parseDecimalWhToMilliWh("15338555.7", "t")).to.equal(15_338_555_700n);
    expect(parseDecimalWhToMilliWh("42", "t")).to.equal(42_000n);
    expect(parseDecimalWhToMilliWh("0.0019", "t")).to.equal(1n);
    for (const bad of ["", "-1", "1e3", " 1", "1.", "0x10"]) {
      expect(() => parseDecimalWhToMilliWh(bad, "t"), bad).to.throw(ReadingSourceInputError);
    }
    expect(scaledToMilliWh(153385557n, -1)).to.equal(15_338_555_700n);
    expect(scaledToMilliWh(5n, 3)).to.equal(5_000_000n);
    expect(scaledToMilliWh(12345n, -5)).to.equal(123n);
  });

  it("consumption is ⌊R(end)⌋ − ⌊R(start)⌋ with R the last reading at or before the time", () => {
    const s = new RegisterSeries();
    s.append({ timestampS: 100, registerMilliWh: 1_000_500n });
    s.append({ timestampS: 200, registerMilliWh: 1_001_400n });
    s.append({ timestampS: 300, registerMilliWh: 1_003_000n });
    expect(s.consumptionWh(100, 200)).to.equal(1n); // 1001 − 1000
    expect(s.consumptionWh(150, 250)).to.equal(1n); // R(150)=1000.5, R(250)=1001.4
    expect(s.consumptionWh(200, 300)).to.equal(2n);
    expect(s.consumptionWh(300, 10_000)).to.equal(0n);
    expect(() => s.consumptionWh(50, 200)).to.throw(ReadingSourceNoDataError);
    expect(() => s.consumptionWh(200, 200)).to.throw(ReadingSourceRangeError);
    expect(() => s.append({ timestampS: 400, registerMilliWh: 1n })).to.throw(
      ReadingSourceRegisterDecreasedError,
    );
    expect(() => s.append({ timestampS: 250, registerMilliWh: 2_000_000n })).to.throw(
      ReadingSourceInputError,
    );
    const stale = new RegisterSeries({ maxStalenessS: 60 });
    stale.append({ timestampS: 0, registerMilliWh: 0n });
    expect(() => stale.consumptionWh(0, 61)).to.throw(ReadingSourceNoDataError, /61 s old/);
  });

  it("consecutive intervals telescope: no fraction of a Wh is lost or counted twice", () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 5_000_000n }), { minLength: 2, maxLength: 40 }),
        fc.integer({ min: 1, max: 50 }),
        (steps, len) => {
          const s = new RegisterSeries();
          let r = 0n;
          steps.forEach((d, i) => s.append({ timestampS: i * 7, registerMilliWh: (r += d) }));
          const end = (steps.length - 1) * 7;
          let total = 0n;
          let t = 0;
          for (; t + len <= end; t += len) total += s.consumptionWh(t, t + len);
          expect(total).to.equal(s.registerAt(t) / 1000n - s.registerAt(0) / 1000n);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("reading sources: load model and CSV", () => {
  it("LoadModelSource equals the load model's interval consumption and is repeatable", async () => {
    const model = new LoadModel({ seed: "src" });
    const src = new LoadModelSource({ meterIndex: 3 }, { model, rng: createRng("noise") });
    const a = await src.consumptionWh(1_700_000_000, 1_700_000_900);
    const expected = model.consumptionWh(
      3,
      1_700_000_000,
      900,
      createRng("noise").fork("3/1700000000"),
    );
    expect(a).to.equal(expected);
    expect(a > 0n).to.equal(true);
    expect(await src.consumptionWh(1_700_000_000, 1_700_000_900)).to.equal(a);
    try {
      await src.consumptionWh(10, 5);
      expect.fail("accepted an empty interval");
    } catch (e) {
      expect(e).to.be.instanceOf(ReadingSourceRangeError);
    }
    expect(() => new LoadModelSource({ meterIndex: -1 }, { model, rng: createRng("x") })).to.throw(
      ReadingSourceInputError,
    );
  });

  it("CSV of register readings: header, comments, ISO or unix timestamps, decimal Wh", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gridledger-csv-"));
    try {
      const path = join(dir, "m1.csv");
      writeFileSync(
        path,
        [
          "timestamp,register_wh",
          "# meter 1, 15-minute reads",
          "1700000000,15338555.7",
          "2023-11-14T22:28:20Z,15338612.2",
          "1700001800,15338700",
        ].join("\n"),
      );
      const src = await CsvReadingSource.fromFile(path);
      expect(await src.consumptionWh(1_700_000_000, 1_700_000_900)).to.equal(57n); // 15338612 − 15338555
      expect(await src.consumptionWh(1_700_000_900, 1_700_001_800)).to.equal(88n);
      await src.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("CSV errors are named and carry the line", () => {
    expect(() => parseRegisterCsv("1,10\n2,9")).to.throw(
      ReadingSourceRegisterDecreasedError,
      /csv:2/,
    );
    expect(() => parseRegisterCsv("1,10\n2")).to.throw(ReadingSourceInputError, /csv:2/);
    expect(() => parseRegisterCsv("1,10\nyesterday,11")).to.throw(ReadingSourceInputError, /csv:2/);
    expect(() => parseRegisterCsv("2,10\n1,11")).to.throw(ReadingSourceInputError, /older/);
    expect(() => parseRegisterCsv("timestamp,register_wh\n")).to.throw(
      ReadingSourceInputError,
      /no readings/,
    );
  });
});

describe("reading sources: SML (real meter captures)", () => {
  it("CRC-16/X-25 check value", () => {
    expect(crc16X25(new TextEncoder().encode("123456789"))).to.equal(0x906e);
  });

  it("EMH file: 1.8.0 = 15,338,555.7 Wh and 16.7.0 = 563.5 W", async () => {
    const regs = parseSmlFile(emhFile());
    const e = regs.get("1-0:1.8.0*255")!;
    expect(e).to.deep.include({ value: 153385557n, scaler: -1, unit: 30 });
    expect(scaledToMilliWh(e.value as bigint, e.scaler)).to.equal(15_338_555_700n);
    expect(regs.get("1-0:1.8.1*255")!.value).to.equal(153385557n);
    expect(regs.get("1-0:1.8.2*255")!.value).to.equal(0n);
    expect(regs.get("1-0:16.7.0*255")).to.deep.include({ value: 5635n, scaler: -1, unit: 27 });
    expect(Buffer.from(regs.get("129-129:199.130.3*255")!.value as Uint8Array).toString()).to.equal(
      "EMH",
    );
    const src = await SmlReadingSource.fromCaptureFile(meters("emh-sml-1.hex"), {
      firstTimestampS: 1000,
      periodS: 1,
    });
    expect(src.series.last).to.deep.equal({ timestampS: 1000, registerMilliWh: 15_338_555_700n });
  });

  it("DNT 736-byte capture: two files, the third truncated; 2.8.0 = 4,373.0 Wh, 15.7.0 = 42 W", async () => {
    const scanner = new SmlFrameScanner();
    const files = scanner.push(readFileSync(meters("dnt-sml-2.bin")));
    scanner.end();
    expect(files.length).to.equal(2);
    expect(scanner.stats()).to.deep.include({ files: 2, truncated: 1, crcErrors: 0, corrupt: 0 });
    const first = parseSmlFile(files[0]);
    const reg = first.get("1-0:2.8.0*255")!;
    expect(scaledToMilliWh(reg.value as bigint, reg.scaler)).to.equal(4_373_000n);
    expect(first.get("1-0:15.7.0*255")).to.deep.include({ value: 42n, scaler: 0, unit: 27 });

    const src = await SmlReadingSource.fromCaptureFile(meters("dnt-sml-2.bin"), {
      obis: "1-0:2.8.0*255",
      firstTimestampS: 0,
      periodS: 1,
    });
    expect(src.stats()).to.deep.include({ readings: 2, truncated: 1, skippedFiles: 0 });
    expect(await src.consumptionWh(0, 1)).to.equal(0n);
    // The default register (1.8.0, import) is not in this export-only meter's output.
    try {
      await SmlReadingSource.fromCaptureFile(meters("dnt-sml-2.bin"), {
        firstTimestampS: 0,
        periodS: 1,
      });
      expect.fail("accepted a capture without the register");
    } catch (e) {
      expect(e).to.be.instanceOf(ReadingSourceInputError);
    }
  });

  it("DNT long capture: 519 files (518 complete, the last cut), 2.8.0 constant, 15.7.0 in 36–55 W", () => {
    const scanner = new SmlFrameScanner();
    const files = scanner.push(readFileSync(meters("dnt-sml-519.bin")));
    scanner.end();
    const s = scanner.stats();
    expect(s.files + s.truncated).to.equal(519);
    expect(s).to.deep.include({ files: 518, truncated: 1, crcErrors: 0, corrupt: 0 });
    const powers = new Set<bigint>();
    for (const f of files) {
      const r = parseSmlFile(f);
      expect(r.get("1-0:2.8.0*255")!.value).to.equal(43730n);
      powers.add(r.get("1-0:15.7.0*255")!.value as bigint);
    }
    const p = [...powers].sort((a, b) => Number(a - b));
    expect(p[0]).to.equal(36n);
    expect(p[p.length - 1]).to.equal(55n);
  });

  it("resynchronises after garbage, a corrupted file and a truncated file; chunking does not matter", () => {
    const capture = readFileSync(meters("dnt-sml-2.bin"));
    const [f1, f2] = new SmlFrameScanner().push(capture);
    const corrupted = Uint8Array.from(f1);
    corrupted[100] ^= 0x40;
    const input = Buffer.concat([
      Buffer.from("garbage before any file"),
      corrupted, // CRC fails
      f1.subarray(0, 150), // cut short by the next start sequence
      f2,
      f1,
    ]);
    for (const chunk of [input.length, 1, 7, 64]) {
      const sc = new SmlFrameScanner();
      const out: Uint8Array[] = [];
      for (let i = 0; i < input.length; i += chunk)
        out.push(...sc.push(input.subarray(i, i + chunk)));
      sc.end();
      expect(
        out.map((f) => Buffer.from(f).toString("hex")),
        `chunk ${chunk}`,
      ).to.deep.equal([Buffer.from(f2).toString("hex"), Buffer.from(f1).toString("hex")]);
      expect(sc.stats()).to.deep.include({ files: 2, crcErrors: 1, truncated: 1 });
    }
    expect(() => parseSmlFile(corrupted)).to.throw(SmlCrcError);
  });

  it("an escape sequence inside the data is doubled on the wire and undone before parsing", () => {
    // Crafted fixture: start ‖ 1b1b1b1b 1b1b1b1b (escaped data) ‖ 00000000 ‖ end 1a 00 ‖ CRC.
    const body = [...SML_START, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0, 0, 0, 0];
    const head = Uint8Array.from([...body, 0x1b, 0x1b, 0x1b, 0x1b, 0x1a, 0x00]);
    const crc = crc16X25(head);
    const file = Uint8Array.from([...head, crc >> 8, crc & 0xff]);
    const files = new SmlFrameScanner().push(file);
    expect(files.length).to.equal(1);
    expect([...unescapeSmlFile(files[0])]).to.deep.equal([
      ...SML_START,
      0x1b,
      0x1b,
      0x1b,
      0x1b,
      0,
      0,
      0,
      0,
      0x1b,
      0x1b,
      0x1b,
      0x1b,
      0x1a,
      0x00,
      crc >> 8,
      crc & 0xff,
    ]);
  });

  it("TCP stream: readings timestamped on arrival; consumption from the register", async () => {
    const capture = readFileSync(meters("dnt-sml-519.bin"));
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on("error", () => undefined);
      let i = 0;
      const pump = (): void => {
        if (s.destroyed) return;
        if (i >= capture.length) return void s.end();
        s.write(capture.subarray(i, (i += 997)), pump);
      };
      pump();
    });
    let src: SmlReadingSource | undefined;
    try {
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
      const port = (server.address() as net.AddressInfo).port;
      src = SmlReadingSource.connectTcp(
        { host: "127.0.0.1", port },
        { obis: "1-0:2.8.0*255", reconnect: false },
        { clock: new SteppingClock() },
      );
      await waitFor(() => src!.stats().truncated === 1, "the end of the stream");
      expect(src.stats()).to.deep.include({ readings: 518, crcErrors: 0, skippedFiles: 0 });
      expect(await src.consumptionWh(1, 518)).to.equal(0n);
    } finally {
      await src?.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("TCP stream: re-dials a bridge that is not up yet and one that drops mid-file", async () => {
    const capture = readFileSync(meters("dnt-sml-519.bin"));
    const [first] = new SmlFrameScanner().push(capture);
    const cut = first.length + 100; // the second file is cut by the drop
    const sockets = new Set<net.Socket>();
    let connections = 0;
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on("error", () => undefined);
      const n = ++connections;
      if (n === 1) s.write(capture.subarray(0, cut), () => s.destroy());
      else if (n === 2) s.write(capture); // then stays open, like a meter between pushes
    });
    const port = await freePort();
    const src = SmlReadingSource.connectTcp(
      { host: "127.0.0.1", port },
      { obis: "1-0:2.8.0*255", reconnect: { initialMs: 20, maxMs: 100 } },
      { clock: new SystemClock(), rng: createRng("sml-tcp") },
    );
    try {
      await new Promise((r) => setTimeout(r, 150)); // refused at least once
      await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
      await waitFor(() => src.stats().readings === 1 + 518, "readings from both connections");
      const st = src.stats();
      expect(st.reconnects).to.be.at.least(2); // refused, then dropped
      expect(st.truncated).to.equal(1); // the file cut by the drop
      expect(st.crcErrors).to.equal(0);
      expect(connections).to.equal(2);
    } finally {
      await src.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("serial device path (a FIFO standing in for /dev/ttyUSB0)", async function () {
    const dir = mkdtempSync(join(tmpdir(), "gridledger-tty-"));
    let src: SmlReadingSource | undefined;
    try {
      const fifo = join(dir, "ttyUSB0");
      execFileSync("mkfifo", [fifo]);
      src = SmlReadingSource.openSerialDevice(
        fifo,
        { obis: "1-0:2.8.0*255" },
        { clock: new SteppingClock() },
      );
      const w = createWriteStream(fifo);
      w.end(readFileSync(meters("dnt-sml-2.bin")));
      await waitFor(() => src!.stats().truncated === 1, "the device stream to end");
      expect(src.stats()).to.deep.include({ readings: 2, files: 2 });
      expect(src.series.last!.registerMilliWh).to.equal(4_373_000n);
    } finally {
      await src?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
