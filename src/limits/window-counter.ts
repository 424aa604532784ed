/**
 * Fixed-window request counters in the database, shared by every replica: one UPSERT per count,
 * on the database's clock, so that N replicas together see one count per bucket and window (a
 * row, not a process's memory). Windows are aligned to the epoch; the replica that first counts
 * in a new window deletes rows older than the previous one, so the table never holds more than
 * two windows of buckets.
 */
import type { Database } from '../db/database.js';

export interface WindowCount {
  /** The bucket's count in the current window, this addition included. */
  hits: number;
  /** Milliseconds until the current window ends and the count starts over (database clock). */
  resetMs: number;
}

export interface WindowCounter {
  readonly windowSeconds: number;
  /** Adds `amount` (1 unless told) to the bucket's count in the current window. */
  add(bucket: string, amount?: number): Promise<WindowCount>;
}

const ADD_SQL = `
  INSERT INTO rate_limit_counters AS c (bucket, window_index, hits)
  VALUES ($1, floor(extract(epoch FROM clock_timestamp()) / $2)::bigint, $3)
  ON CONFLICT (bucket, window_index) DO UPDATE SET hits = c.hits + EXCLUDED.hits
  RETURNING c.hits::float8 AS hits, c.window_index::text AS window_index,
            ((c.window_index + 1) * $2 - extract(epoch FROM clock_timestamp()))::float8 AS remaining`;

/** Whole seconds (at least 1) for Retry-After and RateLimit-Reset. */
export function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export function createWindowCounter(db: Database, windowSeconds: number): WindowCounter {
  let prunedBefore = 0n;

  function prune(current: bigint): void {
    if (current <= prunedBefore) return;
    prunedBefore = current;
    // Fire and forget: a failed prune is retried at the next count, and must not fail a request.
    db.query('DELETE FROM rate_limit_counters WHERE window_index < $1', [
      (current - 1n).toString(),
    ]).catch(() => {
      prunedBefore = 0n;
    });
  }

  return {
    windowSeconds,
    async add(bucket, amount = 1) {
      const [row] = await db.query<{ hits: number; window_index: string; remaining: number }>(
        ADD_SQL,
        [bucket, windowSeconds, amount],
      );
      if (row === undefined) throw new Error('rate limit counter returned no row');
      prune(BigInt(row.window_index));
      return { hits: row.hits, resetMs: Math.max(0, row.remaining * 1000) };
    },
  };
}
