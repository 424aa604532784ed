/**
 * Waiting out rate limits in eipctl's multi-request work (list and event pages, bulk allocation
 * and reading it back). eipd counts every tenant request against EIPD_RATE_LIMIT_PER_MINUTE and
 * answers 429 with Retry-After once the minute's share is used up; failing then would throw away
 * the pages already read (or leave a bulk allocation unshown), so these requests wait the
 * Retry-After and send again, with a note on stderr (none with -q).
 *
 * This is eipctl's policy, not the SDK's: the SDK retries only network failures and the
 * database-unavailable 503, and leaves a 429 to its caller. A 429 refused the request before it
 * did anything (eipd limits before reading the body), so sending it again is safe; allocations
 * carry their Idempotency-Key anyway. Single-request commands (get, rename, ...) still fail with
 * exit 6 and the Retry-After in the message.
 */
import type { Writable } from 'node:stream';
import { EipdApiError } from '../../sdk/index.js';
import { sleep } from '../../sdk/retry.js';
import type { Progress } from './progress.js';

/** Waits for one request before giving up and failing with the 429. */
export const MAX_RATE_LIMIT_WAITS = 10;
/** A longer Retry-After than this is not waited out (eipd's windows are a minute). */
export const MAX_RETRY_AFTER_SECONDS = 300;

export interface RateLimitWaiterOptions {
  err: Writable;
  quiet: boolean;
  progress: Progress;
  /** For tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

/**
 * One per command, shared by its concurrent requests: while one of them waits for the window to
 * reset, the others wait for the same moment instead of being refused too, and the note is shown
 * once per wait.
 */
export class RateLimitWaiter {
  #resumeAt = 0;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #now: () => number;

  constructor(private readonly options: RateLimitWaiterOptions) {
    this.#sleep = options.sleep ?? sleep;
    this.#now = options.now ?? Date.now;
  }

  /** Sends `send()`, again after each 429 with a usable Retry-After; other failures are thrown. */
  async run<T>(operation: string, send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let waits = 0; ; waits++) {
      const ahead = this.#resumeAt - this.#now();
      if (ahead > 0) await this.#sleep(ahead, signal);
      try {
        return await send();
      } catch (error) {
        const seconds = retryAfterOf429(error);
        if (seconds === undefined || waits >= MAX_RATE_LIMIT_WAITS) throw error;
        const resumeAt = this.#now() + seconds * 1000;
        // Concurrent requests refused in the same window share one note.
        if (resumeAt > this.#resumeAt + 1000 && !this.options.quiet) {
          this.options.progress.done();
          this.options.err.write(
            `${operation}: rate limited (429); waiting ${seconds} s (Retry-After), then continuing\n`,
          );
        }
        this.#resumeAt = Math.max(this.#resumeAt, resumeAt);
      }
    }
  }
}

/** The Retry-After of a 429 that may be waited out, else undefined. */
export function retryAfterOf429(error: unknown): number | undefined {
  if (!(error instanceof EipdApiError) || error.status !== 429) return undefined;
  const seconds = error.retryAfterSeconds;
  if (seconds === undefined || seconds > MAX_RETRY_AFTER_SECONDS) return undefined;
  return Math.max(seconds, 1);
}
