/**
 * Field case C12: huge prefixes allocate like a fresh /24. Shown with the plans and buffer counts
 * of the allocator's own statements (EXPLAIN (ANALYZE, BUFFERS)), not with a stopwatch.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Queryable } from '../../src/db/database.js';
import { ALLOCATOR_SQL } from '../../src/ipam/allocator.js';
import { allocateBody, startTestApp, type TestApp } from '../support/app.js';
import { createPostgres } from '../support/databases.js';
import { startFleet } from '../support/fleet.js';
import { postJson } from '../support/http.js';

const CATALOG = `
idcs: [{ name: big-1 }]
products:
  - { name: eip.v4.small, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.v4.huge, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.v6.huge, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: small-24, idc: big-1, cidr: 203.0.113.0/24, products: [eip.v4.small] }
  - { name: cgnat-10, idc: big-1, cidr: 100.64.0.0/10, products: [eip.v4.huge] }
  - { name: v6-64, idc: big-1, cidr: "2001:db8:1::/64", products: [eip.v6.huge] }
`;

interface PlanNode {
  'Node Type': string;
  'Shared Hit Blocks': number;
  'Shared Read Blocks': number;
  Plans?: PlanNode[];
}

function shape(node: PlanNode): string {
  return `${node['Node Type']}(${(node.Plans ?? []).map(shape).join(',')})`;
}

/** Plan shape and shared buffers touched by one statement, run for real and rolled back. */
async function explain(tx: Queryable, sql: string, params: unknown[]) {
  const [row] = await tx.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, FORMAT JSON) ${sql}`,
    params,
  );
  assert.ok(row);
  const plan = row['QUERY PLAN'][0].Plan;
  return { shape: shape(plan), buffers: plan['Shared Hit Blocks'] + plan['Shared Read Blocks'] };
}

class Rollback extends Error {}

async function measureClaim(t: TestApp, pool: string) {
  let result:
    | { pick: Awaited<ReturnType<typeof explain>>; advance: Awaited<ReturnType<typeof explain>> }
    | undefined;
  await t.db
    .transaction(async (tx) => {
      const pick = await explain(tx, ALLOCATOR_SQL.pickUnlocked, [pool]);
      const [row] = await tx.query<{ lo: string; next_free: string }>(ALLOCATOR_SQL.pickUnlocked, [
        pool,
      ]);
      assert.ok(row);
      const advance = await explain(tx, ALLOCATOR_SQL.advance, [
        pool,
        row.lo,
        (BigInt(row.next_free) + 1n).toString(),
      ]);
      result = { pick, advance };
      throw new Rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error;
    });
  assert.ok(result);
  return result;
}

describe('C12: huge prefixes (postgres)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ backend: 'postgres', catalog: CATALOG });
    await t.db.query('ANALYZE pool_free_ranges');
  });
  after(() => t.close());

  test('C12: a /10 and an IPv6 /64 claim with the same plan and buffer reads as a fresh /24', async () => {
    // Warm the caches once so that every measurement sees the same buffer state.
    for (const pool of ['small-24', 'cgnat-10', 'v6-64']) await measureClaim(t, pool);
    const small = await measureClaim(t, 'small-24');
    for (const pool of ['cgnat-10', 'v6-64']) {
      const big = await measureClaim(t, pool);
      assert.equal(big.pick.shape, small.pick.shape, `${pool}: pick plan`);
      assert.equal(big.pick.buffers, small.pick.buffers, `${pool}: pick buffers`);
      assert.equal(big.advance.shape, small.advance.shape, `${pool}: advance plan`);
      assert.equal(big.advance.buffers, small.advance.buffers, `${pool}: advance buffers`);
    }
  });

  test('C12: the pools hold a handful of range rows, not one row per address', async () => {
    const rows = await t.db.query<{ pool: string; n: number }>(
      'SELECT pool, count(*)::int AS n FROM pool_free_ranges GROUP BY pool ORDER BY pool',
    );
    for (const row of rows) assert.ok(row.n <= 16, `${row.pool} has ${row.n} range rows`);
  });

  test('C12: allocation on the /10 and the /64 works and stays inside the prefix', async () => {
    const token = await t.token();
    for (const [product, pattern] of [
      ['eip.v4.huge', /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/],
      ['eip.v6.huge', /^2001:db8:1::[0-9a-f:]+$/],
    ] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${token}` },
        payload: allocateBody({ idc: 'big-1', product, count: 100 }),
      });
      assert.equal(res.statusCode, 200, res.body);
      const [first] = res.json() as { id: string }[];
      assert.ok(first);
      const got = await t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/${first.id}`,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.match(got.json().ipAddress, pattern);
    }
  });
});

describe('C12: memory (postgres, one eipd process)', () => {
  test('C12: ten count:100 allocations on an IPv6 /64 leave the process memory flat', async () => {
    const database = await createPostgres();
    assert.ok(database.url);
    const fleet = await startFleet({
      databaseUrl: database.url,
      catalogYaml: CATALOG,
      processes: 1,
    });
    try {
      const [server] = fleet.processes;
      assert.ok(server);
      const token = await fleet.token();
      const allocate100 = async () => {
        const res = await postJson(server.url, '/v1/elastic-ips', token, {
          idc: 'big-1',
          product: 'eip.v6.huge',
          name: 'bulk',
          count: 100,
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
      };
      // Warm up: JIT, connection pool, serializer caches.
      for (let i = 0; i < 3; i++) await allocate100();
      const before = await residentBytes(server.pid);
      for (let i = 0; i < 10; i++) await allocate100();
      const after = await residentBytes(server.pid);
      const growth = after - before;
      process.stdout.write(
        `# C12 memory: resident ${before} → ${after} bytes (growth ${growth})\n`,
      );
      // A /64 has 2^64 addresses: anything that scaled with the prefix would be gigabytes.
      assert.ok(growth < 16 * 1024 * 1024, `resident memory grew by ${growth} bytes`);
    } finally {
      await fleet.stop();
      await database.dispose();
    }
  });
});

async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  assert.ok(match?.[1], 'VmRSS not found');
  return Number(match[1]) * 1024;
}
