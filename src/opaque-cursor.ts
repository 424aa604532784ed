/**
 * Opaque cursors (list pages, the event stream): a flat JSON object of strings in base64url.
 * Opaque to clients, so the fields can change without an API change; decoding refuses anything
 * eipd could not have written with one 400 (INVALID_CURSOR), never a SQL error.
 */
import { ApiError } from './errors.js';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function invalidCursor(): ApiError {
  return new ApiError('INVALID_CURSOR', 'cursor is invalid');
}

export function encodeOpaque(fields: Readonly<Record<string, string>>): string {
  return Buffer.from(JSON.stringify(fields), 'utf8').toString('base64url');
}

/** The cursor's fields, each a string; anything else is an invalid cursor. */
export function decodeOpaque(cursor: string, names: readonly string[]): Record<string, string> {
  if (!BASE64URL.test(cursor)) throw invalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidCursor();
  const fields: Record<string, string> = {};
  for (const name of names) {
    const value = (parsed as Record<string, unknown>)[name];
    if (typeof value !== 'string') throw invalidCursor();
    fields[name] = value;
  }
  return fields;
}
