/**
 * Writes a catalog into the database, idempotently: applying the same file twice changes nothing,
 * and applying it from several replicas starting at once is safe (one advisory lock serializes
 * them, and each re-reads what the previous one wrote). Start-up never deletes: pools, products
 * and IDCs missing from the file are left alone, and so are products removed from a pool's list.
 */
import { type Database, type Queryable, STARTUP_WORK_TIMEOUT_MS } from '../db/database.js';
import { isHeld } from '../elastic-ips/lifecycle-repository.js';
import {
  type Cidr,
  cidrSize,
  type Family,
  formatAddress,
  formatCidr,
  IPV4_MAPPED_PREFIX,
} from '../ipam/address.js';
import { carveAddress } from '../ipam/allocator.js';
import { initialFreeRanges } from '../ipam/free-ranges.js';
import {
  type CatalogDocument,
  type CatalogPool,
  type CatalogQuotas,
  checkCatalog,
  type ExistingPool,
} from './catalog-file.js';

const CATALOG_LOCK_KEY = 7_311_202_602;

export interface ApplySummary {
  idcsAdded: number;
  productsAdded: number;
  productsUpdated: number;
  poolsAdded: string[];
  poolsUpdated: string[];
  quotasSet: number;
  /**
   * Addresses this apply newly reserved that a live EIP holds ("pool address"): the EIP keeps its
   * address until it is released, so the reservation is not yet in effect for them.
   */
  reservedStillHeld: string[];
}

export async function applyCatalog(
  db: Database,
  doc: CatalogDocument,
  source: string,
  /** Called after each pool is written (large catalogs take a while). */
  onPool?: (done: number, total: number) => void,
): Promise<ApplySummary> {
  return db.transaction(
    async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [CATALOG_LOCK_KEY]);
      const existing = await loadExistingPools(tx);
      const catalog = checkCatalog(doc, source, existing);
      const summary: ApplySummary = {
        idcsAdded: 0,
        productsAdded: 0,
        productsUpdated: 0,
        poolsAdded: [],
        poolsUpdated: [],
        quotasSet: 0,
        reservedStillHeld: [],
      };

      for (const idc of catalog.idcs) {
        const rows = await tx.query(
          'INSERT INTO idcs (name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING name',
          [idc],
        );
        summary.idcsAdded += rows.length;
      }

      for (const product of catalog.products) {
        const [row] = await tx.query<{ inserted: boolean }>(
          `INSERT INTO products (name, internet_connection_type, max_bandwidth) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE
           SET internet_connection_type = EXCLUDED.internet_connection_type,
               max_bandwidth = EXCLUDED.max_bandwidth, updated_at = now()
           WHERE products.internet_connection_type IS DISTINCT FROM EXCLUDED.internet_connection_type
              OR products.max_bandwidth IS DISTINCT FROM EXCLUDED.max_bandwidth
         RETURNING (xmax = 0) AS inserted`,
          [product.name, product.internetConnectionType, product.maxBandwidth],
        );
        if (row?.inserted === true) summary.productsAdded++;
        else if (row !== undefined) summary.productsUpdated++;
      }

      const known = new Set(existing.map((p) => p.name));
      // Pools in name order and reserved addresses ascending: the order the allocator locks free
      // ranges in, so carving never waits for a range that comes before one it holds.
      const ordered = [...catalog.pools].sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      for (const [i, pool] of ordered.entries()) {
        if (known.has(pool.name)) {
          if (await updatePool(tx, pool, summary.reservedStillHeld))
            summary.poolsUpdated.push(pool.name);
        } else {
          await insertPool(tx, pool);
          summary.poolsAdded.push(pool.name);
        }
        onPool?.(i + 1, ordered.length);
      }
      summary.quotasSet = await applyQuotas(tx, catalog.quotas);
      return summary;
    },
    { timeoutMs: STARTUP_WORK_TIMEOUT_MS },
  );
}

