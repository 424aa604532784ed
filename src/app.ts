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
import { ApiError } from './errors.js';
import { createReadiness } from './health.js';
import { registerApiDocs } from './http/api-docs.js';
import { operatorAuthHook, tenantAuthHook } from './http/auth.js';
import { checkBodyShape, ignoreTypeOfEmptyBody, refuseBody } from './http/body-shape.js';
import {
  answerMalformedHttp,
  answerRouteNotFound,
  answerRouterRefusal,
  handleError,
} from './http/error-handler.js';
import { registerJsonBodyParser } from './http/json-body.js';
import {
  type JsonSchema,
  listOperations,
  loadOpenApi,
  type OpenApiDocument,
} from './http/openapi.js';
import { OneLinePerRequest } from './http/request-log.js';
import type { RouteContext } from './http/routes/handler.js';
import { operationHandlers } from './http/routes/index.js';
import { compileQueryValidator, createAjv } from './http/validation.js';
import { createAuthFailureLimiter } from './limits/auth-failure-limit.js';
import {
  createOrganizationLimiter,
  organizationRateLimitHook,
} from './limits/organization-rate-limit.js';
import { createWindowCounter } from './limits/window-counter.js';
import { logCompletionOutsideRoutes } from './observability/logging.js';
import { installMetrics, type Metrics } from './observability/metrics.js';

