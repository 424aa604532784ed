/**
 * The history of operators' own changes through /v1/admin/ (listOperatorActions): registering and
 * removing instances, enabling and disabling pools, setting and removing quota overrides. Changes
 * to elastic IPs (an instance removal's disassociations included) are events in eip_events, with
 * the actor too. Each action is written in the transaction of the change it records, so it exists
 * exactly when the change committed; a call that changes nothing (registering an instance again,
 * setting the limit it already has) records nothing.
 */
import type { Database, Queryable } from '../db/database.js';
import type { components } from '../generated/openapi.js';
import { decodeOpaque, encodeOpaque, invalidCursor } from '../opaque-cursor.js';

type OperatorAction = components['schemas']['operatorAction'];
type OperatorActionPage = components['schemas']['operatorActionPage'];
export type ActionKind = OperatorAction['action'];

export const DEFAULT_ACTION_LIMIT = 100;
const DIGITS = /^(0|[1-9][0-9]{0,18})$/;
const MAX_BIGINT = (1n << 63n) - 1n;

export async function recordOperatorAction(
  tx: Queryable,
  actor: string | null,
  action: ActionKind,
  target: string,
  detail: Readonly<Record<string, unknown>>,
): Promise<void> {
  await tx.query(
    `INSERT INTO operator_actions (actor, action, target, detail)
     VALUES ($1, $2, $3, $4::jsonb)`,
    [actor, action, target, JSON.stringify(detail)],
  );
}

type ActionRow = {
  seq: string;
  occurred_at: Date;
  actor: string | null;
  action: ActionKind;
  target: string;
  detail: Record<string, unknown>;
};

function decodeActionCursor(cursor: string): bigint {
  const { s } = decodeOpaque(cursor, ['s']);
  if (s === undefined || !DIGITS.test(s) || BigInt(s) > MAX_BIGINT) throw invalidCursor();
  return BigInt(s);
}

/** Oldest first, `limit` at a time after `cursor`; an empty page keeps the cursor where it was. */
export async function listOperatorActions(
  db: Database,
  query: { cursor?: string; limit?: number },
): Promise<OperatorActionPage> {
  const after =
    query.cursor === undefined || query.cursor === '' ? 0n : decodeActionCursor(query.cursor);
  const rows = await db.query<ActionRow>(
    `SELECT a.seq::text AS seq, a.occurred_at, a.actor, a.action, a.target, a.detail
       FROM operator_actions a WHERE a.seq > $1
      -- a.seq (bigint), not the text column of the same name: text order puts 10 before 2.
      ORDER BY a.seq LIMIT $2`,
    [after.toString(), query.limit ?? DEFAULT_ACTION_LIMIT],
  );
  // Actions are never pruned, so a cursor past the last one was not handed out by eipd: refused
  // rather than answered with empty pages for as long as the reader polls.
  if (rows.length === 0 && after > 0n) {
    const [newest] = await db.query<{ seq: string }>(
      'SELECT coalesce(max(seq), 0)::text AS seq FROM operator_actions',
    );
    if (after > BigInt(newest?.seq ?? '0')) throw invalidCursor();
  }
  const last = rows[rows.length - 1];
  return {
    actions: rows.map((r) => ({
      seq: r.seq,
      action: r.action,
      actor: r.actor,
      target: r.target,
      detail: r.detail,
      occurredAt: r.occurred_at.toISOString(),
    })),
    cursor: encodeOpaque({ s: last === undefined ? after.toString() : last.seq }),
  };
}
