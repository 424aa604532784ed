import { MAX_TRANSACTION_ATTEMPTS } from './database.js';
import { isRetryableConflict, TransactionContentionError } from './errors.js';

/**
 * Runs one transaction attempt at a time and starts over on 40001/40P01. The jittered pause lets
 * the winner of the race commit before the loser tries again, instead of colliding in lock step.
 */
export async function withConflictRetry<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isRetryableConflict(error)) throw error;
      if (n >= MAX_TRANSACTION_ATTEMPTS) throw new TransactionContentionError(error);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.random() * Math.min(100, 5 * 2 ** n)),
      );
    }
  }
}
