/**
 * From configuration to a working verifier: HS256 secret, PEM public keys, JWKS file, demo mode.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { NoDemoSecretError, resolveAuth } from '../../src/auth/settings.js';
import { createTokenVerifier, mintToken } from '../../src/auth/tokens.js';
import { ConfigError, loadConfig } from '../../src/config.js';

async function rsToken(privateKey: CryptoKey, orgId: string, kid?: string) {
  return new SignJWT({ orgId })
    .setProtectedHeader({ alg: 'RS256', ...(kid === undefined ? {} : { kid }) })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
}

describe('auth settings from configuration', () => {
  test('PEM public keys with RS256 verify tokens signed by the private key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipd-auth-'));
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    await writeFile(join(dir, 'key.pem'), await exportSPKI(publicKey));
    const config = loadConfig({
      DATABASE_URL: 'postgres://x@127.0.0.1/x',
      EIPD_JWT_PUBLIC_KEYS: join(dir, 'key.pem'),
      EIPD_JWT_ALGORITHMS: 'RS256',
    });
    const auth = await resolveAuth(config);
    assert.equal(auth.signingSecret, undefined);
    const verifier = await createTokenVerifier(auth.settings);
    const orgId = randomUUID();
    const outcome = await verifier.verify(`Bearer ${await rsToken(privateKey, orgId)}`);
    assert.deepEqual(outcome, { ok: true, principal: { orgId, subject: null, admin: false } });
  });

  test('a JWKS file selects the key by kid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipd-auth-'));
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    const config = loadConfig({
      DATABASE_URL: 'postgres://x@127.0.0.1/x',
      EIPD_JWKS_FILE: join(dir, 'jwks.json'),
      EIPD_JWT_ALGORITHMS: 'RS256',
    });
    const verifier = await createTokenVerifier((await resolveAuth(config)).settings);
    const orgId = randomUUID();
    assert.equal(
      (await verifier.verify(`Bearer ${await rsToken(privateKey, orgId, 'k1')}`)).ok,
      true,
    );
    const other = await verifier.verify(`Bearer ${await rsToken(privateKey, orgId, 'k2')}`);
    assert.deepEqual(other, { ok: false, failure: 'invalid' });
  });

  test('public keys without EIPD_JWT_ALGORITHMS, or PostgreSQL without any key, are config errors', async () => {
    await assert.rejects(
      resolveAuth(loadConfig({ EIPD_JWT_PUBLIC_KEYS: '/nonexistent.pem' })),
      (e: unknown) => e instanceof ConfigError && /EIPD_JWT_ALGORITHMS/.test(e.message),
    );
    await assert.rejects(
      resolveAuth(loadConfig({ DATABASE_URL: 'postgres://x@127.0.0.1/x' })),
      (e: unknown) =>
        e instanceof ConfigError && /one is required with DATABASE_URL/.test(e.message),
    );
  });

  test('demo mode generates one owner-only secret per data directory and keeps it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipd-demo-'));
    const config = loadConfig({ EIPD_DATA_DIR: dir });
    const first = await resolveAuth(config);
    const second = await resolveAuth(config);
    assert.equal(first.generated, true);
    assert.ok(first.signingSecret !== undefined && first.signingSecret.length >= 32);
    assert.equal(second.signingSecret, first.signingSecret);
    assert.equal((await readFile(join(dir, 'jwt-secret'), 'utf8')).trim(), first.signingSecret);
    assert.equal((await stat(join(dir, 'jwt-secret'))).mode & 0o777, 0o600);
    const verifier = await createTokenVerifier(first.settings);
    const orgId = randomUUID();
    const token = await mintToken({ secret: first.signingSecret, orgId, ttlSeconds: 60 });
    assert.equal((await verifier.verify(`Bearer ${token}`)).ok, true);
  });
});

describe('the token command never creates the demo secret', () => {
  test('createSecret: false reads an existing secret, and refuses (creating nothing) without one', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'eipd-token-'));
    const missing = join(parent, 'no-such-dir');
    await assert.rejects(
      resolveAuth(loadConfig({ EIPD_DATA_DIR: missing }), { createSecret: false }),
      (e: unknown) =>
        e instanceof NoDemoSecretError &&
        e.file === join(missing, 'jwt-secret') &&
        !e.dataDirExists,
    );
    await assert.rejects(stat(missing), /ENOENT/);

    const empty = join(parent, 'empty');
    await mkdir(empty);
    await assert.rejects(
      resolveAuth(loadConfig({ EIPD_DATA_DIR: empty }), { createSecret: false }),
      (e: unknown) => e instanceof NoDemoSecretError && e.dataDirExists,
    );
    assert.deepEqual(await readdir(empty), []);

    // Once eipd has started there (and generated the secret), the token command uses it.
    const started = await resolveAuth(loadConfig({ EIPD_DATA_DIR: empty }));
    const token = await resolveAuth(loadConfig({ EIPD_DATA_DIR: empty }), { createSecret: false });
    assert.equal(token.signingSecret, started.signingSecret);
  });
});

describe('configuration', () => {
  test('every bad key is reported at once', () => {
    assert.throws(
      () =>
        loadConfig({
          EIPD_PORT: 'abc',
          EIPD_MAX_ALLOCATE_COUNT: '0',
          EIPD_LOG_LEVEL: 'loud',
          EIPD_DB_POOL_SIZE: '-1',
          // Checks across keys are listed in the same start, not only once the above are fixed.
          DATABASE_URL: 'mysql://x',
          EIPD_JWKS_URL: 'https://idp.example/jwks',
          EIPD_JWKS_FILE: '/etc/jwks.json',
          EIPD_TRUST_PROXY: '10.0.0.0/8, nonsense',
        }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const keys = e.problems.map((p) => p.split(':')[0]).sort();
        assert.deepEqual(keys, [
          'DATABASE_URL',
          'EIPD_DB_POOL_SIZE',
          'EIPD_JWKS_URL and EIPD_JWKS_FILE',
          'EIPD_LOG_LEVEL',
          'EIPD_MAX_ALLOCATE_COUNT',
          'EIPD_PORT',
          'EIPD_TRUST_PROXY',
        ]);
        return true;
      },
    );
  });

  test('defaults: embedded database in .eipd-data, 127.0.0.1:8080, count up to 100', () => {
    const config = loadConfig({});
    assert.deepEqual(config.database, { kind: 'pglite', dataDir: '.eipd-data/pgdata' });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.maxAllocateCount, 100);
  });

  test('a misspelt EIPD_ setting is refused rather than ignored', () => {
    assert.throws(
      () => loadConfig({ EIPD_PROT: '9000', EIPD_PORT: 'x' }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.some((p) => p.startsWith('EIPD_PORT:')) &&
        e.problems.includes('EIPD_PROT: not a setting of eipd (misspelt?)'),
    );
    assert.equal(loadConfig({ EIPD_TEST_DATABASE_URL: 'postgres://x' }).port, 8080);
    assert.equal(loadConfig({ EIPD_BENCH_DATABASE_URL: 'postgres://x' }).port, 8080);
  });

  test('a DATABASE_URL that is not PostgreSQL is refused', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'mysql://x' }),
      /DATABASE_URL: must start with postgres/,
    );
  });
});
