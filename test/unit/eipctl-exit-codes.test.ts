import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXIT, exitCodeOf } from '../../src/cli/eipctl/exit-codes.js';
import { EipdApiError, EipdNetworkError } from '../../src/sdk/index.js';

const api = (status: number, body?: { code?: number; reason: string }) =>
  new EipdApiError(status, body, undefined, undefined);

test('each answer maps to the exit code the README lists', () => {
  const cases: [unknown, number][] = [
    [
      new EipdNetworkError('refused', { cause: new Error('ECONNREFUSED') }, false),
      EXIT.unavailable,
    ],
    [api(503, { reason: 'database is unavailable' }), EXIT.unavailable],
    [api(429, { code: 4291, reason: 'rate limited' }), EXIT.unavailable],
    [api(429, { code: 4292, reason: 'too many failed authentications' }), EXIT.unavailable],
    [api(503, { code: 5031, reason: 'no free address' }), EXIT.noCapacity],
    [api(503, { code: 5032, reason: 'busy' }), EXIT.noCapacity],
    [api(401, { reason: 'invalid token' }), EXIT.unauthorized],
    [api(403, { code: 4031, reason: 'needs eip:admin' }), EXIT.unauthorized],
    [api(404, { code: 4044, reason: 'not found' }), EXIT.notFound],
    [api(400, { code: 4009, reason: 'quota' }), EXIT.refused],
    [api(413, { code: 4131, reason: 'too large' }), EXIT.refused],
    [api(500, { reason: 'internal error' }), EXIT.failure],
    [new Error('local bug'), EXIT.failure],
  ];
  for (const [error, expected] of cases) {
    assert.equal(exitCodeOf(error), expected, String(error));
  }
});
