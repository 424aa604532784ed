/**
 * SQL for elastic IPs and their events. Functions here run inside the caller's transaction and
 * contain no business rules.
 */
import type { Queryable } from '../db/database.js';
import type { components } from '../generated/openapi.js';
import type { Family } from '../ipam/address.js';

export type ElasticIpResponse = components['schemas']['elasticIPResp'];

export interface NewElasticIp {
  id: string;
  pool: string;
  family: Family;
  address: bigint;
  ipAddress: string;
}

export interface ElasticIpRow extends Record<string, unknown> {
  id: string;
  org_id: string;
  name: string;
  idc: string;
  product: string;
  ip_address: string;
  status: ElasticIpResponse['status'];
  instance_id: string | null;
  instance_type: ElasticIpResponse['instanceType'];
  internet_connection_type: ElasticIpResponse['internetConnectionType'];
  max_bandwidth: string;
  created_at: Date;
  updated_at: Date;
  released_at: Date | null;
}

export const SELECT_ELASTIC_IP = `
  SELECT e.id, e.org_id, e.name, e.idc, e.product, e.ip_address, e.status, e.instance_id,
         e.instance_type, p.internet_connection_type, p.max_bandwidth, e.created_at, e.updated_at,
         e.released_at
  FROM elastic_ips e JOIN products p ON p.name = e.product`;

export function toResponse(row: ElasticIpRow): ElasticIpResponse {
  return {
    id: row.id,
    orgId: row.org_id,
    status: row.status,
    internetConnectionType: row.internet_connection_type,
    maxBandwidth: row.max_bandwidth,
    name: row.name,
    idc: row.idc,
    ipAddress: row.ip_address,
    product: row.product,
    instanceID: row.instance_id,
    instanceType: row.instance_type,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    releasedAt: row.released_at === null ? null : row.released_at.toISOString(),
  };
}

/** The EIP if it exists and belongs to `orgId`; another organization's EIP is simply absent. */
export async function findElasticIp(
  db: Queryable,
  orgId: string,
  id: string,
): Promise<ElasticIpResponse | undefined> {
  const [row] = await db.query<ElasticIpRow>(
    `${SELECT_ELASTIC_IP} WHERE e.id = $1 AND e.org_id = $2`,
    [id, orgId],
  );
  return row === undefined ? undefined : toResponse(row);
}

/**
 * Inserts the new EIPs and their `allocated` events in one statement (contract rule 8: the event
 * commits with the state change or not at all).
 */
export async function insertAllocated(
  tx: Queryable,
  owner: { orgId: string; actor: string | null },
  attrs: { name: string; idc: string; product: string },
  eips: readonly NewElasticIp[],
): Promise<void> {
  await tx.query(
    `WITH inserted AS (
       INSERT INTO elastic_ips (id, org_id, name, idc, product, pool, family, address, ip_address, status)
       SELECT n.id, $1, $2, $3, $4, n.pool, n.family, n.address, n.ip_address, 'disassociated'
       FROM unnest($5::uuid[], $6::text[], $7::smallint[], $8::numeric[], $9::text[])
         AS n(id, pool, family, address, ip_address)
       RETURNING id, org_id, idc, ip_address, product, pool, name
     )
     INSERT INTO eip_events (type, eip_id, org_id, actor, idc, ip_address, detail)
     SELECT 'allocated', id, org_id, $10, idc, ip_address,
            jsonb_build_object('product', product, 'pool', pool, 'name', name)
     FROM inserted`,
    [
      owner.orgId,
      attrs.name,
      attrs.idc,
      attrs.product,
      eips.map((e) => e.id),
      eips.map((e) => e.pool),
      eips.map((e) => e.family),
      eips.map((e) => e.address.toString()),
      eips.map((e) => e.ipAddress),
      owner.actor,
    ],
  );
}

export interface Offering {
  idcExists: boolean;
  productExists: boolean;
  /** Enabled and disabled pools of the product in the IDC; empty when not offered there. */
  pools: { name: string; family: Family; enabled: boolean }[];
}

/** Everything allocate needs to answer 404s, in one round trip. */
export async function findOffering(db: Queryable, idc: string, product: string): Promise<Offering> {
  const [row] = await db.query<{
    idc_exists: boolean;
    product_exists: boolean;
    pools: { name: string; family: number; enabled: boolean }[] | null;
  }>(
    `SELECT EXISTS (SELECT 1 FROM idcs WHERE name = $1) AS idc_exists,
            EXISTS (SELECT 1 FROM products WHERE name = $2) AS product_exists,
            (SELECT json_agg(json_build_object('name', p.name, 'family', p.family, 'enabled', p.enabled)
                             ORDER BY p.name)
             FROM pools p JOIN pool_products pp ON pp.pool = p.name
             WHERE p.idc = $1 AND pp.product = $2) AS pools`,
    [idc, product],
  );
  return {
    idcExists: row?.idc_exists === true,
    productExists: row?.product_exists === true,
    pools: (row?.pools ?? []).map((p) => ({
      name: p.name,
      family: p.family as Family,
      enabled: p.enabled,
    })),
  };
}

