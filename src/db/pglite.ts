import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, Row } from './database.js';
import { withConflictRetry } from './retry.js';

/**
 * Embedded PostgreSQL (WASM) in a data directory. PGlite is a single session: its `transaction`
 * holds an exclusive lock on the engine, so transactions run one at a time, which is also why
 * the concurrency suites run on real PostgreSQL.
 */
export async function openPglite(dataDir: string): Promise<Database> {
  return wrapPglite(await PGlite.create(dataDir));
}

export function wrapPglite(engine: PGlite): Database {
  return {
    kind: 'pglite',
    async query<R extends Row>(sql: string, params?: readonly unknown[]) {
      const result = await engine.query<R>(sql, params as unknown[] | undefined);
      return result.rows;
    },
    async exec(sql) {
      await engine.exec(sql);
    },
    transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      return withConflictRetry(() =>
        engine.transaction(async (inner) => {
          const tx: Queryable = {
            async query<R extends Row>(sql: string, params?: readonly unknown[]) {
              const result = await inner.query<R>(sql, params as unknown[] | undefined);
              return result.rows;
            },
            async exec(sql: string) {
              await inner.exec(sql);
            },
          };
          return work(tx);
        }),
      );
    },
    async close() {
      await engine.close();
    },
  };
}
