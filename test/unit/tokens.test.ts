import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type CryptoKey,
  decodeJwt,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import {
  type AuthSettings,
  createTokenVerifier,
  hmacAlgorithmFor,
  mintToken,
  type TokenVerifier,
  type VerifyOutcome,
  validateAuthSettings,
} from '../../src/auth/tokens.js';

const SECRET = 'unit-test-secret-0123456789abcdef-xyz';
const OTHER_SECRET = 'another-secret-0123456789abcdef-uvwxyz';
const ORG = '3f2b8c1e-5d4a-4b6f-9e7d-1a2b3c4d5e6f';

function settings(overrides: Partial<AuthSettings> = {}): AuthSettings {
  return {
    hs256Secret: SECRET,
    publicKeyPems: [],
    algorithms: ['HS256'],
    orgClaim: 'orgId',
    adminScope: 'eip:admin',
    ...overrides,
  };
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const bearer = (token: string): string => `Bearer ${token}`;

/** Signs claims; exp defaults to one hour from now so tests opt out of expiry explicitly. */
async function sign(
  claims: JWTPayload,
  key: CryptoKey | Uint8Array,
  header: { alg: string; kid?: string } = { alg: 'HS256' },
): Promise<string> {
  const body: JWTPayload = { exp: nowSeconds() + 3600, ...claims };
  return new SignJWT(body).setProtectedHeader({ typ: 'JWT', ...header }).sign(key);
}

const hsKey = (secret: string): Uint8Array => new TextEncoder().encode(secret);

function assertInvalid(outcome: VerifyOutcome): void {
  assert.deepEqual(outcome, { ok: false, failure: 'invalid' });
}

function principalOf(outcome: VerifyOutcome) {
  assert.equal(outcome.ok, true, `expected ok, got ${JSON.stringify(outcome)}`);
  if (!outcome.ok) throw new Error('unreachable');
  return outcome.principal;
}

describe('createTokenVerifier with HS256', () => {
  let verifier: TokenVerifier;
  before(async () => {
    verifier = await createTokenVerifier(settings());
  });

  it('accepts a valid HS256 token', async () => {
    const token = await sign({ orgId: ORG, sub: 'user-1', scope: 'eip:read' }, hsKey(SECRET));
    assert.deepEqual(principalOf(await verifier.verify(bearer(token))), {
      orgId: ORG,
      subject: 'user-1',
      admin: false,
    });
  });

  it('accepts any case of the Bearer scheme', async () => {
    const token = await sign({ orgId: ORG }, hsKey(SECRET));
    principalOf(await verifier.verify(`bearer ${token}`));
    principalOf(await verifier.verify(`BEARER ${token}`));
  });

  it('reports an absent header as missing', async () => {
    assert.deepEqual(await verifier.verify(undefined), { ok: false, failure: 'missing' });
  });

  it('rejects other schemes and malformed Bearer headers', async () => {
    const token = await sign({ orgId: ORG }, hsKey(SECRET));
    for (const header of [
      `Basic ${token}`,
      `Token ${token}`,
      token,
      'Bearer',
      'Bearer ',
      `Bearer ${token} `,
      ` Bearer ${token}`,
      `Bearer\t${token}`,
      `Bearer ${token}\n`,
      `Bearer ${token},Bearer ${token}`,
      '',
    ]) {
      assertInvalid(await verifier.verify(header));
    }
  });

  it('accepts several spaces between the scheme and the token, as RFC 7235 allows', async () => {
    const token = await sign({ orgId: ORG }, hsKey(SECRET));
    assert.equal((await verifier.verify(`Bearer  ${token}`)).ok, true);
    assert.equal((await verifier.verify(`bearer   ${token}`)).ok, true);
  });

  it('refuses a signed token whose sub has control characters or is over 255 characters', async () => {
    for (const sub of [
      'alice\u0000bob',
      'line\nbreak',
      'x'.repeat(256),
      'c1\u0085control',
      'line\u2028separator',
      'admin\u202egro', // displays as "admin" then "org" reversed
      'isolate\u2066x\u2069',
      '\ufeffbom',
      'lone\ud800surrogate',
      'lone\udc00low',
    ]) {
      const token = await sign({ orgId: ORG, sub }, hsKey(SECRET));
      assertInvalid(await verifier.verify(`Bearer ${token}`));
    }
    for (const sub of ['x'.repeat(255), 'ünïcødé ✓', 'emoji 👩‍💻', 'רחל', 'alice@example.com']) {
      const fine = await sign({ orgId: ORG, sub }, hsKey(SECRET));
      assert.equal((await verifier.verify(`Bearer ${fine}`)).ok, true, sub);
    }
  });

  it('rejects garbage tokens', async () => {
    for (const garbage of [
      'abc',
      'abc.def.ghi',
      '!!!.???.***',
      'a.b',
      'a.b.c.d',
      `${b64url({ alg: 'HS256' })}.not-json.c2ln`,
    ]) {
      assertInvalid(await verifier.verify(bearer(garbage)));
    }
  });

  it('rejects a bad signature', async () => {
    const wrongKey = await sign({ orgId: ORG }, hsKey(OTHER_SECRET));
    assertInvalid(await verifier.verify(bearer(wrongKey)));

    // Same signature, tampered payload (org swapped).
    const good = await sign({ orgId: ORG }, hsKey(SECRET));
    const [header, , signature] = good.split('.');
    const forged = `${header}.${b64url({ orgId: '00000000-0000-4000-8000-000000000000', exp: nowSeconds() + 60 })}.${signature}`;
    assertInvalid(await verifier.verify(bearer(forged)));
  });

  it("rejects alg 'none' (unsecured JWT), even when 'none' sneaks into the list", async () => {
    const payload = b64url({ orgId: ORG, sub: 'x', scope: 'eip:admin', exp: nowSeconds() + 60 });
    const unsecured = `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`;
    assertInvalid(await verifier.verify(bearer(unsecured)));
    // Same with a junk signature segment, so the alg check (not just the shape check) is hit.
    assertInvalid(await verifier.verify(bearer(`${unsecured}c2lnbmF0dXJl`)));

    // validateAuthSettings refuses 'none', so the verifier cannot even be built with it listed.
    await assert.rejects(
      createTokenVerifier(settings({ algorithms: ['HS256', 'none'] })),
      /'none'/,
    );
  });

  it('rejects an algorithm that is not configured (HS512 when only HS256 is)', async () => {
    const token = await sign({ orgId: ORG }, hsKey(SECRET), { alg: 'HS512' });
    assertInvalid(await verifier.verify(bearer(token)));
  });

  it('reports an expired token with a valid signature as expired', async () => {
    const token = await sign({ orgId: ORG, exp: nowSeconds() - 60 }, hsKey(SECRET));
    assert.deepEqual(await verifier.verify(bearer(token)), { ok: false, failure: 'expired' });
  });

  it('reports an expired token with a bad signature as invalid', async () => {
    const token = await sign({ orgId: ORG, exp: nowSeconds() - 60 }, hsKey(OTHER_SECRET));
    assertInvalid(await verifier.verify(bearer(token)));
  });

  it('honours clockToleranceSeconds for exp', async () => {
    const lenient = await createTokenVerifier(settings({ clockToleranceSeconds: 120 }));
    const token = await sign({ orgId: ORG, exp: nowSeconds() - 30 }, hsKey(SECRET));
    principalOf(await lenient.verify(bearer(token)));
  });

  it('rejects nbf in the future', async () => {
    const token = await sign({ orgId: ORG, nbf: nowSeconds() + 600 }, hsKey(SECRET));
    assertInvalid(await verifier.verify(bearer(token)));
  });

  it('rejects iat in the future (jose alone would accept it), accepts iat now or past', async () => {
    const ahead = await sign({ orgId: ORG, iat: nowSeconds() + 600 }, hsKey(SECRET));
    assertInvalid(await verifier.verify(bearer(ahead)));
    const oneSecondAhead = await sign({ orgId: ORG, iat: nowSeconds() + 2 }, hsKey(SECRET));
    assertInvalid(await verifier.verify(bearer(oneSecondAhead)));
    principalOf(
      await verifier.verify(bearer(await sign({ orgId: ORG, iat: nowSeconds() }, hsKey(SECRET)))),
    );
    principalOf(
      await verifier.verify(
        bearer(await sign({ orgId: ORG, iat: nowSeconds() - 3600 }, hsKey(SECRET))),
      ),
    );
  });

  it('allows clockToleranceSeconds of skew for iat and nbf, and not a second more', async () => {
    const skewed = await createTokenVerifier(settings({ clockToleranceSeconds: 30 }));
    const within = await sign(
      { orgId: ORG, iat: nowSeconds() + 20, nbf: nowSeconds() + 20 },
      hsKey(SECRET),
    );
    principalOf(await skewed.verify(bearer(within)));
    const iatBeyond = await sign({ orgId: ORG, iat: nowSeconds() + 40 }, hsKey(SECRET));
    assertInvalid(await skewed.verify(bearer(iatBeyond)));
    const nbfBeyond = await sign({ orgId: ORG, nbf: nowSeconds() + 40 }, hsKey(SECRET));
    assertInvalid(await skewed.verify(bearer(nbfBeyond)));
  });

  it('rejects a token without exp', async () => {
    const token = await new SignJWT({ orgId: ORG })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(hsKey(SECRET));
    assertInvalid(await verifier.verify(bearer(token)));
  });

  it('rejects tokens over 8 KiB without parsing, accepts large ones under it', async () => {
    const big = await sign({ orgId: ORG, pad: 'x'.repeat(9000) }, hsKey(SECRET));
    assert.ok(big.length > 8192);
    assertInvalid(await verifier.verify(bearer(big)));

    const large = await sign({ orgId: ORG, pad: 'x'.repeat(5000) }, hsKey(SECRET));
    assert.ok(large.length < 8192);
    principalOf(await verifier.verify(bearer(large)));
  });

  it('never throws and never accepts arbitrary Bearer strings', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (junk) => {
        const outcome = await verifier.verify(bearer(junk));
        return !outcome.ok && outcome.failure === 'invalid';
      }),
      { numRuns: 300 },
    );
  });
});

