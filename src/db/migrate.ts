import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Database, STARTUP_WORK_TIMEOUT_MS } from './database.js';

/** `migrations/` at the package root, from both src/db/ (tsx) and dist/db/ (built). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * Arbitrary but fixed: every eipd process that starts against the same database takes this
 * transaction-scoped advisory lock before looking at schema_migrations, so replicas starting at
 * the same moment apply each migration exactly once (the losers wait, then find nothing to do).
 * Without it two processes can both run `CREATE TABLE IF NOT EXISTS` and one fails on the
 * catalog's unique index.
 */
const MIGRATION_LOCK_KEY = 7_311_202_601;

export interface MigrationFile {
  version: string;
  sql: string;
}

export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => /^\d{3}_[a-z0-9_]+\.sql$/.test(n)).sort();
  return Promise.all(
    names.map(async (name) => ({
      version: name.replace(/\.sql$/, ''),
      sql: await readFile(`${dir}/${name}`, 'utf8'),
    })),
  );
}

export interface MigrationOutcome {
  applied: string[];
  /**
   * Versions in the database that this code does not know: a newer eipd migrated it. That is
   * normal during a rolling deploy (migrations are written to be backward compatible), so it is
   * reported, not refused.
   */
  newer: string[];
}

/** Applies pending migrations, forward only, all in one transaction. */
export async function migrate(
  db: Database,
  dir: string = MIGRATIONS_DIR,
): Promise<MigrationOutcome> {
  const files = await readMigrations(dir);
  return db.transaction(
    async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
      const rows = await tx.query<{ version: string }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((r) => r.version));
      const known = new Set(files.map((f) => f.version));
      const newer = [...applied].filter((v) => !known.has(v));
      const done: string[] = [];
      for (const file of files) {
        if (applied.has(file.version)) continue;
        await tx.exec(file.sql);
        await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [file.version]);
        done.push(file.version);
      }
      return { applied: done, newer };
    },
    { timeoutMs: STARTUP_WORK_TIMEOUT_MS },
  );
}

/** True when every migration this code knows is applied (readiness). */
export async function migrationsApplied(
  db: Database,
  dir: string = MIGRATIONS_DIR,
): Promise<boolean> {
  const files = await readMigrations(dir);
  const rows = await db.query<{ version: string }>('SELECT version FROM schema_migrations');
  const applied = new Set(rows.map((r) => r.version));
  return files.every((f) => applied.has(f.version));
}
