/**
 * B5: list page latency, page 1 against page 1000 of 100,000 EIPs in one organization (the
 * default page size, 100). The EIPs are made by the allocation transaction, `count: 100` at a
 * time, so they have eipd's own created_at and addresses; page 1000's cursor is built with eipd's
 * cursor functions from the 99,900th EIP, and checked to be the last page.
 */
import { encodeCursor, fingerprint } from '../src/elastic-ips/cursor.js';
import { type BenchContext, IDC, token } from './lib/context.js';
import { expectStatus, HttpConnection, rawRequest } from './lib/http-client.js';
import { runLoad } from './lib/load.js';
import { allocateMany } from './lib/pools.js';
import { ms, type Row } from './lib/report.js';

export const B5_POOL = { pool: 'b5-list', product: 'eip.b5.list', cidr: '100.96.0.0/12' };
const ORG = '7d3b9e2f-1a4c-4b8d-a6e0-2c5f8b1d3e07';
const EIPS = 100_000;
const PAGE = 100;

export async function benchList(ctx: BenchContext): Promise<Row[]> {
  const t0 = performance.now();
  await allocateMany(
    ctx.admin,
    { orgId: ORG, subject: 'bench', idc: IDC, product: B5_POOL.product, name: 'b5' },
    EIPS,
    PAGE,
  );
  await ctx.admin.query('VACUUM ANALYZE elastic_ips');
  ctx.log(`B5: ${EIPS} EIPs in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  const { rows } = await ctx.admin.query<{ t: string; id: string }>(
    `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t, id
     FROM elastic_ips WHERE org_id = $1 AND status <> 'released'
     ORDER BY created_at, id OFFSET $2 LIMIT 1`,
    [ORG, EIPS - PAGE - 1],
  );
  const last = rows[0];
  if (last === undefined) throw new Error('B5: fewer EIPs than expected');
  // The scope of a list without filters, as listElasticIps computes it.
  const scope = fingerprint([ORG, null, null, null, null, null, null]);
  const cursor = encodeCursor({ createdAt: last.t, id: last.id }, scope);
  const bearer = `Bearer ${await token(ORG)}`;
  const first = rawRequest('GET', '/v1/elastic-ips', { Authorization: bearer });
  const thousandth = rawRequest('GET', `/v1/elastic-ips?cursor=${cursor}`, {
    Authorization: bearer,
  });

  const connection = HttpConnection.forUrl(ctx.eipd.url);
  try {
    for (const [request, hasNext] of [
      [first, true],
      [thousandth, false],
    ] as const) {
      const response = await expectStatus(connection, request);
      const items = JSON.parse(response.body.toString()) as unknown[];
      const next = /\r\nlink:/.test(response.head);
      if (items.length !== PAGE || next !== hasNext) {
        throw new Error(`B5: page has ${items.length} items, next link ${next}`);
      }
    }
    // One client, alternating pages, so that both see the same machine.
    let n = 0;
    const result = await runLoad({
      concurrency: 1,
      warmupMs: ctx.mode.warmupMs,
      durationMs: ctx.mode.durationMs,
      serverPids: [ctx.eipd.pid],
      op: async () => {
        const page1000 = n++ % 2 === 1;
        await expectStatus(connection, page1000 ? thousandth : first);
        return page1000 ? 'page 1000' : 'page 1';
      },
    });
    const p1 = result.tagged.get('page 1');
    const p1000 = result.tagged.get('page 1000');
    if (p1 === undefined || p1000 === undefined) throw new Error('B5: no measurement');
    ctx.runs.push({ benchmark: 'B5', label: 'list, pages 1 and 1000 alternating', result });
    const describe = (h: typeof p1) =>
      `p50 ${ms(h.quantileUs(0.5))}, p99 ${ms(h.quantileUs(0.99))}`;
    return [
      {
        benchmark: `B5 list page 1000 vs page 1 of ${EIPS.toLocaleString('en-US')} EIPs (1 client)`,
        measured: `page 1000: ${describe(p1000)}`,
        baseline: `page 1: ${describe(p1)}`,
        ratio: p1000.quantileUs(0.5) / p1.quantileUs(0.5),
        goal: { op: '<=', value: 1.2 },
      },
    ];
  } finally {
    connection.close();
  }
}
