/**
 * Authentication for tenant endpoints: a bearer JWT whose organization claim names the tenant.
 * Runs as the route's first hook, before the body is read or validated, so an anonymous caller
 * learns nothing about schemas, IDCs or ids.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TokenVerifier } from '../auth/tokens.js';
import type { Caller } from '../elastic-ips/allocate.js';
import { AUTH_EXPIRED, AUTH_INVALID } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
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

export function tenantAuthHook(verifier: TokenVerifier) {
  return async function authenticateTenant(request: FastifyRequest, reply: FastifyReply) {
    const outcome = await verifier.verify(request.headers.authorization);
    if (!outcome.ok) {
      if (outcome.failure === 'missing') return refuse(reply, AUTH_INVALID, REALM);
      const body = outcome.failure === 'expired' ? AUTH_EXPIRED : AUTH_INVALID;
      return refuse(
        reply,
        body,
        `${REALM}, error="invalid_token", error_description="${body.message.replace(/\.$/, '')}"`,
      );
    }
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
