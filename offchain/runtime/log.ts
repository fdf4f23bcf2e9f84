// Structured logging for agents and the simulation runner. A `Logger` is injected like every other
// runtime dependency (STYLE "libp2p": XxxComponents), so tests pass `silentLogger` or `MemoryLogger`
// and nothing prints, and the console logger takes its time from the injected clock.
import type { Clock } from "./clock.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Readonly<Record<string, unknown>>;

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogRecord {
  readonly timeMs: number;
  readonly level: LogLevel;
  readonly component: string;
  readonly message: string;
  readonly fields: LogFields;
}

export interface Logger {
  readonly component: string;
  log(level: LogLevel, message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger for a sub-component, named `parent:child`. */
  child(component: string): Logger;
}

export class LogError extends Error {
  override name = "LogError";
}

type Sink = (record: LogRecord) => void;

class SinkLogger implements Logger {
  readonly component: string;
  readonly #sink: Sink;
  readonly #minRank: number;
  readonly #now: () => number;

  constructor(component: string, sink: Sink, minLevel: LogLevel, now: () => number) {
    this.component = component;
    this.#sink = sink;
    this.#minRank = LEVEL_RANK[minLevel];
    this.#now = now;
  }

  log(level: LogLevel, message: string, fields: LogFields = {}): void {
    const rank = LEVEL_RANK[level];
    if (rank === undefined) throw new LogError(`log: unknown level ${String(level)}`);
    if (rank < this.#minRank) return;
    this.#sink({ timeMs: this.#now(), level, component: this.component, message, fields });
  }
  debug(message: string, fields?: LogFields): void {
    this.log("debug", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log("info", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log("warn", message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log("error", message, fields);
  }
  child(component: string): Logger {
    if (typeof component !== "string" || component.length === 0) {
      throw new LogError("child: component must be a non-empty string");
    }
    const name = this.component.length > 0 ? `${this.component}:${component}` : component;
    return new SinkLogger(name, this.#sink, levelOfRank(this.#minRank), this.#now);
  }
}

function levelOfRank(rank: number): LogLevel {
  return (Object.keys(LEVEL_RANK) as LogLevel[]).find((l) => LEVEL_RANK[l] === rank) ?? "debug";
}

/** Drops everything, errors included (tests, benchmarks): its sink is a no-op. */
export const silentLogger: Logger = new SinkLogger(
  "",
  () => {},
  "debug",
  () => 0,
);

/** Keeps records in memory so a test can assert what was logged. */
export class MemoryLogger implements Logger {
  readonly records: LogRecord[] = [];
  readonly #inner: Logger;

  constructor(component = "", clock?: Clock, minLevel: LogLevel = "debug") {
    this.#inner = new SinkLogger(
      component,
      (r) => this.records.push(r),
      minLevel,
      () => (clock ? clock.now() : 0),
    );
  }
  get component(): string {
    return this.#inner.component;
  }
  log(level: LogLevel, message: string, fields?: LogFields): void {
    this.#inner.log(level, message, fields);
  }
  debug(message: string, fields?: LogFields): void {
    this.#inner.debug(message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.#inner.info(message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.#inner.warn(message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.#inner.error(message, fields);
  }
  child(component: string): Logger {
    return this.#inner.child(component);
  }
}

export interface ConsoleLoggerInit {
  readonly component?: string;
  /** Minimum level printed (default "info"). */
  readonly level?: LogLevel;
  /** One JSON object per line instead of human-readable text (default false). */
  readonly json?: boolean;
  /** Where lines go (default process.stderr, keeping stdout for reports). */
  readonly write?: (line: string) => void;
  readonly clock?: Clock;
}

/** JSON-safe rendering: bigint as decimal string, bytes as hex. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/** Text or JSON lines to stderr (or any `write`). */
export function consoleLogger(init: ConsoleLoggerInit = {}): Logger {
  const write = init.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const clock = init.clock;
  const sink: Sink = (r) => {
    if (init.json === true) {
      write(
        JSON.stringify(
          { t: r.timeMs, level: r.level, component: r.component, msg: r.message, ...r.fields },
          jsonReplacer,
        ),
      );
      return;
    }
    const fields = Object.entries(r.fields)
      .map(([k, v]) => `${k}=${JSON.stringify(v, jsonReplacer)}`)
      .join(" ");
    const time = new Date(r.timeMs).toISOString();
    write(
      `${time} ${r.level.toUpperCase().padEnd(5)} [${r.component}] ${r.message}${fields ? " " + fields : ""}`,
    );
  };
  return new SinkLogger(init.component ?? "", sink, init.level ?? "info", () =>
    clock ? clock.now() : Date.now(),
  );
}

export interface ProgressInit {
  /** Total units of work, if known (enables percentage and ETA). */
  readonly total?: number;
  readonly label: string;
  /** Minimum time between two progress lines (default 2000 ms). */
  readonly everyMs?: number;
}

export interface ProgressComponents {
  readonly logger: Logger;
  readonly clock: Clock;
}

/** Rate-limited progress lines for long runs: `tick()` per unit, `done()` at the end. */
export class Progress {
  readonly #init: ProgressInit;
  readonly #components: ProgressComponents;
  readonly #startMs: number;
  #lastReportMs: number;
  #count = 0;

  constructor(init: ProgressInit, components: ProgressComponents) {
    if (init.total !== undefined && (!Number.isFinite(init.total) || init.total < 0)) {
      throw new LogError("Progress: total must be a finite number ≥ 0");
    }
    this.#init = init;
    this.#components = components;
    this.#startMs = components.clock.now();
    this.#lastReportMs = this.#startMs;
  }

  get count(): number {
    return this.#count;
  }

  tick(n = 1): void {
    this.#count += n;
    const now = this.#components.clock.now();
    if (now - this.#lastReportMs >= (this.#init.everyMs ?? 2000)) {
      this.#lastReportMs = now;
      this.#components.logger.info(this.#init.label, this.#fields(now));
    }
  }

  done(): void {
    const now = this.#components.clock.now();
    this.#components.logger.info(`${this.#init.label} done`, this.#fields(now));
  }

  #fields(now: number): LogFields {
    const elapsedMs = now - this.#startMs;
    const rate = elapsedMs > 0 ? (this.#count * 1000) / elapsedMs : 0;
    const total = this.#init.total;
    if (total === undefined) return { count: this.#count, elapsedMs, perSecond: round(rate) };
    const remaining = Math.max(0, total - this.#count);
    return {
      count: this.#count,
      total,
      percent: total > 0 ? round((100 * this.#count) / total) : 100,
      elapsedMs,
      perSecond: round(rate),
      etaMs: rate > 0 ? Math.round((remaining * 1000) / rate) : null,
    };
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * `n` and its noun in the number it takes: `counted(1, "interval")` is "1 interval",
 * `counted(4, "interval")` "4 intervals" (`plural` defaults to the noun + "s"). For the run
 * headers and summaries people read ("1 intervals" was printed, newcomer trial of session 12).
 */
export function counted(n: number | bigint, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 || n === 1n ? noun : plural}`;
}
