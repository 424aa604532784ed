/**
 * SQL for the operator surface: the event stream, the association snapshot, address history and
 * pool utilization. Functions here run in the caller's transaction and hold no business rules.
 */
import type { Queryable } from '../db/database.js';
import type { Family } from '../ipam/address.js';

/** A position in the event stream: the writing transaction's id and the event's number. */
export interface StreamPosition {
  txId: bigint;
  seq: bigint;
}

export interface EventRow extends Record<string, unknown> {
  seq: string;
  tx_text: string;
  type: 'allocated' | 'renamed' | 'associated' | 'disassociated' | 'released';
  eip_id: string;
  org_id: string;
  actor: string | null;
  idc: string;
  ip_address: string;
  instance_id: string | null;
  instance_type: 'baremetal' | 'container' | null;
  occurred_at: Date;
}

/**
 * Only events of transactions older than the snapshot's xmin: every transaction that could still
 * insert an event below them has ended (committed or rolled back), so nothing can appear later
 * behind the returned position. A transaction still running has tx_id >= xmin and is read once it
 * has ended. bigint/xid8 travel as text: both exceed a JS number.
 */
export async function readEventsAfter(
  db: Queryable,
  after: StreamPosition,
  limit: number,
): Promise<EventRow[]> {
  return db.query<EventRow>(
    `SELECT seq::text AS seq, tx_id::text AS tx_text, type, eip_id, org_id, actor, idc, ip_address,
            instance_id, instance_type, occurred_at
     FROM eip_events e
     WHERE e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
       AND (e.tx_id, e.seq) > ($1::text::xid8, $2::bigint)
     -- e.tx_id (xid8), not the text column of the same name: text order puts 1000 before 999.
     ORDER BY e.tx_id, e.seq
     LIMIT $3`,
    [after.txId.toString(), after.seq.toString(), limit],
  );
}

/**
 * Whether a position lies beyond every transaction that has started: no cursor eipd handed out
 * can (each names a committed transaction), so it was edited, or comes from another database.
 */
export async function isPositionAhead(db: Queryable, position: StreamPosition): Promise<boolean> {
  const [row] = await db.query<{ ahead: boolean }>(
    'SELECT $1::text::xid8 >= pg_snapshot_xmax(pg_current_snapshot()) AS ahead',
    [position.txId.toString()],
  );
  return row?.ahead === true;
}

/** The last position a stream reader starting now could have read; undefined when none. */
export async function lastSettledPosition(db: Queryable): Promise<StreamPosition | undefined> {
  const [row] = await db.query<{ tx_text: string; seq: string }>(
    `SELECT tx_id::text AS tx_text, seq::text AS seq
     FROM eip_events e
     WHERE e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.tx_id DESC, e.seq DESC
     LIMIT 1`,
  );
  return row === undefined ? undefined : { txId: BigInt(row.tx_text), seq: BigInt(row.seq) };
}

export interface AssociationRow extends Record<string, unknown> {
  id: string;
  org_id: string;
  idc: string;
  ip_address: string;
  instance_id: string;
  instance_type: 'baremetal' | 'container';
}

export async function listAssociatedElasticIps(db: Queryable): Promise<AssociationRow[]> {
  return db.query<AssociationRow>(
    `SELECT id, org_id, idc, ip_address, instance_id, instance_type
     FROM elastic_ips WHERE status = 'associated'
     ORDER BY idc, family, address`,
  );
}

export interface HoldingRow extends Record<string, unknown> {
  id: string;
  org_id: string;
  ip_address: string;
  created_at: Date;
  released_at: Date | null;
}

/**
 * Every EIP that held the address, oldest first (walks elastic_ips_by_address); with `at`, only
 * the one whose holding covers that instant, [created_at, released_at).
 */