export interface ElasticIpListFilter {
  orgId: string;
  idc?: string;
  product?: string;
  /** Without a status, released EIPs are left out. */
  status?: ElasticIpResponse['status'];
  name?: string;
  address?: { family: Family; value: bigint };
  instanceId?: string;
  /** Rows strictly after this (created_at, id); `createdAt` is UTC text with microseconds. */
  after?: { createdAt: string; id: string };
  limit: number;
}

export interface ElasticIpListRow extends ElasticIpRow {
  /** created_at as UTC text with microseconds, for the next cursor (a Date keeps only ms). */
  cursor_created_at: string;
}

/**
 * One page of an organization's EIPs in (created_at, id) order. The row comparison is done by
 * the database on its own microsecond values, so that a page boundary never skips or repeats a
 * row, and it walks the elastic_ips_by_org index.
 */
export async function listElasticIpRows(
  db: Queryable,
  filter: ElasticIpListFilter,
): Promise<ElasticIpListRow[]> {
  const params: unknown[] = [filter.orgId];
  const where = ['e.org_id = $1'];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filter.status === undefined) where.push(`e.status <> 'released'`);
  else add((n) => `e.status = ${n}`, filter.status);
  if (filter.idc !== undefined) add((n) => `e.idc = ${n}`, filter.idc);
  if (filter.product !== undefined) add((n) => `e.product = ${n}`, filter.product);
  if (filter.name !== undefined) add((n) => `e.name = ${n}`, filter.name);
  if (filter.address !== undefined) {
    add((n) => `e.family = ${n}`, filter.address.family);
    add((n) => `e.address = ${n}::numeric`, filter.address.value.toString());
  }
  if (filter.instanceId !== undefined) add((n) => `e.instance_id = ${n}::uuid`, filter.instanceId);
  if (filter.after !== undefined) {
    params.push(filter.after.createdAt, filter.after.id);
    where.push(
      `(e.created_at, e.id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`,
    );
  }
  params.push(filter.limit);
  return db.query<ElasticIpListRow>(
    `SELECT l.*,
            to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
              AS cursor_created_at
     FROM (${SELECT_ELASTIC_IP} WHERE ${where.join(' AND ')}
           ORDER BY e.created_at, e.id LIMIT $${params.length}) l
     ORDER BY l.created_at, l.id`,
    params,
  );
}

export interface ProductOfferingRow extends Record<string, unknown> {
  name: string;
  idc: string;
  internet_connection_type: 'BGP' | 'Dual-Homed';
  max_bandwidth: string;
  family: number;
}

/**
 * Products with at least one enabled pool in an IDC: what a tenant can allocate there now (a
 * disabled pool takes no new allocations, so it offers nothing).
 */
export async function listProductOfferings(
  db: Queryable,
  idc: string | undefined,
): Promise<{ idcExists: boolean; offerings: ProductOfferingRow[] }> {
  const [exists] = await db.query<{ idc_exists: boolean }>(
    'SELECT $1::text IS NULL OR EXISTS (SELECT 1 FROM idcs WHERE name = $1) AS idc_exists',
    [idc ?? null],
  );
  const offerings = await db.query<ProductOfferingRow>(
    `SELECT p.name, pl.idc, p.internet_connection_type, p.max_bandwidth, pl.family
     FROM pools pl
     JOIN pool_products pp ON pp.pool = pl.name
     JOIN products p ON p.name = pp.product
     WHERE ($1::text IS NULL OR pl.idc = $1) AND pl.enabled
     GROUP BY p.name, pl.idc, p.internet_connection_type, p.max_bandwidth, pl.family
     ORDER BY pl.idc COLLATE "C", p.name COLLATE "C"`,
    [idc ?? null],
  );
  return { idcExists: exists?.idc_exists === true, offerings };
}

/** The EIP locked for a state change (FOR UPDATE OF e: the product row is not locked). */
export async function lockElasticIp(
  tx: Queryable,
  orgId: string,
  id: string,
): Promise<ElasticIpRow | undefined> {
  const [row] = await tx.query<ElasticIpRow>(
    `${SELECT_ELASTIC_IP} WHERE e.id = $1 AND e.org_id = $2 FOR UPDATE OF e`,
    [id, orgId],
  );
  return row;
}

/** Renames the EIP and writes its `renamed` event in one statement (contract rule 8). */
export async function updateElasticIpName(
  tx: Queryable,
  eip: { id: string; from: string; to: string },
  actor: string | null,
): Promise<ElasticIpRow> {
  const [row] = await tx.query<ElasticIpRow>(
    `WITH updated AS (
       UPDATE elastic_ips SET name = $2, updated_at = statement_timestamp() WHERE id = $1
       RETURNING id, org_id, name, idc, product, ip_address, status, instance_id, instance_type,
                 created_at, updated_at, released_at
     ), event AS (
       INSERT INTO eip_events (type, eip_id, org_id, actor, idc, ip_address, instance_id,
                               instance_type, detail)
       SELECT 'renamed', id, org_id, $3, idc, ip_address, instance_id, instance_type,
              jsonb_build_object('from', $4::text, 'to', $2::text)
       FROM updated
     )
     SELECT u.*, p.internet_connection_type, p.max_bandwidth
     FROM updated u JOIN products p ON p.name = u.product`,
    [eip.id, eip.to, actor, eip.from],
  );
  if (row === undefined) throw new Error(`elastic IP ${eip.id} vanished while locked`);
  return row;
}
