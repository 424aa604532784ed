/**
 * A short memory of bearer tokens that passed verification, so that a client sending the same
 * token with every request pays for the signature check (about a tenth of eipd's CPU per simple
 * request, see BENCHMARKS.md) once a minute rather than every time.
 *
 * Why this is as strict as verifying every time:
 * - The key is the whole compact token, signature included: a hit means these exact bytes were
 *   verified before, and the answer is a pure function of the bytes, the configured keys and the
 *   clock.
 * - The clock: `exp` is checked again on every hit, exactly as jose checks it (`exp <= now -
 *   tolerance`, whole seconds); an expired token is forgotten and goes through full verification,
 *   which answers "expired". `nbf` can only have been met before, and stays met.
 * - The keys: a shared secret and PEM keys are fixed for the life of the process. A remote JWKS
 *   can drop a key, but jose itself keeps using its copy of the JWKS for up to 10 minutes; an
 *   entry here lives at most MAX_AGE_MS more, so a token verified just before that copy went
 *   stale is answered for up to a minute after it (test/api/token-attacks.test.ts pins this).
 * - Only successes are kept, so tokens that fail cost no memory, and the memory is bounded: at
 *   most MAX_ENTRIES tokens of at most MAX_TOKEN_LENGTH characters, the oldest forgotten first.
 */
import type { Principal } from './tokens.js';

const MAX_ENTRIES = 4096;
/** Longer tokens are verified every time rather than kept (4096 of these is 16 MiB at most). */
const MAX_TOKEN_LENGTH = 4096;
const MAX_AGE_MS = 60_000;

interface Entry {
  principal: Principal;
  /** The token's `exp`, in seconds since the epoch. */
  exp: number;
  /** Date.now() after which the entry is not used any more. */
  until: number;
}

export interface VerifiedTokens {
  /** The principal of a token verified less than a minute ago and not expired since. */
  get(token: string): Principal | undefined;
  remember(token: string, principal: Principal, exp: unknown): void;
}

export function createVerifiedTokens(clockToleranceSeconds: number): VerifiedTokens {
  const entries = new Map<string, Entry>();
  return {
    get(token) {
      const entry = entries.get(token);
      if (entry === undefined) return undefined;
      const now = Date.now();
      if (now > entry.until || entry.exp <= Math.floor(now / 1000) - clockToleranceSeconds) {
        entries.delete(token);
        return undefined;
      }
      return entry.principal;
    },
    remember(token, principal, exp) {
      if (typeof exp !== 'number' || token.length > MAX_TOKEN_LENGTH) return;
      if (entries.size >= MAX_ENTRIES) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(token, { principal, exp, until: Date.now() + MAX_AGE_MS });
    },
  };
}
