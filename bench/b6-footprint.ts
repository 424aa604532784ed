/**
 * B6: resident memory of the eipd process after the run, and start-up time on the embedded
 * database (PGlite), on a fresh data directory and on an existing one: from spawning
 * `node dist/main.js` to its "eipd is ready" line, with the demo catalog.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext } from './lib/context.js';
import { startEipd } from './lib/processes.js';
import type { Row } from './lib/report.js';

const MiB = 2 ** 20;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export async function benchFootprint(ctx: BenchContext, requestsServed: string): Promise<Row[]> {
  const memory = ctx.eipd.memory();
  const fresh: number[] = [];
  const existing: number[] = [];
  const startups = ctx.mode.name === 'quick' ? 1 : 3;
  for (let i = 0; i < startups; i++) {
    const dir = await mkdtemp(join(ctx.tmp, 'pglite-'));
    try {
      const env = { EIPD_DATA_DIR: join(dir, 'data') };
      for (const into of [fresh, existing]) {
        const server = await startEipd({ env, logFile: join(dir, `eipd-${into.length}.log`) });
        into.push(server.readyAfterMs);
        await server.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  ctx.log(
    `B6: PGlite start fresh ${fresh.map((v) => v.toFixed(0)).join(', ')} ms, existing ${existing.map((v) => v.toFixed(0)).join(', ')} ms`,
  );
  const seconds = (v: number) => `${(v / 1000).toFixed(2)} s`;
  const of = startups > 1 ? ` (median of ${startups})` : '';
  return [
    {
      benchmark: 'B6 eipd resident memory after the run',
      measured: `${(memory.rss / MiB).toFixed(0)} MiB RSS (peak ${(memory.peak / MiB).toFixed(0)} MiB)`,
      baseline: requestsServed,
    },
    {
      benchmark: 'B6 PGlite start, fresh data directory',
      measured: `${seconds(median(fresh))}${of}`,
      baseline: 'spawn to "eipd is ready", demo catalog',
    },
    {
      benchmark: 'B6 PGlite start, existing data directory',
      measured: `${seconds(median(existing))}${of}`,
      baseline: 'spawn to "eipd is ready"',
    },
  ];
}
