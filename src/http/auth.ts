/**
 * Authentication: tenant endpoints need a bearer JWT whose organization claim names the tenant;
 * operator endpoints (/v1/admin/) need a valid token carrying the admin scope (403 without it).
 * Runs as the route's first hook, before the body is read or validated, so an anonymous caller
 * learns nothing about schemas, IDCs or ids.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TokenVerifier } from '../auth/tokens.js';
import type { Caller } from '../elastic-ips/allocate.js';
import { ApiError, AUTH_EXPIRED, AUTH_INVALID } from '../errors.js';
import type { AuthFailureLimiter } from '../limits/auth-failure-limit.js';

/** An operator acting on /v1/admin/: the token's `sub` is the actor recorded in history. */
export interface Operator {
  subject: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
    operator: Operator | null;
  }
}

const REALM = 'Bearer realm="eipd"';

function refuse(
  reply: FastifyReply,
  body: typeof AUTH_INVALID | typeof AUTH_EXPIRED,
  challenge: string,
) {
  return reply.code(401).header('WWW-Authenticate', challenge).send(body);
}

/** 429 for an address past its failed-authentication limit, before any token is verified. */
function refuseBlockedAddress(failures: AuthFailureLimiter, retryAfter: number): ApiError {
  return new ApiError(
    'TOO_MANY_AUTH_FAILURES',
    `${failures.limit} failed authentications from this address within a minute; retry in ${retryAfter} s`,
    { 'Retry-After': String(retryAfter) },
  );
}

/**
 * Node keeps the first of repeated Authorization headers, a proxy in front may keep the last: a
 * request carrying two is refused rather than run as whichever caller eipd happens to pick.
 */
function repeatsAuthorization(rawHeaders: string[]): boolean {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name?.length === 13 && name.toLowerCase() === 'authorization' && ++seen > 1) return true;
  }
  return false;
}

/** The verified principal, or undefined after answering 401. */
async function verified(
  verifier: TokenVerifier,
  request: FastifyRequest,
  reply: FastifyReply,
  failures: AuthFailureLimiter | undefined,
) {
  const retryAfter = failures?.retryAfter(request.ip);
  if (failures !== undefined && retryAfter !== undefined) {
    throw refuseBlockedAddress(failures, retryAfter);
  }
  const outcome = repeatsAuthorization(request.raw.rawHeaders)
    ? ({ ok: false, failure: 'invalid' } as const)
    : await verifier.verify(request.headers.authorization);
  if (outcome.ok) return outcome.principal;
  if (outcome.failure === 'missing') {
    await refuse(reply, AUTH_INVALID, REALM);
    return undefined;
  }
  await failures?.recordFailure(request.ip);
  const body = outcome.failure === 'expired' ? AUTH_EXPIRED : AUTH_INVALID;
  await refuse(
    reply,
    body,
    `${REALM}, error="invalid_token", error_description="${body.message.replace(/\.$/, '')}"`,
  );
  return undefined;
}

export function operatorAuthHook(
  verifier: TokenVerifier,
  adminScope: string,
  failures?: AuthFailureLimiter,
) {
  return async function authenticateOperator(request: FastifyRequest, reply: FastifyReply) {
    const principal = await verified(verifier, request, reply, failures);
    if (principal === undefined) return reply;
    if (!principal.admin) {
      const refusal = new ApiError('FORBIDDEN', `this operation needs the ${adminScope} scope`);
      return reply.code(refusal.status).send(refusal.body());
    }
    request.operator = { subject: principal.subject };
  };
}

export function tenantAuthHook(verifier: TokenVerifier, failures?: AuthFailureLimiter) {
  return async function authenticateTenant(request: FastifyRequest, reply: FastifyReply) {
    const principal = await verified(verifier, request, reply, failures);
    if (principal === undefined) return reply;
    const outcome = { principal };
    // A token without an organization (an operator's, say) cannot act as a tenant.
    if (outcome.principal.orgId === null) {
      return refuse(
        reply,
        AUTH_INVALID,
        `${REALM}, error="invalid_token", error_description="no organization claim"`,
      );
    }
    request.caller = { orgId: outcome.principal.orgId, subject: outcome.principal.subject };
  };
}
