/**
 * Forged, stolen-looking and malformed tokens against a real app (inject, and a listening server
 * for what only HTTP can carry), configured as a production deployment with an identity provider
 * would be: RS256 and ES256 keys from a remote JWKS served by a local HTTP server, an HS256 secret
 * beside them (the worst case for algorithm confusion), a required issuer and audience, and the
 * default clock skew of EIPD_JWT_CLOCK_SKEW_SECONDS (30 s).
 *
 * The JWKS rotation cases move a mocked clock (Date only) through jose's cooldown (30 s), the
 * memory of verified tokens (60 s) and jose's JWKS cache (10 min), and pin the real behaviour: a
 * new kid is picked up by the first refetch after the cooldown; a removed key is refused once the
 * cached JWKS goes stale, and a token verified just before that may be answered from memory for up
 * to another minute.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import {
  type CryptoKey,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  type JWK,
  SignJWT,
} from 'jose';
import { buildApp } from '../../src/app.js';
import { type AuthSettings, createTokenVerifier } from '../../src/auth/tokens.js';
import { BASIC_CATALOG, startTestApp, TEST_SECRET, type TestApp } from '../support/app.js';

const INVALID = { code: 0, group: 'auth_verify', message: 'Invalid access token.' };
const EXPIRED = { code: 1, group: 'auth_verify', message: 'Expired access token.' };
const ISSUER = 'https://idp.example';
const AUDIENCE = 'eipd';
const SKEW = 30;

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

interface KeyPair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
}

/** A JWKS document served over HTTP that the test can change, counting the fetches. */
class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  private readonly server: Server = createServer((_req, res) => {
    this.fetches++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: this.keys }));
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks.json`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function publicJwk(pair: KeyPair, kid: string, alg: string): Promise<JWK> {
  return { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
}

/** A token as the identity provider would mint it; every default can be overridden or removed. */
async function mint(
  key: CryptoKey | Uint8Array,
  header: Record<string, unknown>,
  claims: Record<string, unknown> = {},
): Promise<string> {
  const now = nowSeconds();
  const body = {
    orgId: randomUUID(),
    sub: 'alice',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now,
    exp: now + 3600,
    ...claims,
  };
  for (const [name, value] of Object.entries(body)) {
    if (value === undefined) delete body[name as keyof typeof body];
  }
  return new SignJWT(body)
    .setProtectedHeader({ typ: 'JWT', alg: 'RS256', ...header } as { alg: string })
    .sign(key);
}

/** A JWS with any header and signature, for what jose would refuse to sign. */
function handMade(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  sign: (input: string) => string,
) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${sign(input)}`;
}

function validClaims(): Record<string, unknown> {
  const now = nowSeconds();
  return { orgId: randomUUID(), iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 3600 };
}

async function appWith(db: TestApp['db'], settings: Partial<AuthSettings>, url: string) {
  const verifier = await createTokenVerifier({
    hs256Secret: TEST_SECRET,
    publicKeyPems: [],
    algorithms: ['RS256', 'ES256', 'HS256'],
    orgClaim: 'orgId',
    adminScope: 'eip:admin',
    jwks: { url },
    issuer: ISSUER,
    audience: AUDIENCE,
    clockToleranceSeconds: SKEW,
    ...settings,
  });
  const { app } = buildApp({
    db,
    verifier,
    maxAllocateCount: 100,
    bodyLimitBytes: 1024 * 1024,
    logger: false,
  });
  await app.ready();
  return app;
}

/** The answer to a tenant list with this Authorization header. */
async function list(app: FastifyInstance, authorization: string) {
  const res = await app.inject({
    method: 'GET',
    url: '/v1/elastic-ips',
    headers: { authorization },
  });
  return res;
}

async function expectAccepted(app: FastifyInstance, token: string, label: string) {
  const res = await list(app, `Bearer ${token}`);
  assert.equal(res.statusCode, 200, `${label}: ${res.body}`);
  assert.deepEqual(res.json(), [], label);
}

async function expectRefused(
  app: FastifyInstance,
  authorization: string,
  label: string,
  body: typeof INVALID | typeof EXPIRED = INVALID,
) {
  const res = await list(app, authorization);
  assert.equal(res.statusCode, 401, `${label}: ${res.body}`);
  assert.deepEqual(res.json(), body, label);
  assert.match(String(res.headers['www-authenticate']), /^Bearer realm="eipd"/, label);
}

