/**
 * Failed authentications per client address (EIPD_AUTH_FAILURE_LIMIT_PER_MINUTE). Each failure
 * (a token that is malformed, badly signed, expired, or without an organization; not a missing
 * header, which costs nothing to check) is counted in the database, so the count is shared by
 * every replica. Once an address reaches the limit, the replica that counted it refuses every
 * request from that address with 429 code 4292 until the window ends, before verifying any
 * token; other replicas learn it at their own next failure from that address. An address thus
 * gets the limit of failed verifications per window across the fleet, plus at most one per
 * other replica.
 *
 * What is kept is bounded: a database row per failing address lives at most two windows (see
 * window-counter.ts) and costs the attacker one failed request each; the in-process list of
 * blocked addresses is capped. IPv6 clients are counted per /64, the block a single host usually
 * gets, so that rotating through its own addresses gains an attacker nothing.
 *
 * Counting a failure must never turn the 401 into something else: when the database cannot
 * count, the failure goes uncounted.
 */
import { formatAddress, parseAddress } from '../ipam/address.js';
import { type WindowCounter, wholeSeconds } from './window-counter.js';

/** More blocked addresses than this at once and the oldest entries are forgotten. */
const MAX_BLOCKED_ADDRESSES = 100_000;

export interface AuthFailureLimiter {
  readonly limit: number;
  /** Seconds until the address may try again, or undefined when it is not blocked. */
  retryAfter(address: string): number | undefined;
  /** Counts one failed authentication from the address. */
  recordFailure(address: string): Promise<void>;
}

/** The counted unit of a client address: itself for IPv4, its /64 for IPv6. */
export function clientKey(address: string): string {
  try {
    const a = parseAddress(address);
    if (a.family === 4) return formatAddress(a);
    return `${(a.value >> 64n).toString(16)}::/64`;
  } catch {
    // Not an address we parse (a zone id, a unix socket): counted as it is.
    return address;
  }
}

export function createAuthFailureLimiter(
  counter: WindowCounter,
  limit: number,
  now: () => number = Date.now,
): AuthFailureLimiter {
  const blockedUntil = new Map<string, number>();

  function block(key: string, untilMs: number): void {
    blockedUntil.delete(key);
    if (blockedUntil.size >= MAX_BLOCKED_ADDRESSES) {
      // Map iteration is insertion order: the first entry is the oldest block.
      const oldest = blockedUntil.keys().next().value;
      if (oldest !== undefined) blockedUntil.delete(oldest);
    }
    blockedUntil.set(key, untilMs);
  }

  return {
    limit,
    retryAfter(address) {
      // Asked on every request: nothing to parse while no address is blocked.
      if (blockedUntil.size === 0) return undefined;
      const key = clientKey(address);
      const until = blockedUntil.get(key);
      if (until === undefined) return undefined;
      const left = until - now();
      if (left <= 0) {
        blockedUntil.delete(key);
        return undefined;
      }
      return wholeSeconds(left);
    },
    async recordFailure(address) {
      const key = clientKey(address);
      try {
        const { hits, resetMs } = await counter.add(`auth:${key}`);
        if (hits >= limit) block(key, now() + resetMs);
      } catch {
        // The database is down or slow: the 401 stands, the failure goes uncounted.
      }
    },
  };
}