async function loadExistingPools(tx: Queryable): Promise<ExistingPool[]> {
  const rows = await tx.query<{
    name: string;
    idc: string;
    family: number;
    network: string;
    prefix_length: number;
    products: string[] | null;
  }>(
    `SELECT p.name, p.idc, p.family, p.network::text AS network, p.prefix_length,
            array_agg(pp.product ORDER BY pp.product) FILTER (WHERE pp.product IS NOT NULL) AS products
     FROM pools p LEFT JOIN pool_products pp ON pp.pool = p.name
     GROUP BY p.name ORDER BY p.name`,
  );
  return rows.map((r) => ({
    name: r.name,
    idc: r.idc,
    cidr: { family: r.family as Family, network: BigInt(r.network), prefixLength: r.prefix_length },
    products: r.products ?? [],
  }));
}

function span(cidr: Cidr): { lo: string; hi: string } {
  // IPv4 sits at ::ffff:a.b.c.d on the number line that pools_do_not_overlap works on.
  const base = cidr.family === 4 ? IPV4_MAPPED_PREFIX + cidr.network : cidr.network;
  return { lo: base.toString(), hi: (base + cidrSize(cidr)).toString() };
}

async function insertPool(tx: Queryable, pool: CatalogPool): Promise<void> {
  const { lo, hi } = span(pool.cidr);
  await tx.query(
    `INSERT INTO pools (name, idc, family, cidr, network, prefix_length, first_usable, last_usable, span, enabled)
     VALUES ($1, $2, $3, $4, $5::numeric, $6, $7::numeric, $8::numeric, numrange($9::numeric, $10::numeric, '[)'), $11)`,
    [
      pool.name,
      pool.idc,
      pool.cidr.family,
      formatCidr(pool.cidr),
      pool.cidr.network.toString(),
      pool.cidr.prefixLength,
      pool.first.toString(),
      pool.last.toString(),
      lo,
      hi,
      pool.enabled,
    ],
  );
  await tx.query('INSERT INTO pool_products (pool, product) SELECT $1, unnest($2::text[])', [
    pool.name,
    pool.products,
  ]);
  if (pool.reserved.length > 0) {
    await tx.query(
      'INSERT INTO pool_reserved_addresses (pool, address) SELECT $1, unnest($2::numeric[]) ON CONFLICT DO NOTHING',
      [pool.name, pool.reserved.map(String)],
    );
  }
  const ranges = initialFreeRanges(pool.first, pool.last, pool.reserved);
  await tx.query(
    `INSERT INTO pool_free_ranges (pool, lo, next_free, hi)
     SELECT $1, r.lo, r.lo, r.hi FROM unnest($2::numeric[], $3::numeric[]) AS r(lo, hi)`,
    [pool.name, ranges.map((r) => r.lo.toString()), ranges.map((r) => r.hi.toString())],
  );
}

/** Brings an existing pool in line with the file without removing anything. */
async function updatePool(
  tx: Queryable,
  pool: CatalogPool,
  reservedStillHeld: string[],
): Promise<boolean> {
  let changed = false;
  const toggled = await tx.query(
    'UPDATE pools SET enabled = $2, updated_at = now() WHERE name = $1 AND enabled <> $2 RETURNING name',
    [pool.name, pool.enabled],
  );
  changed ||= toggled.length > 0;
  const added = await tx.query(
    `INSERT INTO pool_products (pool, product) SELECT $1, unnest($2::text[])
     ON CONFLICT DO NOTHING RETURNING product`,
    [pool.name, pool.products],
  );
  changed ||= added.length > 0;
  const ascending = [...pool.reserved].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const address of ascending) {
    const inserted = await tx.query(
      `INSERT INTO pool_reserved_addresses (pool, address) VALUES ($1, $2::numeric)
       ON CONFLICT DO NOTHING RETURNING address`,
      [pool.name, address.toString()],
    );
    if (inserted.length === 0) continue;
    changed = true;
    // A newly reserved address leaves the free ranges and the reuse queue. If a live EIP holds it,
    // that EIP keeps it: reservation applies to future allocations only.
    await carveAddress(tx, pool.name, address);
    await tx.query('DELETE FROM released_addresses WHERE pool = $1 AND address = $2::numeric', [
      pool.name,
      address.toString(),
    ]);
    const reservedAddress = { family: pool.cidr.family, value: address };
    if (await isHeld(tx, reservedAddress)) {
      reservedStillHeld.push(`${pool.name} ${formatAddress(reservedAddress)}`);
    }
  }
  for (const address of pool.unreserved) {
    if (await unreserve(tx, pool, address)) changed = true;
  }
  return changed;
}

