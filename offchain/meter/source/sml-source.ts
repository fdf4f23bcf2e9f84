// A real meter's SML output as a `ReadingSource` (issue 11; docs/RUNTIME.md "Reading sources"):
// from a capture file, a TCP stream (an IR-head-to-TCP bridge such as ser2net) or a serial device
// path. Every CRC-valid SML file yields one reading of the energy register `obis` (default
// 1-0:1.8.0*255, energy import total), scaled to milli-Wh; consumption is the register difference
// (source.ts). Bad files are skipped and counted (sml.ts), never fatal.
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import net from "node:net";
import type { Readable } from "node:stream";

import type { Clock, TimerHandle } from "../../runtime/clock.ts";
import type { Logger } from "../../runtime/log.ts";
import { silentLogger } from "../../runtime/log.ts";
import type { Rng } from "../../runtime/rng.ts";
import { backoffDelayMs, type BackoffInit } from "../../runtime/socket-transport.ts";
import { DLMS_UNIT, parseSmlFile, SmlFrameScanner, type SmlScanStats } from "./sml.ts";
import {
  ReadingSourceInputError,
  RegisterSeries,
  scaledToMilliWh,
  type ReadingSource,
  type RegisterSeriesInit,
} from "./source.ts";

/** Energy import, total (OBIS 1-0:1.8.0*255). */
export const OBIS_ENERGY_IMPORT = "1-0:1.8.0*255";

export interface SmlSourceInit extends RegisterSeriesInit {
  /** The energy register to read (default `OBIS_ENERGY_IMPORT`). */
  readonly obis?: string;
}

export interface SmlCaptureInit extends SmlSourceInit {
  /** Timestamp (unix s) of the capture's first valid file. */
  readonly firstTimestampS: number;
  /** Seconds between consecutive files (the meter's push period, e.g. 1). */
  readonly periodS: number;
}

export interface SmlLiveComponents {
  /** Time of each reading = clock time when its file was decoded. */
  readonly clock: Clock;
  readonly logger?: Logger;
}

export interface SmlSourceStats extends SmlScanStats {
  /** Readings of the register appended to the series. */
  readonly readings: number;
  /** Valid files without the register, with a unit other than Wh, or unparseable. */
  readonly skippedFiles: number;
  /** Readings refused by the series (older than the last, or a decreasing register). */
  readonly rejectedReadings: number;
  /** TCP re-dials scheduled (`connectTcp`). */
  readonly reconnects: number;
}

function checkObis(obis: string): string {
  if (!/^\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}\*\d{1,3}$/.test(obis)) {
    throw new ReadingSourceInputError(
      `SmlReadingSource: "${obis}" is not an OBIS code A-B:C.D.E*F`,
    );
  }
  return obis;
}

export class SmlReadingSource implements ReadingSource {
  readonly series: RegisterSeries;
  readonly obis: string;
  readonly #scanner = new SmlFrameScanner();
  readonly #logger: Logger;
  #skippedFiles = 0;
  #reconnects = 0;
  #rejected = 0;
  #close: () => Promise<void> = async () => undefined;

  /** A source fed by `ingest` (the factories below wire files, sockets and devices to it). */
  constructor(init: SmlSourceInit = {}, logger: Logger = silentLogger) {
    this.obis = checkObis(init.obis ?? OBIS_ENERGY_IMPORT);
    this.series = new RegisterSeries(init);
    this.#logger = logger.child("sml");
  }

  /**
   * Reads a capture file (raw bytes, or hex text if the name ends in `.hex`) at once; the i-th
   * valid file is timestamped `firstTimestampS + i · periodS`. Throws `ReadingSourceInputError`
   * if the file cannot be read or holds no reading of the register.
   */
  static async fromCaptureFile(path: string, init: SmlCaptureInit): Promise<SmlReadingSource> {
    if (!Number.isFinite(init.firstTimestampS) || !(init.periodS > 0)) {
      throw new ReadingSourceInputError(
        "SmlReadingSource.fromCaptureFile: firstTimestampS must be finite and periodS > 0",
      );
    }
    let bytes: Uint8Array;
    try {
      const raw = await readFile(path);
      bytes = path.endsWith(".hex")
        ? Buffer.from(raw.toString("utf8").replace(/\s+/g, ""), "hex")
        : raw;
    } catch (e) {
      throw new ReadingSourceInputError(
        `SmlReadingSource: cannot read ${path}: ${(e as Error).message}`,
      );
    }
    const source = new SmlReadingSource(init);
    let i = 0;
    source.ingest(bytes, () => init.firstTimestampS + i++ * init.periodS);
    source.end();
    if (source.series.length === 0) {
      throw new ReadingSourceInputError(
        `SmlReadingSource: ${path} has no reading of ${source.obis} (${JSON.stringify(source.stats())})`,
      );
    }
    return source;
  }

