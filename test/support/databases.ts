/**
 * Throwaway databases for tests, on both engines eipd runs on.
 *
 * PGlite: initdb costs ~5 s, so one in-memory template is migrated once (its dump kept on disk for
 * the other test processes) and every test gets a clone of that dump (~0.5 s). PostgreSQL: each
 * test gets a new database on the shared server (EIPD_TEST_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/test names the admin connection), dropped afterwards. A
 * PostgreSQL suite that cannot reach the server fails loudly: nothing here skips.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Database } from '../../src/db/database.js';
import { migrate, readMigrations } from '../../src/db/migrate.js';
import { wrapPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';

/** The installed PGlite's own package.json (its exports do not include it). */
const PGLITE_PACKAGE_JSON = new URL(
  '../../node_modules/@electric-sql/pglite/package.json',
  import.meta.url,
);

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

/**
 * The migrated template is also kept in the system's temporary directory, named by a hash of
 * PGlite's version and the migrations, so that only the first test file of a run (and of every
 * later run with the same migrations) pays for initdb: node --test runs each file in a process of
 * its own, and 28 of them paid ~5 s each. A changed migration or PGlite version names a new file.
 */
async function templateFile(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.parse(await readFile(PGLITE_PACKAGE_JSON, 'utf8')).version);
  for (const m of await readMigrations()) hash.update(`\0${m.version}\0${m.sql}`);
  return join(tmpdir(), `eipd-test-pglite-${hash.digest('hex').slice(0, 16)}.tar`);
}

function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const file = await templateFile();
    try {
      return new Blob([await readFile(file)]);
    } catch {
      // Not made yet: make it below.
    }
    const engine = await PGlite.create();
    await migrate(wrapPglite(engine));
    const dump = await engine.dumpDataDir('none');
    await engine.close();
    // Written under a name of its own and renamed, so that a test file reading it at the same
    // moment sees the whole dump or none.
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
    await rename(partial, file);
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
