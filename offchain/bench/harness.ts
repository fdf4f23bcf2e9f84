// Benchmark harness: suites in ./suites/*.ts are discovered and run in name order; each exports
// `run(ctx)` and records metrics by the names the issues give. Output format (DEVELOPERS.md):
// `{"metrics": {name: {"value", "unit"}}}`. Timings are medians of repeated samples: the machine is
// shared and noisy, so goals are judged on medians and same-run ratios, never on a single sample.

export interface Metric {
  value: number;
  unit: string;
}

export interface MeasureOptions {
  /** Operations per sample; the sample's time is divided by it. */
  iterations?: number;
  /** Number of samples; the median is reported. */
  samples?: number;
  /** Untimed warm-up operations (JIT, caches). */
  warmup?: number;
}

export interface BenchContext {
  /** `--quick`: fewer iterations, smaller sizes; for CI smoke runs. */
  readonly quick: boolean;
  record(name: string, value: number, unit: string): void;
  /** Median microseconds per call of `op` (which receives the running operation index). */
  measureUs(op: (i: number) => unknown, options?: MeasureOptions): number;
  /** Async variant of {@link measureUs}. */
  measureUsAsync(op: (i: number) => Promise<unknown>, options?: MeasureOptions): Promise<number>;
  log(message: string): void;
}

export interface BenchSuite {
  run(ctx: BenchContext): Promise<void>;
  /** Runs only when `--only` names it (long suites: city scale). */
  readonly optIn?: boolean;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median: no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function createContext(
  quick: boolean,
  log: (m: string) => void,
): {
  ctx: BenchContext;
  metrics: Record<string, Metric>;
} {
  const metrics: Record<string, Metric> = {};
  const ctx: BenchContext = {
    quick,
    record(name, value, unit) {
      if (!Number.isFinite(value))
        throw new Error(`bench: metric ${name} is not finite (${value})`);
      metrics[name] = { value, unit };
      log(`  ${name} = ${formatValue(value)} ${unit}`);
    },
    measureUs(op, options = {}) {
      const { iterations, samples, warmup } = resolve(options, quick);
      let i = 0;
      for (let w = 0; w < warmup; w++) op(i++);
      const perOp: number[] = [];
      for (let s = 0; s < samples; s++) {
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < iterations; k++) op(i++);
        perOp.push(Number(process.hrtime.bigint() - t0) / 1000 / iterations);
      }
      return median(perOp);
    },
    async measureUsAsync(op, options = {}) {
      const { iterations, samples, warmup } = resolve(options, quick);
      let i = 0;
      for (let w = 0; w < warmup; w++) await op(i++);
      const perOp: number[] = [];
      for (let s = 0; s < samples; s++) {
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < iterations; k++) await op(i++);
        perOp.push(Number(process.hrtime.bigint() - t0) / 1000 / iterations);
      }
      return median(perOp);
    },
    log,
  };
  return { ctx, metrics };
}

function resolve(options: MeasureOptions, quick: boolean): Required<MeasureOptions> {
  const iterations = Math.max(1, options.iterations ?? 200);
  return {
    iterations: quick ? Math.max(1, Math.ceil(iterations / 10)) : iterations,
    samples: Math.max(1, quick ? Math.min(3, options.samples ?? 7) : (options.samples ?? 7)),
    warmup: options.warmup ?? Math.min(iterations, 50),
  };
}

function formatValue(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4);
}
