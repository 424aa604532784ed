/**
 * The address allocator: hands out addresses of a product's pools inside the caller's transaction,
 * never-used addresses first and released ones only after their quarantine (contract rule 7).
 *
 * Representation. A pool's never-used addresses are a handful of disjoint ranges in
 * `pool_free_ranges`: a row covers [lo, hi], of which [next_free, hi] is still free. A new pool
 * starts as up to MAX_STRIPES equal stripes minus its reserved addresses (free-ranges.ts). Taking k
 * addresses from a row is `next_free += k`, or deleting the row when it runs dry; an explicit
 * address in the middle of a row splits it in two (carveAddress). Nothing is ever stored per
 * address for the whole pool, so an IPv4 /8 or an IPv6 /48 costs the same handful of rows as a /24,
 * and taking an address is an index probe on (pool, lo) plus one update: the cost does not depend
 * on the pool's size or on how full it is (contract rule 6).
 * Released addresses are one row each in `released_addresses` (only while nobody holds them), and
 * are taken only when the product's pools have no never-used range left, oldest release first,
 * once released_at is older than the quarantine by the database's clock. Taking one deletes its row.
 *
 * Concurrency argument (contract rules 1 and 2).
 * 1. Every row is locked (FOR UPDATE) before its next_free is read for use, and the same
 *    transaction advances next_free past what it takes before it commits. Two transactions can
 *    therefore never take the same address from the same row: the second one either skips the
 *    locked row (SKIP LOCKED) or waits for it and then sees the advanced next_free (READ COMMITTED
 *    re-reads the newest row version after the wait; a deleted row is not returned at all).
 * 2. Rows of a pool are disjoint, and pools are disjoint (an exclusion constraint), so an address
 *    is in at most one row; rule 1 then means it is handed out at most once from the free ranges.
 *    A released address is in neither a free range (it was taken from one) nor twice in
 *    released_addresses (its primary key); its row is locked before use and deleted by the taker,
 *    so a second taker skips it, or (explicit allocation, which waits) finds it gone.
 * 3. Independently of all that, the partial unique index `elastic_ips_one_live_holder` refuses a
 *    second live EIP on the same address. The argument above is why that never fires in normal
 *    operation; the index is why a bug here could never become a double allocation.
 * 4. All rows taken for one request are taken in the caller's transaction. If the request cannot
 *    be satisfied in full the caller rolls back, and the rollback restores every next_free and
 *    every released row: a `count: N` request gets N addresses or none.
 * Contention: SKIP LOCKED sends concurrent allocations to different stripes. Only when every
 * remaining row is locked does a transaction wait (FOR UPDATE without SKIP LOCKED), so a nearly
 * full pool is never reported empty just because its last rows are busy. Released rows are never
 * waited for: a claim skips the ones other transactions hold, so while the last reusable addresses
 * are being taken by others a request may be answered 503 although one of them later rolls back.
 * Deadlock freedom: free-range rows are ordered by (pool name, lo), and a transaction only ever
 * waits for a row that comes after every row it already holds. Around any cycle of waits each row
 * would have to come after the one before it, which is impossible, so no cycle can form and nobody
 * sits out PostgreSQL's deadlock_timeout. (Rows taken with SKIP LOCKED never wait, so their order
 * does not matter.) When the only busy rows come before one it holds, the transaction gives up
 * instead (ClaimContention, SQLSTATE 40001): the wrapper rolls it back, releasing its rows, and
 * runs it again after a short jittered pause. Released rows do not extend any cycle: a claim takes
 * them with SKIP LOCKED, only after its last wait, and returns without waiting again. Explicit
 * allocation (elastic-ips/allocate.ts) waits for at most one row, the released row or the free
 * range holding its address, and holds no allocator row while it waits; a transaction that holds
 * nothing anybody waits for cannot be part of a cycle.
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

/**
 * The statements of a claim, exported so tests can EXPLAIN exactly what runs (field case C12).
 * ORDER BY names its columns with their table: a bare `lo` or `address` would mean the output
 * column of that name, the `::text` one, and sort as text (`'10' < '9'`) without the index.
 */
