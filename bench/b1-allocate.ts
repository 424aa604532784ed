/**
 * B1: `POST /v1/elastic-ips` with `count: 1` against the database-bound limit, the identical
 * transaction driven by plain pg clients from the same harness, and pgbench on it as the ceiling.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  type AllocationInput,
  allocateOnClient,
  checkSameStatements,
  pgbenchScript,
  recordEipdAllocation,
} from './lib/allocation.js';
import { type BenchContext, httpSide, IDC, pgbenchSide, pgSide, token } from './lib/context.js';
import { expectStatus, HttpConnection, rawRequest } from './lib/http-client.js';
import { interleave, type LoadResult, runLoad } from './lib/load.js';
import { resetAll } from './lib/pools.js';
import { startEipd } from './lib/processes.js';
import { perSecond, type Row, throughput } from './lib/report.js';

export const B1_PRODUCT = 'eip.b1';
export const B1_POOL = 'b1';
const CONCURRENCIES = [8, 32, 64] as const;
/** The baseline holds one connection per client; eipd holds at most EIPD_DB_POOL_SIZE (10). */
const DEFAULT_POOL_SIZE = 10;
const LARGE_POOL = { clients: 32, poolSize: 32 };
const JIT_WARMUP_REQUESTS = 5000;
const ORG = '6f1c2a4e-0b7d-4c1e-9a3f-5d2e8b7c6a01';
const MANY_ORGS = 1000;

function allocateRequest(bearer: string, extra: Record<string, string> = {}): Buffer {
  return rawRequest(
    'POST',
    '/v1/elastic-ips',
    { Authorization: bearer, 'Content-Type': 'application/json', ...extra },
    JSON.stringify({ idc: IDC, product: B1_PRODUCT, name: 'bench', count: 1 }),
  );
}

export async function benchAllocate(ctx: BenchContext, pools: readonly string[]): Promise<Row[]> {
  const input: AllocationInput = {
    orgId: ORG,
    subject: 'bench',
    idc: IDC,
    product: B1_PRODUCT,
    name: 'bench',
    count: 1,
  };
  await resetAll(ctx.admin, pools);
  const statements = await checkSameStatements(ctx.admin, input);
  const script = pgbenchScript(await recordEipdAllocation(ctx.admin, input));
  ctx.log(`B1: the baseline sends the same ${statements} statements as eipd's use case`);

  const bearer = `Bearer ${await token(ORG)}`;
  const plain = allocateRequest(bearer);
  const eipdSide = (name: string, concurrency: number, request: (w: number) => Buffer) =>
    httpSide(ctx, { name, url: ctx.eipd.url, concurrency, request, serverPid: ctx.eipd.pid });

  const results = new Map<number, { eipd: LoadResult; base: LoadResult; bench: LoadResult }>();
  for (const c of CONCURRENCIES) {
    // Each concurrency starts from the same state: no EIPs, the pool as new, a checkpoint done.
    await resetAll(ctx.admin, pools);
    const [eipd, base] = await interleave(
      [
        eipdSide('eipd allocate', c, () => plain),
        pgSide(ctx, {
          name: 'pg baseline',
          concurrency: c,
          work: (client) => allocateOnClient(client, input),
        }),
      ],
      { slices: ctx.mode.slices, sliceMs: ctx.mode.sliceMs },
    );
    const [bench] = await interleave(
      [pgbenchSide(ctx, { name: 'pgbench', script, concurrency: c })],
      { slices: ctx.mode.pgbenchSlices, sliceMs: ctx.mode.pgbenchSliceMs },
    );
    if (eipd === undefined || base === undefined || bench === undefined) throw new Error('B1');
    results.set(c, { eipd, base, bench });
    ctx.runs.push(
      { benchmark: 'B1', label: 'eipd allocate', result: eipd },
      { benchmark: 'B1', label: 'pg client, same transaction', result: base },
      { benchmark: 'B1', label: 'pgbench, same transaction', result: bench },
    );
    ctx.log(
      `B1 c=${c}: eipd ${perSecond(eipd.perSecond)}, baseline ${perSecond(base.perSecond)}, pgbench ${perSecond(bench.perSecond)}`,
    );
  }

  const all = [...results.values()];
  const best = (pick: (r: (typeof all)[number]) => LoadResult) =>
    all.map(pick).reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  const bestEipd = best((r) => r.eipd);
  const bestBase = best((r) => r.base);
  const bestBench = best((r) => r.bench);
  const rows: Row[] = [
    {
      benchmark: 'B1 allocate count:1, best concurrency',
      measured: `${perSecond(bestEipd.perSecond)} at ${bestEipd.concurrency} clients`,
      baseline: `${perSecond(bestBase.perSecond)} at ${bestBase.concurrency} (pg clients, same SQL)`,
      ratio: bestEipd.perSecond / bestBase.perSecond,
      goal: { op: '>=', value: 0.7 },
    },
  ];
  for (const [c, r] of results) {
    rows.push({
      benchmark: `B1 allocate at ${c} clients`,
      measured: throughput(r.eipd),
      baseline: throughput(r.base),
      ratio: r.eipd.perSecond / r.base.perSecond,
    });
  }
  rows.push({
    benchmark: 'B1 ceiling: pgbench on the same transaction',
    measured: `${perSecond(bestEipd.perSecond)} (eipd, best)`,
    baseline: `${perSecond(bestBench.perSecond)} at ${bestBench.concurrency} (${[...results].map(([c, r]) => `${c}: ${perSecond(r.bench.perSecond)}`).join(', ')})`,
    ratio: bestEipd.perSecond / bestBench.perSecond,
  });

  rows.push(await poolSizeRow(ctx, pools, plain));

  // Extra lines at eipd's best concurrency: many organizations, and an Idempotency-Key.
  const c = bestEipd.concurrency;
  const orgRequests = await Promise.all(
    Array.from({ length: MANY_ORGS }, async () =>
      allocateRequest(`Bearer ${await token(randomUUID())}`),
    ),
  );
  let next = 0;
  let key = 0;
  await resetAll(ctx.admin, pools);
  const [one, many, keyed] = await interleave(
    [
      eipdSide('one organization', c, () => plain),
      eipdSide('many organizations', c, () => orgRequests[next++ % MANY_ORGS] ?? plain),
      eipdSide('Idempotency-Key', c, () =>
        allocateRequest(bearer, { 'Idempotency-Key': `bench-${key++}` }),
      ),
    ],
    { slices: ctx.mode.slices, sliceMs: ctx.mode.sliceMs },
  );
  if (one === undefined || many === undefined || keyed === undefined) throw new Error('B1');
  ctx.runs.push(
    { benchmark: 'B1', label: 'eipd allocate, one organization', result: one },
    { benchmark: 'B1', label: `eipd allocate, ${MANY_ORGS} organizations`, result: many },
    { benchmark: 'B1', label: 'eipd allocate with Idempotency-Key', result: keyed },
  );
  rows.push(
    {
      benchmark: `B1 ${MANY_ORGS} organizations vs one (${c} clients)`,
      measured: throughput(many),
      baseline: `${throughput(one)}, one organization`,
      ratio: many.perSecond / one.perSecond,
    },
    {
      benchmark: `B1 with Idempotency-Key vs without (${c} clients)`,
      measured: throughput(keyed),
      baseline: `${perSecond(one.perSecond)} without`,
      ratio: keyed.perSecond / one.perSecond,
    },
  );
  return rows;
}

