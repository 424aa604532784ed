/**
 * The one place where failures become HTTP answers. Known refusals map to their documented shape;
 * anything else is a bug: logged with its stack, answered 500 with only the request id.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseUnavailableError, TransactionContentionError } from '../db/errors.js';
import { elasticIpNotFound } from '../elastic-ips/get.js';
import {
  ApiError,
  DATABASE_UNAVAILABLE_BODY,
  ERRORS,
  REQUEST_INVALID,
  ValidationError,
} from '../errors.js';
import { NotReadyError } from '../health.js';
import { printable } from '../text.js';
import { MAX_VALIDATION_DETAILS, type ValidationDetail } from '../validation-detail.js';
import { WRONG_MEDIA_TYPE } from './json-body.js';
import type { JsonSchema } from './openapi.js';
import { UnreadableBodyError } from './request-errors.js';
import { toValidationDetails } from './validation.js';

/** Fastify's own body-reading refusals (the JSON parser's are UnreadableBodyErrors already). */
const BODY_ERRORS: Readonly<Record<string, string>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: WRONG_MEDIA_TYPE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'The request body does not match its Content-Length.',
};

/**
 * The query string as sent: validation coerces request.query in place (`limit=1e2` becomes 100),
 * and originalValue must show what the client sent. No prototype, like Fastify's own parse: a
 * parameter named `constructor` or `__proto__` would otherwise start from (or replace) the
 * inherited member instead of from nothing.
 */
function rawQuery(url: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null);
  const start = url.indexOf('?');
  if (start < 0) return query;
  for (const [key, value] of new URLSearchParams(url.slice(start + 1))) {
    const seen = query[key];
    query[key] =
      seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return query;
}

const INVALID_MESSAGES: Readonly<Record<ValidationError['location'], string>> = {
  body: 'The request body is invalid; see validationDetail',
  query: 'The query parameters are invalid; see validationDetail',
  header: 'The request headers are invalid; see validationDetail',
  path: 'The path parameters are invalid; see validationDetail',
};

/**
 * The 400 for violations found by the schema or by a use case. Only the first entries are listed
 * (the schema's own fields come before unknown ones, so those are kept); the message says how
 * many there were.
 */
function answerInvalid(
  reply: FastifyReply,
  location: ValidationError['location'],
  details: readonly ValidationDetail[],
) {
  const listed = details.slice(0, MAX_VALIDATION_DETAILS);
  const more =
    details.length > listed.length
      ? ` (the first ${listed.length} of ${details.length} violations)`
      : '';
  return reply.code(400).send({
    ...REQUEST_INVALID,
    message: `${INVALID_MESSAGES[location]}${more}.`,
    validationDetail: listed,
  });
}

/** Node delivers header names in lower case; details name them as documented (`Idempotency-Key`). */
function headerName(lower: string): string {
  return lower.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

function schemaViolation(error: FastifyError, request: FastifyRequest) {
  const schemas = request.routeOptions.schema;
  switch (error.validationContext) {
    case 'body':
      return {
        location: 'body' as const,
        data: request.body,
        schema: schemas?.body,
      };
    case 'querystring':
      return {
        location: 'query' as const,
        data: rawQuery(request.url),
        schema: schemas?.querystring,
      };
    case 'headers':
      return { location: 'header' as const, data: request.headers, schema: schemas?.headers };
    case 'params':
      return { location: 'path' as const, data: request.params, schema: schemas?.params };
    default:
      return undefined;
  }
}

export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const violated = error.validation === undefined ? undefined : schemaViolation(error, request);
  if (error.validation !== undefined && violated !== undefined) {
    const details = toValidationDetails(
      error.validation,
      violated.data,
      (violated.schema ?? {}) as JsonSchema,
    );
    return answerInvalid(
      reply,
      violated.location,
      violated.location === 'header'
        ? details.map((d) => ({ ...d, field: headerName(d.field) }))
        : details,
    );
  }
  if (error instanceof ValidationError) {
    return answerInvalid(reply, error.location, error.details);
  }
  if (error instanceof ApiError) {
    return reply.code(error.status).headers(error.headers).send(error.body());
  }
  if (error instanceof UnreadableBodyError) return reply.code(400).send(error.body());
  if (error instanceof NotReadyError) return reply.code(503).send({ reason: error.reason });
  if (error instanceof DatabaseUnavailableError || error instanceof TransactionContentionError) {
    // One short line per request: during an outage every request lands here, and a stack trace
    // each would bury the logs without saying more than the cause's message.
    const cause = error.cause instanceof Error ? error.cause.message : String(error.cause ?? '');
    request.log.warn({ cause: cause || error.message }, 'database unavailable');
    return reply.code(503).send(DATABASE_UNAVAILABLE_BODY);
  }
  const bodyMessage = BODY_ERRORS[error.code];
  if (bodyMessage !== undefined) {
    return reply.code(400).send(new UnreadableBodyError(bodyMessage).body());
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply.code(413).send({
      code: ERRORS.PAYLOAD_TOO_LARGE.code,
      reason: `The request body is larger than ${request.routeOptions.bodyLimit} bytes.`,
    });
  }
  // Any other refusal of Fastify's body reading is the client's, and so is a connection closed
  // before its body arrived: nobody reads that answer, and it is no bug of ours, so no error line
  // and no 500 to alert on.
  const clientAbort = isClientAbort(error);
  if (
    clientAbort ||
    (typeof error.code === 'string' &&
      error.code.startsWith('FST_ERR_CTP_') &&
      (error.statusCode ?? 500) < 500)
  ) {
    if (clientAbort) {
      request.log.info({ cause: error.message }, 'client closed the connection mid-request');
    }
    return reply
      .code(400)
      .send(new UnreadableBodyError('The request body could not be read.').body());
  }
  // Plugins' own refusals (the static files of /docs: a path that leaves its folder, a NUL byte)
  // name no resource of ours: answered like any unknown route.
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return answerRouteNotFound(request, reply);
  }
  return answerInternalError(error, request, reply);
}