export const ALLOCATOR_SQL = {
  pickUnlocked: `SELECT lo::text, next_free::text, hi::text FROM pool_free_ranges
    WHERE pool = $1 ORDER BY pool_free_ranges.lo LIMIT 1 FOR UPDATE SKIP LOCKED`,
  pickWaiting: `SELECT lo::text, next_free::text, hi::text FROM pool_free_ranges
    WHERE pool = $1 AND lo > $2::numeric ORDER BY pool_free_ranges.lo LIMIT 1 FOR UPDATE`,
  anyRangeAfter:
    'SELECT EXISTS (SELECT 1 FROM pool_free_ranges WHERE pool = $1 AND lo > $2::numeric) AS left',
  anyRangeIn: 'SELECT EXISTS (SELECT 1 FROM pool_free_ranges WHERE pool = ANY($1::text[])) AS left',
  advance:
    'UPDATE pool_free_ranges SET next_free = $3::numeric WHERE pool = $1 AND lo = $2::numeric',
  remove: 'DELETE FROM pool_free_ranges WHERE pool = $1 AND lo = $2::numeric',
  pickContaining: `SELECT lo::text, next_free::text, hi::text FROM pool_free_ranges
    WHERE pool = $1 AND lo <= $2::numeric ORDER BY pool_free_ranges.lo DESC LIMIT 1 FOR UPDATE`,
  // Reservation is checked here, when an address is taken, not only at release: a catalog that
  // reserves an address while another process releases it cannot see that release's row.
  // One pool, the usual case: an ordered scan of released_addresses_reuse_order that stops after
  // $3 rows, so its cost does not grow with the number of released addresses.
  pickReleasedInPool: `SELECT pool, address::text, released_at FROM released_addresses
    WHERE pool = $1 AND released_at <= now() - make_interval(secs => $2::double precision)
    AND NOT EXISTS (SELECT 1 FROM pool_reserved_addresses v
      WHERE v.pool = released_addresses.pool AND v.address = released_addresses.address)
    ORDER BY released_addresses.released_at, released_addresses.address
    LIMIT $3 FOR UPDATE SKIP LOCKED`,
  // Several pools: oldest release first across all of them, at the price of sorting their
  // reusable released rows.
  pickReleasedInPools: `SELECT pool, address::text, released_at FROM released_addresses
    WHERE pool = ANY($1::text[]) AND released_at <= now() - make_interval(secs => $2::double precision)
    AND NOT EXISTS (SELECT 1 FROM pool_reserved_addresses v
      WHERE v.pool = released_addresses.pool AND v.address = released_addresses.address)
    ORDER BY released_addresses.released_at, released_addresses.address
    LIMIT $3 FOR UPDATE SKIP LOCKED`,
  removeReleased: `DELETE FROM released_addresses r
    USING unnest($1::text[], $2::numeric[]) AS t(pool, address)
    WHERE r.pool = t.pool AND r.address = t.address`,
  countReusable: `SELECT count(*)::text AS n FROM released_addresses
    WHERE pool = ANY($1::text[]) AND released_at <= now() - make_interval(secs => $2::double precision)
    AND NOT EXISTS (SELECT 1 FROM pool_reserved_addresses v
      WHERE v.pool = released_addresses.pool AND v.address = released_addresses.address)`,
} as const;
/** Below every address of either family: "no lower bound" for the waiting pick. */
const NO_BOUND = '-1';

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
 * or freed addresses, so running out of it means pathological churn; the claim then gives up like
 * any other contended one.
 */
const MAX_WAITS = 1000;

export interface ReusePolicy {
  /** Seconds a released address waits before it is handed out again. */
  quarantineSeconds: number;
}

/**
 * Takes `count` addresses from `pools` (in name order, the order of the deadlock argument,
 * whatever order they are given in), all in the caller's transaction: never-used ones first, then
 * released ones past their quarantine, oldest release first. The quarantine applies to every
 * organization here, the releasing one included; only an explicit request gets an address back
 * early. When fewer are available, returns how many were and leaves the caller to roll back what
 * was taken so far.
 */
export async function claimAddresses(
  tx: Queryable,
  unordered: readonly PoolRef[],
  count: number,
  reuse: ReusePolicy,
): Promise<ClaimResult> {
  const pools = [...unordered].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const taken: ClaimedAddress[] = [];
  let remaining = BigInt(count);
  // The last row this transaction holds in (pool index, lo) order; it may only wait after it.
  let highest: { pool: number; lo: bigint } | undefined;
  const take = async (index: number, pool: PoolRef, row: RangeRow) => {
    const lo = BigInt(row.lo);
    if (
      highest === undefined ||
      index > highest.pool ||
      (index === highest.pool && lo > highest.lo)
    ) {
      highest = { pool: index, lo };
    }
    remaining -= await takeFromRow(tx, pool, row, remaining, taken);
  };

  for (let waits = 0; ; waits++) {
    // Rows nobody else holds, pool by pool, in the pools' order.
    for (const [index, pool] of pools.entries()) {
      while (remaining > 0n) {
        const [row] = await tx.query<RangeRow>(ALLOCATOR_SQL.pickUnlocked, [pool.name]);
        if (row === undefined) break;
        await take(index, pool, row);
      }
    }
    if (remaining === 0n) return { ok: true, addresses: taken };

    // Every row left, if any, is locked by another transaction.
    const [any] = await tx.query<{ left: boolean }>(ALLOCATOR_SQL.anyRangeIn, [
      pools.map((p) => p.name),
    ]);
    if (any?.left !== true) {
      // No never-used address is left anywhere in these pools: fall back to released ones. This
      // is the claim's last step; it never waits again after it (see the deadlock argument).
      remaining -= await takeReleased(tx, pools, remaining, reuse, taken);
      if (remaining === 0n) return { ok: true, addresses: taken };
      return {
        ok: false,
        available:
          BigInt(taken.length) +
          (await countFree(tx, pools)) +
          (await countReusable(tx, pools, reuse)),
      };
    }
    if (waits >= MAX_WAITS) throw new ClaimContention();
    const target = await firstRowAfter(tx, pools, highest);
    if (target === undefined) throw new ClaimContention();
    // Wait for it. It comes back as its holder left it, or not at all if the holder used it up;
    // either way the next round sees the pools as they are now.
    const [row] = await tx.query<RangeRow>(ALLOCATOR_SQL.pickWaiting, [
      target.pool.name,
      target.after,
    ]);
    if (row !== undefined) await take(target.index, target.pool, row);
    if (remaining === 0n) return { ok: true, addresses: taken };
  }
}

