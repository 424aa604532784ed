/**
 * The address allocator: hands out never-used addresses of a product's pools, inside the caller's
 * transaction.
 *
 * Representation. A pool's never-used addresses are a handful of disjoint ranges in
 * `pool_free_ranges`: a row covers [lo, hi], of which [next_free, hi] is still free. A new pool
 * starts as up to MAX_STRIPES equal stripes minus its reserved addresses (free-ranges.ts). Taking k
 * addresses from a row is `next_free += k`, or deleting the row when it runs dry; an explicit
 * address in the middle of a row splits it in two (carveAddress). Nothing is ever stored per
 * address for the whole pool, so an IPv4 /8 or an IPv6 /48 costs the same handful of rows as a /24,
 * and taking an address is an index probe on (pool, lo) plus one update: the cost does not depend
 * on the pool's size or on how full it is (contract rule 6).
 *
 * Concurrency argument (contract rules 1 and 2).
 * 1. Every row is locked (FOR UPDATE) before its next_free is read for use, and the same
 *    transaction advances next_free past what it takes before it commits. Two transactions can
 *    therefore never take the same address from the same row: the second one either skips the
 *    locked row (SKIP LOCKED) or waits for it and then sees the advanced next_free (READ COMMITTED
 *    re-reads the newest row version after the wait; a deleted row is not returned at all).
 * 2. Rows of a pool are disjoint, and pools are disjoint (an exclusion constraint), so an address
 *    is in at most one row; rule 1 then means it is handed out at most once from the free ranges.
 * 3. Independently of all that, the partial unique index `elastic_ips_one_live_holder` refuses a
 *    second live EIP on the same address. The argument above is why that never fires in normal
 *    operation; the index is why a bug here could never become a double allocation.
 * 4. All ranges taken for one request are taken in the caller's transaction. If the request cannot
 *    be satisfied in full the caller rolls back, and the rollback restores every next_free: a
 *    `count: N` request gets N addresses or none.
 * Contention: SKIP LOCKED sends concurrent allocations to different stripes. Only when every
 * remaining row is locked does a transaction wait (FOR UPDATE without SKIP LOCKED), so a nearly
 * full pool is never reported empty just because its last rows are busy.
 * Deadlock freedom: a transaction waits for a range lock only while it holds none. One that has
 * already taken rows and finds the rest busy gives up instead (ClaimContention, SQLSTATE 40001):
 * the wrapper rolls it back, which releases its rows, and runs it again after a short jittered
 * pause. A waiter therefore never holds what another waiter wants, so no wait cycle can form,
 * and nobody sits out PostgreSQL's deadlock_timeout near exhaustion.
 */
import type { Queryable } from '../db/database.js';
import type { Family } from './address.js';

export interface PoolRef {
  name: string;
  family: Family;
}

export interface ClaimedAddress {
  pool: string;
  family: Family;
  address: bigint;
}

export type ClaimResult =
  | { ok: true; addresses: ClaimedAddress[] }
  | { ok: false; available: bigint };

interface RangeRow extends Record<string, unknown> {
  lo: string;
  next_free: string;
  hi: string;
}

/** The statements of a claim, exported so tests can EXPLAIN exactly what runs (field case C12). */
export const ALLOCATOR_SQL = {
  pickUnlocked: `SELECT lo::text, next_free::text, hi::text FROM pool_free_ranges
    WHERE pool = $1 ORDER BY lo LIMIT 1 FOR UPDATE SKIP LOCKED`,
  pickWaiting: `SELECT lo::text, next_free::text, hi::text FROM pool_free_ranges
    WHERE pool = $1 ORDER BY lo LIMIT 1 FOR UPDATE`,
  anyRangeLeft: 'SELECT EXISTS (SELECT 1 FROM pool_free_ranges WHERE pool = $1) AS left',
  advance:
    'UPDATE pool_free_ranges SET next_free = $3::numeric WHERE pool = $1 AND lo = $2::numeric',
  remove: 'DELETE FROM pool_free_ranges WHERE pool = $1 AND lo = $2::numeric',
} as const;
const {
  pickUnlocked: PICK_UNLOCKED,
  pickWaiting: PICK_WAITING,
  anyRangeLeft: ANY_RANGE_LEFT,
} = ALLOCATOR_SQL;

/**
 * Thrown when a claim holds some ranges and would have to wait for more: the transaction must be
 * rolled back and run again. It carries serialization_failure's SQLSTATE so that the transaction
 * wrapper treats it like any other lost race.
 */
export class ClaimContention extends Error {
  readonly code = '40001';
  constructor() {
    super('free ranges are busy; retrying the allocation');
    this.name = 'ClaimContention';
  }
}

/**
 * Upper bound on lock waits in one claim. Every wait ends with another transaction having taken
 * or freed addresses, so running out of it means pathological churn; better to fail the request
 * (the wrapper reports contention) than to spin.
 */
