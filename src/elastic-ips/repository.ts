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

interface ElasticIpRow extends Record<string, unknown> {
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

const SELECT_ELASTIC_IP = `
  SELECT e.id, e.org_id, e.name, e.idc, e.product, e.ip_address, e.status, e.instance_id,
         e.instance_type, p.internet_connection_type, p.max_bandwidth, e.created_at, e.updated_at,
         e.released_at
  FROM elastic_ips e JOIN products p ON p.name = e.product`;

function toResponse(row: ElasticIpRow): ElasticIpResponse {
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
