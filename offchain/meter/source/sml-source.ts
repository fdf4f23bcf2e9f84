// A real meter's SML output as a `ReadingSource` (issue 11; docs/RUNTIME.md "Reading sources"):
// from a capture file, a TCP stream (an IR-head-to-TCP bridge such as ser2net) or a serial device
// path. Every CRC-valid SML file yields one reading of the energy register `obis` (default
// 1-0:1.8.0*255, energy import total), scaled to milli-Wh; consumption is the register difference
// (source.ts). Bad files are skipped and counted (sml.ts), never fatal.
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import net from "node:net";
import type { Readable } from "node:stream";

import type { Clock } from "../../runtime/clock.ts";
import type { Logger } from "../../runtime/log.ts";
import { silentLogger } from "../../runtime/log.ts";
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

  /** Live readings from a TCP stream of SML (e.g. ser2net in raw mode on the IR head). */
  static connectTcp(
    at: { readonly host: string; readonly port: number },
    init: SmlSourceInit,
    components: SmlLiveComponents,
  ): SmlReadingSource {
    return SmlReadingSource.fromStream(
      net.connect({ host: at.host, port: at.port }),
      init,
      components,
    );
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
    };
  }

  async consumptionWh(startS: number, endS: number): Promise<bigint> {
    return this.series.consumptionWh(startS, endS);
  }

  async close(): Promise<void> {
    await this.#close();
  }
}
