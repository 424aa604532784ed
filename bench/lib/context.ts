/** What every benchmark gets: the database, one eipd process on it, the settings of the mode. */
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { mintToken } from '../../src/auth/tokens.js';
import { cpuSnapshot, cpuSplit } from './cpu.js';
import { type BenchDatabase, connectClient } from './database.js';
import { Histogram } from './histogram.js';
import { expectStatus, HttpConnection } from './http-client.js';
import { type LoadResult, type OpOutcome, runLoad, type Side } from './load.js';
import { PGBENCH } from './machine.js';
import type { ServerProcess } from './processes.js';
import type { RunRecord } from './report.js';

export interface Mode {
  name: 'quick' | 'full';
  warmupMs: number;
  durationMs: number;
  /** Each side of a comparison runs this many slices, taking turns with the other sides. */
  slices: number;
  sliceMs: number;
  /** pgbench (a ceiling, without a goal) runs this many slices of `pgbenchSliceMs`. */
  pgbenchSlices: number;
  pgbenchSliceMs: number;
}

export const SECRET = 'eipd-benchmark-secret-of-at-least-32-bytes';
export const IDC = 'bench-1';

export interface BenchContext {
  mode: Mode;
  database: BenchDatabase;
  /** A plain client on the benchmark database, for setup and resets. */
  admin: pg.Client;
  eipd: ServerProcess;
  /** The settings `eipd` was started with, for benchmarks that start a variant of it. */
  eipdEnv: Record<string, string>;
  tmp: string;
  runs: RunRecord[];
  log(message: string): void;
}

export function token(orgId: string, subject = 'bench'): Promise<string> {
  return mintToken({ secret: SECRET, orgId, subject, ttlSeconds: 24 * 3600 });
}

/**
 * A side that sends HTTP requests over `concurrency` keep-alive connections, each sending
 * `request(worker)` and expecting `expected`; connections stay open across slices.
 */
export function httpSide(
  ctx: BenchContext,
  options: {
    name: string;
    url: string;
    concurrency: number;
    request: (worker: number) => Buffer;
    serverPid: number;
    expected?: number;
    tag?: (worker: number) => OpOutcome;
  },
): Side {
  return {
    name: options.name,
    async open() {
      const connections = Array.from({ length: options.concurrency }, () =>
        HttpConnection.forUrl(options.url),
      );
      const op = async (worker: number) => {
        const connection = connections[worker];
        if (connection === undefined) throw new Error('no connection');
        await expectStatus(connection, options.request(worker), options.expected ?? 200);
        return options.tag?.(worker);
      };
      const base = {
        concurrency: options.concurrency,
        op,
        serverPids: [options.serverPid],
      };
      await runLoad({ ...base, warmupMs: ctx.mode.warmupMs, durationMs: 0 });
      return {
        slice: (ms: number) => runLoad({ ...base, durationMs: ms }),
        async close() {
          for (const c of connections) c.close();
        },
      };
    },
  };
}

/** The PostgreSQL connections a pg side may hold while it runs (one per worker). */
const PG_SLICE_WARMUP_MS = 200;

/**
 * A side of `concurrency` plain pg clients (one connection each) running `work` back to back.
 * The connections are made for each slice and closed after it (with a short unmeasured warm-up,
 * since a new backend's caches are cold), so that two sides at 64 clients never hold their
 * connections at once on a server that others use too.
 */
export function pgSide(
  ctx: BenchContext,
  options: {
    name: string;
    concurrency: number;
    work: (client: pg.Client, worker: number) => Promise<unknown>;
  },
): Side {
  return {
    name: options.name,
    async open() {
      return {
        async slice(ms: number) {
          const clients = await Promise.all(
            Array.from({ length: options.concurrency }, () => connectClient(ctx.database.url)),
          );
          try {
            return await runLoad({
              concurrency: options.concurrency,
              warmupMs: PG_SLICE_WARMUP_MS,
              durationMs: ms,
              op: async (worker) => {
                const client = clients[worker];
                if (client === undefined) throw new Error('no client');
                await options.work(client, worker);
                return undefined;
              },
            });
          } finally {
            await Promise.all(clients.map((c) => c.end().catch(() => {})));
          }
        },
        async close() {},
      };
    },
  };
}

/**
 * pgbench running `script` with `concurrency` clients: each slice is one pgbench run of a second
 * of warm-up plus the slice, measured from its per-transaction log (completion times and
 * latencies), so that the warm-up and the connection set-up are left out.
 */
export function pgbenchSide(
  ctx: BenchContext,
  options: { name: string; script: string; concurrency: number },
): Side {
  return {
    name: options.name,
    async open() {
      const file = join(ctx.tmp, `pgbench-${options.concurrency}.sql`);
      await writeFile(file, options.script);
      return {
        slice: (ms: number) => pgbenchSlice(ctx, file, options.concurrency, ms),
        async close() {},
      };
    },
  };
}

const PGBENCH_WARMUP_MS = 500;

async function pgbenchSlice(
  ctx: BenchContext,
  file: string,
  concurrency: number,
  ms: number,
): Promise<LoadResult> {
  const logPrefix = `pgbench-log-${concurrency}-${Date.now()}`;
  // Whole seconds, with room for connecting its clients before the first transaction.
  const seconds = Math.ceil((PGBENCH_WARMUP_MS + ms + 400) / 1000);
  const child = spawn(
    PGBENCH,
    [
      '--log',
      `--log-prefix=${logPrefix}`,
      '--no-vacuum',
      '--protocol=prepared',
      `--client=${concurrency}`,
      '--jobs=1',
      `--time=${seconds}`,
      `--file=${file}`,
      ctx.database.url,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: ctx.tmp },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const pid = child.pid ?? 0;
  // Connection set-up takes a moment; the CPU window starts after the warm-up, like the count.
  const startedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, PGBENCH_WARMUP_MS + 100));
  const before = cpuSnapshot([pid]);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = cpuSnapshot([pid]);
  const code = await exited;
  if (code !== 0) throw new Error(`pgbench failed (${code}):\n${out}`);
  const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? '0');

  // Log lines: client transaction latency_us script epoch_s epoch_us (completion time).
  const done: { at: number; us: number }[] = [];
  for (const name of await readdir(ctx.tmp)) {
    if (!name.startsWith(`${logPrefix}.`)) continue;
    for (const line of (await readFile(join(ctx.tmp, name), 'utf8')).split('\n')) {
      const f = line.split(' ');
      if (f.length < 6) continue;
      done.push({ at: Number(f[4]) * 1000 + Number(f[5]) / 1000, us: Number(f[2]) });
    }
    await rm(join(ctx.tmp, name));
  }
  if (done.length === 0) throw new Error(`pgbench logged no transaction:\n${out}`);
  const first = done.reduce((min, d) => Math.min(min, d.at - d.us / 1000), startedAt + 10_000);
  const from = first + PGBENCH_WARMUP_MS;
  const to = from + ms;
  const latency = new Histogram();
  let completed = 0;
  for (const d of done) {
    if (d.at - d.us / 1000 < from || d.at > to) continue;
    latency.record(d.us);
    completed++;
  }
  const cpu = cpuSplit(before, after);
  return {
    concurrency,
    completed,
    errors: failed,
    firstError: undefined,
    seconds: ms / 1000,
    perSecond: completed / (ms / 1000),
    latency,
    tagged: new Map(),
    // pgbench is the load generator here; there is no server process between it and PostgreSQL.
    cpu: { ...cpu, generator: cpu.server, server: 0 },
  };
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}
