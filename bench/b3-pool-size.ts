/**
 * B3: allocation rate on a fresh /24, on a large IPv4 pool 90 % held at random positions (a /16
 * in quick mode, a /12 in full mode) and on a fresh IPv6 /48. A /24 has only 254 addresses, so
 * the rate is measured in bursts of BURST allocations, the /24 put back to new before each of its
 * bursts (outside the timing); the pools take turns, burst by burst.
 */
import { randomUUID } from 'node:crypto';
import { type BenchContext, IDC, token } from './lib/context.js';
import { expectStatus, HttpConnection, rawRequest } from './lib/http-client.js';
import { type LoadResult, mergeResults, runLoad } from './lib/load.js';
import { fillAtRandom, resetPool } from './lib/pools.js';
import { perSecond, type Row, throughput } from './lib/report.js';

export const B3_POOLS = {
  small: { pool: 'b3-v4-24', product: 'eip.b3.v4-24', cidr: '192.0.2.0/24' },
  fragmentedQuick: { pool: 'b3-v4-16', product: 'eip.b3.v4-16', cidr: '100.80.0.0/16' },
  fragmentedFull: { pool: 'b3-v4-12', product: 'eip.b3.v4-12', cidr: '100.64.0.0/12' },
  v6: { pool: 'b3-v6-48', product: 'eip.b3.v6-48', cidr: '2001:db8::/48' },
} as const;

const BURST = 200;
const CONCURRENCY = 16;
const FILL = 0.9;
const ORG = '9c0e6d1a-3f2b-4a7c-8e5d-1b4f6a2c7e05';

export async function benchPoolSize(ctx: BenchContext): Promise<Row[]> {
  const fragmented = ctx.mode.name === 'quick' ? B3_POOLS.fragmentedQuick : B3_POOLS.fragmentedFull;
  const prefix = fragmented.cidr.split('/')[1];
  const orgs = Array.from({ length: 1000 }, () => randomUUID());
  const t0 = performance.now();
  const fill = await fillAtRandom(ctx.admin, {
    pool: fragmented.pool,
    idc: IDC,
    product: fragmented.product,
    fraction: FILL,
    orgs,
    seed: 5,
    onProgress: (done, total) => {
      if (done % 200_000 < 50_000) ctx.log(`B3: filling /${prefix}: ${done} of ${total}`);
    },
  });
  ctx.log(
    `B3: /${prefix} filled in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${fill.held} EIPs held, ${fill.freeRanges} free ranges`,
  );

  const bearer = `Bearer ${await token(ORG)}`;
  const variants = [
    { label: 'fresh /24', ...B3_POOLS.small, reset: true },
    { label: `/${prefix}, 90 % held at random`, ...fragmented, reset: false },
    { label: 'fresh IPv6 /48', ...B3_POOLS.v6, reset: false },
  ].map((v) => ({
    ...v,
    request: rawRequest(
      'POST',
      '/v1/elastic-ips',
      { Authorization: bearer, 'Content-Type': 'application/json' },
      JSON.stringify({ idc: IDC, product: v.product, name: 'b3', count: 1 }),
    ),
    results: [] as LoadResult[],
  }));
  const connections = Array.from({ length: CONCURRENCY }, () =>
    HttpConnection.forUrl(ctx.eipd.url),
  );
  const rounds = ctx.mode.name === 'quick' ? 8 : 25;
  try {
    // Round 0 warms every pool's pages and plans and is not counted.
    for (let round = 0; round <= rounds; round++) {
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(round + k) % variants.length];
        if (v === undefined) continue;
        if (v.reset) await resetPool(ctx.admin, v.pool);
        const result = await runLoad({
          concurrency: CONCURRENCY,
          operations: BURST,
          serverPids: [ctx.eipd.pid],
          op: async (worker) => {
            const connection = connections[worker];
            if (connection === undefined) throw new Error('no connection');
            await expectStatus(connection, v.request);
            return undefined;
          },
        });
        if (round > 0) v.results.push(result);
      }
    }
  } finally {
    for (const c of connections) c.close();
  }

  const merged = variants.map((v) => ({ ...v, result: mergeResults(v.results) }));
  const [small, ...others] = merged;
  if (small === undefined) throw new Error('B3');
  for (const m of merged) {
    ctx.runs.push({ benchmark: 'B3', label: `allocate count:1, ${m.label}`, result: m.result });
  }
  ctx.log(`B3: ${merged.map((m) => `${m.label} ${perSecond(m.result.perSecond)}`).join(', ')}`);
  return others.map((m) => ({
    benchmark: `B3 allocate, ${m.label} vs fresh /24`,
    measured: throughput(m.result),
    baseline: `${throughput(small.result)}, fresh /24`,
    ratio: m.result.perSecond / small.result.perSecond,
    goal: { op: '>=', value: 0.9 },
  }));
}
