/**
 * GET /metrics after real traffic: requests and latency per operation, allocation outcomes, pool
 * utilization and the connection pool, on both engines; a database that does not answer makes
 * eipd_database_up 0 instead of failing the scrape; EIPD_METRICS=off removes the endpoint.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { buildTestApp, fakeDatabase, startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';
import { parsePrometheus, type Sample, sampleValue } from '../support/prometheus.js';

const LIMITED = '5d0f3c9e-2b7a-4f61-8e0d-3c1b2a4f6e7d';

const CATALOG = `
idcs: [{ name: m-east }]
products:
  - { name: eip.m, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.tiny, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: m-east-v4, idc: m-east, cidr: 203.0.113.0/24, products: [eip.m] }
  - { name: m-tiny, idc: m-east, cidr: 192.0.2.8/31, products: [eip.tiny] }
quotas:
  organizations:
    - { orgId: ${LIMITED}, idc: m-east, limit: 1 }
`;

async function scrape(t: { app: TestApp['app'] }): Promise<Sample[]> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200, res.body);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(res.body);
}

for (const backend of BACKENDS) {
  describe(`metrics (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: CATALOG });
    });
    after(() => t.close());

    const allocate = (token: string | undefined, body: unknown, headers = {}) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...headers,
        },
        payload: body as Record<string, unknown>,
      });

    test('counters, outcomes, latency and pool gauges follow the traffic', async () => {
      const token = await t.token();
      const body = { idc: 'm-east', product: 'eip.m', name: 'm', count: 2 };

      const ok = await allocate(token, body);
      assert.equal(ok.statusCode, 200, ok.body);
      const key = { 'idempotency-key': randomUUID() };
      assert.equal((await allocate(token, { ...body, count: 1 }, key)).statusCode, 200);
      const replay = await allocate(token, { ...body, count: 1 }, key);
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      const quota = await allocate(await t.token(LIMITED), body);
      assert.equal(quota.statusCode, 400, quota.body);
      const exhausted = await allocate(token, { ...body, product: 'eip.tiny', count: 3 });
      assert.equal(exhausted.statusCode, 503, exhausted.body);
      assert.equal((await allocate(token, { ...body, count: '2' })).statusCode, 400);
      assert.equal((await allocate(undefined, body)).statusCode, 401);
      const [first] = ok.json() as { id: string }[];
      const get = await t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/${first?.id}`,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(get.statusCode, 200);
      const unknown = await t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/${randomUUID()}`,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(unknown.statusCode, 404);
      for (const path of ['/no/such/route', '/another/one']) {
        assert.equal((await t.app.inject({ method: 'GET', url: path })).statusCode, 404);
      }
      // Refused by the router itself (a malformed percent-encoding), before any route runs.
      const refused = await t.app.inject({ method: 'GET', url: '/v1/elastic-ips/%zz' });
      assert.equal(refused.statusCode, 401);

      const samples = await scrape(t);
      const value = (name: string, labels: Record<string, string> = {}) =>
        sampleValue(samples, name, labels);
      const requests = (operation: string, method: string, status: number) =>
        value('eipd_http_requests_total', { operation, method, status: String(status) });

      assert.equal(requests('allocateElasticIP', 'POST', 200), 3);
      assert.equal(requests('allocateElasticIP', 'POST', 400), 2);
      assert.equal(requests('allocateElasticIP', 'POST', 503), 1);
      assert.equal(requests('allocateElasticIP', 'POST', 401), 1);
      assert.equal(requests('getElasticIP', 'GET', 200), 1);
      assert.equal(requests('getElasticIP', 'GET', 404), 1);
      // Unknown paths share one series: the raw URL is never a label.
      assert.equal(requests('unmatched', 'GET', 404), 2);
      assert.equal(requests('unmatched', 'GET', 401), 1);
      assert.ok(!samples.some((s) => Object.values(s.labels).some((v) => v.includes('/no/'))));

      const latency = { operation: 'allocateElasticIP', method: 'POST' };
      assert.equal(value('eipd_http_request_duration_seconds_count', latency), 7);
      assert.equal(
        value('eipd_http_request_duration_seconds_bucket', { ...latency, le: '+Inf' }),
        7,
      );
      assert.ok((value('eipd_http_request_duration_seconds_sum', latency) ?? 0) > 0);

      const outcome = (o: string) => value('eipd_allocations_total', { outcome: o });
      assert.equal(outcome('ok'), 2);
      assert.equal(outcome('replayed'), 1);
      assert.equal(outcome('quota_exceeded'), 1);
      assert.equal(outcome('exhausted'), 1);
      assert.equal(outcome('invalid_request'), 1);
      assert.equal(outcome('unauthorized'), 1);
      assert.equal(value('eipd_allocated_addresses_total', { idc: 'm-east', product: 'eip.m' }), 3);

      assert.equal(value('eipd_database_up'), 1);
      const pool = (state: string) =>
        value('eipd_pool_addresses', { pool: 'm-east-v4', idc: 'm-east', state });
      const usable = pool('usable') ?? 0;
      assert.ok(usable >= 254, `usable ${usable}`);
      assert.equal(pool('used'), 3);
      assert.equal(pool('quarantined'), 0);
      assert.equal(pool('free'), usable - 3);
      assert.equal(
        value('eipd_pool_utilization_ratio', { pool: 'm-east-v4', idc: 'm-east' }),
        3 / usable,
      );
      assert.equal(value('eipd_pool_enabled', { pool: 'm-tiny', idc: 'm-east' }), 1);

      if (backend === 'postgres') {
        const total = value('eipd_db_pool_connections', { state: 'total' }) ?? 0;
        assert.ok(total >= 1, `total ${total}`);
        assert.equal(value('eipd_db_pool_connections', { state: 'idle' }), total);
        assert.equal(value('eipd_db_pool_connections', { state: 'busy' }), 0);
        assert.equal(value('eipd_db_pool_waiting'), 0);
        assert.ok((value('eipd_db_pool_max') ?? 0) >= total);
      } else {
        // The embedded database has no connection pool to report.
        assert.ok(!samples.some((s) => s.name.startsWith('eipd_db_pool_')));
      }
      assert.ok((value('process_cpu_user_seconds_total') ?? -1) >= 0);
      assert.ok(samples.some((s) => s.name === 'nodejs_heap_size_used_bytes'));

      // The scrape itself is counted on the next one, under its own operation.
      const again = await scrape(t);
      assert.equal(
        sampleValue(again, 'eipd_http_requests_total', {
          operation: 'metrics',
          method: 'GET',
          status: '200',
        }),
        1,
      );
    });
  });
}

describe('metrics when the database does not answer', () => {
  test('the scrape succeeds within the reading deadline and reports eipd_database_up 0', async () => {
    let readings = 0;
    const hang = (): Promise<never> => {
      readings += 1;
      return new Promise<never>(() => {});
    };
    const app = await buildTestApp(fakeDatabase(hang));
    try {
      const samples = await scrape({ app });
      assert.equal(sampleValue(samples, 'eipd_database_up'), 0);
      assert.ok(!samples.some((s) => s.name === 'eipd_pool_addresses'));
      // A second scrape reuses the failed reading instead of waiting on the database again.
      assert.equal(sampleValue(await scrape({ app }), 'eipd_database_up'), 0);
      assert.equal(readings, 1);
    } finally {
      await app.close();
    }
  });
});

describe('EIPD_METRICS', () => {
  test('off: /metrics is not served; anything but on/off is refused at start-up', async () => {
    assert.equal(loadConfig({}).metrics, true);
    assert.equal(loadConfig({ EIPD_METRICS: 'off' }).metrics, false);
    assert.throws(() => loadConfig({ EIPD_METRICS: 'yes' }), ConfigError);
    const t = await startTestApp({ backend: 'pglite', metrics: false });
    try {
      const res = await t.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 404);
      assert.deepEqual(res.json(), { code: 4040, reason: 'no route GET /metrics' });
    } finally {
      await t.close();
    }
  });
});
