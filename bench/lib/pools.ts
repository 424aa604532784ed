/**
 * Pool states for the benchmarks, written through eipd's own functions where eipd has one
 * (initialFreeRanges, subtractPoints, insertAllocated, the allocation transaction), so that the
 * allocator sees exactly the rows it would have written itself.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { insertAllocated } from '../../src/elastic-ips/repository.js';
import { type Family, formatAddress } from '../../src/ipam/address.js';
import { initialFreeRanges, type Range, subtractPoints } from '../../src/ipam/free-ranges.js';
import { type AllocationInput, allocationStatements } from './allocation.js';
import { transaction } from './database.js';

interface PoolRow extends Record<string, unknown> {
  name: string;
  family: number;
  first_usable: string;
  last_usable: string;
  reserved: string[] | null;
}

async function readPool(client: pg.Client, pool: string) {
  const { rows } = await client.query<PoolRow>(
    `SELECT p.name, p.family, p.first_usable::text, p.last_usable::text,
            (SELECT array_agg(address::text) FROM pool_reserved_addresses r WHERE r.pool = p.name) AS reserved
     FROM pools p WHERE p.name = $1`,
    [pool],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`no pool ${pool}`);
  return {
    family: row.family as Family,
    first: BigInt(row.first_usable),
    last: BigInt(row.last_usable),
    reserved: (row.reserved ?? []).map((a) => BigInt(a)),
  };
}

async function writeFreeRanges(client: pg.Client, pool: string, ranges: readonly Range[]) {
  await client.query('DELETE FROM pool_free_ranges WHERE pool = $1', [pool]);
  await client.query(
    `INSERT INTO pool_free_ranges (pool, lo, next_free, hi)
     SELECT $1, r.lo, r.lo, r.hi FROM unnest($2::numeric[], $3::numeric[]) AS r(lo, hi)`,
    [pool, ranges.map((r) => r.lo.toString()), ranges.map((r) => r.hi.toString())],
  );
}

/**
 * Every EIP, event, idempotency key and released address gone, and `pools` back to the free
 * ranges of a new pool: the state of a fresh catalog, for runs that must start alike.
 */
export async function resetAll(client: pg.Client, pools: readonly string[]): Promise<void> {
  await client.query(
    'TRUNCATE eip_events, elastic_ips, idempotency_keys, released_addresses, event_prune_state',
  );
  for (const pool of pools) {
    const p = await readPool(client, pool);
    await writeFreeRanges(client, pool, initialFreeRanges(p.first, p.last, p.reserved));
  }
  await client.query('VACUUM ANALYZE pool_free_ranges');
  await client.query('CHECKPOINT');
}

/** One pool back to new (its EIPs and their events deleted), leaving everything else alone. */
export async function resetPool(client: pg.Client, pool: string): Promise<void> {
  await transaction(client, async (tx) => {
    await tx.query(
      'DELETE FROM eip_events WHERE eip_id IN (SELECT id FROM elastic_ips WHERE pool = $1)',
      [pool],
    );
    await tx.query('DELETE FROM elastic_ips WHERE pool = $1', [pool]);
    await tx.query('DELETE FROM released_addresses WHERE pool = $1', [pool]);
  });
  const p = await readPool(client, pool);
  await writeFreeRanges(client, pool, initialFreeRanges(p.first, p.last, p.reserved));
}

/** A small seeded PRNG (mulberry32), so that a fill is the same from run to run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Marks `fraction` of a fresh pool's usable addresses as held, chosen uniformly at random over the
 * whole pool: live EIPs (rows and `allocated` events, written by eipd's insertAllocated, spread
 * over `orgs`), and the pool's free ranges replaced by its stripes minus those addresses, as if
 * each had been taken one by one by explicit allocations. The allocator then works on a
 * fragmented pool: about one free range per free address.
 */
export async function fillAtRandom(
  client: pg.Client,
  options: {
    pool: string;
    idc: string;
    product: string;
    fraction: number;
    orgs: readonly string[];
    seed: number;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<{ held: number; freeRanges: number }> {
  const p = await readPool(client, options.pool);
  const size = Number(p.last - p.first + 1n);
  if (!Number.isSafeInteger(size) || size > 1 << 26) throw new Error('pool too large to fill');
  const held = Math.floor(size * options.fraction);
  const random = prng(options.seed);
  const offsets = new Uint32Array(size);
  for (let i = 0; i < size; i++) offsets[i] = i;
  for (let i = 0; i < held; i++) {
    const j = i + Math.floor(random() * (size - i));
    const t = offsets[i] ?? 0;
    offsets[i] = offsets[j] ?? 0;
    offsets[j] = t;
  }
  const chosen = offsets.subarray(0, held);
  const BATCH = 1000;
  const BATCHES_PER_COMMIT = 50;
  for (let start = 0, batch = 0; start < held; batch++) {
    await transaction(client, async (tx) => {
      for (let k = 0; k < BATCHES_PER_COMMIT && start < held; k++, start += BATCH) {
        const org = options.orgs[(batch * BATCHES_PER_COMMIT + k) % options.orgs.length];
        if (org === undefined) throw new Error('no organizations to fill with');
        const eips = Array.from(chosen.subarray(start, Math.min(held, start + BATCH)), (o) => {
          const address = p.first + BigInt(o);
          return {
            id: randomUUID(),
            pool: options.pool,
            family: p.family,
            address,
            ipAddress: formatAddress({ family: p.family, value: address }),
          };
        });
        await insertAllocated(
          tx,
          { orgId: org, actor: 'bench-prefill' },
          { name: 'prefill', idc: options.idc, product: options.product },
          eips,
        );
      }
    });
    options.onProgress?.(Math.min(held, start), held);
  }
  const points = Array.from(chosen, (o) => p.first + BigInt(o));
  const ranges = subtractPoints(initialFreeRanges(p.first, p.last, p.reserved), points);
  await writeFreeRanges(client, options.pool, ranges);
  await client.query('VACUUM ANALYZE elastic_ips');
  await client.query('VACUUM ANALYZE eip_events');
  await client.query('VACUUM ANALYZE pool_free_ranges');
  await client.query('CHECKPOINT');
  return { held, freeRanges: ranges.length };
}

/**
 * `total` EIPs for one organization, `perAllocation` at a time, each through the whole
 * allocation transaction (as `count: perAllocation` requests would have made them): successive
 * addresses, one created_at per allocation, events included.
 */
export async function allocateMany(
  client: pg.Client,
  input: Omit<AllocationInput, 'count'>,
  total: number,
  perAllocation = 100,
): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < total) {
    const count = Math.min(perAllocation, total - ids.length);
    ids.push(...(await transaction(client, (tx) => allocationStatements(tx, { ...input, count }))));
  }
  return ids;
}