/**
 * Takes back one reservation. A free address goes to the reuse queue, as if released long ago
 * (past any quarantine, by no organization): the never-used ranges were carved around it, and the
 * queue is where the allocator finds addresses outside them. One an EIP holds stays with it and
 * joins the queue when released, as any other. Network, broadcast and all-zeros addresses are
 * never handed out, reserved or not.
 */
async function unreserve(tx: Queryable, pool: CatalogPool, address: bigint): Promise<boolean> {
  const removed = await tx.query(
    'DELETE FROM pool_reserved_addresses WHERE pool = $1 AND address = $2::numeric RETURNING 1',
    [pool.name, address.toString()],
  );
  if (removed.length === 0) return false;
  if (address < pool.first || address > pool.last) return true;
  await tx.query(
    `INSERT INTO released_addresses (pool, address, released_at, released_by_org)
     SELECT $1, $2::numeric, '1970-01-01T00:00:00Z', '00000000-0000-0000-0000-000000000000'
     WHERE NOT EXISTS (SELECT 1 FROM elastic_ips
                       WHERE pool = $1 AND address = $2::numeric AND status <> 'released')
     ON CONFLICT (pool, address) DO NOTHING`,
    [pool.name, address.toString()],
  );
  return true;
}

/**
 * The default when the file states one (null: no limit), and each organization's limit the file
 * lists. These are the file's values only: an operator's override set through the API stays in
 * force over them (so a restart never undoes it), and entries the file no longer lists are left
 * alone, like everything else the file does not name.
 */
async function applyQuotas(tx: Queryable, quotas: CatalogQuotas | undefined): Promise<number> {
  if (quotas === undefined) return 0;
  let changed = 0;
  if (quotas.default !== undefined) {
    const rows = await tx.query(
      `UPDATE quota_default SET max_eips = $1, updated_at = statement_timestamp()
       WHERE max_eips IS DISTINCT FROM $1::int RETURNING 1`,
      [quotas.default],
    );
    changed += rows.length;
  }
  for (const o of quotas.organizations) {
    if (o.limit === 'default') {
      changed += await removeCatalogQuota(tx, o.orgId, o.idc);
      continue;
    }
    const rows = await tx.query(
      `INSERT INTO quota_overrides (org_id, idc, catalog_max_eips) VALUES ($1, $2, $3)
       ON CONFLICT (org_id, idc) DO UPDATE
         SET catalog_max_eips = EXCLUDED.catalog_max_eips, updated_at = statement_timestamp()
         WHERE quota_overrides.catalog_max_eips IS DISTINCT FROM EXCLUDED.catalog_max_eips
       RETURNING 1`,
      [o.orgId, o.idc, o.limit],
    );
    changed += rows.length;
  }
  return changed;
}

/** The file's limit for one organization and IDC goes; an operator's override there stays. */
async function removeCatalogQuota(tx: Queryable, orgId: string, idc: string): Promise<number> {
  const deleted = await tx.query(
    `DELETE FROM quota_overrides
      WHERE org_id = $1 AND idc = $2 AND operator_max_eips IS NULL RETURNING 1`,
    [orgId, idc],
  );
  const cleared = await tx.query(
    `UPDATE quota_overrides SET catalog_max_eips = NULL, updated_at = statement_timestamp()
      WHERE org_id = $1 AND idc = $2 AND catalog_max_eips IS NOT NULL RETURNING 1`,
    [orgId, idc],
  );
  return deleted.length + cleared.length;
}