  /** Live readings from a byte stream (a socket, a device); timestamps from `clock`. */
  static fromStream(
    stream: Readable,
    init: SmlSourceInit,
    components: SmlLiveComponents,
  ): SmlReadingSource {
    const source = new SmlReadingSource(init, components.logger);
    const now = (): number => components.clock.now() / 1000;
    stream.on("data", (chunk: Buffer) => source.ingest(chunk, now));
    stream.on("end", () => source.end());
    stream.on("error", (e) => source.#logger.warn("stream error", { error: e.message }));
    source.#close = () =>
      new Promise<void>((resolve) => {
        if (stream.destroyed) return resolve();
        stream.once("close", () => resolve());
        stream.destroy();
      });
    return source;
  }

  /**
   * Live readings from a TCP stream of SML (e.g. ser2net in raw mode on the IR head). A dropped
   * or refused connection is re-dialled after `backoffDelayMs` (runtime/socket-transport.ts;
   * jitter from `components.rng` when given), the attempt counter reset by the next byte received;
   * a file cut by the drop counts as truncated. `reconnect: false` reads one connection only.
   */
  static connectTcp(
    at: { readonly host: string; readonly port: number },
    init: SmlSourceInit & { readonly reconnect?: BackoffInit | false },
    components: SmlLiveComponents & { readonly rng?: Rng },
  ): SmlReadingSource {
    if (init.reconnect === false) {
      return SmlReadingSource.fromStream(
        net.connect({ host: at.host, port: at.port }),
        init,
        components,
      );
    }
    const backoff = {
      initialMs: init.reconnect?.initialMs ?? 200,
      maxMs: init.reconnect?.maxMs ?? 10_000,
      factor: init.reconnect?.factor ?? 2,
      jitter: components.rng === undefined ? 0 : (init.reconnect?.jitter ?? 0.5),
    };
    const source = new SmlReadingSource(init, components.logger);
    const { clock } = components;
    const now = (): number => clock.now() / 1000;
    let socket: net.Socket | undefined;
    let timer: TimerHandle | undefined;
    let attempt = 0;
    let closing = false;
    const dial = (): void => {
      timer = undefined;
      const s = net.connect({ host: at.host, port: at.port });
      socket = s;
      s.on("data", (chunk: Buffer) => {
        attempt = 0;
        source.ingest(chunk, now);
      });
      s.on("error", (e) => source.#logger.debug("tcp error", { error: e.message }));
      s.on("close", () => {
        if (socket !== s) return;
        socket = undefined;
        source.end(); // a file in progress is lost with the connection
        if (closing) return;
        const delay = backoffDelayMs(attempt++, backoff, components.rng?.nextFloat() ?? 0);
        source.#reconnects++;
        source.#logger.info("tcp re-dial scheduled", { attempt, delayMs: delay });
        timer = clock.setTimeout(dial, delay);
      });
    };
    dial();
    source.#close = async () => {
      closing = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      const s = socket;
      if (s === undefined || s.destroyed) return;
      await new Promise<void>((resolve) => {
        s.once("close", () => resolve());
        s.destroy();
      });
    };
    return source;
  }

  /**
   * Live readings from a serial device path (e.g. /dev/ttyUSB0), read as a character device. The
   * line must be configured beforehand (e.g. `stty -F /dev/ttyUSB0 9600 raw -echo`): no native
   * serial-port module is needed, so nothing is compiled or downloaded at install.
   */
  static openSerialDevice(
    path: string,
    init: SmlSourceInit,
    components: SmlLiveComponents,
  ): SmlReadingSource {
    return SmlReadingSource.fromStream(createReadStream(path), init, components);
  }

  /** Feeds bytes; each CRC-valid file becomes a reading timestamped `timestampS()`. */
  ingest(bytes: Uint8Array, timestampS: () => number): void {
    for (const file of this.#scanner.push(bytes)) this.#onFile(file, timestampS());
  }

  /** End of input: a file in progress counts as truncated. */
  end(): void {
    this.#scanner.end();
  }

  #onFile(file: Uint8Array, t: number): void {
    let registerMilliWh: bigint;
    try {
      const reg = parseSmlFile(file).get(this.obis);
      if (reg === undefined || typeof reg.value !== "bigint") {
        throw new ReadingSourceInputError(`no numeric ${this.obis} in this file`);
      }
      if (reg.unit !== undefined && reg.unit !== DLMS_UNIT.Wh) {
        throw new ReadingSourceInputError(`${this.obis} has unit ${reg.unit}, not Wh (30)`);
      }
      registerMilliWh = scaledToMilliWh(reg.value, reg.scaler);
    } catch (e) {
      this.#skippedFiles++;
      this.#logger.warn("SML file skipped", { error: (e as Error).message });
      return;
    }
    try {
      this.series.append({ timestampS: t, registerMilliWh });
    } catch (e) {
      this.#rejected++;
      this.#logger.warn("SML reading rejected", { error: (e as Error).message });
    }
  }

  stats(): SmlSourceStats {
    return {
      ...this.#scanner.stats(),
      readings: this.series.length,
      skippedFiles: this.#skippedFiles,
      rejectedReadings: this.#rejected,
      reconnects: this.#reconnects,
    };
  }

  async consumptionWh(startS: number, endS: number): Promise<bigint> {
    return this.series.consumptionWh(startS, endS);
  }

  async close(): Promise<void> {
    await this.#close();
  }
}
