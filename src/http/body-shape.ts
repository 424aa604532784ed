/**
 * What a JSON body must be before schema validation even starts. Each limit exists because of
 * what comes after it: validation needs an object; validationDetail has one entry per unknown
 * field; and JSON.stringify (logs, originalValue) overflows the stack on nesting that JSON.parse
 * happily accepts. Nesting is measured while the body is read (json-body.ts), in the same pass
 * over the text that finds duplicate keys, so only the parsed body's own shape is checked here.
 */
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