describe('principal extraction', () => {
  let verifier: TokenVerifier;
  before(async () => {
    verifier = await createTokenVerifier(settings());
  });

  const verifyClaims = async (claims: JWTPayload) =>
    principalOf(await verifier.verify(bearer(await sign(claims, hsKey(SECRET)))));

  it('yields orgId null when the org claim is missing (operator tokens)', async () => {
    assert.deepEqual(await verifyClaims({ sub: 'ops', scope: 'eip:admin' }), {
      orgId: null,
      subject: 'ops',
      admin: true,
    });
  });

  it('yields orgId null when the org claim is not a uuid', async () => {
    for (const org of ['acme', 42, `${ORG}x`, ORG.replaceAll('-', ''), [ORG], { id: ORG }]) {
      assert.equal((await verifyClaims({ orgId: org })).orgId, null);
    }
  });

  it('lower-cases an uppercase uuid', async () => {
    assert.equal((await verifyClaims({ orgId: ORG.toUpperCase() })).orgId, ORG);
  });

  it('reads a custom org claim name', async () => {
    const custom = await createTokenVerifier(settings({ orgClaim: 'https://eip.example/org' }));
    const token = await sign({ 'https://eip.example/org': ORG, orgId: 'ignored' }, hsKey(SECRET));
    assert.equal(principalOf(await custom.verify(bearer(token))).orgId, ORG);
    // The default claim name is no longer consulted.
    const defaultOnly = await sign({ orgId: ORG }, hsKey(SECRET));
    assert.equal(principalOf(await custom.verify(bearer(defaultOnly))).orgId, null);
  });

  it('yields subject null when sub is not a string', async () => {
    assert.equal((await verifyClaims({ sub: undefined })).subject, null);
  });

  it('grants admin from a space-separated scope string', async () => {
    assert.equal((await verifyClaims({ scope: 'eip:read eip:admin' })).admin, true);
    assert.equal((await verifyClaims({ scope: 'eip:admin' })).admin, true);
    assert.equal((await verifyClaims({ scope: 'eip:read' })).admin, false);
    assert.equal((await verifyClaims({ scope: 'eip:admins eip:adminx' })).admin, false);
    assert.equal((await verifyClaims({})).admin, false);
  });

  it('grants admin from a scope array', async () => {
    assert.equal((await verifyClaims({ scope: ['eip:read', 'eip:admin'] })).admin, true);
    assert.equal((await verifyClaims({ scope: ['eip:read', 7] })).admin, false);
    assert.equal((await verifyClaims({ scope: ['eip:read eip:admin'] })).admin, false);
  });
});

