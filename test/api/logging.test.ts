/**
 * The log output itself, captured with eipd's own logger options: one JSON object per line, every
 * request's lines carrying the X-Request-Id it was answered with, and no credential anywhere (the
 * Authorization header, cookies, a token pasted in a path or a query parameter), also when a
 * request fails with a 500.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { mintToken } from '../../src/auth/tokens.js';
import { loggableUrl, loggerOptions, REDACTED } from '../../src/observability/logging.js';
import {
  allocateBody,
  BASIC_CATALOG,
  buildTestApp,
  fakeDatabase,
  startTestApp,
  TEST_SECRET,
  type TestApp,
} from '../support/app.js';

type LogLine = Record<string, unknown>;

function capture(): {
  lines: string[];
  parsed(): LogLine[];
  stream: { write(line: string): void };
} {
  const lines: string[] = [];
  return {
    lines,
    parsed: () => lines.map((l) => JSON.parse(l) as LogLine),
    stream: { write: (line: string) => void lines.push(line.trimEnd()) },
  };
}

function assertAbsent(lines: readonly string[], secrets: readonly string[]): void {
  for (const secret of secrets) {
    const leaks = lines.filter((l) => l.includes(secret));
    assert.deepEqual(leaks, [], `a secret reached the logs: ${secret.slice(0, 12)}...`);
  }
}

describe('logs', () => {
  const log = capture();
  let t: TestApp;
  before(async () => {
    t = await startTestApp({
      backend: 'pglite',
      catalog: BASIC_CATALOG,
      logger: loggerOptions('info', log.stream),
    });
  });
  after(() => t.close());

  test('JSON lines with the request id; no token, cookie or credential in any line', async () => {
    const token = await t.token();
    const [, , signature] = token.split('.');
    const cookie = `session=${randomUUID()}`;
    const apiKey = randomUUID();
    const auth = { authorization: `Bearer ${token}`, cookie };
    const responses = [
      await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { ...auth, 'x-request-id': 'caller-chosen.id-1' },
        payload: allocateBody(),
      }),
      // A forged token: refused, and not logged either.
      await t.app.inject({
        method: 'GET',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` },
      }),
      // Tokens where they do not belong: in the path (an id that cannot be a uuid) and in query
      // parameters.
      await t.app.inject({ method: 'GET', url: `/v1/elastic-ips/${token}`, headers: auth }),
      await t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips?access_token=${token}&api_key=${apiKey}&limit=1`,
        headers: auth,
      }),
      await t.app.inject({ method: 'GET', url: '/no/such/route', headers: auth }),
    ];
    assert.deepEqual(
      responses.map((r) => r.statusCode),
      [200, 401, 404, 400, 404],
    );
    assert.equal(responses[0]?.headers['x-request-id'], 'caller-chosen.id-1');

    const lines = log.parsed();
    const methods = ['POST', 'GET', 'GET', 'GET', 'GET'];
    for (const [index, response] of responses.entries()) {
      const id = String(response.headers['x-request-id']);
      const own = lines.filter((l) => l.reqId === id);
      assert.deepEqual(
        own.map((l) => l.msg),
        ['request completed'],
        `lines of ${id}: ${log.lines.join('\n')}`,
      );
      const completed = own[0] as
        | { res?: { statusCode?: number }; req?: { method?: string } }
        | undefined;
      assert.equal(completed?.res?.statusCode, response.statusCode);
      // The one line also says which request it was, router refusals included.
      assert.equal(completed?.req?.method, methods[index], `lines of ${id}`);
    }
    assertAbsent(log.lines, [token, signature ?? token, cookie, apiKey]);
    const urls = lines.map((l) => (l.req as { url?: string } | undefined)?.url).filter(Boolean);
    assert.ok(urls.includes(`/v1/elastic-ips/${REDACTED}`), urls.join(' '));
    assert.ok(
      urls.includes(`/v1/elastic-ips?access_token=${REDACTED}&api_key=${REDACTED}&limit=1`),
      urls.join(' '),
    );
  });

  test('an incoming X-Request-Id that is not a sane token is replaced by a fresh one', async () => {
    for (const given of ['x'.repeat(129), 'has space', 'new\u2028line', '']) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { 'x-request-id': given },
      });
      const id = String(res.headers['x-request-id']);
      assert.notEqual(id, given);
      assert.match(id, /^[0-9a-f-]{36}$/);
    }
  });
});

describe('logs of a 500', () => {
  test('the error is logged with the request id of the answer, and no token', async () => {
    const log = capture();
    const fail = async (): Promise<never> => {
      throw new Error('relation "elastic_ips" does not exist');
    };
    const app = await buildTestApp(fakeDatabase(fail), {
      metrics: false,
      logger: loggerOptions('info', log.stream),
    });
    try {
      const token = await mintToken({
        secret: TEST_SECRET,
        orgId: randomUUID(),
        subject: 'logs',
        ttlSeconds: 600,
      });
      const res = await app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-500' },
        payload: allocateBody(),
      });
      assert.equal(res.statusCode, 500);
      assert.equal(res.headers['x-request-id'], 'req-500');
      assert.deepEqual(res.json(), {
        code: 5001,
        reason: 'internal error; quote request id req-500 when reporting it',
      });
      const errors = log.parsed().filter((l) => l.level === 50);
      assert.equal(errors.length, 1, log.lines.join('\n'));
      assert.equal(errors[0]?.reqId, 'req-500');
      assert.equal(errors[0]?.msg, 'unexpected error');
      // The log has what the body must not: the cause, for whoever debugs it.
      assert.match(JSON.stringify(errors[0]?.err), /elastic_ips/);
      assertAbsent(log.lines, [token]);
    } finally {
      await app.close();
    }
  });
});

describe('loggableUrl', () => {
  test('masks JWTs anywhere and the values of credential-named parameters only', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    assert.equal(loggableUrl(`/a/${jwt}/b`), `/a/${REDACTED}/b`);
    assert.equal(
      loggableUrl('/v1/elastic-ips?name=web&token=abc&Password=p&limit=5&x-api-key=k'),
      `/v1/elastic-ips?name=web&token=${REDACTED}&Password=${REDACTED}&limit=5&x-api-key=${REDACTED}`,
    );
    assert.equal(loggableUrl('/v1/elastic-ips?idc=a&flag'), '/v1/elastic-ips?idc=a&flag');
    assert.equal(loggableUrl('/plain'), '/plain');
  });
});
