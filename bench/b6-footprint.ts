/**
 * B6: resident memory of the eipd process after the run, and start-up time on the embedded
 * database (PGlite), on a fresh data directory and on an existing one: from spawning
 * `node dist/main.js` to its "eipd is ready" line, with the demo catalog. Each start is split into
 * phases by eipd's own log lines: Node.js and module loading (until main() starts, from the ready
 * line's startupMs), the database opened and migrated and the catalog applied (until the
 * "catalog applied" line), and what is left until the ready line: listening, and whatever part of
 * building the app (compiling every route's schemas, started before the database work and run
 * while it waits) outlasted the database work.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext } from './lib/context.js';
import { type ServerProcess, startEipd } from './lib/processes.js';
import type { Row } from './lib/report.js';

const MiB = 2 ** 20;

interface Startup {
  total: number;
  modules: number;
  database: number;
  app: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function phases(server: ServerProcess, logFile: string): Promise<Startup> {
  const lines = (await readFile(logFile, 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { time?: number; msg?: string; startupMs?: number });
  const ready = lines.find((l) => l.msg === 'eipd is ready');
  const catalog = lines.find((l) => l.msg === 'catalog applied');
  if (ready?.time === undefined || ready.startupMs === undefined || catalog?.time === undefined) {
    throw new Error(`B6: eipd's start-up lines are missing from ${logFile}`);
  }
  const mainStarted = ready.time - ready.startupMs;
  return {
    total: server.readyAfterMs,
    modules: mainStarted - server.spawnedAtEpochMs,
    database: catalog.time - mainStarted,
    app: ready.time - catalog.time,
  };
}

export async function benchFootprint(ctx: BenchContext, requestsServed: string): Promise<Row[]> {
  const memory = ctx.eipd.memory();
  const fresh: Startup[] = [];
  const existing: Startup[] = [];
  const startups = ctx.mode.name === 'quick' ? 1 : 3;
  for (let i = 0; i < startups; i++) {
    const dir = await mkdtemp(join(ctx.tmp, 'pglite-'));
    try {
      const env = { EIPD_DATA_DIR: join(dir, 'data') };
      for (const into of [fresh, existing]) {
        const logFile = join(
          dir,
          `eipd-${into.length}-${into === fresh ? 'fresh' : 'existing'}.log`,
        );
        const server = await startEipd({ env, logFile });
        await server.stop();
        into.push(await phases(server, logFile));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const summary = (runs: Startup[]) => {
    const m = (pick: (r: Startup) => number) => median(runs.map(pick));
    return {
      total: `${s(m((r) => r.total))}${startups > 1 ? ` (median of ${startups})` : ''}`,
      split: `Node.js and modules ${s(m((r) => r.modules))}, database opened, migrated and catalog applied ${s(m((r) => r.database))}, then (app built meanwhile) listening ${s(m((r) => r.app))}`,
    };
  };
  const f = summary(fresh);
  const e = summary(existing);
  ctx.log(`B6: PGlite start fresh ${f.total} (${f.split}), existing ${e.total} (${e.split})`);
  return [
    {
      benchmark: 'B6 eipd resident memory after the run',
      measured: `${(memory.rss / MiB).toFixed(0)} MiB RSS (peak ${(memory.peak / MiB).toFixed(0)} MiB)`,
      baseline: requestsServed,
    },
    {
      benchmark: 'B6 PGlite start, fresh data directory',
      measured: f.total,
      baseline: `spawn to "eipd is ready", demo catalog: ${f.split}`,
    },
    {
      benchmark: 'B6 PGlite start, existing data directory',
      measured: e.total,
      baseline: `spawn to "eipd is ready": ${e.split}`,
    },
  ];
}
