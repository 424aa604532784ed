/**
 * A remote JWKS is refetched on an unknown `kid` at most once per cooldown, and concurrent
 * verifications of unknown kids share that one fetch: a flood of tokens with made-up kids costs
 * the identity provider one request per cooldown, not one per token. Checked against a local
 * JWKS server that counts its requests and answers slowly, so that concurrent callers overlap.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/tokens.js';

const ORG = '3f2b8c1e-5d4a-4b6f-9e7d-1a2b3c4d5e6f';
/** Long enough that the "within the cooldown" steps below never outlast it, even under load. */
const COOLDOWN_MS = 2_000;
const FETCH_DELAY_MS = 150;

let server: Server;
let fetches = 0;
let served: JWK[] = [];
let url: string;
let key1: CryptoKey;
let key2: CryptoKey;
let jwk2: JWK;

before(async () => {
  const pair1 = await generateKeyPair('ES256');
  const pair2 = await generateKeyPair('ES256');
  key1 = pair1.privateKey;
  key2 = pair2.privateKey;
  served = [{ ...(await exportJWK(pair1.publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' }];
  jwk2 = { ...(await exportJWK(pair2.publicKey)), kid: 'key-2', alg: 'ES256', use: 'sig' };
  server = createServer((_req, res) => {
    fetches += 1;
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: served }));
    }, FETCH_DELAY_MS);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
});
after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const sign = (key: CryptoKey, kid: string) =>
  new SignJWT({ orgId: ORG })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setExpirationTime('1h')
    .sign(key);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function verifyAll(verifier: TokenVerifier, tokens: string[]): Promise<string[]> {
  const outcomes = await Promise.all(tokens.map((t) => verifier.verify(`Bearer ${t}`)));
  return outcomes.map((o) => (o.ok ? 'ok' : o.failure));
}

test('unknown kids refetch the JWKS at most once per cooldown, concurrent ones sharing the fetch', async () => {
  const verifier = await createTokenVerifier({
    publicKeyPems: [],
    algorithms: ['ES256'],
    orgClaim: 'orgId',
    adminScope: 'eip:admin',
    jwks: { url },
    jwksCooldownMs: COOLDOWN_MS,
  });
  const madeUp = (n: number) =>
    Promise.all(Array.from({ length: n }, () => sign(key1, randomUUID())));
  const firstFlood = await madeUp(20);
  const secondFlood = await madeUp(20);
  const thirdFlood = await madeUp(20);
  const good = await sign(key1, 'key-1');
  const rotated = await sign(key2, 'key-2');

  // Ten concurrent first verifications: one fetch.
  assert.deepEqual(await verifyAll(verifier, Array(10).fill(good)), Array(10).fill('ok'));
  assert.equal(fetches, 1);

  // Within the cooldown that fetch started, made-up kids fetch nothing.
  assert.deepEqual(await verifyAll(verifier, firstFlood), Array(20).fill('invalid'));
  assert.equal(fetches, 1);

  // After it, twenty concurrent made-up kids share a single refetch, which starts a new cooldown.
  await sleep(COOLDOWN_MS + 200);
  assert.deepEqual(await verifyAll(verifier, secondFlood), Array(20).fill('invalid'));
  assert.equal(fetches, 2);
  assert.deepEqual(await verifyAll(verifier, thirdFlood), Array(20).fill('invalid'));
  assert.equal(fetches, 2);

  // A key the provider really added is picked up by the first unknown kid after the cooldown.
  served = [...served, jwk2];
  assert.deepEqual(await verifyAll(verifier, [rotated]), ['invalid']);
  assert.equal(fetches, 2);
  await sleep(COOLDOWN_MS + 200);
  assert.deepEqual(await verifyAll(verifier, [rotated, rotated, good]), ['ok', 'ok', 'ok']);
  assert.equal(fetches, 3);
});
