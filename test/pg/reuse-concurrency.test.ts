/**
 * Explicit addresses and reuse of released addresses under real concurrency on PostgreSQL (one
 * process, a connection pool): racing for one named address, and racing for the last addresses of
 * a pool whose only free addresses are released ones past their quarantine.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';

const CATALOG = `
idcs: [{ name: race-1 }]
products:
  - { name: eip.named, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.reused, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: named, idc: race-1, cidr: 198.51.100.0/24, products: [eip.named] }
  - { name: reused, idc: race-1, cidr: 203.0.113.0/28, products: [eip.reused] }
`;

describe('explicit addresses and reuse under concurrency (postgres)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ backend: 'postgres', catalog: CATALOG });
  });
  after(() => t.close());

  const allocate = (token: string, body: Record<string, unknown>) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/elastic-ips',
      headers: { authorization: `Bearer ${token}` },
      payload: { idc: 'race-1', name: 'race', count: 1, ...body },
    });

  test('parallel explicit allocations of different free addresses in one range all succeed', async () => {
    // Each carve splits the range another request is waiting on; the waiter must find its
    // address in the new row rather than call it held.
    for (const round of [0, 1, 2]) {
      const addresses = Array.from({ length: 12 }, (_, i) => `198.51.100.${100 + round * 20 + i}`);
      const responses = await Promise.all(
        addresses.map(async (ipAddress) =>
          allocate(await t.token(), { product: 'eip.named', ipAddress }),
        ),
      );
      for (const r of responses) assert.equal(r.statusCode, 200, r.body);
    }
  });

  test('parallel explicit allocations of one free address: exactly one wins, the rest are 400', async () => {
    // Several rounds, at the start, in the middle and at the end of a free range.
    for (const address of ['198.51.100.1', '198.51.100.77', '198.51.100.254', '198.51.100.78']) {
      const tokens = await Promise.all(Array.from({ length: 6 }, () => t.token()));
      const responses = await Promise.all(
        tokens.map((token) => allocate(token, { product: 'eip.named', ipAddress: address })),
      );
      const winners = responses.filter((r) => r.statusCode === 200);
      assert.equal(winners.length, 1, responses.map((r) => `${r.statusCode} ${r.body}`).join('\n'));
      for (const r of responses.filter((x) => x.statusCode !== 200)) {
        assert.equal(r.statusCode, 400, r.body);
        assert.equal(r.json().code, 4005, r.body);
      }
      const rows = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM elastic_ips WHERE ip_address = $1 AND status <> 'released'`,
        [address],
      );
      assert.deepEqual(rows, [{ n: 1 }]);
    }
    // The free ranges still hand out every other address exactly once.
    const token = await t.token();
    const rest = await allocate(token, { product: 'eip.named', count: 50 });
    assert.equal(rest.statusCode, 200, rest.body);
    const [dup] = await t.db.query<{ n: number }>(
      `SELECT count(*)::int - count(DISTINCT address)::int AS n FROM elastic_ips
       WHERE pool = 'named' AND status <> 'released'`,
    );
    assert.equal(dup?.n, 0);
  });

  test('parallel count:1 on a pool of only released addresses: distinct addresses, never a 500', async () => {
    const owner = await t.token(randomUUID());
    const all = await allocate(owner, { product: 'eip.reused', count: 14 });
    assert.equal(all.statusCode, 200, all.body);
    for (const { id } of all.json() as { id: string }[]) {
      const res = await t.app.inject({
        method: 'DELETE',
        url: `/v1/elastic-ips/${id}`,
        headers: { authorization: `Bearer ${owner}` },
      });
      assert.equal(res.statusCode, 200, res.body);
    }
    // Past the quarantine by the database's clock, each a second apart so the order is strict.
    await t.db.query(
      `UPDATE released_addresses SET released_at = now() - interval '2 hours' - address * interval '1 second'
       WHERE pool = 'reused'`,
    );
    const tokens = await Promise.all(Array.from({ length: 20 }, () => t.token()));
    const responses = await Promise.all(
      tokens.map((token) => allocate(token, { product: 'eip.reused' })),
    );
    const statuses = responses.map((r) => r.statusCode);
    assert.ok(!statuses.includes(500), statuses.join(','));
    assert.equal(statuses.filter((s) => s === 200).length, 14, statuses.join(','));
    for (const r of responses.filter((x) => x.statusCode !== 200)) {
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.json().code, 5031, r.body);
    }
    const [row] = await t.db.query<{ live: number; distinct_addresses: number; left: number }>(
      `SELECT count(*)::int AS live, count(DISTINCT address)::int AS distinct_addresses,
              (SELECT count(*)::int FROM released_addresses WHERE pool = 'reused') AS left
       FROM elastic_ips WHERE pool = 'reused' AND status <> 'released'`,
    );
    assert.deepEqual(row, { live: 14, distinct_addresses: 14, left: 0 });
  });
});
