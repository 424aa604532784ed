/**
 * SQL for an EIP's life after allocation (release) and for explicit-address allocation. Functions
 * here run inside the caller's transaction and contain no business rules.
 */
import type { Queryable } from '../db/database.js';
import type { Address, Family } from '../ipam/address.js';
import type { ElasticIpResponse } from './repository.js';

export interface LockedElasticIp {
  id: string;
  status: ElasticIpResponse['status'];
  instanceId: string | null;
  instanceType: ElasticIpResponse['instanceType'];
}

/**
 * The caller's EIP, locked until the transaction ends so that no other transition interleaves;
 * another organization's EIP is simply absent.
 */
export async function lockElasticIp(
  tx: Queryable,
  orgId: string,
  id: string,
): Promise<LockedElasticIp | undefined> {
  const [row] = await tx.query<{
    id: string;
    status: ElasticIpResponse['status'];
    instance_id: string | null;
    instance_type: ElasticIpResponse['instanceType'];
  }>(
    `SELECT id, status, instance_id, instance_type FROM elastic_ips
     WHERE id = $1 AND org_id = $2 FOR UPDATE`,
    [id, orgId],
  );
  return row === undefined
    ? undefined
    : {
        id: row.id,
        status: row.status,
        instanceId: row.instance_id,
        instanceType: row.instance_type,
      };
}

/**
 * Releases a disassociated EIP in one statement: the status change, its address's entry in the
 * quarantine (unless the address has been reserved since, in which case it is never reused), and
 * the `released` event (contract rule 8). All timestamps are the database's now(). A stale
 * quarantine entry for the address, which should not exist, is replaced rather than failing.
 */
export async function markReleased(tx: Queryable, id: string, actor: string | null): Promise<void> {
  await tx.query(
    `WITH released AS (
       UPDATE elastic_ips SET status = 'released', released_at = now(), updated_at = now()
       WHERE id = $1 AND status = 'disassociated'
       RETURNING id, org_id, idc, pool, address, ip_address, released_at
     ), quarantined AS (
       INSERT INTO released_addresses (pool, address, released_at, released_by_org)
       SELECT r.pool, r.address, r.released_at, r.org_id FROM released r
       WHERE NOT EXISTS (SELECT 1 FROM pool_reserved_addresses pr
                         WHERE pr.pool = r.pool AND pr.address = r.address)
       ON CONFLICT (pool, address) DO UPDATE
         SET released_at = EXCLUDED.released_at, released_by_org = EXCLUDED.released_by_org
       RETURNING pool
     )
     INSERT INTO eip_events (type, eip_id, org_id, actor, idc, ip_address, detail)
     SELECT 'released', r.id, r.org_id, $2, r.idc, r.ip_address,
            jsonb_build_object('pool', r.pool, 'quarantined', EXISTS (SELECT 1 FROM quarantined))
     FROM released r`,
    [id, actor],
  );
}

export interface PoolOfAddress {
  name: string;
  family: Family;
  enabled: boolean;
  reserved: boolean;
}

/**
 * The pool of the product in the IDC whose usable addresses include `address` (pools never
 * overlap, so at most one), with whether the address is reserved there.
 */
export async function findPoolOfAddress(
  tx: Queryable,
  idc: string,
  product: string,
  address: Address,
): Promise<PoolOfAddress | undefined> {
  const [row] = await tx.query<{
    name: string;
    family: number;
    enabled: boolean;
    reserved: boolean;
  }>(
    `SELECT p.name, p.family, p.enabled,
            EXISTS (SELECT 1 FROM pool_reserved_addresses r
                    WHERE r.pool = p.name AND r.address = $4::numeric) AS reserved
     FROM pools p JOIN pool_products pp ON pp.pool = p.name
     WHERE p.idc = $1 AND pp.product = $2 AND p.family = $3
       AND p.first_usable <= $4::numeric AND $4::numeric <= p.last_usable`,
    [idc, product, address.family, address.value.toString()],
  );
  return row === undefined
    ? undefined
    : {
        name: row.name,
        family: row.family as Family,
        enabled: row.enabled,
        reserved: row.reserved,
      };
}

/** Whether a non-released EIP holds the address right now (committed state). */
export async function isHeld(tx: Queryable, address: Address): Promise<boolean> {
  const [row] = await tx.query<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM elastic_ips
                    WHERE family = $1 AND address = $2::numeric AND status <> 'released') AS held`,
    [address.family, address.value.toString()],
  );
  return row?.held === true;
}

export interface QuarantineEntry {
  /** Released by `orgId` itself (compared as uuids, so letter case does not matter). */
  ownRelease: boolean;
  /** True once the quarantine has passed, by the database's clock. */
  pastQuarantine: boolean;
}

/**
 * The address's quarantine entry, locked (waiting for a transaction that holds it, so that the
 * caller then sees it gone if that transaction took the address).
 */
export async function lockQuarantineEntry(
  tx: Queryable,
  pool: string,
  address: bigint,
  orgId: string,
  quarantineSeconds: number,
): Promise<QuarantineEntry | undefined> {
  const [row] = await tx.query<{ own: boolean; past: boolean }>(
    `SELECT released_by_org = $4::uuid AS own,
            released_at <= now() - make_interval(secs => $3::double precision) AS past
     FROM released_addresses WHERE pool = $1 AND address = $2::numeric FOR UPDATE`,
    [pool, address.toString(), quarantineSeconds, orgId],
  );
  return row === undefined ? undefined : { ownRelease: row.own, pastQuarantine: row.past };
}

export async function removeQuarantineEntry(
  tx: Queryable,
  pool: string,
  address: bigint,
): Promise<void> {
  await tx.query('DELETE FROM released_addresses WHERE pool = $1 AND address = $2::numeric', [
    pool,
    address.toString(),
  ]);
}