describe('hostile tokens against a JWKS deployment', () => {
  let t: TestApp;
  let jwks: JwksServer;
  let app: FastifyInstance;
  let rsa: KeyPair;
  let ec: KeyPair;
  let attackerRsa: KeyPair;
  let attackerEc: KeyPair;
  let dupOne: KeyPair;
  let dupTwo: KeyPair;
  let rsaJwk: JWK;

  before(async () => {
    t = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG });
    [rsa, ec, attackerRsa, attackerEc, dupOne, dupTwo] = await Promise.all([
      generateKeyPair('RS256', { extractable: true }),
      generateKeyPair('ES256', { extractable: true }),
      generateKeyPair('RS256', { extractable: true }),
      generateKeyPair('ES256', { extractable: true }),
      generateKeyPair('RS256', { extractable: true }),
      generateKeyPair('RS256', { extractable: true }),
    ]);
    rsaJwk = await publicJwk(rsa, 'key-rsa', 'RS256');
    jwks = new JwksServer();
    jwks.keys = [
      rsaJwk,
      await publicJwk(ec, 'key-ec', 'ES256'),
      await publicJwk(dupOne, 'dup', 'RS256'),
      await publicJwk(dupTwo, 'dup', 'RS256'),
    ];
    await jwks.start();
    app = await appWith(t.db, {}, jwks.url);
  });
  after(async () => {
    await app.close();
    await jwks.stop();
    await t.close();
  });

  test('tokens of the identity provider are accepted (the baseline every refusal is measured against)', async () => {
    await expectAccepted(app, await mint(rsa.privateKey, { kid: 'key-rsa' }), 'RS256');
    await expectAccepted(app, await mint(ec.privateKey, { alg: 'ES256', kid: 'key-ec' }), 'ES256');
    const hs = new TextEncoder().encode(TEST_SECRET);
    await expectAccepted(app, await mint(hs, { alg: 'HS256' }), 'HS256 with the secret');
  });

  test('alg none, in any spelling and with or without a signature, is refused', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const claims = validClaims();
      await expectRefused(app, `Bearer ${handMade({ alg }, claims, () => '')}`, `${alg}, empty`);
      await expectRefused(
        app,
        `Bearer ${handMade({ alg }, claims, () => 'c2ln')}`,
        `${alg}, signed`,
      );
      await expectRefused(
        app,
        `Bearer ${handMade({ alg, kid: 'key-rsa' }, claims, () => 'c2ln')}`,
        `${alg} with a kid`,
      );
    }
  });

  test('HS256 keyed with the RSA public key (PEM, DER, JWK, modulus) is refused', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const secrets: [string, Buffer | string][] = [
      ['PEM', pem],
      ['PEM without its last newline', pem.trimEnd()],
      ['DER', der],
      ['JWK', JSON.stringify(rsaJwk)],
      ['modulus', Buffer.from(String(rsaJwk.n), 'base64url')],
    ];
    for (const [label, secret] of secrets) {
      for (const header of [{ alg: 'HS256' }, { alg: 'HS256', kid: 'key-rsa' }]) {
        const token = handMade({ ...header, typ: 'JWT' }, validClaims(), (input) =>
          createHmac('sha256', secret).update(input).digest('base64url'),
        );
        await expectRefused(app, `Bearer ${token}`, `${label} ${JSON.stringify(header)}`);
      }
    }
  });

  test('kid tricks are refused, and cost the JWKS server at most one fetch per cooldown', async () => {
    const before = jwks.fetches;
    const kids: unknown[] = [
      'unknown-key',
      '../../../../etc/passwd',
      '/dev/zero',
      "key-rsa' OR '1'='1",
      'key-rsa; DROP TABLE elastic_ips; --',
      'key-rsa\u0000',
      'KEY-RSA',
      '',
      'x'.repeat(2_000),
      1,
      ['key-rsa'],
      { $ne: null },
      null,
    ];
    for (const kid of kids) {
      // Signed by a key the attacker holds, with a kid meant to confuse the lookup.
      const token = await mint(attackerRsa.privateKey, { kid });
      await expectRefused(app, `Bearer ${token}`, `kid ${JSON.stringify(kid).slice(0, 60)}`);
    }
    // The identity provider's kid on the attacker's signature is a bad signature.
    await expectRefused(
      app,
      `Bearer ${await mint(attackerRsa.privateKey, { kid: 'key-rsa' })}`,
      'stolen kid',
    );
    assert.ok(jwks.fetches - before <= 1, `${jwks.fetches - before} JWKS fetches`);
  });

  test('a kid with another algorithm than its key is refused, even signed with the right private key', async () => {
    // ES256 naming the RSA key's kid, signed with an EC key of the attacker's.
    await expectRefused(
      app,
      `Bearer ${await mint(attackerEc.privateKey, { alg: 'ES256', kid: 'key-rsa' })}`,
      'ES256 on an RSA kid',
    );
    // The real RSA private key, under an algorithm that is not configured (PS256, RS384).
    const pkcs8 = await exportPKCS8(rsa.privateKey);
    for (const alg of ['PS256', 'RS384']) {
      const sameKey = await importPKCS8(pkcs8, alg);
      await expectRefused(
        app,
        `Bearer ${await mint(sameKey, { alg, kid: 'key-rsa' })}`,
        `${alg} with the RSA key`,
      );
    }
    // RS256 naming the EC key's kid.
    await expectRefused(
      app,
      `Bearer ${await mint(attackerRsa.privateKey, { alg: 'RS256', kid: 'key-ec' })}`,
      'RS256 on an EC kid',
    );
  });

  test('duplicated kids: each published key verifies its own tokens, no other key does', async () => {
    await expectAccepted(app, await mint(dupOne.privateKey, { kid: 'dup' }), 'first of the pair');
    await expectAccepted(app, await mint(dupTwo.privateKey, { kid: 'dup' }), 'second of the pair');
    await expectRefused(
      app,
      `Bearer ${await mint(attackerRsa.privateKey, { kid: 'dup' })}`,
      'a third key',
    );
  });

  test(`time claims are checked with ${SKEW} s of clock skew and not a second more`, async () => {
    const now = nowSeconds();
    const key = rsa.privateKey;
    const header = { kid: 'key-rsa' };
    await expectAccepted(app, await mint(key, header, { exp: now - 10 }), 'exp 10 s ago');
    await expectRefused(
      app,
      `Bearer ${await mint(key, header, { exp: now - 60 })}`,
      'exp 60 s ago',
      EXPIRED,
    );
    await expectAccepted(app, await mint(key, header, { nbf: now + 10 }), 'nbf in 10 s');
    await expectRefused(app, `Bearer ${await mint(key, header, { nbf: now + 60 })}`, 'nbf in 60 s');
    await expectAccepted(app, await mint(key, header, { iat: now + 10 }), 'iat in 10 s');
    await expectRefused(app, `Bearer ${await mint(key, header, { iat: now + 60 })}`, 'iat in 60 s');
    await expectRefused(
      app,
      `Bearer ${await mint(key, header, { iat: now + 86_400 * 365 })}`,
      'iat in a year',
    );
    await expectRefused(app, `Bearer ${await mint(key, header, { exp: undefined })}`, 'no exp');
    await expectRefused(
      app,
      `Bearer ${await mint(key, header, { iat: 'yesterday' })}`,
      'iat not a number',
    );
    await expectRefused(
      app,
      `Bearer ${await mint(key, header, { exp: '9999999999' })}`,
      'exp a string',
    );
  });

  test('a wrong or missing issuer or audience is refused', async () => {
    const key = rsa.privateKey;
    const header = { kid: 'key-rsa' };
    for (const [label, claims] of [
      ['another issuer', { iss: 'https://evil.example' }],
      ['the issuer with a trailing slash', { iss: `${ISSUER}/` }],
      ['no issuer', { iss: undefined }],
      ['another audience', { aud: 'someone-else' }],
      ['an audience list without eipd', { aud: ['a', 'b'] }],
      ['no audience', { aud: undefined }],
    ] as const) {
      await expectRefused(app, `Bearer ${await mint(key, header, claims)}`, label);
    }
    await expectAccepted(
      app,
      await mint(key, header, { aud: ['other', AUDIENCE] }),
      'aud list with eipd',
    );
  });

  test('oversized tokens: 401 in-process, 431 over HTTP, never a 500', async () => {
    const padded = await mint(rsa.privateKey, { kid: 'key-rsa' }, { pad: 'x'.repeat(9_000) });
    await expectRefused(app, `Bearer ${padded}`, 'a validly signed 12 KB token');
    await expectRefused(app, `Bearer ${'a'.repeat(100_000)}.b.c`, '100 KB of token');
    await expectRefused(app, `Bearer ${'a.'.repeat(50_000)}a`, '50,000 segments');

    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(
            `GET /v1/elastic-ips HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(100_000)}\r\n\r\n`,
          ),
        );
        let out = '';
        socket.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        socket.on('end', () => resolve(out));
        socket.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 431 /);
      assert.ok(
        answer.endsWith('{"code":4311,"reason":"The request headers are too large."}'),
        answer,
      );
    } finally {
      await app.server.close();
    }
  });
});