/**
 * Whether eipd's connection pool is what holds it back against the baseline, which has one
 * connection per client: the default pool of 10 against a second eipd with a pool as large as
 * the number of clients, taking turns.
 */
async function poolSizeRow(
  ctx: BenchContext,
  pools: readonly string[],
  request: Buffer,
): Promise<Row> {
  const large = await startEipd({
    env: { ...ctx.eipdEnv, EIPD_DB_POOL_SIZE: String(LARGE_POOL.poolSize) },
    logFile: join(ctx.tmp, 'eipd-large-pool.log'),
  });
  try {
    // The default process has served every B1 run so far; give the new one as many requests to
    // warm up its JIT before they are compared.
    const connections = Array.from({ length: LARGE_POOL.clients }, () =>
      HttpConnection.forUrl(large.url),
    );
    await runLoad({
      concurrency: LARGE_POOL.clients,
      operations: JIT_WARMUP_REQUESTS,
      op: async (worker) => {
        const connection = connections[worker];
        if (connection === undefined) throw new Error('no connection');
        await expectStatus(connection, request, 200);
        return undefined;
      },
    });
    for (const connection of connections) connection.close();
    await resetAll(ctx.admin, pools);
    const side = (name: string, url: string, serverPid: number) =>
      httpSide(ctx, {
        name,
        url,
        concurrency: LARGE_POOL.clients,
        request: () => request,
        serverPid,
      });
    const [small, big] = await interleave(
      [
        side('pool 10', ctx.eipd.url, ctx.eipd.pid),
        side(`pool ${LARGE_POOL.poolSize}`, large.url, large.pid),
      ],
      { slices: ctx.mode.slices, sliceMs: ctx.mode.sliceMs },
    );
    if (small === undefined || big === undefined) throw new Error('B1 pool size');
    ctx.runs.push(
      {
        benchmark: 'B1',
        label: `eipd allocate, EIPD_DB_POOL_SIZE=${DEFAULT_POOL_SIZE}`,
        result: small,
      },
      {
        benchmark: 'B1',
        label: `eipd allocate, EIPD_DB_POOL_SIZE=${LARGE_POOL.poolSize}`,
        result: big,
      },
    );
    return {
      benchmark: `B1 eipd with a pool of ${LARGE_POOL.poolSize} connections vs ${DEFAULT_POOL_SIZE} (${LARGE_POOL.clients} clients)`,
      measured: throughput(big),
      baseline: `${throughput(small)}, pool of ${DEFAULT_POOL_SIZE} (the default)`,
      ratio: big.perSecond / small.perSecond,
    };
  } finally {
    await large.stop();
  }
}
