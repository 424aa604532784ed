import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../../db/database.js';
import type { Caller } from '../../elastic-ips/allocate.js';
import type { Readiness } from '../../health.js';
import type { Operator } from '../auth.js';

export interface RouteContext {
  db: Database;
  /** Seconds a released address waits before another organization can get it. */
  quarantineSeconds: number;
  /** What /readyz answers. */
  readiness: Readiness;
  /** The authenticated tenant; the auth hook guarantees it on tenant routes. */
  caller(request: FastifyRequest): Caller;
  /** The authenticated operator; the operator auth hook guarantees it on /v1/admin/ routes. */
  operator(request: FastifyRequest): Operator;
}

/** One per operationId: take validated input, call one use case, return its result. */
export type OperationHandler = (
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: RouteContext,
) => Promise<unknown>;
