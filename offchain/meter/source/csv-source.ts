// A CSV of energy-register readings as a `ReadingSource` (docs/RUNTIME.md "Reading sources"):
//
//   timestamp,register_wh          (header optional; `#` starts a comment line)
//   1700000000,15338555.7          (unix seconds, or ISO 8601 with a zone: 2023-11-14T22:13:20Z)
//   1700000900,15338612
//
// Rows must be in time order and the register must not decrease. Consumption is the difference of
// the register (source.ts).
import { readFile } from "node:fs/promises";

import {
  parseDecimalWhToMilliWh,
  ReadingSourceInputError,
  RegisterSeries,
  type ReadingSource,
  type RegisterSeriesInit,
} from "./source.ts";

function parseTimestamp(text: string, where: string): number {
  if (/^\d+$/.test(text)) {
    const t = Number(text);
    if (Number.isSafeInteger(t)) return t;
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms / 1000;
  }
  throw new ReadingSourceInputError(
    `${where}: timestamp "${text}" is neither unix seconds nor ISO 8601 with a zone`,
  );
}

/**
 * Parses CSV text into a register series. Throws `ReadingSourceInputError` (with the line number)
 * for a malformed line or out-of-order rows and `ReadingSourceRegisterDecreasedError` for a
 * decreasing register.
 */
export function parseRegisterCsv(
  text: string,
  init: RegisterSeriesInit = {},
  name = "csv",
): RegisterSeries {
  const series = new RegisterSeries(init);
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    const where = `${name}:${i + 1}`;
    if (line === "" || line.startsWith("#")) return;
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length !== 2) {
      throw new ReadingSourceInputError(`${where}: expected 2 columns (timestamp, register Wh)`);
    }
    if (series.length === 0 && !/^\d/.test(cells[0])) return; // header
    try {
      series.append({
        timestampS: parseTimestamp(cells[0], where),
        registerMilliWh: parseDecimalWhToMilliWh(cells[1], `${where}: register`),
      });
    } catch (e) {
      if (e instanceof Error)
        e.message = e.message.startsWith(where) ? e.message : `${where}: ${e.message}`;
      throw e;
    }
  });
  if (series.length === 0) throw new ReadingSourceInputError(`${name}: no readings`);
  return series;
}

export class CsvReadingSource implements ReadingSource {
  readonly series: RegisterSeries;

  constructor(series: RegisterSeries) {
    this.series = series;
  }

  /** Reads and parses `path` (see `parseRegisterCsv` for the errors). */
  static async fromFile(path: string, init: RegisterSeriesInit = {}): Promise<CsvReadingSource> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      throw new ReadingSourceInputError(
        `CsvReadingSource: cannot read ${path}: ${(e as Error).message}`,
      );
    }
    return new CsvReadingSource(parseRegisterCsv(text, init, path));
  }

  async consumptionWh(startS: number, endS: number): Promise<bigint> {
    return this.series.consumptionWh(startS, endS);
  }

  async close(): Promise<void> {}
}
