/**
 * Which database failures mean "unavailable" (503) and which are bugs (500), and the bounded
 * conflict retry.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_TRANSACTION_ATTEMPTS } from '../../src/db/database.js';
import {
  isRetryableConflict,
  isUnavailable,
  TransactionContentionError,
} from '../../src/db/errors.js';
import { withConflictRetry } from '../../src/db/retry.js';
import { ClaimContention } from '../../src/ipam/allocator.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('database error classes', () => {
  test('connection failures, shutdowns and timeouts are unavailable', () => {
    for (const error of [
      withCode('ECONNREFUSED'),
      withCode('ECONNRESET'),
      withCode('08006'),
      withCode('57P01'),
      withCode('57P03'),
      withCode('53300'),
      withCode('57014'),
      new Error('Connection terminated unexpectedly'),
      new Error('Query read timeout'),
      new Error('timeout exceeded when trying to connect'),
    ]) {
      assert.equal(isUnavailable(error), true, error.message);
    }
  });

  test('query errors are not unavailable', () => {
    for (const error of [
      withCode('23505'),
      withCode('42P01'),
      withCode('22P02'),
      new Error('boom'),
    ]) {
      assert.equal(isUnavailable(error), false, error.message);
    }
  });

  test('serialization failures, deadlocks and allocator contention are retried, boundedly', async () => {
    assert.equal(isRetryableConflict(withCode('40001')), true);
    assert.equal(isRetryableConflict(withCode('40P01')), true);
    assert.equal(isRetryableConflict(new ClaimContention()), true);
    let calls = 0;
    const value = await withConflictRetry(async () => {
      calls++;
      if (calls < 3) throw withCode('40P01');
      return 'done';
    });
    assert.deepEqual([value, calls], ['done', 3]);
    calls = 0;
    await assert.rejects(
      withConflictRetry(async () => {
        calls++;
        throw new ClaimContention();
      }),
      TransactionContentionError,
    );
    assert.equal(calls, MAX_TRANSACTION_ATTEMPTS);
  });
});
