/**
 * Rules 1 and 2 under real concurrency on PostgreSQL, in one process with a connection pool:
 * parallel multi-address allocations racing for the last addresses of a pool.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { allocateBody, startTestApp, type TestApp } from '../support/app.js';

const CATALOG = `
idcs: [{ name: race-1 }]
products:
  - { name: eip.race, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.hold, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: race-a, idc: race-1, cidr: 198.51.100.0/26, products: [eip.race] }
  - { name: eip.hold, idc: race-1, cidr: 203.0.113.0/24, products: [eip.hold] }
`;

describe('allocator under concurrency (postgres)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ backend: 'postgres', catalog: CATALOG, maxAllocateCount: 300 });
  });
  after(() => t.close());

  test('30 parallel count:3 on 62 addresses: exactly 20 succeed, all or nothing, no duplicates', async () => {
    const tokens = await Promise.all(Array.from({ length: 30 }, () => t.token()));
    const responses = await Promise.all(
      tokens.map((token) =>
        t.app.inject({
          method: 'POST',
          url: '/v1/elastic-ips',
          headers: { authorization: `Bearer ${token}` },
          payload: allocateBody({ idc: 'race-1', product: 'eip.race', count: 3 }),
        }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode);
    assert.equal(statuses.filter((s) => s === 200).length, 20, statuses.join(','));
    for (const r of responses.filter((x) => x.statusCode !== 200)) {
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.json().code, 5031);
    }
    for (const r of responses.filter((x) => x.statusCode === 200)) assert.equal(r.json().length, 3);
    const [row] = await t.db.query<{ live: number; distinct_addresses: number; events: number }>(
      `SELECT count(*)::int AS live, count(DISTINCT address)::int AS distinct_addresses,
              (SELECT count(*)::int FROM eip_events) AS events
       FROM elastic_ips WHERE status <> 'released' AND pool = 'race-a'`,
    );
    assert.deepEqual(row, { live: 60, distinct_addresses: 60, events: 60 });
    const [free] = await t.db.query<{ n: string }>(
      "SELECT COALESCE(sum(hi - next_free + 1), 0)::text AS n FROM pool_free_ranges WHERE pool = 'race-a'",
    );
    assert.equal(free?.n, '2', 'the two addresses nobody could take in threes are still free');
  });

  test('a claim that needs a range another transaction holds waits for it instead of failing', async () => {
    // Another transaction (an operator reserving an address, say) holds the pool's last range
    // for a while. A request for every free address must wait for it, not give up.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked: () => void = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = t.db.transaction(async (tx) => {
      await tx.query(
        "SELECT 1 FROM pool_free_ranges WHERE pool = 'eip.hold' AND lo = (SELECT max(lo) FROM pool_free_ranges WHERE pool = 'eip.hold') FOR UPDATE",
      );
      locked();
      await held;
    });
    await isLocked;
    const request = t.app.inject({
      method: 'POST',
      url: '/v1/elastic-ips',
      headers: { authorization: `Bearer ${await t.token()}` },
      payload: allocateBody({ idc: 'race-1', product: 'eip.hold', count: 254 }),
    });
    setTimeout(release, 1500);
    const res = await request;
    await holder;
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().length, 254);
  });
});
