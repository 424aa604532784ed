/**
 * The opaque `cursor` of listElasticIPs: the (createdAt, id) of the last EIP of a page, plus a
 * fingerprint of the organization and filters it was made for.
 *
 * The timestamp travels as text with microseconds, exactly as PostgreSQL stores it: a JS Date
 * keeps only milliseconds, and a cursor rounded to them would skip or repeat rows whose
 * created_at differ below a millisecond. The fingerprint makes a cursor reused with other filters
 * (or by another organization) an error instead of a silently wrong page; it is a binding, not
 * a secret: a forged cursor still only reads the caller's own EIPs.
 */
import { createHash } from 'node:crypto';
import { decodeOpaque, encodeOpaque, invalidCursor } from '../opaque-cursor.js';
import { isStorableDateTime } from '../timestamps.js';
import { isUuid } from '../uuid.js';

export interface CursorPosition {
  /** created_at in UTC with microseconds: `2024-05-01T12:00:00.123456Z`. */
  createdAt: string;
  id: string;
}

/** Exactly what encodeCursor writes: UTC, microseconds, a four-digit year. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function fingerprint(scope: unknown): string {
  return createHash('sha256').update(JSON.stringify(scope)).digest('base64url').slice(0, 22);
}

export function encodeCursor(position: CursorPosition, scope: string): string {
  return encodeOpaque({ t: position.createdAt, i: position.id, s: scope });
}

/** The position a cursor points after; anything garbled or made for another scope is refused. */
export function decodeCursor(cursor: string, scope: string): CursorPosition {
  const { t, i, s } = decodeOpaque(cursor, ['t', 'i', 's']);
  if (t === undefined || i === undefined || s !== scope) throw invalidCursor();
  if (!isUuid(i) || !isRealTimestamp(t)) throw invalidCursor();
  return { createdAt: t, id: i.toLowerCase() };
}

/**
 * A timestamp the database will accept and compare: the cast in SQL would otherwise turn a
 * hand-edited cursor (month 13, year 0000, which JavaScript's Date takes but PostgreSQL does not)
 * into a 500. The shape is eipd's own; the calendar is checked like every date-time parameter.
 */
function isRealTimestamp(text: string): boolean {
  return TIMESTAMP.test(text) && isStorableDateTime(text);
}
