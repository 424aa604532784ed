/**
 * B4: one pool against eight pools under the same load: the same number of clients allocating
 * from one product with one pool, or spread over eight products with a pool each. A single pool
 * must not have a hot row (its free ranges are striped, and allocations skip locked stripes).
 */
import { allocateOnClient } from './lib/allocation.js';
import { type BenchContext, httpSide, IDC, pgSide, token } from './lib/context.js';
import { rawRequest } from './lib/http-client.js';
import { interleave } from './lib/load.js';
import { resetAll } from './lib/pools.js';
import { type Row, throughput } from './lib/report.js';

export const B4_ONE = { pool: 'b4-one', product: 'eip.b4.one', cidr: '172.16.0.0/16' };
export const B4_EIGHT = Array.from({ length: 8 }, (_, i) => ({
  pool: `b4-p${i}`,
  product: `eip.b4.p${i}`,
  cidr: `172.${17 + i}.0.0/16`,
}));
const CONCURRENCY = 32;
const ORG = '4e2a8c1d-7b3f-4d6e-9a0c-5f1b2e3d4c06';

export async function benchPools(ctx: BenchContext): Promise<Row[]> {
  await resetAll(ctx.admin, [B4_ONE.pool, ...B4_EIGHT.map((p) => p.pool)]);
  const bearer = `Bearer ${await token(ORG)}`;
  const request = (product: string) =>
    rawRequest(
      'POST',
      '/v1/elastic-ips',
      { Authorization: bearer, 'Content-Type': 'application/json' },
      JSON.stringify({ idc: IDC, product, name: 'b4', count: 1 }),
    );
  const one = request(B4_ONE.product);
  const eight = B4_EIGHT.map((p) => request(p.product));
  const [single, spread] = await interleave(
    [
      httpSide(ctx, {
        name: 'one pool',
        url: ctx.eipd.url,
        concurrency: CONCURRENCY,
        request: () => one,
        serverPid: ctx.eipd.pid,
      }),
      httpSide(ctx, {
        name: 'eight pools',
        url: ctx.eipd.url,
        concurrency: CONCURRENCY,
        request: (worker) => eight[worker % eight.length] ?? one,
        serverPid: ctx.eipd.pid,
      }),
    ],
    { slices: ctx.mode.slices, sliceMs: ctx.mode.sliceMs },
  );
  // The same at the database, with as many connections as clients: eipd's own pool (10
  // connections) never has more transactions in flight than a pool has stripes (16).
  const input = (product: string) => ({
    orgId: ORG,
    subject: 'bench',
    idc: IDC,
    product,
    name: 'b4',
    count: 1,
  });
  await resetAll(ctx.admin, [B4_ONE.pool, ...B4_EIGHT.map((p) => p.pool)]);
  const [dbSingle, dbSpread] = await interleave(
    [
      pgSide(ctx, {
        name: 'one pool, pg clients',
        concurrency: CONCURRENCY,
        work: (client) => allocateOnClient(client, input(B4_ONE.product)),
      }),
      pgSide(ctx, {
        name: 'eight pools, pg clients',
        concurrency: CONCURRENCY,
        work: (client, worker) =>
          allocateOnClient(
            client,
            input(B4_EIGHT[worker % B4_EIGHT.length]?.product ?? B4_ONE.product),
          ),
      }),
    ],
    { slices: ctx.mode.slices, sliceMs: ctx.mode.sliceMs },
  );
  if (single === undefined || spread === undefined) throw new Error('B4');
  if (dbSingle === undefined || dbSpread === undefined) throw new Error('B4');
  ctx.runs.push(
    { benchmark: 'B4', label: 'eipd allocate, one pool', result: single },
    { benchmark: 'B4', label: 'eipd allocate, eight pools', result: spread },
    { benchmark: 'B4', label: 'pg clients, same transaction, one pool', result: dbSingle },
    { benchmark: 'B4', label: 'pg clients, same transaction, eight pools', result: dbSpread },
  );
  return [
    {
      benchmark: `B4 one pool vs eight pools (${CONCURRENCY} clients)`,
      measured: `${throughput(single)}, one pool`,
      baseline: `${throughput(spread)}, eight pools`,
      ratio: single.perSecond / spread.perSecond,
      goal: { op: '>=', value: 0.9 },
    },
    {
      benchmark: `B4 the same at the database (${CONCURRENCY} pg connections)`,
      measured: `${throughput(dbSingle)}, one pool`,
      baseline: `${throughput(dbSpread)}, eight pools`,
      ratio: dbSingle.perSecond / dbSpread.perSecond,
    },
  ];
}