describe('issuer and audience', () => {
  let verifier: TokenVerifier;
  before(async () => {
    verifier = await createTokenVerifier(
      settings({ issuer: 'https://idp.example', audience: 'eipd' }),
    );
  });

  it('accepts matching iss and aud', async () => {
    const token = await sign(
      { orgId: ORG, iss: 'https://idp.example', aud: ['other', 'eipd'] },
      hsKey(SECRET),
    );
    principalOf(await verifier.verify(bearer(token)));
  });

  it('rejects a wrong or missing issuer', async () => {
    assertInvalid(
      await verifier.verify(
        bearer(await sign({ iss: 'https://evil.example', aud: 'eipd' }, hsKey(SECRET))),
      ),
    );
    assertInvalid(await verifier.verify(bearer(await sign({ aud: 'eipd' }, hsKey(SECRET)))));
  });

  it('rejects a wrong or missing audience', async () => {
    assertInvalid(
      await verifier.verify(
        bearer(await sign({ iss: 'https://idp.example', aud: 'not-eipd' }, hsKey(SECRET))),
      ),
    );
    assertInvalid(
      await verifier.verify(bearer(await sign({ iss: 'https://idp.example' }, hsKey(SECRET)))),
    );
  });

  it('reports expired with a wrong issuer as invalid', async () => {
    const token = await sign(
      { iss: 'https://evil.example', aud: 'eipd', exp: nowSeconds() - 60 },
      hsKey(SECRET),
    );
    assertInvalid(await verifier.verify(bearer(token)));
  });
});

