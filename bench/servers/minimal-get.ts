/**
 * The B2 baseline: the least a server can do to answer `GET /v1/elastic-ips/{id}` correctly for
 * the valid case. Fastify without logging, schemas or hooks; the same token check as eipd
 * (createTokenVerifier with eipd's default settings) and the same SELECT (findElasticIp) over a
 * plain pg pool of the same size as eipd's.
 */
import Fastify from 'fastify';
import pg from 'pg';
import { createTokenVerifier } from '../../src/auth/tokens.js';
import { findElasticIp } from '../../src/elastic-ips/repository.js';
import { queryable } from '../lib/database.js';

const url = process.env.DATABASE_URL;
const secret = process.env.EIPD_JWT_SECRET;
if (url === undefined || secret === undefined) throw new Error('DATABASE_URL and EIPD_JWT_SECRET');
const pool = new pg.Pool({ connectionString: url, max: Number(process.env.POOL_SIZE ?? 10) });
const verifier = await createTokenVerifier({
  hs256Secret: secret,
  publicKeyPems: [],
  algorithms: ['HS256'],
  orgClaim: 'orgId',
  adminScope: 'eip:admin',
});

const app = Fastify({ logger: false });
app.get('/v1/elastic-ips/:id', async (request, reply) => {
  const outcome = await verifier.verify(request.headers.authorization);
  if (!outcome.ok || outcome.principal.orgId === null) {
    return reply
      .code(401)
      .send({ code: 0, group: 'auth_verify', message: 'Invalid access token.' });
  }
  const { id } = request.params as { id: string };
  const client = await pool.connect();
  try {
    const eip = await findElasticIp(queryable(client), outcome.principal.orgId, id.toLowerCase());
    if (eip === undefined) return reply.code(404).send({ code: 4044, reason: 'not found' });
    return eip;
  } finally {
    client.release();
  }
});
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ msg: 'bench server is ready', address })}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => pool.end().then(() => process.exit(0)));
});
