/**
 * Every 401 of the tenant endpoints, with the exact published bodies and a WWW-Authenticate
 * header, on both engines; and authentication before validation and existence checks.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { buildApp } from '../../src/app.js';
import { createTokenVerifier } from '../../src/auth/tokens.js';
import {
  allocateBody,
  BASIC_CATALOG,
  startTestApp,
  TEST_SECRET,
  type TestApp,
} from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

const INVALID = { code: 0, group: 'auth_verify', message: 'Invalid access token.' };
const EXPIRED = { code: 1, group: 'auth_verify', message: 'Expired access token.' };
const secretKey = new TextEncoder().encode(TEST_SECRET);

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

async function signed(claims: Record<string, unknown>, options: { exp?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now - 120)
    .setExpirationTime(options.exp ?? now + 600)
    .setSubject('someone')
    .sign(secretKey);
}

for (const backend of BACKENDS) {
  describe(`tenant authentication (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: BASIC_CATALOG });
    });
    after(() => t.close());

    const calls = [
      {
        name: 'allocateElasticIP',
        method: 'POST' as const,
        url: '/v1/elastic-ips',
        payload: allocateBody(),
      },
      { name: 'getElasticIP', method: 'GET' as const, url: `/v1/elastic-ips/${randomUUID()}` },
    ];

    const expect401 = async (authorization: string | undefined, body: unknown) => {
      for (const call of calls) {
        const res = await t.app.inject({
          method: call.method,
          url: call.url,
          headers: authorization === undefined ? {} : { authorization },
          ...(call.payload === undefined ? {} : { payload: call.payload }),
        });
        assert.equal(res.statusCode, 401, `${call.name}: ${res.body}`);
        assert.deepEqual(res.json(), body, call.name);
        const challenge = res.headers['www-authenticate'];
        assert.ok(typeof challenge === 'string' && challenge.startsWith('Bearer'), call.name);
      }
    };

    test('a request without a token is 401 invalid', async () => {
      await expect401(undefined, INVALID);
    });

    test('a malformed Authorization header is 401 invalid', async () => {
      for (const header of [
        'Bearer',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        'Bearer a.b',
        'Bearer not-a-jwt',
        'token',
      ]) {
        await expect401(header, INVALID);
      }
    });

    test('a token with a bad signature is 401 invalid', async () => {
      const good = await signed({ orgId: randomUUID() });
      const [h, p] = good.split('.');
      const forged = `${h}.${p}.${b64url(createHmac('sha256', 'another-secret-another-secret-xx').update(`${h}.${p}`).digest())}`;
      await expect401(`Bearer ${forged}`, INVALID);
      const tampered = `${h}.${b64url(JSON.stringify({ orgId: randomUUID(), exp: 9999999999 }))}.${good.split('.')[2]}`;
      await expect401(`Bearer ${tampered}`, INVALID);
    });

    test('an unsecured alg:none token is 401 invalid', async () => {
      const header = b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }));
      const payload = b64url(
        JSON.stringify({ orgId: randomUUID(), exp: Math.floor(Date.now() / 1000) + 600 }),
      );
      await expect401(`Bearer ${header}.${payload}.`, INVALID);
    });

    test('an expired token is 401 expired', async () => {
      const token = await signed(
        { orgId: randomUUID() },
        { exp: Math.floor(Date.now() / 1000) - 60 },
      );
      await expect401(`Bearer ${token}`, EXPIRED);
    });

    test('a token without an organization claim is 401 invalid', async () => {
      await expect401(`Bearer ${await signed({})}`, INVALID);
      await expect401(`Bearer ${await signed({ orgId: 'not-a-uuid' })}`, INVALID);
      await expect401(`Bearer ${await signed({ org: randomUUID() })}`, INVALID);
    });

    test('authentication comes before validation and existence', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        payload: { count: 'x', idc: 'nowhere' },
      });
      assert.equal(res.statusCode, 401);
      assert.deepEqual(res.json(), INVALID);
      const missingBody = await t.app.inject({ method: 'POST', url: '/v1/elastic-ips' });
      assert.equal(missingBody.statusCode, 401);
      const notUuid = await t.app.inject({ method: 'GET', url: '/v1/elastic-ips/not-a-uuid' });
      assert.equal(notUuid.statusCode, 401);
    });
  });
}

describe('algorithm confusion', () => {
  test('an HS256 token keyed with the RSA public key is refused when RS256 is configured', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const t = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG });
    try {
      const verifier = await createTokenVerifier({
        hs256Secret: TEST_SECRET,
        publicKeyPems: [pem],
        algorithms: ['RS256', 'HS256'],
        orgClaim: 'orgId',
        adminScope: 'eip:admin',
      });
      const { app } = buildApp({
        db: t.db,
        verifier,
        maxAllocateCount: 100,
        bodyLimitBytes: 1024 * 1024,
        logger: false,
      });
      const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
      const payload = b64url(
        JSON.stringify({ orgId: randomUUID(), exp: Math.floor(Date.now() / 1000) + 600 }),
      );
      const signature = b64url(createHmac('sha256', pem).update(`${header}.${payload}`).digest());
      const res = await app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/${randomUUID()}`,
        headers: { authorization: `Bearer ${header}.${payload}.${signature}` },
      });
      assert.equal(res.statusCode, 401);
      assert.deepEqual(res.json(), INVALID);
      await app.close();
    } finally {
      await t.close();
    }
  });
});
