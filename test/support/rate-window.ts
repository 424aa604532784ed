/**
 * Rate limits count in one-minute windows on the database's clock. A test that expects N
 * requests to land in one window first waits until the current window has enough time left, so
 * that a window boundary in the middle of the test cannot reset the count.
 */
import type { Queryable } from '../../src/db/database.js';

export async function awayFromWindowEnd(db: Queryable, secondsNeeded = 15): Promise<void> {
  const [row] = await db.query<{ left: number }>(
    'SELECT (60 - mod(extract(epoch FROM clock_timestamp()), 60))::float8 AS left',
  );
  const left = row?.left ?? 60;
  if (left < secondsNeeded) await new Promise((r) => setTimeout(r, left * 1000 + 200));
}
