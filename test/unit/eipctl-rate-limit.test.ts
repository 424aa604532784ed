/**
 * eipctl's waiting out of 429s (src/cli/eipctl/rate-limit.ts), on a fake clock.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { Progress } from '../../src/cli/eipctl/progress.js';
import {
  MAX_RATE_LIMIT_WAITS,
  RateLimitWaiter,
  retryAfterOf429,
} from '../../src/cli/eipctl/rate-limit.js';
import { EipdApiError } from '../../src/sdk/index.js';

const limited = (retryAfter: number | undefined) =>
  new EipdApiError(429, { code: 4291, reason: 'rate limited' }, 'req-1', retryAfter);

function setup(quiet = false, advanceClock = true) {
  const err = new PassThrough();
  let text = '';
  err.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  let clock = 1_000_000;
  const waits: number[] = [];
  const waiter = new RateLimitWaiter({
    err,
    quiet,
    progress: new Progress(err, false),
    now: () => clock,
    sleep: async (ms) => {
      waits.push(ms);
      if (advanceClock) clock += ms;
    },
  });
  return { waiter, waits, stderr: () => text };
}

/** A request that is refused with each of `failures` in turn, then answers `value`. */
function flaky<T>(failures: unknown[], value: T) {
  let calls = 0;
  const send = async () => {
    const failure = failures[calls++];
    if (failure !== undefined) throw failure;
    return value;
  };
  return { send, calls: () => calls };
}

describe('eipctl waits out rate limits', () => {
  test('a 429 with Retry-After is waited out and sent again, with a note on stderr', async () => {
    const { waiter, waits, stderr } = setup();
    const request = flaky([limited(7), limited(3)], 'page');
    assert.equal(await waiter.run('listElasticIPs', request.send), 'page');
    assert.equal(request.calls(), 3);
    assert.deepEqual(waits, [7000, 3000]);
    assert.equal(
      stderr(),
      'listElasticIPs: rate limited (429); waiting 7 s (Retry-After), then continuing\n' +
        'listElasticIPs: rate limited (429); waiting 3 s (Retry-After), then continuing\n',
    );
  });

  test('-q: the same waits, no note', async () => {
    const { waiter, waits, stderr } = setup(true);
    assert.equal(await waiter.run('getElasticIP', flaky([limited(2)], 1).send), 1);
    assert.deepEqual(waits, [2000]);
    assert.equal(stderr(), '');
  });

  test('other failures, a 429 without Retry-After or with a long one, and endless 429s are thrown', async () => {
    const { waiter } = setup();
    const unavailable = new EipdApiError(503, { reason: 'db down' }, undefined, 1);
    await assert.rejects(waiter.run('x', flaky([unavailable], 1).send), (e) => e === unavailable);
    const bare = limited(undefined);
    await assert.rejects(waiter.run('x', flaky([bare], 1).send), (e) => e === bare);
    assert.equal(retryAfterOf429(limited(3600)), undefined);
    const endless = Array.from({ length: MAX_RATE_LIMIT_WAITS + 1 }, () => limited(1));
    const request = flaky(endless, 1);
    await assert.rejects(waiter.run('x', request.send), (e) => e === endless.at(-1));
    assert.equal(request.calls(), MAX_RATE_LIMIT_WAITS + 1);
  });

  test('concurrent requests refused in one window share the wait and one note', async () => {
    // The clock stands still: the three are refused at the same instant.
    const { waiter, stderr } = setup(false, false);
    const results = await Promise.all(
      [1, 2, 3].map((n) => waiter.run('getElasticIP', flaky([limited(5)], n).send)),
    );
    assert.deepEqual(results, [1, 2, 3]);
    assert.equal(stderr().split('\n').filter(Boolean).length, 1, stderr());
  });
});
