/**
 * The token command (`eipd token`, `eipctl token`) in process: it refuses, with exit 2 and a
 * message, every token that eipd's verifier would refuse, and what it mints, eipd accepts.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { resolveAuth } from '../../src/auth/settings.js';
import { createTokenVerifier, type VerifyOutcome } from '../../src/auth/tokens.js';
import { runTokenCommand } from '../../src/cli/token-command.js';
import { loadConfig } from '../../src/config.js';
import { captureIo } from '../support/cli-io.js';

const SECRET = 'token-command-test-secret-0123456789abcdef';
const ORG = '3f2b8c1e-5d4a-4b6f-9e7d-1a2b3c4d5e6f';

/** Runs `token <args>` with EIPD_JWT_SECRET (and `env`); the token on success. */
async function token(args: string[], env: NodeJS.ProcessEnv = {}) {
  const io = captureIo({ EIPD_JWT_SECRET: SECRET, ...env });
  const code = await runTokenCommand(args, 'eipctl', io);
  return { code, jwt: io.stdout().trim(), stderr: io.stderr() };
}

/** eipd's verdict on `jwt`, with the verifier eipd builds from the same environment. */
async function eipdVerifies(jwt: string, env: NodeJS.ProcessEnv = {}): Promise<VerifyOutcome> {
  const auth = await resolveAuth(loadConfig({ EIPD_JWT_SECRET: SECRET, ...env }));
  return (await createTokenVerifier(auth.settings)).verify(`Bearer ${jwt}`);
}

describe('token', () => {
  test('--sub with a control character or over 255 characters: exit 2, nothing minted', async () => {
    const cases: [string, RegExp][] = [
      ['a\nb', /--sub contains a control character/],
      ['tab\there', /--sub contains a control character/],
      ['right\u202eleft', /--sub contains a control character/],
      ['c1\u0085', /--sub contains a control character/],
      ['x'.repeat(256), /--sub is longer than 255 characters/],
    ];
    for (const [sub, message] of cases) {
      const run = await token(['--org', ORG, '--sub', sub]);
      assert.equal(run.code, 2, JSON.stringify(sub));
      assert.equal(run.jwt, '');
      assert.match(run.stderr, message);
    }
  });

  test('exit 0 exactly when eipd accepts the subject', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.string({ unit: 'grapheme-ascii', minLength: 250, maxLength: 260 }),
        ),
        async (sub) => {
          // `--sub=` form: a subject like "-x" as a separate word is parseArgs's to refuse.
          const run = await token(['--org', ORG, `--sub=${sub}`]);
          if (run.code === 0) {
            const outcome = await eipdVerifies(run.jwt);
            assert.ok(outcome.ok, `${JSON.stringify(sub)}: ${JSON.stringify(outcome)}`);
            assert.equal(outcome.principal.subject, sub);
            return;
          }
          assert.equal(run.code, 2);
          // Refused here: eipd refuses the same subject in a token signed without these checks.
          const now = Math.floor(Date.now() / 1000);
          const bypass = await new SignJWT({ orgId: ORG, sub, exp: now + 60 })
            .setProtectedHeader({ alg: 'HS256' })
            .sign(new TextEncoder().encode(SECRET));
          assert.deepEqual(await eipdVerifies(bypass), { ok: false, failure: 'invalid' });
        },
      ),
      { numRuns: 200 },
    );
  });

  test('signs with an HMAC algorithm that eipd accepts', async () => {
    const env = { EIPD_JWT_ALGORITHMS: 'HS512' };
    const run = await token(['--org', ORG], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(decodeProtectedHeader(run.jwt).alg, 'HS512');
    assert.equal((await eipdVerifies(run.jwt, env)).ok, true);
  });

  test('no HMAC algorithm accepted: exit 2 instead of a token eipd refuses', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'token-command-'));
    const pem = join(dir, 'rsa.pem');
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(pem, publicKey.export({ type: 'spki', format: 'pem' }));
    const run = await token(['--org', ORG], {
      EIPD_JWT_ALGORITHMS: 'RS256',
      EIPD_JWT_PUBLIC_KEYS: pem,
    }).finally(() => rm(dir, { recursive: true, force: true }));
    assert.equal(run.code, 2);
    assert.equal(run.jwt, '');
    assert.match(run.stderr, /EIPD_JWT_ALGORITHMS \(RS256\) lists no HS256, HS384 or HS512/);
  });

  test('a token longer than eipd reads (a huge EIPD_JWT_ISSUER): exit 2', async () => {
    const run = await token(['--org', ORG], { EIPD_JWT_ISSUER: 'i'.repeat(9000) });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /eipd accepts at most 8192/);
  });

  test('what it mints, eipd accepts: org, subject, operator scope, ttl', async () => {
    const run = await token([
      '--org',
      ORG,
      '--sub',
      'alice@example.test',
      '--admin',
      '--ttl',
      '60',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await eipdVerifies(run.jwt), {
      ok: true,
      principal: { orgId: ORG, subject: 'alice@example.test', admin: true },
    });
    const claims = decodeJwt(run.jwt);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 60);
  });
});