describe('asymmetric keys', () => {
  let rsa: { publicKey: CryptoKey; privateKey: CryptoKey };
  let rsaPem: string;
  let rsa2: { publicKey: CryptoKey; privateKey: CryptoKey };
  let rsa2Pem: string;
  let ecPem: string;

  before(async () => {
    rsa = await generateKeyPair('RS256');
    rsaPem = await exportSPKI(rsa.publicKey);
    rsa2 = await generateKeyPair('RS256');
    rsa2Pem = await exportSPKI(rsa2.publicKey);
    ecPem = await exportSPKI((await generateKeyPair('ES256')).publicKey);
  });

  it('accepts a valid RS256 token', async () => {
    const verifier = await createTokenVerifier(
      settings({ hs256Secret: undefined, algorithms: ['RS256'], publicKeyPems: [rsaPem] }),
    );
    const token = await sign({ orgId: ORG, sub: 'svc' }, rsa.privateKey, { alg: 'RS256' });
    assert.deepEqual(principalOf(await verifier.verify(bearer(token))), {
      orgId: ORG,
      subject: 'svc',
      admin: false,
    });
    const expired = await sign({ exp: nowSeconds() - 5 }, rsa.privateKey, { alg: 'RS256' });
    assert.deepEqual(await verifier.verify(bearer(expired)), { ok: false, failure: 'expired' });
  });

  it('tries every configured PEM that fits the algorithm', async () => {
    const verifier = await createTokenVerifier(
      settings({
        hs256Secret: undefined,
        algorithms: ['RS256', 'ES256'],
        publicKeyPems: [ecPem, rsaPem, rsa2Pem],
      }),
    );
    const token = await sign({ orgId: ORG }, rsa2.privateKey, { alg: 'RS256' });
    principalOf(await verifier.verify(bearer(token)));
    const unknownKey = await sign({ orgId: ORG }, (await generateKeyPair('RS256')).privateKey, {
      alg: 'RS256',
    });
    assertInvalid(await verifier.verify(bearer(unknownKey)));
  });

  it('refuses algorithm confusion (HS256 keyed with the RSA public key PEM)', async () => {
    const confused = await sign({ orgId: ORG, scope: 'eip:admin' }, hsKey(rsaPem));

    // RS256 only: HS256 is not an accepted algorithm at all.
    const rsOnly = await createTokenVerifier(
      settings({ hs256Secret: undefined, algorithms: ['RS256'], publicKeyPems: [rsaPem] }),
    );
    assertInvalid(await rsOnly.verify(bearer(confused)));

    // RS256 and HS256: HS256 verification uses only the shared secret, never the PEM.
    const both = await createTokenVerifier(
      settings({ hs256Secret: SECRET, algorithms: ['RS256', 'HS256'], publicKeyPems: [rsaPem] }),
    );
    assertInvalid(await both.verify(bearer(confused)));
    // Sanity: the same verifier still accepts both legitimate kinds.
    principalOf(await both.verify(bearer(await sign({}, hsKey(SECRET)))));
    principalOf(await both.verify(bearer(await sign({}, rsa.privateKey, { alg: 'RS256' }))));
  });

  it('refuses an RS256-signed token when only HS256 is configured', async () => {
    const verifier = await createTokenVerifier(settings());
    const token = await sign({ orgId: ORG }, rsa.privateKey, { alg: 'RS256' });
    assertInvalid(await verifier.verify(bearer(token)));
  });
});

