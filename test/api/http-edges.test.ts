/**
 * Requests that never reach a route still get an answer in the error shape: unreadable HTTP,
 * oversized headers, and ids the router refuses.
 */
import assert from 'node:assert/strict';
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
});
