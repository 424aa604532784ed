/**
 * Requests per organization per minute (EIPD_RATE_LIMIT_PER_MINUTE), counted in the database so
 * that the limit holds across replicas. Runs right after tenant authentication, before the body
 * is validated: every authenticated tenant request counts, whatever its answer. Operators'
 * requests (/v1/admin/) and anonymous endpoints (/healthz, /readyz) are never counted.
 *
 * Every counted response carries the IETF draft headers (RateLimit-Limit, RateLimit-Remaining,
 * RateLimit-Reset, RateLimit-Policy); a refused one is 429 code 4291 with Retry-After. When the
 * database cannot count, the request is answered the usual 503 (the request itself would need
 * the database anyway), never 500 and never let through uncounted.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import type { WindowCounter } from './window-counter.js';

export function organizationRateLimitHook(counter: WindowCounter, limit: number) {
  const policy = `${limit};w=${counter.windowSeconds}`;
  return async function limitOrganization(request: FastifyRequest, reply: FastifyReply) {
    // The tenant hook ran first and answered 401 when it set no caller.
    if (reply.sent || request.caller === null) return;
    const { hits, resetSeconds } = await counter.hit(`org:${request.caller.orgId}`);
    reply.headers({
      'RateLimit-Limit': String(limit),
      'RateLimit-Remaining': String(Math.max(0, limit - hits)),
      'RateLimit-Reset': String(resetSeconds),
      'RateLimit-Policy': policy,
    });
    if (hits > limit) {
      throw new ApiError(
        'RATE_LIMITED',
        `the organization made more than ${limit} requests in ${counter.windowSeconds} seconds; retry in ${resetSeconds} s`,
        { 'Retry-After': String(resetSeconds) },
      );
    }
  };
}
