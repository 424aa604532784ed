/**
 * Migrations applied by several processes starting at the same moment: each applied exactly once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { migrate, migrationsApplied, readMigrations } from '../../src/db/migrate.js';
import { openPostgres } from '../../src/db/postgres.js';
import { createPostgres } from '../support/databases.js';

describe('migrations (postgres)', () => {
  test('five connections migrating a fresh database at once apply each migration once', async () => {
    const database = await createPostgres({ migrate: false });
    const url = database.url;
    assert.ok(url);
    const others = Array.from({ length: 4 }, () =>
      openPostgres({ url, poolSize: 1, connectTimeoutMs: 5000, statementTimeoutMs: 10_000 }),
    );
    try {
      const outcomes = await Promise.all([database.db, ...others].map((db) => migrate(db)));
      const all = (await readMigrations()).map((m) => m.version);
      const applied = outcomes.flatMap((o) => o.applied).sort();
      assert.deepEqual(applied, all, 'every migration applied exactly once across the processes');
      assert.ok(await migrationsApplied(database.db));
      const rows = await database.db.query<{ version: string }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      assert.deepEqual(
        rows.map((r) => r.version),
        all,
      );
      const again = await migrate(database.db);
      assert.deepEqual(again, { applied: [], newer: [] });
    } finally {
      await Promise.all(others.map((db) => db.close()));
      await database.dispose();
    }
  });

  test('a database migrated by a newer eipd is reported, not refused', async () => {
    const database = await createPostgres();
    try {
      await database.db.query(
        "INSERT INTO schema_migrations (version) VALUES ('999_from_the_future')",
      );
      const outcome = await migrate(database.db);
      assert.deepEqual(outcome, { applied: [], newer: ['999_from_the_future'] });
    } finally {
      await database.dispose();
    }
  });
});