export async function listHoldings(
  db: Queryable,
  address: { family: Family; value: bigint },
  at: string | undefined,
): Promise<HoldingRow[]> {
  const params: unknown[] = [address.family, address.value.toString()];
  let when = '';
  if (at !== undefined) {
    params.push(at);
    when = `AND created_at <= $3::timestamptz
            AND (released_at IS NULL OR $3::timestamptz < released_at)`;
  }
  return db.query<HoldingRow>(
    `SELECT id, org_id, ip_address, created_at, released_at
     FROM elastic_ips
     WHERE family = $1 AND address = $2::numeric ${when}
     ORDER BY created_at, id`,
    params,
  );
}

export interface PoolUsageRow extends Record<string, unknown> {
  name: string;
  idc: string;
  cidr: string;
  enabled: boolean;
  family: number;
  network: string;
  prefix_length: number;
  products: string[];
  usable: string;
  used: string;
  quarantined: string;
  free: string;
}

/**
 * Utilization per pool, counted by the database in numeric (exact at any size; an IPv6 pool
 * exceeds 2^64) and returned as text. `quarantined` uses the same boundary as the allocator
 * (released_at later than now() minus the quarantine, by the database's clock).
 */
export async function poolUsage(
  db: Queryable,
  filter: { idc?: string; pool?: string },
  quarantineSeconds: number,
): Promise<PoolUsageRow[]> {
  const params: unknown[] = [quarantineSeconds];
  const where: string[] = [];
  if (filter.idc !== undefined) {
    params.push(filter.idc);
    where.push(`p.idc = $${params.length}`);
  }
  if (filter.pool !== undefined) {
    params.push(filter.pool);
    where.push(`p.name = $${params.length}`);
  }
  return db.query<PoolUsageRow>(
    `SELECT c.name, c.idc, c.cidr, c.enabled, c.family, c.network::text AS network,
            c.prefix_length, c.products, c.usable::text AS usable, c.used::text AS used,
            c.quarantined::text AS quarantined,
            -- usable, used and quarantined all leave reserved addresses out (an address reserved
            -- after it was handed out is neither usable nor, here, used), so this is exact.
            (c.usable - c.used - c.quarantined)::text AS free
     FROM (
       SELECT p.name, p.idc, p.cidr, p.enabled, p.family, p.network, p.prefix_length,
              ARRAY(SELECT pp.product FROM pool_products pp WHERE pp.pool = p.name
                    ORDER BY pp.product) AS products,
              p.last_usable - p.first_usable + 1
                - (SELECT count(*) FROM pool_reserved_addresses r
                   WHERE r.pool = p.name AND r.address BETWEEN p.first_usable AND p.last_usable)
                AS usable,
              (SELECT count(*) FROM elastic_ips e
               WHERE e.pool = p.name AND e.status <> 'released'
                 AND NOT EXISTS (SELECT 1 FROM pool_reserved_addresses r
                                 WHERE r.pool = e.pool AND r.address = e.address))::numeric AS used,
              (SELECT count(*) FROM released_addresses ra
               WHERE ra.pool = p.name
                 AND ra.released_at > now() - make_interval(secs => $1::double precision)
                 AND NOT EXISTS (SELECT 1 FROM pool_reserved_addresses r
                                 WHERE r.pool = ra.pool AND r.address = ra.address)
              )::numeric AS quarantined
       FROM pools p
       ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
     ) c
     ORDER BY c.name`,
    params,
  );
}

/** Sets the pool's `enabled`; false when there is no such pool. */
export async function setPoolEnabled(
  db: Queryable,
  pool: string,
  enabled: boolean,
): Promise<boolean> {
  const rows = await db.query(
    `UPDATE pools SET enabled = $2,
            updated_at = CASE WHEN enabled = $2 THEN updated_at ELSE now() END
     WHERE name = $1 RETURNING name`,
    [pool, enabled],
  );
  return rows.length > 0;
}

export async function idcExists(db: Queryable, idc: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM idcs WHERE name = $1', [idc]);
  return rows.length > 0;
}
