/**
 * EIPD_REQUEST_TIMEOUT_MS: a client that sends its headers and then trickles (or stops sending)
 * its body does not hold the connection: it gets 408 code 4081 in the error shape and the
 * connection is closed. No timing bound is asserted, only that the answer comes and what it is.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';

let t: TestApp;
let port: number;
before(async () => {
  t = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG, requestTimeoutMs: 1000 });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  assert.ok(address !== null && typeof address === 'object');
  port = address.port;
});
after(() => t.close());

test('a body that stops arriving gets 408 code 4081 and the connection is closed', async () => {
  const token = await t.token();
  const response = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        'POST /v1/elastic-ips HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Authorization: Bearer ${token}\r\nContent-Length: 100\r\n\r\n{"idc":`,
      ),
    );
    let out = '';
    socket.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
  assert.match(response, /^HTTP\/1\.1 408 /);
  assert.match(response, /\r\nConnection: close\r\n/i);
  assert.ok(
    response.endsWith('{"code":4081,"reason":"The request did not arrive in time."}'),
    response,
  );
});

test('a request answered before its body arrived gets one answer, not a later 408 as well', async () => {
  // No token: the 401 is sent before the body is read; the body then never comes.
  const response = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        'POST /v1/elastic-ips HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          'Content-Length: 100\r\n\r\n{"idc":',
      ),
    );
    let out = '';
    socket.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
  assert.match(response, /^HTTP\/1\.1 401 /);
  assert.equal(response.match(/HTTP\/1\.1 /g)?.length, 1, response);
});