/** Node's errors for a request whose connection closed before it was read to the end. */
function isClientAbort(error: FastifyError): boolean {
  return (
    error.code === 'ECONNRESET' ||
    error.code === 'ECONNABORTED' ||
    error.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    (error.message === 'aborted' && error.code === undefined)
  );
}

function answerInternalError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  request.log.error({ err: error }, 'unexpected error');
  return reply.code(500).send({
    code: ERRORS.INTERNAL.code,
    reason: `internal error; quote request id ${request.id} when reporting it`,
  });
}

/**
 * The router refuses some URLs before any route runs: a malformed percent-encoding (or a path
 * segment longer than maxParamLength, 16 KiB, which Node's header limit refuses first). Such an
 * id can never be a uuid, so it is answered like any other id that is not one (after
 * authentication, as a 404) instead of with Fastify's own body; paths outside /v1/ get the
 * unknown route's 404 at once.
 */
export function answerRouterRefusal(
  _error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
  authenticate: Authenticate,
  authenticateOperator: Authenticate,
): void {
  reply.header('X-Request-Id', request.id);
  request.caller = null;
  request.operator = null;
  const path = request.raw.url?.split('?')[0] ?? '';
  // Outside the API (health checks, documents, unknown paths) no token is needed to be told so.
  if (!path.startsWith('/v1/')) {
    answerRouteNotFound(request, reply);
    return;
  }
  // The same authentication as the route the URL was meant for: an operator's token on an
  // operator path must not be told it is invalid.
  const admin = path.startsWith('/v1/admin/');
  (admin ? authenticateOperator : authenticate)(request, reply).then(
    () => {
      if (reply.sent) return;
      const prefix = '/v1/elastic-ips/';
      const refusal = path.startsWith(prefix)
        ? elasticIpNotFound(path.slice(prefix.length).split('/')[0] ?? '')
        : new ApiError('ROUTE_NOT_FOUND', `no route for ${printable(path)}`);
      reply.code(refusal.status).send(refusal.body());
    },
    // A client address past its failed-authentication limit is refused here too (429).
    (failure: unknown) =>
      failure instanceof ApiError
        ? reply.code(failure.status).headers(failure.headers).send(failure.body())
        : answerInternalError(failure, request, reply),
  );
}

type Authenticate = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * Requests Node's HTTP server refuses before Fastify sees them (an unknown method, broken
 * framing, headers over the limit, a body that never finishes arriving) still get an answer in
 * the error shape, with a request id like every other answer.
 */
export function answerMalformedHttp(error: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) return;
  const refusal =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new ApiError('HEADERS_TOO_LARGE', 'The request headers are too large.')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new ApiError('REQUEST_TIMEOUT', 'The request did not arrive in time.')
        : new ApiError('MALFORMED_HTTP', 'The request is not valid HTTP/1.1.');
  const body = JSON.stringify(refusal.body());
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Error'}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nX-Request-Id: ${randomUUID()}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Unknown routes: the path is shown cut and without control characters. */
export function answerRouteNotFound(request: FastifyRequest, reply: FastifyReply): void {
  const refusal = new ApiError(
    'ROUTE_NOT_FOUND',
    `no route ${request.method} ${printable(request.url.split('?')[0] ?? '')}`,
  );
  reply.code(refusal.status).send(refusal.body());
}
