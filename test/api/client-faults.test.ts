/**
 * Faults that are the client's, seen over a real socket: they get a 4xx in the error shape and
 * never an `error` log line (which operators alert on), whatever the client does to the request.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loggerOptions } from '../../src/observability/logging.js';
import { BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';

/** Sends `head` and `body` as written (no path normalization), answers the raw response text. */
function raw(port: number, head: string, body = '', closeEarly = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`${head}\r\n\r\n${body}`);
      if (closeEarly) setTimeout(() => socket.destroy(), 100);
    });
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('client faults over a socket', () => {
  const lines: string[] = [];
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await startTestApp({
      backend: 'pglite',
      catalog: BASIC_CATALOG,
      logger: loggerOptions('info', { write: (line: string) => void lines.push(line) }),
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(() => t.close());

  const errorLines = () => lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);

  test('paths that try to leave /docs/static are 404 like any unknown route', async () => {
    for (const path of [
      '/docs/static/../../package.json',
      '/docs/static/%2e%2e/%2e%2e/package.json',
      '/docs/static/%00',
      '/docs/static/..%2f..%2fpackage.json',
    ]) {
      const answer = await raw(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close`);
      const [status] = answer.split('\r\n');
      assert.ok(status === 'HTTP/1.1 404 Not Found', `${path}: ${answer.slice(0, 300)}`);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code: number };
      assert.equal(body.code, 4040, path);
      assert.doesNotMatch(answer, /"name"\s*:\s*"eipd"/, `${path} served package.json`);
    }
    assert.deepEqual(errorLines(), []);
  });

  test('a malformed percent-encoding outside /v1/ is 404 without asking for a token', async () => {
    for (const path of ['/healthz%', '/openapi.json%', '/docs/static/a%']) {
      const answer = await raw(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close`);
      assert.match(answer, /^HTTP\/1\.1 404 /, `${path}: ${answer.slice(0, 200)}`);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code: number };
      assert.equal(body.code, 4040, path);
    }
    // Under /v1/ the token is still checked first, as on the route the URL was meant for.
    const tenant = await raw(
      port,
      'GET /v1/elastic-ips/%zz HTTP/1.1\r\nHost: x\r\nConnection: close',
    );
    assert.match(tenant, /^HTTP\/1\.1 401 /);
  });

  test('two Authorization headers are refused, whichever of them is valid', async () => {
    const token = await t.token();
    const other = await t.token();
    const answer = await raw(
      port,
      [
        'GET /v1/elastic-ips HTTP/1.1',
        'Host: x',
        `Authorization: Bearer ${token}`,
        `Authorization: Bearer ${other}`,
        'Connection: close',
      ].join('\r\n'),
    );
    assert.match(answer, /^HTTP\/1\.1 401 /, answer.slice(0, 200));
    assert.deepEqual(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), {
      group: 'auth_verify',
      code: 0,
      message: 'Invalid access token.',
    });
    const one = await raw(
      port,
      [
        'GET /v1/elastic-ips HTTP/1.1',
        'Host: x',
        `Authorization: Bearer ${token}`,
        'Connection: close',
      ].join('\r\n'),
    );
    assert.match(one, /^HTTP\/1\.1 200 /);
  });

  test('an HTTP/1.1 request without Host is a 400 in the error shape, with a request id', async () => {
    const answer = await raw(port, 'GET /healthz HTTP/1.1\r\nConnection: close');
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(answer, /\r\nx-request-id: [0-9a-f-]{36}\r\n/i);
    assert.deepEqual(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), {
      code: 4000,
      reason: 'An HTTP/1.1 request needs a Host header.',
    });
  });

  test('a client that hangs up in the middle of its body is not an unexpected error', async () => {
    const token = await t.token();
    const before = lines.length;
    await raw(
      port,
      [
        'POST /v1/elastic-ips HTTP/1.1',
        'Host: x',
        `Authorization: Bearer ${token}`,
        'Content-Type: application/json',
        'Content-Length: 100',
      ].join('\r\n'),
      '{',
      true,
    );
    // The log line of the abandoned request is written once eipd notices the close.
    for (let i = 0; i < 50 && lines.length === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(lines.length > before, 'the request was logged');
    assert.deepEqual(errorLines(), []);
    const rows = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM elastic_ips');
    assert.equal(rows[0]?.n, 0);
  });
});

describe('long path parameters', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG });
  });
  after(() => t.close());

  test('a pool name or an IDC over its maxLength is a 400 naming the field, not "no route"', async () => {
    const operator = await t.operatorToken();
    const cases = [
      { method: 'PATCH' as const, url: `/v1/admin/pools/${'p'.repeat(101)}`, field: 'pool' },
      {
        method: 'PUT' as const,
        url: `/v1/admin/organizations/${randomUUID()}/quotas/${'i'.repeat(150)}`,
        field: 'idc',
      },
    ];
    for (const c of cases) {
      const res = await t.app.inject({
        method: c.method,
        url: c.url,
        headers: { authorization: `Bearer ${operator}` },
        payload: c.method === 'PATCH' ? { enabled: false } : { limit: 1 },
      });
      assert.equal(res.statusCode, 400, `${c.url}: ${res.body}`);
      const body = res.json() as { validationDetail: { field: string; expression: string }[] };
      assert.deepEqual(
        body.validationDetail.map((d) => [d.field, d.expression]),
        [[c.field, 'maxLength']],
      );
    }
  });
});
