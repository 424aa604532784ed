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
