/**
 * Throwaway PostgreSQL databases for the benchmark (like test/support/databases.ts: created on
 * the shared server, dropped afterwards, nothing else touched), and a `Queryable` over one plain
 * pg client, so that baselines run eipd's own exported SQL functions without eipd's pool and
 * deadline layer.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Queryable, Row } from '../../src/db/database.js';

export const ADMIN_URL =
  process.env.EIPD_BENCH_DATABASE_URL ??
  process.env.EIPD_TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `eipd_bench_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () =>
      admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

/** Runs `sql` on the admin connection (server-wide facts: version, settings). */
export function adminQuery<R extends Row>(sql: string): Promise<R[]> {
  return admin(async (c) => (await c.query<R>(sql)).rows);
}

/** eipd's Queryable over one plain pg client. */
export function queryable(client: pg.Client | pg.PoolClient): Queryable {
  return {
    async query<R extends Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      const result = await client.query<R>(sql, params as unknown[] | undefined);
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

/** One READ COMMITTED transaction on a plain client, as eipd opens them. */
export async function transaction<T>(
  client: pg.Client | pg.PoolClient,
  work: (tx: Queryable) => Promise<T>,
): Promise<T> {
  await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    const value = await work(queryable(client));
    await client.query('COMMIT');
    return value;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

export async function connectClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'eipd-bench' });
  await client.connect();
  return client;
}