export interface AppDependencies {
  db: Database;
  verifier: TokenVerifier;
  maxAllocateCount: number;
  /** Seconds a released address waits before another organization can get it; default 3600. */
  quarantineSeconds?: number;
  bodyLimitBytes: number;
  /** Whole-request deadline; a client that trickles its body cannot hold a connection forever. */
  requestTimeoutMs?: number;
  /** The `scope` value of operator tokens (EIPD_ADMIN_SCOPE); default eip:admin. */
  adminScope?: string;
  /**
   * Requests per minute per organization and failed authentications per minute per client
   * address, counted in the database (src/limits/); 0 or absent: no limit.
   */
  limits?: { perOrganizationPerMinute: number; authFailuresPerMinute: number };
  /** Proxies (addresses, CIDRs) whose X-Forwarded-For names the client; none by default. */
  trustProxy?: string[];
  /** True once SIGTERM arrived: /readyz answers 503 so that load balancers stop routing here. */
  isDraining?: () => boolean;
  /** Serve GET /metrics (EIPD_METRICS); default true. */
  metrics?: boolean;
  /** Fastify/pino logger options; false in tests. */
  logger: FastifyServerOptions['logger'];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function buildApp(deps: AppDependencies): {
  app: FastifyInstance;
  document: OpenApiDocument;
} {
  const document = loadOpenApi({ maxAllocateCount: deps.maxAllocateCount });
  const counter = createWindowCounter(deps.db, 60);
  const authFailures = deps.limits?.authFailuresPerMinute
    ? createAuthFailureLimiter(counter, deps.limits.authFailuresPerMinute)
    : undefined;
  const authenticate = tenantAuthHook(deps.verifier, authFailures);
  const authenticateOperator = operatorAuthHook(
    deps.verifier,
    deps.adminScope ?? 'eip:admin',
    authFailures,
  );
  const tenantHooks = deps.limits?.perOrganizationPerMinute
    ? [
        authenticate,
        organizationRateLimitHook(
          createOrganizationLimiter(counter, deps.limits.perOrganizationPerMinute),
        ),
      ]
    : [authenticate];
  let metrics: Metrics | undefined;
  const app = Fastify({
    logger: deps.logger,
    logController: new OneLinePerRequest(),
    bodyLimit: deps.bodyLimitBytes,
    routerOptions: {
      // Path parameters as long as a request line can be (Node's 16 KiB of headers): a pool name
      // or an IDC over its documented maxLength is then a 400 naming the field, not "no route".
      maxParamLength: 16 * 1024,
    },
    requestTimeout: deps.requestTimeoutMs ?? 30_000,
    http: {
      // Node enforces the request timeout only when it checks its connections (by default every
      // 30 s), and when headersTimeout (default 60 s) is longer it swaps the two, so without
      // these a slow body could hold its connection for a minute whatever the setting says.
      connectionsCheckingInterval: 1_000,
      headersTimeout: deps.requestTimeoutMs ?? 30_000,
      // Answered in the error shape by the first onRequest hook instead.
      requireHostHeader: false,
    },
    // request.ip is the peer unless a trusted proxy forwarded the request (X-Forwarded-For).
    ...(deps.trustProxy !== undefined && deps.trustProxy.length > 0
      ? { trustProxy: deps.trustProxy }
      : {}),
    // A caller's own X-Request-Id is kept when it is sane, so that their logs and ours line up.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Requests that arrive while the server drains are still served (the database closes only
    // after the last one), instead of getting Fastify's own 503 body.
    return503OnClosing: false,
    clientErrorHandler: answerMalformedHttp,
    // Ids the router refuses before any route runs (see answerRouterRefusal).
    frameworkErrors: (error, request, reply) => {
      // Answered before any route or hook runs: their completion is logged and counted here.
      logCompletionOutsideRoutes(reply as unknown as FastifyReply);
      metrics?.observeOutsideRoutes(request as FastifyRequest, reply as unknown as FastifyReply);
      answerRouterRefusal(
        error,
        request as FastifyRequest,
        reply as unknown as FastifyReply,
        authenticate,
        authenticateOperator,
      );
    },
  });

  // Our own Ajv (strict, no coercion, no defaults, all errors) validates every request body.
  const ajv = createAjv();
  const queryAjv = createAjv({ coerce: true });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'querystring'
      ? compileQueryValidator(queryAjv, schema as JsonSchema)
      : ajv.compile(schema),
  );
  app.setErrorHandler(handleError);
  // Only JSON bodies: a text/plain body is a wrong media type, answered like any unreadable body.
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);
  app.decorateRequest('caller', null);
  app.decorateRequest('operator', null);
  // Hooks on every request take callbacks rather than being async: no promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    // Node's own refusal of this (requireHostHeader, off above) is a bare 400 with no body and
    // no request id.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      done(new ApiError('MALFORMED_HTTP', 'An HTTP/1.1 request needs a Host header.'));
      return;
    }
    done();
  });
  // An answer sent before the request's body was read to the end (a 401, a 429, a 413 by
  // Content-Length) closes the connection: the rest of the body would otherwise be read as the
  // next request, or its absence end in a second, unrequested 408 on the connection.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!request.raw.complete) reply.header('Connection', 'close');
    done(null, payload);
  });
  app.setNotFoundHandler(answerRouteNotFound);
  if (deps.metrics ?? true) {
    metrics = installMetrics(app, {
      db: deps.db,
      quarantineSeconds: deps.quarantineSeconds ?? 3600,
    });
  }
  registerApiDocs(app, document);

  const ctx: RouteContext = {
    db: deps.db,
    quarantineSeconds: deps.quarantineSeconds ?? 3600,
    readiness: createReadiness(deps.db, deps.isDraining ?? (() => false)),
    caller(request) {
      if (request.caller === null) throw new Error('tenant route reached without a caller');
      return request.caller;
    },
    operator(request) {
      if (request.operator === null) throw new Error('operator route reached without an operator');
      return request.operator;
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
      config: { operationId: operation.operationId },
      schema: {
        ...(bodySchema === undefined ? {} : { body: bodySchema }),
        querystring: operation.querySchema,
        ...(operation.headerSchema === undefined ? {} : { headers: operation.headerSchema }),
        ...(operation.paramsSchema === undefined ? {} : { params: operation.paramsSchema }),
        ...(operation.successSchema === undefined
          ? {}
          : { response: { 200: operation.successSchema } }),
      },
      onRequest: operation.anonymous
        ? []
        : operation.path.startsWith('/v1/admin/')
          ? authenticateOperator
          : tenantHooks,
      preParsing: bodySchema === undefined ? [ignoreTypeOfEmptyBody] : [],
      preValidation:
        bodySchema === undefined
          ? [async (request) => refuseBody(request.body)]
          : [async (request) => checkBodyShape(request.body)],
      handler: (request, reply) => handler(request, reply, ctx),
    });
  }
  return { app, document };
}
