/**
 * Bounded retries with exponential backoff and jitter. Jitter matters here: when a database
 * outage ends, every client that was waiting would otherwise come back in the same instant.
 */
import { isRetryable } from './errors.js';

export interface RetryPolicy {
  /** Tries in all, the first included (1: never retry). */
  attempts: number;
  /** The first wait; it doubles after every failed try. */
  baseDelayMs: number;
  /** No wait is longer than this. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5000 };

export interface RetryEvent {
  /** The try that failed, from 1. */
  attempt: number;
  error: unknown;
  /** How long the client waits before the next try. */
  delayMs: number;
}

/** The wait after failed try `attempt`: between half and all of the doubled delay, capped. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Runs `attempt` until it succeeds, fails with an error that is not retryable (see isRetryable),
 * or has failed `policy.attempts` times; the last error is thrown. An aborted `signal` stops the
 * waiting and throws its reason.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  options: {
    signal?: AbortSignal | undefined;
    onRetry?: ((event: RetryEvent) => void) | undefined;
  },
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (n >= policy.attempts || !isRetryable(error) || options.signal?.aborted) throw error;
      const delayMs = backoffDelay(policy, n);
      options.onRetry?.({ attempt: n, error, delayMs });
      await sleep(delayMs, options.signal);
    }
  }
}

/** Waits `ms`; an aborted `signal` ends the wait early by throwing its reason. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
