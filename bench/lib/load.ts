/**
 * The closed-loop load generator every benchmark uses, for HTTP and for plain pg clients alike:
 * `concurrency` workers each run `op` back to back, for a measured window (or for a fixed number
 * of operations). Throughput counts the operations that complete inside the window; latency is
 * recorded for the operations that start and complete inside it.
 *
 * The machine is shared (two cores, and other people's work on them), so comparisons are made by
 * `interleave`: the sides of a ratio take turns in short slices, and each side's figures are the
 * sum of its slices, so that whatever else the machine does hits both sides alike.
 */
import { type CpuSplit, cpuSnapshot, cpuSplit } from './cpu.js';
import { Histogram } from './histogram.js';

/** What one operation reports: a tag to keep a separate latency histogram under, or nothing. */
export type OpOutcome = string | undefined;

export interface LoadOptions {
  concurrency: number;
  /** Operation of worker `worker`; throwing counts as an error. */
  op: (worker: number) => Promise<OpOutcome>;
  /** Unmeasured operations first, for this long. */
  warmupMs?: number;
  /** The measured window; ignored when `operations` is set. */
  durationMs?: number;
  /** Run exactly this many operations and measure from first start to last end. */
  operations?: number;
  /** Processes whose CPU time is reported as "server". */
  serverPids?: readonly number[];
}

export interface LoadResult {
  concurrency: number;
  completed: number;
  errors: number;
  firstError: string | undefined;
  seconds: number;
  perSecond: number;
  latency: Histogram;
  tagged: Map<string, Histogram>;
  cpu: CpuSplit;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { concurrency, op } = options;
  const latency = new Histogram();
  const tagged = new Map<string, Histogram>();
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;

  const warmupMs = options.warmupMs ?? 0;
  if (warmupMs > 0) {
    const until = performance.now() + warmupMs;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        while (performance.now() < until) {
          try {
            await op(worker);
          } catch (error) {
            firstError ??= describe(error);
            errors++;
          }
        }
      }),
    );
  }

  const pids = options.serverPids ?? [];
  const before = cpuSnapshot(pids);
  const start = performance.now();
  const fixed = options.operations;
  const end = fixed === undefined ? start + (options.durationMs ?? 1000) : Number.POSITIVE_INFINITY;
  let started = 0;
  let lastEnd = start;
  const measure = async (worker: number) => {
    for (;;) {
      if (fixed !== undefined ? started >= fixed : performance.now() >= end) return;
      started++;
      const t0 = performance.now();
      let tag: OpOutcome;
      try {
        tag = await op(worker);
      } catch (error) {
        firstError ??= describe(error);
        errors++;
        continue;
      }
      const t1 = performance.now();
      if (t1 > end) return;
      const us = (t1 - t0) * 1000;
      latency.record(us);
      if (tag !== undefined) {
        let h = tagged.get(tag);
        if (h === undefined) {
          h = new Histogram();
          tagged.set(tag, h);
        }
        h.record(us);
      }
      completed++;
      if (t1 > lastEnd) lastEnd = t1;
    }
  };
  // CPU is read when the window closes, not after the stragglers: their work is not counted.
  const closing =
    fixed === undefined
      ? new Promise<ReturnType<typeof cpuSnapshot>>((resolve) =>
          setTimeout(() => resolve(cpuSnapshot(pids)), end - start),
        )
      : undefined;
  await Promise.all(Array.from({ length: concurrency }, (_, worker) => measure(worker)));
  const after = (await closing) ?? cpuSnapshot(pids);
  const seconds = ((fixed !== undefined ? lastEnd : end) - start) / 1000;
  return {
    concurrency,
    completed,
    errors,
    firstError,
    seconds,
    perSecond: seconds > 0 ? completed / seconds : 0,
    latency,
    tagged,
    cpu: cpuSplit(before, after),
  };
}

/** Several results of the same side as one: counts and histograms summed, CPU time-weighted. */
export function mergeResults(results: readonly LoadResult[]): LoadResult {
  const [first] = results;
  if (first === undefined) throw new Error('nothing to merge');
  const latency = new Histogram();
  const tagged = new Map<string, Histogram>();
  let completed = 0;
  let errors = 0;
  let seconds = 0;
  const cpu = { generator: 0, server: 0, postgres: 0, machine: 0, others: 0 };
  for (const r of results) {
    latency.merge(r.latency);
    for (const [tag, h] of r.tagged) {
      let into = tagged.get(tag);
      if (into === undefined) {
        into = new Histogram();
        tagged.set(tag, into);
      }
      into.merge(h);
    }
    completed += r.completed;
    errors += r.errors;
    seconds += r.seconds;
    for (const key of Object.keys(cpu) as (keyof CpuSplit)[]) cpu[key] += r.cpu[key] * r.seconds;
  }
  for (const key of Object.keys(cpu) as (keyof CpuSplit)[]) {
    cpu[key] = seconds > 0 ? cpu[key] / seconds : 0;
  }
  return {
    concurrency: first.concurrency,
    completed,
    errors,
    firstError: results.find((r) => r.firstError !== undefined)?.firstError,
    seconds,
    perSecond: seconds > 0 ? completed / seconds : 0,
    latency,
    tagged,
    cpu,
  };
}

/** One side of a comparison: set up once, then measured in slices. */
export interface Side {
  name: string;
  /** Connects, warms up; returns how to measure one slice and how to tear down. */
  open(): Promise<{ slice(ms: number): Promise<LoadResult>; close(): Promise<void> }>;
}

/**
 * Measures `sides` in turns of `sliceMs`, `slices` times each, the order rotating every round.
 * Returns each side's merged result, in the order given.
 */
export async function interleave(
  sides: readonly Side[],
  options: { slices: number; sliceMs: number; between?: () => Promise<void> },
): Promise<LoadResult[]> {
  const opened = [];
  try {
    for (const side of sides) opened.push(await side.open());
    const results: LoadResult[][] = sides.map(() => []);
    for (let round = 0; round < options.slices; round++) {
      for (let k = 0; k < sides.length; k++) {
        const i = (round + k) % sides.length;
        const side = opened[i];
        if (side === undefined) continue;
        await options.between?.();
        results[i]?.push(await side.slice(options.sliceMs));
      }
    }
    return results.map((r) => mergeResults(r));
  } finally {
    for (const side of opened) await side.close();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
