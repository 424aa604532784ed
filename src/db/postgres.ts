import pg from 'pg';
import type { Database, Queryable, Row } from './database.js';
import { DatabaseUnavailableError, isUnavailable } from './errors.js';
import { withConflictRetry } from './retry.js';

export interface PostgresSettings {
  url: string;
  poolSize: number;
  /** How long to wait for a connection (new or from the pool) before answering 503. */
  connectTimeoutMs: number;
  /**
   * Server-side statement_timeout, and a slightly longer client-side query timeout: the client one
   * is what fires when packets are silently dropped and the server never answers at all.
   */
  statementTimeoutMs: number;
}

function translate(error: unknown): unknown {
  return isUnavailable(error) ? new DatabaseUnavailableError(error) : error;
}

export function openPostgres(settings: PostgresSettings): Database {
  const pool = new pg.Pool({
    connectionString: settings.url,
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'eipd',
    statement_timeout: settings.statementTimeoutMs,
    query_timeout: settings.statementTimeoutMs + 1_000,
    idle_in_transaction_session_timeout: settings.statementTimeoutMs * 2,
    keepAlive: true,
  });
  // An idle client whose server went away emits 'error'; without a listener that would crash the
  // process. The next checkout simply gets a fresh connection.
  pool.on('error', () => {});

  const query = async <R extends Row>(sql: string, params?: readonly unknown[]): Promise<R[]> => {
    try {
      const result = await pool.query<R>(sql, params as unknown[] | undefined);
      return result.rows;
    } catch (error) {
      throw translate(error);
    }
  };

  return {
    kind: 'postgres',
    query,
    async exec(sql) {
      await query(sql);
    },
    transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      return withConflictRetry(async () => {
        let client: pg.PoolClient;
        try {
          client = await pool.connect();
        } catch (error) {
          throw new DatabaseUnavailableError(error);
        }
        let broken: Error | undefined;
        // While checked out, a client's connection errors are ours to handle: without a listener
        // a backend killed mid-transaction (failover, restart) is an unhandled 'error' event
        // that takes the whole process down. The failed query rejects on its own.
        const onConnectionError = (error: Error) => {
          broken = error;
        };
        client.on('error', onConnectionError);
        try {
          // Explicit, because the allocator's and the migrations' reasoning assumes READ
          // COMMITTED whatever default_transaction_isolation the server has.
          await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
          const tx: Queryable = {
            async query<R extends Row>(sql: string, params?: readonly unknown[]) {
              const result = await client.query<R>(sql, params as unknown[] | undefined);
              return result.rows;
            },
            async exec(sql: string) {
              await client.query(sql);
            },
          };
          const value = await work(tx);
          await client.query('COMMIT');
          return value;
        } catch (error) {
          if (broken === undefined && isUnavailable(error)) {
            // A connection that just timed out or failed would only make ROLLBACK wait out the
            // same timeout again; discarding it rolls the transaction back on the server.
            broken = error instanceof Error ? error : new Error('connection unusable');
          }
          if (broken === undefined) {
            try {
              await client.query('ROLLBACK');
            } catch (rollbackError) {
              // The connection is unusable; make the pool discard it, not hand it out again.
              broken =
                rollbackError instanceof Error ? rollbackError : new Error('rollback failed');
            }
          }
          throw translate(error);
        } finally {
          client.off('error', onConnectionError);
          client.release(broken);
        }
      });
    },
    async close() {
      await pool.end();
    },
  };
}
