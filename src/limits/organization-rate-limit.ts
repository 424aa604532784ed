/**
 * Requests per organization per minute (EIPD_RATE_LIMIT_PER_MINUTE), counted in the database so
 * that the limit holds across replicas. Runs right after tenant authentication, before the body
 * is read: every authenticated tenant request counts, whatever its answer. Operators' requests
 * (/v1/admin/) and anonymous endpoints (/healthz, /readyz) are never counted.
 *
 * Cost: counting each request with its own UPSERT would put a database round trip, and a lock on
 * the organization's counter row, in front of every request. Instead a replica claims a share of
 * the organization's window at a time and admits requests from it locally: a share is at most a
 * sixteenth of what is left of the window (at most 64), so far from the limit one round trip
 * serves dozens of requests, and close to it shares shrink to one request, counted one by one.
 * The database grants shares from one row, never more in total than the limit, so the replicas
 * together never admit more than the limit in a window. What a replica claimed but did not use
 * by the end of the window is lost: the fleet may admit a little less than the limit, never more.
 * Once the database grants nothing, the replica refuses the organization locally until the window
 * ends, without further round trips.
 *
 * Every counted response carries the IETF draft headers (RateLimit-Limit, RateLimit-Remaining,
 * RateLimit-Reset, RateLimit-Policy); Remaining is what is left unclaimed in the window plus this
 * replica's unused share. A refused request is 429 code 4291 with Retry-After. When the database
 * cannot be asked for a share, the request is answered the usual 503 (the request itself would
 * need the database anyway), never 500 and never let through uncounted.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { type WindowCounter, wholeSeconds } from './window-counter.js';

const MAX_SHARE = 64;
const SHARE_DIVISOR = 16;

interface Share {
  /** Local clock (ms) at which the database's window ends. */
  windowEndsAt: number;
  /** Requests this replica may still admit in the window. */
  tokens: number;
  /** The window's count as of the last claim, shares of every replica included. */
  claimed: number;
  /** A claim in flight, which concurrent requests wait for instead of claiming too. */
  pending: Promise<void> | undefined;
}

export interface Admission {
  admitted: boolean;
  remaining: number;
  resetMs: number;
}

export interface OrganizationLimiter {
  readonly limit: number;
  readonly windowSeconds: number;
  admit(orgId: string): Promise<Admission>;
}

export function createOrganizationLimiter(
  counter: WindowCounter,
  limit: number,
  now: () => number = Date.now,
): OrganizationLimiter {
  const shares = new Map<string, Share>();
  let sweptAt = 0;

  /** Shares of ended windows are dropped, at most once per window, so the map stays small. */
  function sweep(at: number): void {
    if (at - sweptAt < counter.windowSeconds * 1000) return;
    sweptAt = at;
    for (const [org, share] of shares) {
      if (share.windowEndsAt <= at && share.pending === undefined) shares.delete(org);
    }
  }

  async function claim(orgId: string, share: Share): Promise<void> {
    const left = share.windowEndsAt > now() ? Math.max(0, limit - share.claimed) : limit;
    const amount = Math.max(1, Math.min(MAX_SHARE, Math.floor(left / SHARE_DIVISOR)));
    const { hits, resetMs } = await counter.add(`org:${orgId}`, amount);
    // The row counts every amount asked for; what was granted is what was left under the limit.
    const granted = Math.max(0, Math.min(amount, limit - (hits - amount)));
    // Claims are made only when the share is empty, and one at a time per organization.
    share.windowEndsAt = now() + resetMs;
    share.tokens = granted;
    share.claimed = Math.min(hits, limit);
  }

  return {
    limit,
    windowSeconds: counter.windowSeconds,
    async admit(orgId) {
      const at = now();
      sweep(at);
      let share = shares.get(orgId);
      if (share === undefined) {
        share = { windowEndsAt: 0, tokens: 0, claimed: 0, pending: undefined };
        shares.set(orgId, share);
      }
      for (;;) {
        if (share.windowEndsAt <= now()) {
          share.tokens = 0;
          share.claimed = 0;
        }
        const resetMs = Math.max(0, share.windowEndsAt - now());
        if (share.tokens > 0) {
          share.tokens -= 1;
          return { admitted: true, remaining: limit - share.claimed + share.tokens, resetMs };
        }
        if (share.windowEndsAt > now() && share.claimed >= limit && share.pending === undefined) {
          return { admitted: false, remaining: 0, resetMs };
        }
        if (share.pending === undefined) {
          const current = share;
          current.pending = claim(orgId, current).finally(() => {
            current.pending = undefined;
          });
        }
        await share.pending;
      }
    },
  };
}

export function organizationRateLimitHook(limiter: OrganizationLimiter) {
  const policy = `${limiter.limit};w=${limiter.windowSeconds}`;
  return async function limitOrganization(request: FastifyRequest, reply: FastifyReply) {
    // The tenant hook ran first and answered 401 when it set no caller.
    if (reply.sent || request.caller === null) return;
    const { admitted, remaining, resetMs } = await limiter.admit(request.caller.orgId);
    const reset = wholeSeconds(resetMs);
    reply.headers({
      'RateLimit-Limit': String(limiter.limit),
      'RateLimit-Remaining': String(remaining),
      'RateLimit-Reset': String(reset),
      'RateLimit-Policy': policy,
    });
    if (!admitted) {
      throw new ApiError(
        'RATE_LIMITED',
        `the organization made more than ${limiter.limit} requests in ${limiter.windowSeconds} seconds; retry in ${reset} s`,
        { 'Retry-After': String(reset) },
      );
    }
  };
}
