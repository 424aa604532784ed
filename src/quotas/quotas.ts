/**
 * Quotas as operators see them (listQuotas, setQuota, removeQuotaOverride). The check itself is in
 * quota-check.ts, inside the allocation's transaction.
 */
import type { Database, Queryable } from '../db/database.js';
import { ApiError, ValidationError } from '../errors.js';
import type { components } from '../generated/openapi.js';
import { recordOperatorAction } from '../operators/actions.js';
import { isUuid } from '../uuid.js';
import { violation } from '../validation-detail.js';

export type Quota = components['schemas']['quota'];

type QuotaRow = {
  idc: string;
  operator: number | null;
  catalog: number | null;
  default_limit: number | null;
  used: number;
};

const QUOTAS_SQL = `
  SELECT i.name AS idc, o.operator_max_eips AS operator, o.catalog_max_eips AS catalog,
         d.max_eips AS default_limit,
         (SELECT count(*)::int FROM elastic_ips e
           WHERE e.org_id = $1 AND e.idc = i.name AND e.status <> 'released') AS used
    FROM idcs i
    CROSS JOIN quota_default d
    LEFT JOIN quota_overrides o ON o.org_id = $1 AND o.idc = i.name`;

function toQuota(row: QuotaRow): Quota {
  if (row.operator !== null) {
    return { idc: row.idc, limit: row.operator, source: 'override', used: row.used };
  }
  if (row.catalog !== null) {
    return { idc: row.idc, limit: row.catalog, source: 'catalog', used: row.used };
  }
  return { idc: row.idc, limit: row.default_limit, source: 'default', used: row.used };
}

/** The organization id of an operator path: a uuid, or a validation error naming it. */
export function checkOrgId(orgId: string): string {
  if (!isUuid(orgId)) {
    throw new ValidationError([violation('orgId', 'format', 'uuid', orgId)], 'path');
  }
  return orgId.toLowerCase();
}

export async function listQuotas(db: Database, orgId: string): Promise<Quota[]> {
  const rows = await db.query<QuotaRow>(`${QUOTAS_SQL} ORDER BY i.name`, [checkOrgId(orgId)]);
  return rows.map(toQuota);
}

async function quotaIn(tx: Queryable, orgId: string, idc: string): Promise<Quota> {
  const [row] = await tx.query<QuotaRow>(`${QUOTAS_SQL} WHERE i.name = $2`, [orgId, idc]);
  if (row === undefined) throw new ApiError('IDC_NOT_FOUND', `IDC ${idc} was not found`);
  return toQuota(row);
}

/**
 * Idempotent. A limit below what the organization holds takes nothing away: allocations are
 * refused until releases bring it under the limit.
 */
export async function setQuota(
  db: Database,
  orgId: string,
  idc: string,
  limit: number,
  actor: string | null,
): Promise<Quota> {
  const org = checkOrgId(orgId);
  return db.transaction(async (tx) => {
    const known = await tx.query('SELECT 1 FROM idcs WHERE name = $1', [idc]);
    if (known.length === 0) throw new ApiError('IDC_NOT_FOUND', `IDC ${idc} was not found`);
    const changed = await tx.query(
      `INSERT INTO quota_overrides (org_id, idc, operator_max_eips, updated_by)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (org_id, idc) DO UPDATE
         SET operator_max_eips = EXCLUDED.operator_max_eips, updated_by = EXCLUDED.updated_by,
             updated_at = statement_timestamp()
         WHERE quota_overrides.operator_max_eips IS DISTINCT FROM EXCLUDED.operator_max_eips
       RETURNING 1`,
      [org, idc, limit, actor],
    );
    if (changed.length > 0) {
      await recordOperatorAction(tx, actor, 'quota_set', `${org}/${idc}`, {
        orgId: org,
        idc,
        limit,
      });
    }
    return quotaIn(tx, org, idc);
  });
}

/** Back to the catalog file's limit for the organization, or the default. Idempotent. */
export async function removeQuotaOverride(
  db: Database,
  orgId: string,
  idc: string,
  actor: string | null,
): Promise<Quota> {
  const org = checkOrgId(orgId);
  return db.transaction(async (tx) => {
    // Rows that only held the operator's value go; the file's value, if any, stays.
    const deleted = await tx.query(
      'DELETE FROM quota_overrides WHERE org_id = $1 AND idc = $2 AND catalog_max_eips IS NULL RETURNING 1',
      [org, idc],
    );
    const cleared = await tx.query(
      `UPDATE quota_overrides SET operator_max_eips = NULL, updated_by = NULL,
              updated_at = statement_timestamp()
        WHERE org_id = $1 AND idc = $2 AND operator_max_eips IS NOT NULL RETURNING 1`,
      [org, idc],
    );
    if (deleted.length + cleared.length > 0) {
      await recordOperatorAction(tx, actor, 'quota_override_removed', `${org}/${idc}`, {
        orgId: org,
        idc,
      });
    }
    return quotaIn(tx, org, idc);
  });
}
