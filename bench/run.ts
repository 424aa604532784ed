/**
 * `npm run bench [-- --quick]`: eipd against the physical limit, as ratios against baselines
 * measured in the same run on the same machine (issue 5). Prints the results table and writes
 * BENCHMARKS.md. `--only=b1,b3` runs a subset (BENCHMARKS.md is then left alone).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { B1_POOL, B1_PRODUCT, benchAllocate } from './b1-allocate.js';
import { benchGet } from './b2-get.js';
import { B3_POOLS, benchPoolSize } from './b3-pool-size.js';
import { B4_EIGHT, B4_ONE, benchPools } from './b4-pools.js';
import { B5_POOL, benchList } from './b5-list.js';
import { benchFootprint } from './b6-footprint.js';
import { benchmarksMarkdown } from './lib/benchmarks-md.js';
import { type BenchContext, IDC, type Mode, SECRET } from './lib/context.js';
import { postmasterPid, setBenchDatabase } from './lib/cpu.js';
import {
  BenchSetupError,
  checkReachable,
  connectClient,
  createBenchDatabase,
} from './lib/database.js';
import { describeMachine } from './lib/machine.js';
import { ROOT, startEipd } from './lib/processes.js';
import { consoleTable, type Row, runsTable } from './lib/report.js';

const quick = process.argv.includes('--quick');
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');

const MODE: Mode = quick
  ? {
      name: 'quick',
      warmupMs: 500,
      durationMs: 2000,
      slices: 4,
      sliceMs: 500,
      pgbenchSlices: 1,
      pgbenchSliceMs: 1000,
    }
  : {
      name: 'full',
      warmupMs: 2000,
      durationMs: 10_000,
      slices: 10,
      sliceMs: 1000,
      pgbenchSlices: 2,
      pgbenchSliceMs: 3000,
    };

const B3_FRAGMENTED = quick ? B3_POOLS.fragmentedQuick : B3_POOLS.fragmentedFull;

/** Every pool of the run, one product each; no quotas section, so no limit applies. */
const POOLS = [
  { pool: B1_POOL, product: B1_PRODUCT, cidr: '10.0.0.0/8' },
  B4_ONE,
  ...B4_EIGHT,
  B3_POOLS.small,
  B3_FRAGMENTED,
  B3_POOLS.v6,
  B5_POOL,
];

function catalog(): string {
  return [
    `idcs: [{ name: ${IDC} }]`,
    'products:',
    ...POOLS.map(
      (p) => `  - { name: ${p.product}, internetConnectionType: BGP, maxBandwidth: 100 Gbps }`,
    ),
    'pools:',
    ...POOLS.map(
      (p) => `  - { name: ${p.pool}, idc: ${IDC}, cidr: "${p.cidr}", products: [${p.product}] }`,
    ),
    '',
  ].join('\n');
}

/** How many requests the eipd process logged as completed. */
async function requestsCompleted(logFile: string): Promise<number> {
  let count = 0;
  let carry = '';
  for await (const chunk of createReadStream(logFile, { encoding: 'utf8' })) {
    const text = carry + chunk;
    const lines = text.split('\n');
    carry = lines.pop() ?? '';
    for (const line of lines) if (line.includes('"request completed"')) count++;
  }
  return count;
}

async function main(): Promise<void> {
  const started = performance.now();
  const log = (message: string) =>
    process.stderr.write(
      `[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`,
    );
  await checkReachable();
  const machine = await describeMachine();
  const database = await createBenchDatabase();
  setBenchDatabase(database.name, postmasterPid(machine.dataDirectory));
  const tmp = await mkdtemp(join(tmpdir(), 'eipd-bench-'));
  const rows: Row[] = [];
  let ctx: BenchContext | undefined;
  try {
    const catalogPath = join(tmp, 'catalog.yaml');
    await writeFile(catalogPath, catalog());
    const logFile = join(tmp, 'eipd.log');
    const eipdEnv = {
      DATABASE_URL: database.url,
      EIPD_JWT_SECRET: SECRET,
      EIPD_CATALOG: catalogPath,
    };
    const eipd = await startEipd({ env: eipdEnv, logFile });
    log(`eipd pid ${eipd.pid} at ${eipd.url}, database ${database.name}, ${MODE.name} mode`);
    const admin = await connectClient(database.url);
    ctx = { mode: MODE, database, admin, eipd, eipdEnv, tmp, runs: [], log };
    const want = (id: string) => only === undefined || only.includes(id);
    const b1Pools = [B1_POOL];
    if (want('b1')) rows.push(...(await benchAllocate(ctx, b1Pools)));
    if (want('b2')) rows.push(...(await benchGet(ctx, b1Pools)));
    if (want('b4')) rows.push(...(await benchPools(ctx)));
    // From here on the database keeps what each benchmark adds (the prefilled pool, the long
    // list): B6 reports the memory of the process that served all of it.
    if (want('b3')) rows.push(...(await benchPoolSize(ctx)));
    if (want('b5')) rows.push(...(await benchList(ctx)));
    if (want('b6')) {
      const served = await requestsCompleted(logFile);
      rows.push(
        ...(await benchFootprint(
          ctx,
          `after serving ${served.toLocaleString('en-US')} requests in this run`,
        )),
      );
    }
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`\n${consoleTable(rows)}\n\n`);
    if (only === undefined) {
      await writeFile(
        join(ROOT, 'BENCHMARKS.md'),
        benchmarksMarkdown({ mode: MODE, machine, rows, runs: ctx.runs, seconds }),
      );
      log('wrote BENCHMARKS.md');
    } else {
      process.stdout.write(`${runsTable(ctx.runs)}\n\n`);
    }
  } finally {
    await ctx?.eipd.stop();
    await ctx?.admin.end();
    await database.drop();
    await rm(tmp, { recursive: true, force: true });
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof BenchSetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