describe('JWKS', () => {
  let dir: string;
  let es: { publicKey: CryptoKey; privateKey: CryptoKey };
  let es2: { publicKey: CryptoKey; privateKey: CryptoKey };
  let jwk: JWK;
  let jwk2: JWK;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eipd-tokens-'));
    es = await generateKeyPair('ES256');
    es2 = await generateKeyPair('ES256');
    jwk = { ...(await exportJWK(es.publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' };
    jwk2 = { ...(await exportJWK(es2.publicKey)), kid: 'key-2', alg: 'ES256', use: 'sig' };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function fileVerifier(keys: JWK[]): Promise<TokenVerifier> {
    const file = join(dir, `jwks-${keys.map((k) => k.kid).join('-')}.json`);
    await writeFile(file, JSON.stringify({ keys }));
    return createTokenVerifier(
      settings({ hs256Secret: undefined, algorithms: ['ES256'], jwks: { file } }),
    );
  }

  it('verifies ES256 via a local JWKS file by kid; unknown kid is invalid', async () => {
    const verifier = await fileVerifier([jwk, jwk2]);
    const token = await sign({ orgId: ORG }, es.privateKey, { alg: 'ES256', kid: 'key-1' });
    assert.equal(principalOf(await verifier.verify(bearer(token))).orgId, ORG);
    const second = await sign({ orgId: ORG }, es2.privateKey, { alg: 'ES256', kid: 'key-2' });
    principalOf(await verifier.verify(bearer(second)));

    const unknownKid = await sign({ orgId: ORG }, es.privateKey, { alg: 'ES256', kid: 'nope' });
    assertInvalid(await verifier.verify(bearer(unknownKid)));
    // The right kid with the wrong key's signature is a bad signature.
    const mismatched = await sign({ orgId: ORG }, es2.privateKey, { alg: 'ES256', kid: 'key-1' });
    assertInvalid(await verifier.verify(bearer(mismatched)));
  });

  it('tries each matching key when the token has no kid', async () => {
    const verifier = await fileVerifier([jwk, jwk2]);
    const token = await sign({ orgId: ORG }, es2.privateKey, { alg: 'ES256' });
    principalOf(await verifier.verify(bearer(token)));
    const expired = await sign({ exp: nowSeconds() - 5 }, es2.privateKey, { alg: 'ES256' });
    assert.deepEqual(await verifier.verify(bearer(expired)), { ok: false, failure: 'expired' });
  });

  it('fails at startup on an unreadable or malformed JWKS file', async () => {
    const missing = join(dir, 'does-not-exist.json');
    await assert.rejects(
      createTokenVerifier(
        settings({ hs256Secret: undefined, algorithms: ['ES256'], jwks: { file: missing } }),
      ),
    );
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ nope: true }));
    await assert.rejects(
      createTokenVerifier(
        settings({ hs256Secret: undefined, algorithms: ['ES256'], jwks: { file: bad } }),
      ),
    );
  });

  describe('remote', () => {
    let server: Server;
    let requests = 0;
    let url: string;
    before(async () => {
      server = createServer((_req, res) => {
        requests += 1;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    });
    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('fetches once, caches, and rejects unknown kids', async () => {
      const verifier = await createTokenVerifier(
        settings({ hs256Secret: undefined, algorithms: ['ES256'], jwks: { url } }),
      );
      const token = await sign({ orgId: ORG }, es.privateKey, { alg: 'ES256', kid: 'key-1' });
      principalOf(await verifier.verify(bearer(token)));
      principalOf(await verifier.verify(bearer(token)));
      assert.equal(requests, 1);
      const unknown = await sign({}, es2.privateKey, { alg: 'ES256', kid: 'key-2' });
      assertInvalid(await verifier.verify(bearer(unknown)));
    });
  });
});

describe('validateAuthSettings', () => {
  let rsaPem: string;
  before(async () => {
    rsaPem = await exportSPKI((await generateKeyPair('RS256')).publicKey);
  });

  const expectProblem = (s: AuthSettings, pattern: RegExp): void => {
    const problems = validateAuthSettings(s);
    assert.ok(
      problems.some((p) => pattern.test(p)),
      `expected ${pattern} in ${JSON.stringify(problems)}`,
    );
  };

  it('returns no problems for sound settings', async () => {
    assert.deepEqual(validateAuthSettings(settings()), []);
    assert.deepEqual(
      validateAuthSettings(
        settings({ algorithms: ['HS256', 'RS256', 'PS256'], publicKeyPems: [rsaPem] }),
      ),
      [],
    );
    assert.deepEqual(
      validateAuthSettings(
        settings({
          hs256Secret: undefined,
          algorithms: ['ES256', 'EdDSA'],
          jwks: { url: 'https://idp.example/.well-known/jwks.json' },
        }),
      ),
      [],
    );
  });

  it('reports a configuration without any key', () => {
    expectProblem(settings({ hs256Secret: undefined }), /no verification key/);
  });

  it('reports an algorithm without a matching key kind', () => {
    expectProblem(settings({ hs256Secret: undefined, publicKeyPems: [rsaPem] }), /HS256.*secret/);
    expectProblem(settings({ algorithms: ['HS256', 'RS256'] }), /RS256.*no public key/);
    expectProblem(settings({ algorithms: ['ES256'], publicKeyPems: [rsaPem] }), /ES256.*usable/);
  });

  it('reports unknown algorithm names and none', () => {
    expectProblem(settings({ algorithms: ['HS256', 'XS256'] }), /unknown algorithm 'XS256'/);
    expectProblem(settings({ algorithms: ['hs256'] }), /unknown algorithm 'hs256'/);
    expectProblem(settings({ algorithms: ['HS256', 'none'] }), /'none'/);
    expectProblem(settings({ algorithms: [] }), /no algorithms/);
  });

  it('reports a short secret without echoing it', () => {
    const problems = validateAuthSettings(settings({ hs256Secret: 'short-secret-value' }));
    assert.ok(problems.some((p) => /shorter than 32 bytes/.test(p)));
    assert.ok(problems.every((p) => !p.includes('short-secret-value')));
  });

  it('reports bad PEMs, JWKS sources and other fields', () => {
    expectProblem(settings({ publicKeyPems: ['not a pem'] }), /publicKeyPems\[0\]/);
    expectProblem(
      settings({ publicKeyPems: ['-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'] }),
      /private key/,
    );
    expectProblem(settings({ jwks: { url: 'http://idp.example/jwks' } }), /https/);
    expectProblem(settings({ jwks: {} }), /neither url nor file/);
    expectProblem(settings({ orgClaim: '' }), /orgClaim/);
    expectProblem(settings({ adminScope: 'eip admin' }), /adminScope/);
    expectProblem(settings({ clockToleranceSeconds: -1 }), /clockTolerance/);
  });

  it('makes createTokenVerifier fail without leaking the secret', async () => {
    await assert.rejects(createTokenVerifier(settings({ hs256Secret: 'tiny' })), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /shorter than 32 bytes/);
      assert.ok(!err.message.includes('tiny'));
      return true;
    });
  });
});

