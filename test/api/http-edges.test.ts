/**
 * Requests that never reach a route still get an answer in the error shape: unreadable HTTP,
 * oversized headers, and ids the router refuses.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';

function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let out = '';
    socket.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

describe('HTTP edges', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    port = address.port;
  });
  after(() => t.close());

  test('an unknown HTTP method gets 400 code 4000 in the error shape', async () => {
    const response = await raw(port, 'FOO /v1/elastic-ips HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.ok(
      response.endsWith('{"code":4000,"reason":"The request is not valid HTTP/1.1."}'),
      response,
    );
  });

  test('oversized headers get 431 code 4311', async () => {
    const response = await raw(
      port,
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 431 /);
    assert.ok(
      response.endsWith('{"code":4311,"reason":"The request headers are too large."}'),
      response,
    );
  });

  test('a malformed percent-encoded id is a 404 for a tenant and a 401 for nobody', async () => {
    const token = await t.token();
    for (const id of ['%zz', '%C0%AF', '%%%%']) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/elastic-ips/${id}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 404, id);
      assert.deepEqual(await res.json(), { code: 4044, reason: `elastic IP ${id} was not found` });
      assert.ok(res.headers.get('x-request-id'));
      const anonymous = await fetch(`http://127.0.0.1:${port}/v1/elastic-ips/${id}`);
      assert.equal(anonymous.status, 401, id);
    }
  });

  test('a malformed admin URL: the operator gets a 404, a tenant 403, nobody 401', async () => {
    const url = `http://127.0.0.1:${port}/v1/admin/organizations/x/quotas/%FF`;
    const operator = await fetch(url, {
      headers: { authorization: `Bearer ${await t.operatorToken()}` },
    });
    assert.equal(operator.status, 404);
    assert.deepEqual(await operator.json(), {
      code: 4040,
      reason: 'no route for /v1/admin/organizations/x/quotas/%FF',
    });
    const tenant = await fetch(url, { headers: { authorization: `Bearer ${await t.token()}` } });
    assert.equal(tenant.status, 403);
    assert.equal((await fetch(url)).status, 401);
  });

  test('a bodyless operation takes an empty body of any content type', async () => {
    const token = await t.token();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const created = await fetch(`http://127.0.0.1:${port}/v1/elastic-ips`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ idc: 'test-east1', product: 'eip.ipv4.test', name: 'b', count: 1 }),
    });
    const [eip] = (await created.json()) as { id: string }[];
    assert.ok(eip);
    for (const [type, body] of [
      ['application/json', undefined],
      ['application/json', ''],
      ['application/x-www-form-urlencoded', ''],
      // Found by the fuzzer: a type Fastify cannot parse, or a charset the JSON reader refuses,
      // was a 400 although there is no body to read.
      ['', ''],
      ['json', ''],
      ['application/json; charset=latin1', ''],
    ] as const) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/elastic-ips/${eip.id}/disassociate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': type },
        ...(body === undefined ? {} : { body }),
      });
      assert.equal(res.status, 200, `${type} ${JSON.stringify(body)}: ${await res.text()}`);
    }
    const compressedNothing = await fetch(
      `http://127.0.0.1:${port}/v1/elastic-ips/${eip.id}/disassociate`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        },
        body: '',
      },
    );
    assert.equal(compressedNothing.status, 200, await compressedNothing.text());
    const nonEmpty = await fetch(`http://127.0.0.1:${port}/v1/elastic-ips/${eip.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      body: 'force',
    });
    assert.equal(nonEmpty.status, 400);
    assert.deepEqual(await nonEmpty.json(), {
      group: 'request',
      code: 1,
      message: 'The request body must be sent as Content-Type: application/json.',
    });
    // A body-taking operation still says what is missing.
    const missing = await fetch(`http://127.0.0.1:${port}/v1/elastic-ips`, {
      method: 'POST',
      headers,
      body: '',
    });
    assert.equal(missing.status, 400);
    assert.equal(
      ((await missing.json()) as { message: string }).message,
      'The request body is missing.',
    );
  });

  test('operations that declare 400 refuse unknown query parameters; allocate does not run', async () => {
    const token = await t.token();
    const res = await fetch(`http://127.0.0.1:${port}/v1/elastic-ips?dryRun=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ idc: 'test-east1', product: 'eip.ipv4.test', name: 'q', count: 1 }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { message: string; validationDetail: unknown[] };
    assert.equal(body.message, 'The query parameters are invalid; see validationDetail.');
    assert.deepEqual(body.validationDetail, [
      {
        field: 'dryRun',
        expression: 'additionalProperties',
        argument: 'false',
        originalValue: '"true"',
        reason: 'This field is not allowed.',
      },
    ]);
    const list = await fetch(`http://127.0.0.1:${port}/v1/elastic-ips`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.deepEqual(await list.json(), []);
    // The operations that declare no 400 ignore them rather than answer an undeclared status.
    const ready = await fetch(`http://127.0.0.1:${port}/readyz?verbose=1`);
    assert.equal(ready.status, 200);
    const missing = randomUUID();
    const get = await fetch(`http://127.0.0.1:${port}/v1/elastic-ips/${missing}?verbose=1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.deepEqual(
      [get.status, await get.json()],
      [404, { code: 4044, reason: `elastic IP ${missing} was not found` }],
    );
  });

  /** A tenant's listElasticIPs with `query`, injected. */
  const list = async (query: string) =>
    t.app.inject({
      method: 'GET',
      url: `/v1/elastic-ips?${query}`,
      headers: { authorization: `Bearer ${await t.token()}` },
    });

  test("unknown query parameters named like Object.prototype's members are reported as sent", async () => {
    const res = await list(
      'constructor=x&hasOwnProperty=1&__proto__=a&__proto__=b&toString=y&valueOf',
    );
    assert.equal(res.statusCode, 400, res.body);
    const unknown = (field: string, originalValue: string) => ({
      field,
      expression: 'additionalProperties',
      argument: 'false',
      originalValue,
      reason: 'This field is not allowed.',
    });
    assert.deepEqual(res.json(), {
      group: 'request',
      code: 0,
      message: 'The query parameters are invalid; see validationDetail.',
      validationDetail: [
        unknown('constructor', '"x"'),
        unknown('hasOwnProperty', '"1"'),
        unknown('__proto__', '["a","b"]'),
        unknown('toString', '"y"'),
        unknown('valueOf', '""'),
      ],
    });
  });

  test('a query of 1,400 unknown parameters gets a small 400: the first 64 entries, the count in the message', async () => {
    const unknown = (n: number) => Array.from({ length: n }, (_, i) => `u${i}=1`);
    // A documented parameter's violation sent last is still listed: entries follow the schema.
    const res = await list([...unknown(1400), 'limit=0'].join('&'));
    assert.equal(res.statusCode, 400);
    assert.ok(res.body.length < 16 * 1024, `${res.body.length} bytes`);
    const body = res.json() as { validationDetail: { field: string }[] };
    assert.deepEqual(Object.keys(body), ['group', 'code', 'message', 'validationDetail']);
    assert.deepEqual(
      { ...body, validationDetail: body.validationDetail.slice(0, 2) },
      {
        group: 'request',
        code: 0,
        message:
          'The query parameters are invalid; see validationDetail (the first 64 of 1401 violations).',
        validationDetail: [
          {
            field: 'limit',
            expression: 'minimum',
            argument: '1',
            originalValue: '"0"',
            reason: 'This field is below the minimum.',
          },
          {
            field: 'u0',
            expression: 'additionalProperties',
            argument: 'false',
            originalValue: '"1"',
            reason: 'This field is not allowed.',
          },
        ],
      },
    );
    assert.deepEqual(
      body.validationDetail.map((d) => d.field),
      ['limit', ...unknown(63).map((p) => p.slice(0, -2))],
    );
    // 64 are all listed, with the usual message.
    const atLimit = await list(unknown(64).join('&'));
    assert.equal(atLimit.statusCode, 400);
    assert.equal(atLimit.json().message, 'The query parameters are invalid; see validationDetail.');
    assert.equal(atLimit.json().validationDetail.length, 64);
  });
});
