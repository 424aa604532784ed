/**
 * Fixed-window request counters in the database, shared by every replica: one UPSERT per counted
 * request, on the database's clock, so that N replicas together let through exactly the limit per
 * window (the count is a row, not a process's memory). Windows are aligned to the epoch; the
 * replica that first counts in a new window deletes rows older than the previous one, so the
 * table never holds more than two windows of buckets.
 */
import type { Database } from '../db/database.js';

export interface WindowCount {
  /** Hits in the current window, this one included. */
  hits: number;
  /** Whole seconds (at least 1) until the current window ends and the count starts over. */
  resetSeconds: number;
}

export interface WindowCounter {
  readonly windowSeconds: number;
  hit(bucket: string): Promise<WindowCount>;
}

const HIT_SQL = `
  INSERT INTO rate_limit_counters AS c (bucket, window_index, hits)
  VALUES ($1, floor(extract(epoch FROM clock_timestamp()) / $2)::bigint, 1)
  ON CONFLICT (bucket, window_index) DO UPDATE SET hits = c.hits + 1
  RETURNING c.hits::float8 AS hits, c.window_index::text AS window_index,
            ((c.window_index + 1) * $2 - extract(epoch FROM clock_timestamp()))::float8 AS remaining`;

export function createWindowCounter(db: Database, windowSeconds: number): WindowCounter {
  let prunedBefore = 0n;

  function prune(current: bigint): void {
    if (current <= prunedBefore) return;
    prunedBefore = current;
    // Fire and forget: a failed prune is retried at the next window, and must not fail a request.
    db.query('DELETE FROM rate_limit_counters WHERE window_index < $1', [
      (current - 1n).toString(),
    ]).catch(() => {
      prunedBefore = 0n;
    });
  }

  return {
    windowSeconds,
    async hit(bucket) {
      const [row] = await db.query<{ hits: number; window_index: string; remaining: number }>(
        HIT_SQL,
        [bucket, windowSeconds],
      );
      if (row === undefined) throw new Error('rate limit counter returned no row');
      prune(BigInt(row.window_index));
      return { hits: row.hits, resetSeconds: Math.max(1, Math.ceil(row.remaining)) };
    },
  };
}
