/**
 * Limits on both engines: requests per organization per minute (429 code 4291 with Retry-After
 * and RateLimit-* headers on every counted answer) and failed authentications per client address
 * (429 code 4292, before any further token is verified). Across replicas: test/pg/rate-limit-fleet.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { createTokenVerifier, mintToken } from '../../src/auth/tokens.js';
import type { Database } from '../../src/db/database.js';
import { openPostgres } from '../../src/db/postgres.js';
import { createOrganizationLimiter } from '../../src/limits/organization-rate-limit.js';
import { createWindowCounter } from '../../src/limits/window-counter.js';
import {
  allocateBody,
  BASIC_CATALOG,
  startTestApp,
  TEST_SECRET,
  type TestApp,
} from '../support/app.js';
import { BACKENDS } from '../support/databases.js';
import { awayFromWindowEnd } from '../support/rate-window.js';

const PER_ORG = 5;
const AUTH_FAILURES = 3;

for (const backend of BACKENDS) {
  describe(`rate limits (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({
        backend,
        catalog: BASIC_CATALOG,
        limits: { perOrganizationPerMinute: PER_ORG, authFailuresPerMinute: AUTH_FAILURES },
        trustProxy: ['10.9.0.1'],
      });
    });
    after(async () => t?.close());

    const list = (token: string, remoteAddress = '192.0.2.10') =>
      t.app.inject({
        method: 'GET',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${token}` },
        remoteAddress,
      });

    test('each organization gets its limit per minute, with RateLimit-* headers on every answer', async () => {
      await awayFromWindowEnd(t.db);
      const orgA = await t.token();
      const orgB = await t.token();
      for (let i = 1; i <= PER_ORG; i++) {
        const res = await list(orgA);
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['ratelimit-limit'], String(PER_ORG));
        assert.equal(res.headers['ratelimit-remaining'], String(PER_ORG - i));
        assert.equal(res.headers['ratelimit-policy'], `${PER_ORG};w=60`);
        const reset = Number(res.headers['ratelimit-reset']);
        assert.ok(Number.isInteger(reset) && reset >= 1 && reset <= 60, `reset ${reset}`);
      }
      const refused = await list(orgA);
      assert.equal(refused.statusCode, 429);
      const body = refused.json() as { code: number; reason: string };
      assert.deepEqual(Object.keys(body).sort(), ['code', 'reason']);
      assert.equal(body.code, 4291);
      assert.match(body.reason, /more than 5 requests in 60 seconds; retry in \d+ s/);
      assert.equal(refused.headers['ratelimit-remaining'], '0');
      assert.equal(refused.headers['retry-after'], refused.headers['ratelimit-reset']);
      const retryAfter = Number(refused.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60);
      assert.ok(refused.headers['x-request-id']);
      // Another organization is not affected.
      const other = await list(orgB);
      assert.equal(other.statusCode, 200);
      assert.equal(other.headers['ratelimit-remaining'], String(PER_ORG - 1));
    });

    test('refused answers count too, and an allocation is refused before its body is read', async () => {
      await awayFromWindowEnd(t.db);
      const token = await t.token();
      for (let i = 0; i < PER_ORG; i++) {
        // Invalid bodies are counted: the limit applies to requests, not to successes.
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/elastic-ips',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          payload: { idc: 'nowhere' },
        });
        assert.equal(res.statusCode, 400);
        assert.equal(res.headers['ratelimit-remaining'], String(PER_ORG - 1 - i));
      }
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: allocateBody(),
      });
      assert.equal(res.statusCode, 429);
      assert.equal((res.json() as { code: number }).code, 4291);
    });

    test('operators, health checks and unauthenticated answers are not counted', async () => {
      const admin = await t.operatorToken();
      for (let i = 0; i < PER_ORG + 2; i++) {
        const pools = await t.app.inject({
          method: 'GET',
          url: '/v1/admin/pools',
          headers: { authorization: `Bearer ${admin}` },
        });
        assert.equal(pools.statusCode, 200);
        assert.equal(pools.headers['ratelimit-limit'], undefined);
        const health = await t.app.inject({ method: 'GET', url: '/healthz' });
        assert.equal(health.statusCode, 200);
        assert.equal(health.headers['ratelimit-limit'], undefined);
      }
      const anonymous = await t.app.inject({ method: 'GET', url: '/v1/elastic-ips' });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.headers['ratelimit-limit'], undefined);
    });

    test('failed authentications per address: 429 code 4292 once the limit is reached, even with a good token', async () => {
      await awayFromWindowEnd(t.db);
      const address = '198.51.100.77';
      const good = await t.token();
      const expired = await mintToken({
        secret: TEST_SECRET,
        orgId: randomUUID(),
        ttlSeconds: 1,
      }).then(async (token) => {
        await new Promise((r) => setTimeout(r, 1100));
        return token;
      });
      // A missing token is not a failed verification and is not counted.
      for (let i = 0; i <= AUTH_FAILURES; i++) {
        const missing = await t.app.inject({
          method: 'GET',
          url: '/v1/elastic-ips',
          remoteAddress: address,
        });
        assert.equal(missing.statusCode, 401);
      }
      const bad = ['not-a-token', `${good.slice(0, -2)}xx`, expired];
      for (const token of bad) {
        assert.equal((await list(token, address)).statusCode, 401);
      }
      for (const path of ['/v1/elastic-ips', '/v1/admin/pools']) {
        const refused = await t.app.inject({
          method: 'GET',
          url: path,
          headers: { authorization: `Bearer ${good}` },
          remoteAddress: address,
        });
        assert.equal(refused.statusCode, 429, path);
        const body = refused.json() as { code: number; reason: string };
        assert.deepEqual(Object.keys(body).sort(), ['code', 'reason']);
        assert.equal(body.code, 4292);
        assert.match(
          body.reason,
          /^3 failed authentications from this address within a minute; retry in \d+ s$/,
        );
        const retryAfter = Number(refused.headers['retry-after']);
        assert.ok(retryAfter >= 1 && retryAfter <= 61, `Retry-After ${retryAfter}`);
      }
      // A router refusal (an id the router rejects) authenticates too, and is refused the same way.
      const long = await t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/${'a'.repeat(600)}`,
        headers: { authorization: `Bearer ${good}` },
        remoteAddress: address,
      });
      assert.equal(long.statusCode, 429);
      // Another address is not affected.
      assert.equal((await list(good, '198.51.100.78')).statusCode, 200);
    });

    test('IPv6 clients are counted per /64; X-Forwarded-For counts only from a trusted proxy', async () => {
      await awayFromWindowEnd(t.db);
      const good = await t.token();
      for (let i = 1; i <= AUTH_FAILURES; i++) {
        assert.equal((await list('bad', `2001:db8:7:1::${i}`)).statusCode, 401);
      }
      assert.equal((await list(good, '2001:db8:7:1:ffff::9')).statusCode, 429);
      assert.equal((await list(good, '2001:db8:7:2::1')).statusCode, 200);

      // Behind the trusted proxy 10.9.0.1, the forwarded address is the client.
      const viaProxy = (token: string, forwarded: string, peer = '10.9.0.1') =>
        t.app.inject({
          method: 'GET',
          url: '/v1/elastic-ips',
          headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': forwarded },
          remoteAddress: peer,
        });
      for (let i = 0; i < AUTH_FAILURES; i++) {
        assert.equal((await viaProxy('bad', '203.0.113.50')).statusCode, 401);
      }
      assert.equal((await viaProxy(good, '203.0.113.50')).statusCode, 429);
      // The proxy itself, and its other clients, are not blocked.
      assert.equal((await viaProxy(good, '203.0.113.51')).statusCode, 200);
      // An untrusted peer cannot pick its address by sending X-Forwarded-For.
      for (let i = 0; i < AUTH_FAILURES; i++) {
        assert.equal((await viaProxy('bad', `203.0.113.${60 + i}`, '192.0.2.99')).statusCode, 401);
      }
      assert.equal((await viaProxy(good, '203.0.113.70', '192.0.2.99')).statusCode, 429);
    });
  });
}

describe('rate limits while the database is unreachable', () => {
  let app: FastifyInstance;
  before(async () => {
    const verifier = await createTokenVerifier({
      hs256Secret: TEST_SECRET,
      publicKeyPems: [],
      algorithms: ['HS256'],
      orgClaim: 'orgId',
      adminScope: 'eip:admin',
    });
    ({ app } = buildApp({
      db: openPostgres({
        url: 'postgres://postgres@127.0.0.1:1/eipd',
        poolSize: 2,
        connectTimeoutMs: 300,
        statementTimeoutMs: 600,
      }),
      verifier,
      maxAllocateCount: 100,
      bodyLimitBytes: 1024 * 1024,
      limits: { perOrganizationPerMinute: PER_ORG, authFailuresPerMinute: AUTH_FAILURES },
      logger: false,
    }));
    await app.ready();
  });
  after(async () => app?.close());

  test('a counted request is the usual 503, and failed authentications stay 401', async () => {
    const token = await mintToken({ secret: TEST_SECRET, orgId: randomUUID(), ttlSeconds: 60 });
    const res = await app.inject({
      method: 'GET',
      url: '/v1/elastic-ips',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { reason: 'database is unavailable' });
    for (let i = 0; i <= AUTH_FAILURES; i++) {
      const bad = await app.inject({
        method: 'GET',
        url: '/v1/elastic-ips',
        headers: { authorization: 'Bearer bad' },
      });
      assert.equal(bad.statusCode, 401);
    }
  });
});

for (const backend of BACKENDS) {
  describe(`organization limiter round trips (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend });
    });
    after(async () => t?.close());

    test('far from the limit one round trip admits many requests; the limit is still exact', async () => {
      await awayFromWindowEnd(t.db);
      let roundTrips = 0;
      const counting: Database = {
        ...t.db,
        query: (sql, params) => {
          roundTrips += 1;
          return t.db.query(sql, params);
        },
      };
      const limit = 1000;
      const limiter = createOrganizationLimiter(createWindowCounter(counting, 60), limit);
      const orgId = randomUUID();
      const outcomes = await Promise.all(
        Array.from({ length: limit + 50 }, () => limiter.admit(orgId)),
      );
      assert.equal(outcomes.filter((o) => o.admitted).length, limit);
      assert.ok(roundTrips < limit / 4, `${roundTrips} round trips for ${limit} requests`);
      const remaining = outcomes.filter((o) => o.admitted).map((o) => o.remaining);
      assert.equal(Math.min(...remaining), 0);
      assert.ok(Math.max(...remaining) < limit);
    });
  });
}