const MAX_WAITS = 1000;

/**
 * Takes `count` never-used addresses from `pools` (in the given order), all in the caller's
 * transaction. When fewer are free, returns how many were available and leaves the caller to roll
 * back what was taken so far.
 */
export async function claimAddresses(
  tx: Queryable,
  pools: readonly PoolRef[],
  count: number,
): Promise<ClaimResult> {
  const taken: ClaimedAddress[] = [];
  let remaining = BigInt(count);
  for (let waits = 0; ; waits++) {
    // Rows nobody else holds, pool by pool, in the pools' order.
    for (const pool of pools) {
      while (remaining > 0n) {
        const [row] = await tx.query<RangeRow>(PICK_UNLOCKED, [pool.name]);
        if (row === undefined) break;
        remaining -= await takeFromRow(tx, pool, row, remaining, taken);
      }
    }
    if (remaining === 0n) return { ok: true, addresses: taken };

    // Every row left (if any) is locked by another transaction.
    let busy: PoolRef | undefined;
    for (const pool of pools) {
      const [left] = await tx.query<{ left: boolean }>(ANY_RANGE_LEFT, [pool.name]);
      if (left?.left === true) {
        busy = pool;
        break;
      }
    }
    if (busy === undefined) {
      return { ok: false, available: BigInt(taken.length) + (await countFree(tx, pools)) };
    }
    // Never wait while holding a range (see "Deadlock freedom" above).
    if (taken.length > 0) throw new ClaimContention();
    if (waits >= MAX_WAITS) throw new Error('allocator gave up waiting for free ranges');
    // Wait for the busy pool's first row. It comes back as its holder left it, or not at all if
    // the holder used it up; either way the next round sees the pool as it is now.
    const [row] = await tx.query<RangeRow>(PICK_WAITING, [busy.name]);
    if (row !== undefined) remaining -= await takeFromRow(tx, busy, row, remaining, taken);
    if (remaining === 0n) return { ok: true, addresses: taken };
  }
}

async function takeFromRow(
  tx: Queryable,
  pool: PoolRef,
  row: RangeRow,
  wanted: bigint,
  into: ClaimedAddress[],
): Promise<bigint> {
  const next = BigInt(row.next_free);
  const hi = BigInt(row.hi);
  const free = hi - next + 1n;
  const take = wanted < free ? wanted : free;
  if (take === free) {
    await tx.query(ALLOCATOR_SQL.remove, [pool.name, row.lo]);
  } else {
    await tx.query(ALLOCATOR_SQL.advance, [pool.name, row.lo, (next + take).toString()]);
  }
  for (let a = next; a < next + take; a++) {
    into.push({ pool: pool.name, family: pool.family, address: a });
  }
  return take;
}

/** Never-used addresses left in `pools` (an exact integer; IPv6 pools exceed 2^64). */
export async function countFree(tx: Queryable, pools: readonly PoolRef[]): Promise<bigint> {
  const [row] = await tx.query<{ free: string }>(
    `SELECT COALESCE(SUM(hi - next_free + 1), 0)::text AS free
     FROM pool_free_ranges WHERE pool = ANY($1::text[])`,
    [pools.map((p) => p.name)],
  );
  return BigInt(row?.free ?? '0');
}

/**
 * Removes one address from the pool's never-used ranges (a newly reserved address now; an
 * explicitly requested address later). Returns false when the address is not among them (already
 * handed out, or reserved before).
 */
export async function carveAddress(tx: Queryable, pool: string, address: bigint): Promise<boolean> {
  const a = address.toString();
  const [row] = await tx.query<RangeRow>(
    `SELECT lo::text, next_free::text, hi::text FROM pool_free_ranges
     WHERE pool = $1 AND lo <= $2::numeric ORDER BY lo DESC LIMIT 1 FOR UPDATE`,
    [pool, a],
  );
  if (row === undefined) return false;
  const next = BigInt(row.next_free);
  const hi = BigInt(row.hi);
  if (address < next || address > hi) return false;
  if (next === hi) {
    await tx.query(ALLOCATOR_SQL.remove, [pool, row.lo]);
  } else if (address === next) {
    await tx.query(ALLOCATOR_SQL.advance, [pool, row.lo, (address + 1n).toString()]);
  } else {
    // Keep [lo, address-1] in this row and start a new row at address+1 for the rest.
    await tx.query(
      'UPDATE pool_free_ranges SET hi = $3::numeric WHERE pool = $1 AND lo = $2::numeric',
      [pool, row.lo, (address - 1n).toString()],
    );
    if (address < hi) {
      const after = (address + 1n).toString();
      await tx.query(
        'INSERT INTO pool_free_ranges (pool, lo, next_free, hi) VALUES ($1, $2::numeric, $2::numeric, $3::numeric)',
        [pool, after, row.hi],
      );
    }
  }
  return true;
}
