/**
 * The one place where failures become HTTP answers. Known refusals map to their documented shape;
 * anything else is a bug: logged with its stack, answered 500 with only the request id.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseUnavailableError, TransactionContentionError } from '../db/errors.js';
import { ApiError, DATABASE_UNAVAILABLE_BODY, ERRORS, REQUEST_INVALID } from '../errors.js';
import type { JsonSchema } from './openapi.js';
import { UnreadableBodyError } from './request-errors.js';
import { toValidationDetails } from './validation.js';

const BODY_ERRORS: Readonly<Record<string, string>> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is missing.',
  FST_ERR_CTP_INVALID_JSON_BODY: 'The request body is not valid JSON.',
  FST_ERR_CTP_INVALID_MEDIA_TYPE:
    'The request body must be sent as Content-Type: application/json.',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'The request body does not match its Content-Length.',
};

export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error.validation !== undefined && error.validationContext === 'body') {
    const schema = (request.routeOptions.schema?.body ?? {}) as JsonSchema;
    return reply.code(400).send({
      ...REQUEST_INVALID,
      message: 'The request body is invalid; see validationDetail.',
      validationDetail: toValidationDetails(error.validation, request.body, schema),
    });
  }
  if (error instanceof ApiError) {
    return reply.code(error.status).headers(error.headers).send(error.body());
  }
  if (error instanceof UnreadableBodyError) return reply.code(400).send(error.body());
  if (error instanceof DatabaseUnavailableError || error instanceof TransactionContentionError) {
    request.log.warn({ err: error }, 'database unavailable');
    return reply.code(503).send(DATABASE_UNAVAILABLE_BODY);
  }
  const bodyMessage = BODY_ERRORS[error.code];
  if (bodyMessage !== undefined) {
    return reply.code(400).send(new UnreadableBodyError(bodyMessage).body());
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply.code(413).send({
      code: ERRORS.PAYLOAD_TOO_LARGE.code,
      reason: 'The request body is larger than the server accepts.',
    });
  }
  // JSON.parse errors and prototype-poisoning refusals surface as plain 400s from the parser.
  if (error.statusCode === 400 || error instanceof SyntaxError) {
    return reply
      .code(400)
      .send(new UnreadableBodyError('The request body is not valid JSON.').body());
  }
  return answerInternalError(error, request, reply);
}

function answerInternalError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  request.log.error({ err: error }, 'unexpected error');
  return reply.code(500).send({
    code: ERRORS.INTERNAL.code,
    reason: `internal error; quote request id ${request.id} when reporting it`,
  });
}

/**
 * The router refuses some URLs before any route runs: a malformed percent-encoding, or a path
 * segment longer than maxParamLength. Such an id can never be a uuid, so it is answered like any
 * other id that is not one (after authentication, as a 404) instead of with Fastify's own body.
 */
export function answerRouterRefusal(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
): void {
  reply.header('X-Request-Id', request.id);
  request.caller = null;
  authenticate(request, reply).then(
    () => {
      if (reply.sent) return;
      const path = request.raw.url?.split('?')[0] ?? '';
      const prefix = '/v1/elastic-ips/';
      const refusal = path.startsWith(prefix)
        ? new ApiError(
            'ELASTIC_IP_NOT_FOUND',
            `elastic IP ${(path.slice(prefix.length).split('/')[0] ?? '').slice(0, 36)} was not found`,
          )
        : new ApiError('ROUTE_NOT_FOUND', `no route for ${path.slice(0, 64)} (${error.code})`);
      reply.code(refusal.status).send(refusal.body());
    },
    (failure: unknown) => answerInternalError(failure, request, reply),
  );
}