/** The first pool that still has rows after `highest` in (pool index, lo) order, if any. */
async function firstRowAfter(
  tx: Queryable,
  pools: readonly PoolRef[],
  highest: { pool: number; lo: bigint } | undefined,
): Promise<{ index: number; pool: PoolRef; after: string } | undefined> {
  for (let index = highest?.pool ?? 0; index < pools.length; index++) {
    const pool = pools[index];
    if (pool === undefined) continue;
    const after =
      highest !== undefined && index === highest.pool ? highest.lo.toString() : NO_BOUND;
    const [left] = await tx.query<{ left: boolean }>(ALLOCATOR_SQL.anyRangeAfter, [
      pool.name,
      after,
    ]);
    if (left?.left === true) return { index, pool, after };
  }
  return undefined;
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

/** Takes up to `wanted` released addresses past quarantine, oldest release first; none it waits for. */
async function takeReleased(
  tx: Queryable,
  pools: readonly PoolRef[],
  wanted: bigint,
  reuse: ReusePolicy,
  into: ClaimedAddress[],
): Promise<bigint> {
  const only = pools.length === 1 ? pools[0] : undefined;
  const rows = await tx.query<{ pool: string; address: string }>(
    only !== undefined ? ALLOCATOR_SQL.pickReleasedInPool : ALLOCATOR_SQL.pickReleasedInPools,
    [
      only !== undefined ? only.name : pools.map((p) => p.name),
      reuse.quarantineSeconds,
      wanted.toString(),
    ],
  );
  if (rows.length === 0) return 0n;
  await tx.query(ALLOCATOR_SQL.removeReleased, [
    rows.map((r) => r.pool),
    rows.map((r) => r.address),
  ]);
  const families = new Map(pools.map((p) => [p.name, p.family]));
  for (const row of rows) {
    const family = families.get(row.pool);
    // The query only returns rows of these pools; a miss would be a bug, not a state to handle.
    if (family === undefined) throw new Error(`released address of unexpected pool ${row.pool}`);
    into.push({ pool: row.pool, family, address: BigInt(row.address) });
  }
  return BigInt(rows.length);
}

/** Released addresses of `pools` past their quarantine (including ones others are taking now). */
export async function countReusable(
  tx: Queryable,
  pools: readonly PoolRef[],
  reuse: ReusePolicy,
): Promise<bigint> {
  const [row] = await tx.query<{ n: string }>(ALLOCATOR_SQL.countReusable, [
    pools.map((p) => p.name),
    reuse.quarantineSeconds,
  ]);
  return BigInt(row?.n ?? '0');
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

/** Re-reads at most this many times; each re-read means another transaction just split the row. */
const MAX_CARVE_READS = 8;

/**
 * The locked never-used range holding `address`, if any. The pick waits for a row another
 * transaction holds and then sees that row's newest version, but not a row that transaction
 * inserted: when it split [lo, hi] at some other address, the part holding ours now lives in a
 * new row. So while the locked row no longer holds the address but has changed, read again with
 * a fresh statement; a row that comes back unchanged is the truth.
 */
async function lockRowContaining(
  tx: Queryable,
  pool: string,
  address: bigint,
): Promise<RangeRow | undefined> {
  let previous: string | undefined;
  for (let reads = 0; reads < MAX_CARVE_READS; reads++) {
    const [row] = await tx.query<RangeRow>(ALLOCATOR_SQL.pickContaining, [
      pool,
      address.toString(),
    ]);
    if (row === undefined) return undefined;
    if (address >= BigInt(row.next_free) && address <= BigInt(row.hi)) return row;
    const seen = `${row.lo}/${row.next_free}/${row.hi}`;
    if (seen === previous) return undefined;
    previous = seen;
  }
  throw new ClaimContention();
}

/**
 * Removes one address from the pool's never-used ranges (a newly reserved address now; an
 * explicitly requested address later). Returns false when the address is not among them (already
 * handed out, or reserved before).
 */
export async function carveAddress(tx: Queryable, pool: string, address: bigint): Promise<boolean> {
  const row = await lockRowContaining(tx, pool, address);
  if (row === undefined) return false;
  const next = BigInt(row.next_free);
  const hi = BigInt(row.hi);
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
