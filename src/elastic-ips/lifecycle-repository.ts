/**
 * SQL for an EIP's life after allocation (release) and for explicit-address allocation. Functions
 * here run inside the caller's transaction and contain no business rules.
 */
import type { Queryable } from '../db/database.js';
import type { Address, Family } from '../ipam/address.js';
import type { ElasticIpResponse, ElasticIpRow } from './repository.js';

/**
 * Releases a disassociated EIP in one statement: the status change, its address's entry in the
 * quarantine (unless the address has been reserved since, in which case it is never reused), and
 * the `released` event (contract rule 8). All timestamps are the database's statement_timestamp() (see migration 005). A stale
 * quarantine entry for the address, which should not exist, is replaced rather than failing.
 */
export async function markReleased(tx: Queryable, id: string, actor: string | null): Promise<void> {
  await tx.query(
    `WITH released AS (
       UPDATE elastic_ips SET status = 'released', released_at = statement_timestamp(), updated_at = statement_timestamp()
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

/** Columns of an updated EIP, joined with its product to make a response row. */
const UPDATED_COLUMNS = `id, org_id, name, idc, product, ip_address, status, instance_id, instance_type,
                 created_at, updated_at, released_at`;

/**
 * Associates the EIP with an instance and writes its `associated` event in one statement. A
 * compare-and-set: the update applies only if the EIP is still in the state the caller read
 * (`from`, under its row lock), so a change that slipped past the lock would update nothing
 * rather than be overwritten. `detail` records the instance it was moved from, if any.
 */
export async function markAssociated(
  tx: Queryable,
  eip: { id: string; from: { instanceId: string | null } },
  to: { instanceId: string; instanceType: NonNullable<ElasticIpResponse['instanceType']> },
  actor: string | null,
): Promise<ElasticIpRow | undefined> {
  const [row] = await tx.query<ElasticIpRow>(
    `WITH previous AS (
       SELECT instance_id, instance_type FROM elastic_ips WHERE id = $1
     ), updated AS (
       UPDATE elastic_ips
       SET status = 'associated', instance_id = $2, instance_type = $3, updated_at = statement_timestamp()
       WHERE id = $1 AND status <> 'released' AND instance_id IS NOT DISTINCT FROM $5::uuid
       RETURNING ${UPDATED_COLUMNS}
     ), event AS (
       INSERT INTO eip_events (type, eip_id, org_id, actor, idc, ip_address, instance_id,
                               instance_type, detail)
       SELECT 'associated', u.id, u.org_id, $4, u.idc, u.ip_address, u.instance_id, u.instance_type,
              CASE WHEN p.instance_id IS NULL THEN NULL
                   ELSE jsonb_build_object('previousInstanceID', p.instance_id,
                                           'previousInstanceType', p.instance_type) END
       FROM updated u CROSS JOIN previous p
     )
     SELECT u.*, p.internet_connection_type, p.max_bandwidth
     FROM updated u JOIN products p ON p.name = u.product`,
    [eip.id, to.instanceId, to.instanceType, actor, eip.from.instanceId],
  );
  return row;
}

/**
 * Disassociates an associated EIP and writes its `disassociated` event (carrying the instance it
 * left) in one statement; a compare-and-set on the instance the caller read under its lock.
 */
export async function markDisassociated(
  tx: Queryable,
  eip: { id: string; instanceId: string; instanceType: ElasticIpResponse['instanceType'] },
  actor: string | null,
): Promise<ElasticIpRow | undefined> {
  const [row] = await tx.query<ElasticIpRow>(
    `WITH updated AS (
       UPDATE elastic_ips
       SET status = 'disassociated', instance_id = NULL, instance_type = NULL, updated_at = statement_timestamp()
       WHERE id = $1 AND status = 'associated' AND instance_id = $2::uuid
       RETURNING ${UPDATED_COLUMNS}
     ), event AS (
       INSERT INTO eip_events (type, eip_id, org_id, actor, idc, ip_address, instance_id,
                               instance_type)
       SELECT 'disassociated', id, org_id, $3, idc, ip_address, $2::uuid, $4::text
       FROM updated
     )
     SELECT u.*, p.internet_connection_type, p.max_bandwidth
     FROM updated u JOIN products p ON p.name = u.product`,
    [eip.id, eip.instanceId, actor, eip.instanceType],
  );
  return row;
}

/**
 * Disassociates every EIP on the instance, one `disassociated` event each, in one statement. The
 * EIPs are locked in id order so that two such statements never deadlock each other.
 */
export async function disassociateAllOnInstance(
  tx: Queryable,
  instanceId: string,
  actor: string | null,
): Promise<number> {
  const rows = await tx.query<{ id: string }>(
    `WITH locked AS (
       SELECT id, instance_type FROM elastic_ips
       WHERE instance_id = $1 AND status = 'associated'
       ORDER BY id FOR UPDATE
     ), updated AS (
       UPDATE elastic_ips e
       SET status = 'disassociated', instance_id = NULL, instance_type = NULL, updated_at = statement_timestamp()
       FROM locked l WHERE e.id = l.id
       RETURNING e.id, e.org_id, e.idc, e.ip_address, l.instance_type
     )
     INSERT INTO eip_events (type, eip_id, org_id, actor, idc, ip_address, instance_id,
                             instance_type, detail)
     SELECT 'disassociated', id, org_id, $2, idc, ip_address, $1, instance_type,
            jsonb_build_object('reason', 'instance removed')
     FROM updated
     RETURNING eip_id AS id`,
    [instanceId, actor],
  );
  return rows.length;
}