describe('mintToken', () => {
  it('round-trips through the verifier', async () => {
    const token = await mintToken({
      secret: SECRET,
      orgId: ORG.toUpperCase(),
      subject: 'operator@example',
      scope: 'eip:read eip:admin',
      ttlSeconds: 300,
    });
    const verifier = await createTokenVerifier(settings());
    assert.deepEqual(principalOf(await verifier.verify(bearer(token))), {
      orgId: ORG,
      subject: 'operator@example',
      admin: true,
    });
    const claims = decodeJwt(token);
    assert.equal(typeof claims.iat, 'number');
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 300);
  });

  it('honours algorithm, org claim name, issuer and audience', async () => {
    const token = await mintToken({
      secret: SECRET,
      orgId: ORG,
      orgClaim: 'tenant',
      issuer: 'eipd-cli',
      audience: 'eipd',
      algorithm: 'HS384',
      ttlSeconds: 60,
    });
    const verifier = await createTokenVerifier(
      settings({ algorithms: ['HS384'], orgClaim: 'tenant', issuer: 'eipd-cli', audience: 'eipd' }),
    );
    assert.deepEqual(principalOf(await verifier.verify(bearer(token))), {
      orgId: ORG,
      subject: null,
      admin: false,
    });
    // Only HS256 configured: the HS384 token is refused.
    assertInvalid(await (await createTokenVerifier(settings())).verify(bearer(token)));
  });

  it('refuses unsafe inputs', async () => {
    await assert.rejects(mintToken({ secret: 'short', ttlSeconds: 60 }), RangeError);
    await assert.rejects(mintToken({ secret: SECRET, ttlSeconds: 0 }), RangeError);
    await assert.rejects(mintToken({ secret: SECRET, ttlSeconds: 1.5 }), RangeError);
    await assert.rejects(mintToken({ secret: SECRET, ttlSeconds: 60, orgId: 'acme' }), RangeError);
  });

  it('refuses to mint what the verifier refuses: bad subjects, oversized tokens', async () => {
    for (const subject of ['a\nb', 'tab\there', 'nul\u0000', 'x'.repeat(256)]) {
      await assert.rejects(mintToken({ secret: SECRET, ttlSeconds: 60, subject }), RangeError);
    }
    await assert.rejects(
      mintToken({ secret: SECRET, ttlSeconds: 60, issuer: 'i'.repeat(9000) }),
      /at most 8192/,
    );
    const longest = await mintToken({ secret: SECRET, ttlSeconds: 60, subject: 'x'.repeat(255) });
    const verifier = await createTokenVerifier(settings());
    assert.equal(principalOf(await verifier.verify(bearer(longest))).subject, 'x'.repeat(255));
  });
});

describe('hmacAlgorithmFor', () => {
  it('picks HS256 when accepted, else the first HMAC algorithm listed, else none', () => {
    assert.equal(hmacAlgorithmFor(['RS256', 'HS512', 'HS256']), 'HS256');
    assert.equal(hmacAlgorithmFor(['RS256', 'HS512', 'HS384']), 'HS512');
    assert.equal(hmacAlgorithmFor(['RS256', 'ES256']), undefined);
  });
});
