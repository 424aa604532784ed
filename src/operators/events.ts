/**
 * The event stream (listEvents) and the association snapshot (listAssociations) that network
 * agents resynchronize from.
 *
 * Order: events are read by (tx_id, seq), and only from transactions that have ended (see
 * readEventsAfter). seq alone cannot serve as a cursor: seq is taken at insert, so a transaction
 * that inserted seq 10 may commit after one that inserted seq 11; a reader at "after 11" would
 * never see 10. With (tx_id, seq) and the xmin bound, every event a later read can find lies
 * after every position already returned.
 *
 * Within one elastic IP, the events' seq order is the order of its changes (each event is written
 * in the statement that changes the row, under its row lock), while tx_id order across two
 * transactions need not be: an agent applies an event only when its seq is higher than the last
 * one it applied for that EIP.
 */
import type { Database } from '../db/database.js';
import { ApiError } from '../errors.js';
import type { components } from '../generated/openapi.js';
import { prunedThrough } from '../maintenance/retention.js';
import { decodeOpaque, encodeOpaque, invalidCursor } from '../opaque-cursor.js';
import {
  type EventRow,
  isPositionAhead,
  lastSettledPosition,
  listAssociatedElasticIps,
  readEventsAfter,
  type StreamPosition,
} from './repository.js';

type EventResponse = components['schemas']['event'];
type EventPage = components['schemas']['eventPage'];
type AssociationSnapshot = components['schemas']['associationSnapshot'];

export const DEFAULT_EVENT_LIMIT = 100;

const BEGINNING: StreamPosition = { txId: 0n, seq: 0n };
const DIGITS = /^(0|[1-9][0-9]{0,19})$/;
const MAX_XID8 = (1n << 64n) - 1n;
const MAX_BIGINT = (1n << 63n) - 1n;

export function encodeStreamCursor(position: StreamPosition): string {
  return encodeOpaque({ x: position.txId.toString(), s: position.seq.toString() });
}

/** The position a cursor stands at; out-of-range numbers are refused here, not by a SQL cast. */
export function decodeStreamCursor(cursor: string): StreamPosition {
  const { x, s } = decodeOpaque(cursor, ['x', 's']);
  if (x === undefined || s === undefined || !DIGITS.test(x) || !DIGITS.test(s))
    throw invalidCursor();
  const txId = BigInt(x);
  const seq = BigInt(s);
  if (txId > MAX_XID8 || seq > MAX_BIGINT) throw invalidCursor();
  return { txId, seq };
}

function toEvent(row: EventRow): EventResponse {
  return {
    seq: row.seq,
    type: row.type,
    eipId: row.eip_id,
    orgId: row.org_id,
    actor: row.actor,
    idc: row.idc,
    ipAddress: row.ip_address,
    instanceID: row.instance_id,
    instanceType: row.instance_type,
    occurredAt: row.occurred_at.toISOString(),
    // Events are returned in (tx_id, seq) order and a read after a position returns exactly the
    // events beyond it, so this event's own position is the cursor right after it.
    cursor: encodeStreamCursor({ txId: BigInt(row.tx_text), seq: BigInt(row.seq) }),
  };
}

/** The next events after `cursor` (from the beginning without one or with an empty one). */
export async function listEvents(
  db: Database,
  query: { cursor?: string; limit?: number },
): Promise<EventPage> {
  const after =
    query.cursor === undefined || query.cursor === ''
      ? BEGINNING
      : decodeStreamCursor(query.cursor);
  await refuseIfPruned(db, after);
  const rows = await readEventsAfter(db, after, query.limit ?? DEFAULT_EVENT_LIMIT);
  // A cursor ahead of the stream would read nothing, silently, for as long as the reader polls;
  // checked only on an empty page, the one case where it can matter.
  if (rows.length === 0 && after !== BEGINNING && (await isPositionAhead(db, after))) {
    throw invalidCursor();
  }
  const last = rows[rows.length - 1];
  // An empty page keeps the reader where it was, so that it can simply poll with the same cursor.
  const position =
    last === undefined ? after : { txId: BigInt(last.tx_text), seq: BigInt(last.seq) };
  return { events: rows.map(toEvent), cursor: encodeStreamCursor(position) };
}

/**
 * A cursor behind the pruned prefix of the stream would silently skip the pruned events; the
 * reader is told instead, and resynchronizes from the snapshot. Reading from the beginning (no
 * cursor) starts at the oldest event kept.
 */
async function refuseIfPruned(db: Database, after: StreamPosition): Promise<void> {
  if (after.txId === BEGINNING.txId && after.seq === BEGINNING.seq) return;
  const pruned = await prunedThrough(db);
  if (pruned === undefined) return;
  if (after.txId < pruned.txId || (after.txId === pruned.txId && after.seq < pruned.seq)) {
    throw new ApiError(
      'EVENTS_PRUNED',
      'events after this cursor were pruned (retention); resynchronize from GET /v1/admin/associations and follow its cursor',
    );
  }
}

/**
 * Every associated EIP, and the cursor to follow the stream from.
 *
 * The cursor is computed first, then the associations are read by a later statement of the same
 * transaction (READ COMMITTED: a newer snapshot). Every event at or before the cursor belongs to a
 * transaction that had ended before the first statement, so its effect is in the associations
 * read. Events after the cursor may also already be reflected there; an agent that applies them
 * again still converges, because an event states the resulting state (associated to this instance,
 * disassociated, released): applying it sets that state rather than toggling, and the last event
 * per EIP is also what the database holds.
 */
export async function listAssociations(db: Database): Promise<AssociationSnapshot> {
  return db.transaction(async (tx) => {
    const position = (await lastSettledPosition(tx)) ?? BEGINNING;
    const rows = await listAssociatedElasticIps(tx);
    return {
      associations: rows.map((r) => ({
        eipId: r.id,
        orgId: r.org_id,
        idc: r.idc,
        ipAddress: r.ip_address,
        instanceID: r.instance_id,
        instanceType: r.instance_type,
      })),
      cursor: encodeStreamCursor(position),
    };
  });
}
