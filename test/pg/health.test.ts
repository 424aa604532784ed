/**
 * /healthz and /readyz on PostgreSQL: readiness follows migrations and draining. Readiness during
 * a real outage (stopped server, dropped packets) is in outage.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { createTokenVerifier } from '../../src/auth/tokens.js';
import { migrate } from '../../src/db/migrate.js';
import { TEST_SECRET } from '../support/app.js';
import { createPostgres } from '../support/databases.js';
import { nth, withFleet } from '../support/fleet-database.js';
import { postJson } from '../support/http.js';

test('readiness waits for migrations and turns 503 while draining; liveness never looks', async () => {
  const database = await createPostgres({ migrate: false });
  let draining = false;
  const { app } = buildApp({
    db: database.db,
    verifier: await createTokenVerifier({
      hs256Secret: TEST_SECRET,
      publicKeyPems: [],
      algorithms: ['HS256'],
      orgClaim: 'orgId',
      adminScope: 'eip:admin',
    }),
    maxAllocateCount: 100,
    bodyLimitBytes: 1024 * 1024,
    isDraining: () => draining,
    logger: false,
  });
  try {
    const ready = () => app.inject({ method: 'GET', url: '/readyz' });
    const unmigrated = await ready();
    assert.equal(unmigrated.statusCode, 503);
    assert.match(unmigrated.json().reason, /^migrations pending: 001_initial, 002_instances, /);

    await database.db.exec('CREATE TABLE schema_migrations (version text PRIMARY KEY)');
    await database.db.exec(`INSERT INTO schema_migrations VALUES ('001_initial')`);
    const partly = await ready();
    assert.equal(partly.statusCode, 503);
    assert.doesNotMatch(partly.json().reason, /001_initial/);
    await database.db.exec('DROP TABLE schema_migrations');

    await migrate(database.db);
    const migrated = await ready();
    assert.equal(migrated.statusCode, 200, migrated.body);
    assert.deepEqual(migrated.json(), { status: 'ok' });

    draining = true;
    const drain = await ready();
    assert.equal(drain.statusCode, 503);
    assert.deepEqual(drain.json(), { reason: 'shutting down' });
    const live = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(live.statusCode, 200);
    assert.deepEqual(live.json(), { status: 'ok' });
    assert.ok(live.headers['x-request-id']);
  } finally {
    await app.close();
    await database.dispose();
  }
});

test('with EIPD_DRAIN_DELAY_MS, SIGTERM first turns /readyz to 503 while requests are still served', {
  timeout: 60_000,
}, async () => {
  const catalogYaml = `
idcs: [{ name: drain-1 }]
products: [{ name: eip.drain, internetConnectionType: BGP, maxBandwidth: 1 Gbps }]
pools: [{ name: drain-pool, idc: drain-1, cidr: 203.0.113.0/28, products: [eip.drain] }]
`;
  await withFleet(
    { processes: 1, catalogYaml, env: { EIPD_DRAIN_DELAY_MS: '3000' } },
    async (fleet) => {
      const p = nth(fleet, 0);
      const url = p.url;
      assert.equal((await fetch(new URL('/readyz', url))).status, 200);
      process.kill(p.pid, 'SIGTERM');
      const drainingSince = Date.now();
      // The signal is handled asynchronously: poll until readiness flips.
      let ready = await fetch(new URL('/readyz', url));
      while (ready.status === 200 && Date.now() - drainingSince < 2000) {
        ready = await fetch(new URL('/readyz', url));
      }
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { reason: 'shutting down' });
      const live = await fetch(new URL('/healthz', url));
      assert.equal(live.status, 200);
      const allocated = await postJson(url, '/v1/elastic-ips', await fleet.token(), {
        idc: 'drain-1',
        product: 'eip.drain',
        name: 'late',
        count: 1,
      });
      assert.equal(allocated.status, 200, JSON.stringify(allocated.body));
      assert.ok(Date.now() - drainingSince < 3000, 'the checks ran inside the drain delay');
    },
  );
});
