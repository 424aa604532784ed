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

/** A problem with the benchmark's surroundings, reported by its message alone (no stack). */
export class BenchSetupError extends Error {}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** ADMIN_URL without its password, for messages. */
export function describeAdminUrl(): string {
  const url = new URL(ADMIN_URL);
  if (url.password !== '') url.password = '***';
  return url.toString();
}

/**
 * Fails with a message that says what to do when the benchmark's PostgreSQL cannot be reached:
 * every benchmark needs it, and a bare ECONNREFUSED stack says little.
 */
export async function checkReachable(): Promise<void> {
  try {
    await admin((c) => c.query('SELECT 1'));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new BenchSetupError(
      `PostgreSQL is not reachable at ${describeAdminUrl()} (${why}). The benchmarks need a PostgreSQL server on which they may create and drop databases: start one, or point EIPD_BENCH_DATABASE_URL at one.`,
    );
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
