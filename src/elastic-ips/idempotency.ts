/**
 * Idempotency-Key on allocate (contract rule 9). The key's row is written first thing in the
 * allocation's own transaction, so:
 * - a second request with the same key (on any replica) waits on that row until the first
 *   transaction ends, then finds its committed answer and replays it, or, if the first rolled
 *   back, takes the key over and allocates itself;
 * - the row exists only when the allocation committed, so only 200 answers are ever replayed;
 * - a retry after a lost COMMIT acknowledgement gets the ids that were committed.
 * The same key with another body is refused; after the window the key is free for a new request.
 * The key is the first lock the allocation takes, before its quota lock and any free range, and
 * a transaction waiting for it holds nothing, so it adds no way to deadlock.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import { ApiError } from '../errors.js';

/** How long an answer is replayed (contract rule 9); retention may keep rows longer, not less. */
export const IDEMPOTENCY_WINDOW_HOURS = 24;

export interface IdempotencyKey {
  key: string;
  /** SHA-256 of the request body's canonical JSON. */
  requestHash: string;
}

/** JSON with object keys sorted at every level: two spellings of one body hash alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function idempotencyKey(key: string, body: unknown): IdempotencyKey {
  return { key, requestHash: createHash('sha256').update(canonicalJson(body)).digest('hex') };
}

/**
 * Takes the key for this transaction. Returns the stored answer when an earlier request with the
 * same key and body succeeded within the window; undefined when this request is to allocate.
 */
export async function claimIdempotencyKey<T>(
  tx: Queryable,
  orgId: string,
  idempotency: IdempotencyKey,
): Promise<T | undefined> {
  const taken = await tx.query(
    `INSERT INTO idempotency_keys (org_id, key, request_hash) VALUES ($1, $2, $3)
     ON CONFLICT (org_id, key) DO UPDATE
       SET request_hash = EXCLUDED.request_hash, response = NULL,
           created_at = statement_timestamp()
       WHERE idempotency_keys.created_at
             <= statement_timestamp() - make_interval(hours => ${IDEMPOTENCY_WINDOW_HOURS})
     RETURNING 1`,
    [orgId, idempotency.key, idempotency.requestHash],
  );
  if (taken.length > 0) return undefined;
  // The conflicting row is committed (the insert waited for its transaction) and inside the
  // window; a new statement sees it.
  const [stored] = await tx.query<{ request_hash: string; response: T | null }>(
    'SELECT request_hash, response FROM idempotency_keys WHERE org_id = $1 AND key = $2',
    [orgId, idempotency.key],
  );
  if (stored === undefined || stored.response === null) {
    throw new Error('idempotency key row vanished or has no answer after its insert conflicted');
  }
  if (stored.request_hash !== idempotency.requestHash) {
    throw new ApiError(
      'IDEMPOTENCY_KEY_REUSED',
      `Idempotency-Key ${JSON.stringify(idempotency.key)} was already used with a different request body in the last ${IDEMPOTENCY_WINDOW_HOURS} hours; use a new key for a new request`,
    );
  }
  return stored.response;
}

export async function storeIdempotentAnswer(
  tx: Queryable,
  orgId: string,
  key: string,
  response: unknown,
): Promise<void> {
  await tx.query('UPDATE idempotency_keys SET response = $3 WHERE org_id = $1 AND key = $2', [
    orgId,
    key,
    JSON.stringify(response),
  ]);
}
