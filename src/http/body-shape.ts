/**
 * What a JSON body must be before schema validation even starts. Each limit exists because of
 * what comes after it: validation needs an object; validationDetail has one entry per unknown
 * field; and JSON.stringify (logs, originalValue) overflows the stack on nesting that JSON.parse
 * happily accepts. Nesting is measured while the body is read (json-body.ts), in the same pass
 * over the text that finds duplicate keys, so only the parsed body's own shape is checked here.
 */
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { UnreadableBodyError } from './request-errors.js';

/** No request of the API nests more than a few levels; 32 stays far from any stack limit. */
export const MAX_BODY_DEPTH = 32;
/** The widest request body of the API has five fields. */
export const MAX_BODY_FIELDS = 64;

export function checkBodyShape(body: unknown): void {
  if (body === undefined) throw new UnreadableBodyError('The request body is missing.');
  // A missing body, `null`, an array or a bare value is "not a JSON object" (code 1), not a list
  // of missing fields.
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new UnreadableBodyError('The request body must be a JSON object.');
  }
  // Bounds the number of validationDetail entries: a 1 MiB body of tiny unknown keys would
  // otherwise make a 12 MiB answer.
  if (Object.keys(body).length > MAX_BODY_FIELDS) {
    throw new ApiError(
      'BODY_TOO_WIDE',
      `The request body has more than ${MAX_BODY_FIELDS} fields.`,
    );
  }
}

/**
 * Operations without a request body (GET, DELETE) refuse one rather than ignore it: a client
 * sending `DELETE … {"force": true}` should learn that nothing reads it.
 */
export function refuseBody(body: unknown): void {
  if (body !== undefined) throw new UnreadableBodyError('This operation takes no request body.');
}

/**
 * An empty body is no body, whatever its Content-Type, for operations that take none (README).
 * Fastify refuses a malformed type (`Content-Type:` empty, `json`) before it reads anything, and
 * the JSON reader refuses a foreign charset, so for such operations the type of a body that is
 * declared empty is dropped before parsing: the request then simply has no body.
 */
export async function ignoreTypeOfEmptyBody(request: FastifyRequest): Promise<void> {
  const headers = request.raw.headers;
  const length = headers['content-length'];
  if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) {
    delete headers['content-type'];
  }
}
