/**
 * The quota check of an allocation (contract rule 3): the organization's non-released EIPs in the
 * IDC plus those requested must stay within its limit, even when many replicas allocate for it at
 * once.
 *
 * How it holds under races: when a limit applies, the allocation first takes a transaction-scoped
 * advisory lock for (organization, IDC) and only then counts, in a new statement, so under READ
 * COMMITTED the count sees every allocation that held the lock before (they committed before
 * letting go of it). The lock is the allocation's first lock after its Idempotency-Key row, and a
 * transaction waiting for it holds nothing the lock's holder may wait for (the holder waits only
 * for free-range and quarantine rows, which no transaction takes before this lock), so it adds no
 * way to deadlock. Releases take no lock: a release can only lower the count, so a racing one
 * makes the check stricter for an instant, never looser.
 *
 * Organizations without a limit take no lock and count nothing, so they never queue on each
 * other. A limit set while such an allocation runs applies from the next allocation on.
 */
import type { Queryable } from '../db/database.js';

/** The lock space of quota locks (the two-key advisory lock form, apart from migrations'). */
const QUOTA_LOCK_SPACE = 7_311_203;

export interface QuotaState {
  /** The most non-released EIPs allowed; null when no limit applies. */
  limit: number | null;
  /** Non-released EIPs held now; counted only when a limit applies, else 0. */
  held: number;
}

/**
 * The effective limit for (organization $1, IDC $2): the operator's override, else the catalog
 * file's, else the default.
 */
export const EFFECTIVE_LIMIT_SQL = `coalesce(
  (SELECT coalesce(operator_max_eips, catalog_max_eips) FROM quota_overrides
    WHERE org_id = $1 AND idc = $2),
  (SELECT max_eips FROM quota_default))`;

/** Locks the organization's quota in the IDC for this transaction, if a limit applies. */
export async function lockQuota(tx: Queryable, orgId: string, idc: string): Promise<QuotaState> {
  const [row] = await tx.query<{ max_eips: number | null }>(
    `SELECT ${EFFECTIVE_LIMIT_SQL} AS max_eips`,
    [orgId, idc],
  );
  if (row === undefined || row.max_eips === null) return { limit: null, held: 0 };
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
    QUOTA_LOCK_SPACE,
    `${orgId}/${idc}`,
  ]);
  // A separate statement, so that its snapshot is taken after the lock was granted; the limit is
  // read again in case an operator changed it while this transaction waited.
  const [state] = await tx.query<{ max_eips: number | null; held: number }>(
    `SELECT ${EFFECTIVE_LIMIT_SQL} AS max_eips,
            (SELECT count(*)::int FROM elastic_ips
              WHERE org_id = $1 AND idc = $2 AND status <> 'released') AS held`,
    [orgId, idc],
  );
  return { limit: state?.max_eips ?? null, held: state?.held ?? 0 };
}
