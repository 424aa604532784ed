/** Pool utilization (listPools) and enabling or disabling a pool (updatePool). */
import type { Database } from '../db/database.js';
import { ApiError } from '../errors.js';
import type { components } from '../generated/openapi.js';
import { cidrSize, type Family } from '../ipam/address.js';
import { recordOperatorAction } from './actions.js';
import { idcExists, type PoolUsageRow, poolUsage, setPoolEnabled } from './repository.js';

type PoolUtilization = components['schemas']['poolUtilization'];

function toUtilization(row: PoolUsageRow): PoolUtilization {
  return {
    name: row.name,
    idc: row.idc,
    cidr: row.cidr,
    enabled: row.enabled,
    products: row.products,
    // bigint end to end: a /64 has 2^64 addresses, which a double would round.
    size: cidrSize({
      family: row.family as Family,
      network: BigInt(row.network),
      prefixLength: row.prefix_length,
    }).toString(),
    usable: row.usable,
    used: row.used,
    quarantined: row.quarantined,
    free: row.free,
  };
}

export async function listPools(
  db: Database,
  query: { idc?: string },
  quarantineSeconds: number,
): Promise<PoolUtilization[]> {
  const rows = await poolUsage(
    db,
    query.idc === undefined ? {} : { idc: query.idc },
    quarantineSeconds,
  );
  // An unknown IDC is a 404 like everywhere else, not an empty list that hides a typo.
  if (rows.length === 0 && query.idc !== undefined && !(await idcExists(db, query.idc))) {
    throw new ApiError('IDC_NOT_FOUND', `IDC ${query.idc} was not found`);
  }
  return rows.map(toUtilization);
}

/**
 * A disabled pool hands out no new addresses (allocate only picks enabled pools); its EIPs stay
 * as they are. Idempotent: setting the current value changes nothing.
 */
export async function updatePool(
  db: Database,
  actor: string | null,
  pool: string,
  body: { enabled: boolean },
  quarantineSeconds: number,
): Promise<PoolUtilization> {
  return db.transaction(async (tx) => {
    // Locked and read first, so that only a real change is recorded.
    const [before] = await tx.query<{ enabled: boolean }>(
      'SELECT enabled FROM pools WHERE name = $1 FOR UPDATE',
      [pool],
    );
    if (before === undefined || !(await setPoolEnabled(tx, pool, body.enabled))) {
      throw new ApiError('POOL_NOT_FOUND', `pool ${pool} was not found`);
    }
    if (before.enabled !== body.enabled) {
      await recordOperatorAction(tx, actor, 'pool_updated', pool, { enabled: body.enabled });
    }
    const [row] = await poolUsage(tx, { pool }, quarantineSeconds);
    if (row === undefined) throw new Error(`pool ${pool} vanished inside its own transaction`);
    return toUtilization(row);
  });
}
