import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { SignJWT } from 'jose';
import { createTokenVerifier, type Principal } from '../../src/auth/tokens.js';
import { createVerifiedTokens } from '../../src/auth/verified-tokens.js';

const SECRET = 'unit-test-secret-0123456789abcdef-xyz';
const ORG = '3f2b8c1e-5d4a-4b6f-9e7d-1a2b3c4d5e6f';
const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const principal: Principal = { orgId: ORG, subject: 'alice', admin: false };
const seconds = (ms: number) => Math.floor(ms / 1000);

describe('the memory of verified tokens', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: START }));
  afterEach(() => mock.timers.reset());

  it('answers a remembered token until its exp, then forgets it', () => {
    const tokens = createVerifiedTokens(0);
    assert.equal(tokens.get('a.b.c'), undefined);
    tokens.remember('a.b.c', principal, seconds(START) + 10);
    assert.deepEqual(tokens.get('a.b.c'), principal);
    assert.equal(tokens.get('a.b.d'), undefined);
    mock.timers.tick(9_999);
    assert.deepEqual(tokens.get('a.b.c'), principal);
    // jose's rule: expired once exp <= now (whole seconds) - tolerance.
    mock.timers.tick(1);
    assert.equal(tokens.get('a.b.c'), undefined);
  });

  it('applies the clock tolerance to exp as jose does', () => {
    const tokens = createVerifiedTokens(30);
    tokens.remember('a.b.c', principal, seconds(START) + 10);
    mock.timers.tick(39_999);
    assert.deepEqual(tokens.get('a.b.c'), principal);
    mock.timers.tick(1);
    assert.equal(tokens.get('a.b.c'), undefined);
  });

  it('forgets a token a minute after it was verified, whatever its exp', () => {
    const tokens = createVerifiedTokens(0);
    tokens.remember('a.b.c', principal, seconds(START) + 3600);
    mock.timers.tick(60_000);
    assert.deepEqual(tokens.get('a.b.c'), principal);
    mock.timers.tick(1);
    assert.equal(tokens.get('a.b.c'), undefined);
  });

  it('keeps at most 4096 tokens, forgetting the oldest first', () => {
    const tokens = createVerifiedTokens(0);
    const exp = seconds(START) + 3600;
    for (let i = 0; i <= 4096; i++) tokens.remember(`t.${i}.s`, principal, exp);
    assert.equal(tokens.get('t.0.s'), undefined);
    assert.deepEqual(tokens.get('t.1.s'), principal);
    assert.deepEqual(tokens.get('t.4096.s'), principal);
  });

  it('does not keep tokens over 4096 characters or without a numeric exp', () => {
    const tokens = createVerifiedTokens(0);
    const long = `a.${'x'.repeat(4096)}.c`;
    tokens.remember(long, principal, seconds(START) + 3600);
    tokens.remember('a.b.c', principal, String(seconds(START) + 3600));
    assert.equal(tokens.get(long), undefined);
    assert.equal(tokens.get('a.b.c'), undefined);
  });
});

describe('a verifier that has seen a token before', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: START }));
  afterEach(() => mock.timers.reset());

  it('still reports it expired once its exp has passed', async () => {
    const verifier = await createTokenVerifier({
      hs256Secret: SECRET,
      publicKeyPems: [],
      algorithms: ['HS256'],
      orgClaim: 'orgId',
      adminScope: 'eip:admin',
    });
    const token = await new SignJWT({ orgId: ORG })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(seconds(START) + 5)
      .sign(new TextEncoder().encode(SECRET));
    const header = `Bearer ${token}`;
    const expected = { ok: true, principal: { orgId: ORG, subject: 'alice', admin: false } };
    assert.deepEqual(await verifier.verify(header), expected);
    assert.deepEqual(await verifier.verify(header), expected);
    mock.timers.tick(5_000);
    assert.deepEqual(await verifier.verify(header), { ok: false, failure: 'expired' });
  });
});
