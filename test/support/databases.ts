/**
 * Throwaway databases for tests, on both engines eipd runs on.
 *
 * PGlite: initdb costs ~5 s, so each test process migrates one in-memory template once and every
 * test gets a clone of its dump (~0.5 s). PostgreSQL: each test gets a new database on the shared
 * server (EIPD_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test names the admin
 * connection), dropped afterwards. A PostgreSQL suite that cannot reach the server fails loudly:
 * nothing here skips.
 */
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { wrapPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';

export const ADMIN_URL =
  process.env.EIPD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  db: Database;
  /** A connection URL other processes can use (PostgreSQL only). */
  url: string | undefined;
  /** Closes the connection and drops the database. */
  dispose(): Promise<void>;
}

export type BackendName = 'pglite' | 'postgres';

let template: Promise<Blob> | undefined;

function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const engine = await PGlite.create();
    await migrate(wrapPglite(engine));
    const dump = await engine.dumpDataDir('none');
    await engine.close();
    return dump;
  })();
  return template;
}

export async function createPglite(): Promise<TestDatabase> {
  const engine = await PGlite.create({ loadDataDir: await pgliteTemplate() });
  const db = wrapPglite(engine);
  return { db, url: undefined, dispose: () => db.close() };
}

function urlFor(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A new PostgreSQL database, migrated unless `migrate: false`. */
export async function createPostgres(
  options: { poolSize?: number; migrate?: boolean } = {},
): Promise<TestDatabase> {
  const name = `eipd_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = urlFor(name);
  const db = openPostgres({
    url,
    poolSize: options.poolSize ?? 20,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 10_000,
  });
  if (options.migrate !== false) await migrate(db);
  return {
    db,
    url,
    async dispose() {
      await db.close();
      const a = new pg.Client({ connectionString: ADMIN_URL });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

export function createDatabase(backend: BackendName): Promise<TestDatabase> {
  return backend === 'pglite' ? createPglite() : createPostgres();
}

export const BACKENDS: readonly BackendName[] = ['pglite', 'postgres'];
