/**
 * The allocation transaction eipd runs for `POST /v1/elastic-ips` with `count` and no
 * Idempotency-Key, rebuilt from eipd's own exported functions (findOffering, lockQuota,
 * claimAddresses, insertAllocated) so that the B1 baseline cannot drift from the product, plus a
 * check that it really is the same statement sequence (`checkSameStatements`), and the same
 * transaction as a pgbench script (`pgbenchScript`).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Database, Queryable, Row } from '../../src/db/database.js';
import { withConflictRetry } from '../../src/db/retry.js';
import { allocateElasticIps } from '../../src/elastic-ips/allocate.js';
import { findOffering, insertAllocated } from '../../src/elastic-ips/repository.js';
import { formatAddress } from '../../src/ipam/address.js';
import { ALLOCATOR_SQL, claimAddresses } from '../../src/ipam/allocator.js';
import { lockQuota } from '../../src/quotas/quota-check.js';
import { queryable } from './database.js';

export interface AllocationInput {
  orgId: string;
  subject: string;
  idc: string;
  product: string;
  name: string;
  count: number;
}

/** eipd's default quarantine; it only matters once a pool has no never-used address left. */
const REUSE = { quarantineSeconds: 3600 };

/** The body of eipd's allocation transaction (allocateOnce, the common path), on `tx`. */
export async function allocationStatements(
  tx: Queryable,
  input: AllocationInput,
): Promise<string[]> {
  const offering = await findOffering(tx, input.idc, input.product);
  const pools = offering.pools.filter((p) => p.enabled);
  if (pools.length === 0) throw new Error(`product ${input.product} has no pool in ${input.idc}`);
  const quota = await lockQuota(tx, input.orgId, input.idc);
  if (quota.limit !== null) throw new Error('benchmarks run without quotas');
  const claim = await claimAddresses(tx, pools, input.count, REUSE);
  if (!claim.ok) throw new Error(`pool exhausted: ${claim.available} left`);
  const eips = claim.addresses.map((a) => ({
    id: randomUUID(),
    pool: a.pool,
    family: a.family,
    address: a.address,
    ipAddress: formatAddress({ family: a.family, value: a.address }),
  }));
  await insertAllocated(
    tx,
    { orgId: input.orgId, actor: input.subject },
    { name: input.name, idc: input.idc, product: input.product },
    eips,
  );
  return eips.map((e) => e.id);
}

/** The baseline: the same transaction on a plain pg client, retried on lost races like eipd's. */
export function allocateOnClient(client: pg.Client, input: AllocationInput): Promise<string[]> {
  return withConflictRetry(async () => {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    try {
      const ids = await allocationStatements(queryable(client), input);
      await client.query('COMMIT');
      return ids;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  });
}

export interface Statement {
  sql: string;
  params: unknown[];
  rows: Row[];
}

function recording(inner: Queryable, log: Statement[]): Queryable {
  return {
    async query<R extends Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      const rows = await inner.query<R>(sql, params);
      log.push({ sql, params: [...(params ?? [])], rows });
      return rows;
    },
    exec: (sql) => inner.exec(sql),
  };
}

/** Runs eipd's real use case once on `client` and returns every statement it sent. */
export async function recordEipdAllocation(
  client: pg.Client,
  input: AllocationInput,
): Promise<Statement[]> {
  const log: Statement[] = [];
  const plain = queryable(client);
  const db: Database = {
    kind: 'postgres',
    query: (sql, params) => plain.query(sql, params),
    exec: (sql) => plain.exec(sql),
    async transaction(work) {
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      try {
        const value = await work(recording(plain, log));
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    },
    close: async () => {},
  };
  await allocateElasticIps(
    db,
    { orgId: input.orgId, subject: input.subject },
    { idc: input.idc, product: input.product, name: input.name, count: input.count },
    REUSE,
  );
  return log;
}

/** Runs the baseline once on `client` and returns every statement it sent. */
export async function recordBaselineAllocation(
  client: pg.Client,
  input: AllocationInput,
): Promise<Statement[]> {
  const log: Statement[] = [];
  await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    await allocationStatements(recording(queryable(client), log), input);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
  return log;
}

/** Throws when the baseline no longer sends what eipd's use case sends. */
export async function checkSameStatements(
  client: pg.Client,
  input: AllocationInput,
): Promise<number> {
  const eipd = (await recordEipdAllocation(client, input)).map((s) => s.sql);
  const baseline = (await recordBaselineAllocation(client, input)).map((s) => s.sql);
  if (eipd.length !== baseline.length || eipd.some((sql, i) => sql !== baseline[i])) {
    throw new Error(
      `the B1 baseline drifted from eipd's allocation transaction:\neipd:\n${eipd.join('\n---\n')}\nbaseline:\n${baseline.join('\n---\n')}`,
    );
  }
  return eipd.length;
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Array.isArray(value)) return `ARRAY[${value.map(literal).join(', ')}]`;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return `'${String(value).replace(/'/g, "''")}'`;
}

function substitute(sql: string, replace: (n: number) => string): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => replace(Number(n)));
}

function oneLine(sql: string): string {
  // pgbench reads one SQL command per line unless it ends with a semicolon on a later line;
  // a single line keeps the script unambiguous.
  return sql.replace(/\s+/g, ' ').trim();
}

/**
 * The recorded allocation (of one IPv4 address from a pool whose free ranges do not run out
 * during the run) as a pgbench script: constant parameters become literals, the picked range
 * comes back with \gset, and the new row's id, address and text are computed per transaction.
 * The one liberty: the skip-locked pick is wrapped so that it always returns one row.
 */
export function pgbenchScript(statements: readonly Statement[]): string {
  const lines = ['BEGIN ISOLATION LEVEL READ COMMITTED;'];
  for (const s of statements) {
    const fixed = (n: number) => literal(s.params[n - 1]);
    if (s.sql === ALLOCATOR_SQL.pickUnlocked) {
      // \gset needs exactly one row, and with more clients than stripes every row may be
      // locked: then wait for the first one, as claimAddresses does (pickWaiting).
      lines.push(
        `SELECT count(*) AS got, max(lo) AS lo, max(next_free) AS next_free FROM (${oneLine(substitute(s.sql, fixed))}) AS pick \\gset`,
        '\\if :got = 0',
        `${oneLine(substitute(ALLOCATOR_SQL.pickWaiting, (n) => (n === 2 ? "'-1'" : fixed(n))))} \\gset`,
        '\\endif',
      );
    } else if (s.sql === ALLOCATOR_SQL.advance) {
      lines.push(
        `${oneLine(
          substitute(s.sql, (n) =>
            n === 2 ? ':lo' : n === 3 ? '(:next_free::numeric + 1)' : fixed(n),
          ),
        )};`,
      );
    } else if (s.sql.includes('INSERT INTO elastic_ips')) {
      const perRow: Record<number, string> = {
        5: 'ARRAY[gen_random_uuid()]',
        8: 'ARRAY[:next_free::numeric]',
        9: "ARRAY[host('0.0.0.0'::inet + :next_free::bigint)]",
      };
      lines.push(`${oneLine(substitute(s.sql, (n) => perRow[n] ?? fixed(n)))};`);
    } else {
      lines.push(`${oneLine(substitute(s.sql, fixed))};`);
    }
  }
  lines.push('COMMIT;');
  return `${lines.join('\n')}\n`;
}