describe('JWKS rotation, on a mocked clock', () => {
  let t: TestApp;
  let jwks: JwksServer;
  let app: FastifyInstance;
  let oldKey: KeyPair;
  let newKey: KeyPair;

  before(async () => {
    t = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG });
    [oldKey, newKey] = await Promise.all([
      generateKeyPair('RS256', { extractable: true }),
      generateKeyPair('RS256', { extractable: true }),
    ]);
    jwks = new JwksServer();
    jwks.keys = [await publicJwk(oldKey, 'old', 'RS256')];
    await jwks.start();
    // jose's defaults as eipd configures them: 30 s cooldown, 10 min cache.
    app = await appWith(t.db, {}, jwks.url);
  });
  after(async () => {
    await app.close();
    await jwks.stop();
    await t.close();
  });

  test('a new kid is picked up after the cooldown; a removed one is refused once the cache is stale', async (c) => {
    const start = Date.now();
    const at = (seconds: number) => {
      c.mock.timers.reset();
      c.mock.timers.enable({ apis: ['Date'], now: start + seconds * 1000 });
    };
    at(0);
    const first = await mint(oldKey.privateKey, { kid: 'old' });
    await expectAccepted(app, first, 'the old key, first fetch');
    assert.equal(jwks.fetches, 1);

    // The new key is published and used at once: within the cooldown nothing is fetched again.
    jwks.keys = [...jwks.keys, await publicJwk(newKey, 'new', 'RS256')];
    at(5);
    await expectRefused(
      app,
      `Bearer ${await mint(newKey.privateKey, { kid: 'new' })}`,
      'new kid in the cooldown',
    );
    assert.equal(jwks.fetches, 1);
    at(31);
    await expectAccepted(
      app,
      await mint(newKey.privateKey, { kid: 'new' }),
      'new kid after the cooldown',
    );
    assert.equal(jwks.fetches, 2);

    // The old key is removed. jose keeps using the JWKS it fetched at 31 s for 10 minutes.
    jwks.keys = jwks.keys.filter((k) => k.kid !== 'old');
    at(40);
    await expectAccepted(app, first, 'a token verified 40 s ago, from memory');
    await expectAccepted(
      app,
      await mint(oldKey.privateKey, { kid: 'old' }),
      'old key, cached JWKS',
    );
    const lastMinute = await mint(oldKey.privateKey, { kid: 'old' });
    at(31 + 599);
    await expectAccepted(app, lastMinute, 'old key, the cached JWKS one second before it is stale');
    assert.equal(jwks.fetches, 2);

    // The cached JWKS is stale: new verifications fetch it and find the old key gone, but a token
    // verified a few seconds ago is still answered from memory, for up to a minute.
    at(31 + 605);
    await expectRefused(
      app,
      `Bearer ${await mint(oldKey.privateKey, { kid: 'old' })}`,
      'old key, fresh JWKS',
    );
    assert.equal(jwks.fetches, 3);
    await expectAccepted(app, lastMinute, 'verified 6 s ago, before the JWKS went stale');
    at(31 + 599 + 61);
    await expectRefused(app, `Bearer ${lastMinute}`, 'the memory of it is over');
    await expectRefused(app, `Bearer ${first}`, 'the first token, long forgotten');
    await expectAccepted(
      app,
      await mint(newKey.privateKey, { kid: 'new' }),
      'the new key still works',
    );
  });
});
