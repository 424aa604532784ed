/**
 * buildApp: the Fastify instance with every route of the OpenAPI document, without listening.
 * main.ts listens; tests call buildApp and use inject().
 */
import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { TokenVerifier } from './auth/tokens.js';
import type { Database } from './db/database.js';
import { ApiError, ERRORS } from './errors.js';
import { tenantAuthHook } from './http/auth.js';
import { answerMalformedHttp, answerRouterRefusal, handleError } from './http/error-handler.js';
import { registerJsonBodyParser } from './http/json-body.js';
import { listOperations, loadOpenApi, type OpenApiDocument } from './http/openapi.js';
import { UnreadableBodyError } from './http/request-errors.js';
import type { RouteContext } from './http/routes/handler.js';
import { operationHandlers } from './http/routes/index.js';
import { createAjv } from './http/validation.js';

export interface AppDependencies {
  db: Database;
  verifier: TokenVerifier;
  maxAllocateCount: number;
  bodyLimitBytes: number;
  /** Fastify/pino logger options; false in tests. */
  logger: FastifyServerOptions['logger'];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** No request of the API nests more than a few levels; 32 leaves room and stays far from any stack limit. */
const MAX_BODY_DEPTH = 32;
/** The widest request body of the API has five fields. */
const MAX_BODY_FIELDS = 64;

/** Iterative, so that the check itself cannot overflow the stack. */
function nestingExceeds(root: unknown, limit: number): boolean {
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 1 }];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === undefined) break;
    if (typeof item.node !== 'object' || item.node === null) continue;
    if (item.depth > limit) return true;
    for (const child of Object.values(item.node))
      stack.push({ node: child, depth: item.depth + 1 });
  }
  return false;
}

export function buildApp(deps: AppDependencies): {
  app: FastifyInstance;
  document: OpenApiDocument;
} {
  const document = loadOpenApi({ maxAllocateCount: deps.maxAllocateCount });
  const authenticate = tenantAuthHook(deps.verifier);
  const app = Fastify({
    logger: deps.logger,
    bodyLimit: deps.bodyLimitBytes,
    // A caller's own X-Request-Id is kept when it is sane, so that their logs and ours line up.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { coerceTypes: false, useDefaults: false, allErrors: true } },
    // The router refuses some URLs before any route runs: a malformed percent-encoding, or a path
    // segment over maxParamLength. Such an id can never be a uuid, so it is answered like any
    // other id that is not one — after authentication, as a 404 — instead of Fastify's own body.
    // Requests that arrive while the server drains are still served (the database closes only
    // after the last one), instead of getting Fastify's own 503 body.
    return503OnClosing: false,
    clientErrorHandler: answerMalformedHttp,
    frameworkErrors: (error, request, reply) =>
      answerRouterRefusal(
        error,
        request as FastifyRequest,
        reply as unknown as FastifyReply,
        authenticate,
      ),
  });

  const ajv = createAjv();
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
  app.setErrorHandler(handleError);
  // Only JSON bodies: a text/plain body is a wrong media type, answered like any unreadable body.
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);
  app.decorateRequest('caller', null);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      code: ERRORS.ROUTE_NOT_FOUND.code,
      reason: `no route ${request.method} ${request.url.split('?')[0]}`,
    });
  });

  const ctx: RouteContext = {
    db: deps.db,
    caller(request) {
      if (request.caller === null) throw new Error('tenant route reached without a caller');
      return request.caller;
    },
  };

  const operations = listOperations(document);
  const documented = new Set(operations.map((o) => o.operationId));
  const undocumented = Object.keys(operationHandlers).filter((id) => !documented.has(id));
  if (undocumented.length > 0)
    throw new Error(`handlers without an operation: ${undocumented.join(', ')}`);

  for (const operation of operations) {
    const handler = operationHandlers[operation.operationId];
    if (handler === undefined) throw new Error(`operation ${operation.operationId} has no handler`);
    const bodySchema = operation.bodySchema;
    app.route({
      method: operation.method,
      url: operation.routePath,
      schema: {
        ...(bodySchema === undefined ? {} : { body: bodySchema }),
        ...(operation.successSchema === undefined
          ? {}
          : { response: { 200: operation.successSchema } }),
      },
      onRequest: authenticate,
      // Validation needs an object to validate: a missing body, `null`, an array or a bare value
      // is "not a JSON object" (code 1), not a list of missing fields.
      preValidation:
        bodySchema === undefined
          ? []
          : [
              async (request) => {
                const body = request.body;
                if (body === undefined)
                  throw new UnreadableBodyError('The request body is missing.');
                if (typeof body !== 'object' || body === null || Array.isArray(body)) {
                  throw new UnreadableBodyError('The request body must be a JSON object.');
                }
                // JSON.parse accepts nesting that JSON.stringify (logs, originalValue) cannot
                // take back: refuse it before anything echoes the body.
                // One validationDetail entry per unknown field: bound how many there can be, so
                // that a 1 MiB body of tiny keys cannot make a 12 MiB answer.
                if (Object.keys(body).length > MAX_BODY_FIELDS) {
                  throw new ApiError(
                    'BODY_TOO_WIDE',
                    `The request body has more than ${MAX_BODY_FIELDS} fields.`,
                  );
                }
                if (nestingExceeds(body, MAX_BODY_DEPTH)) {
                  throw new ApiError(
                    'BODY_TOO_DEEP',
                    `The request body is nested deeper than ${MAX_BODY_DEPTH} levels.`,
                  );
                }
              },
            ],
      handler: (request, reply) => handler(request, reply, ctx),
    });
  }
  return { app, document };
}
