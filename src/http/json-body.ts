/**
 * The JSON body parser, strict so that what the client sent is exactly what gets validated.
 * Fastify's own folds every failure into one "invalid JSON" error and lets through what JSON.parse
 * quietly changes; this one refuses each case with its own message:
 *
 * 1. a Content-Encoding other than identity (eipd does not decompress bodies);
 * 2. a charset other than UTF-8, or bytes that are not valid UTF-8 (decoding would otherwise
 *    replace them with U+FFFD, and the client's text would not be the one validated);
 * 3. an empty body (read as no body at all: the operation then refuses it, or takes none);
 * 4. broken JSON, and `__proto__` or `constructor.prototype` keys (refused by secure-json-parse:
 *    they could otherwise reach object prototypes later on);
 * 5. what scanJson finds in valid JSON: nesting deeper than MAX_BODY_DEPTH (413), a duplicate key,
 *    a number that JSON.parse cannot read exactly.
 *
 * The checks run in that order, and the first that applies answers.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { ApiError } from '../errors.js';
import { MAX_BODY_DEPTH } from './body-shape.js';
import { scanJson } from './json-scan.js';
import { UnreadableBodyError } from './request-errors.js';

/** How much of a key, number or header value an error message quotes. */
const QUOTE_LIMIT = 64;
const NOT_UTF8 = 'The request body must be UTF-8 encoded JSON.';
/** fatal: invalid UTF-8 throws instead of becoming U+FFFD. A leading BOM is dropped. */
const utf8 = new TextDecoder('utf-8', { fatal: true });
const JSON_WHITESPACE_ONLY = /^[ \t\n\r]*$/;
/** `; name=value` parameters of a media type, the value a token or a quoted string. */
const MEDIA_TYPE_PARAMETER = /;\s*([^\s;=]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;

export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  // parseAs 'buffer': a string would already have been decoded leniently, invalid bytes and all.
  app.addContentTypeParser<Buffer>(
    'application/json',
    { parseAs: 'buffer' },
    (request, body, done) => {
      try {
        done(null, readJsonBody(request.headers, body));
      } catch (error) {
        done(error instanceof Error ? error : new Error(String(error)), undefined);
      }
    },
  );
  // Any other media type: an empty body is no body (`curl -d ''` sends a form type); anything
  // else is a body eipd cannot read.
  app.addContentTypeParser<Buffer>('*', { parseAs: 'buffer' }, (_request, body, done) => {
    if (body.length === 0) done(null, undefined);
    else done(new UnreadableBodyError(WRONG_MEDIA_TYPE), undefined);
  });
}

export const WRONG_MEDIA_TYPE = 'The request body must be sent as Content-Type: application/json.';

/** The parsed body, or an UnreadableBodyError (400) or ApiError (413) thrown. */
export function readJsonBody(headers: IncomingHttpHeaders, bytes: Uint8Array): unknown {
  const encoding = (headers['content-encoding'] ?? '').trim();
  if (encoding !== '' && encoding.toLowerCase() !== 'identity') {
    throw new UnreadableBodyError(
      `Content-Encoding ${encoding.slice(0, QUOTE_LIMIT)} is not supported; send the body uncompressed.`,
    );
  }
  if (!isUtf8MediaType(headers['content-type'] ?? '')) throw new UnreadableBodyError(NOT_UTF8);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new UnreadableBodyError(NOT_UTF8);
  }
  // Many clients send `Content-Type: application/json` on every request, bodyless DELETEs too;
  // an empty body is no body, and operations that need one say "missing" (checkBodyShape).
  if (JSON_WHITESPACE_ONLY.test(text)) return undefined;
  let value: unknown;
  try {
    // secure-json-parse would drop a second BOM too; one is tolerated (and already gone).
    if (text.charCodeAt(0) === 0xfeff) throw new SyntaxError('a second byte order mark');
    value = secureJson.parse(text, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    const poisoned = error instanceof SyntaxError && /prototype/.test(error.message);
    throw new UnreadableBodyError(
      poisoned
        ? 'The request body must not contain __proto__ or constructor.prototype keys.'
        : 'The request body is not valid JSON.',
    );
  }
  const { problem } = scanJson(text, MAX_BODY_DEPTH);
  if (problem === undefined) return value;
  switch (problem.kind) {
    case 'too-deep':
      // JSON.stringify (logs, originalValue) overflows the stack on nesting JSON.parse accepts.
      throw new ApiError(
        'BODY_TOO_DEEP',
        `The request body is nested deeper than ${MAX_BODY_DEPTH} levels.`,
      );
    case 'duplicate-key':
      throw new UnreadableBodyError(
        `The request body has a duplicate key ${JSON.stringify(cut(problem.key))}.`,
      );
    case 'inexact-number':
      throw new UnreadableBodyError(
        `The number ${cut(problem.token)} in the request body cannot be represented exactly.`,
      );
  }
}

/** Whether a Content-Type's charset, if it names one, is UTF-8 (JSON's only encoding). */
function isUtf8MediaType(contentType: string): boolean {
  for (const [, name = '', raw = ''] of contentType.matchAll(MEDIA_TYPE_PARAMETER)) {
    if (name.toLowerCase() !== 'charset') continue;
    const value = raw.trim();
    const charset = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
    if (!['utf-8', 'utf8'].includes(charset.toLowerCase())) return false;
  }
  return true;
}

/** The first QUOTE_LIMIT UTF-16 units, without a high surrogate left dangling at the cut. */
function cut(text: string): string {
  if (text.length <= QUOTE_LIMIT) return text;
  const head = text.slice(0, QUOTE_LIMIT);
  const lastUnit = head.charCodeAt(QUOTE_LIMIT - 1);
  return lastUnit >= 0xd800 && lastUnit <= 0xdbff ? head.slice(0, -1) : head;
}
