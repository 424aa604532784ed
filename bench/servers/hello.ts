/**
 * The B2 ceilings: a bare hello-world, as node:http (`node`) or as Fastify without logging
 * (`fastify`), answering the same JSON body to any request.
 */
import { createServer } from 'node:http';
import Fastify from 'fastify';

const BODY = '{"hello":"world"}';
const kind = process.argv[2] ?? 'node';
let address: string;
let close: () => Promise<void>;

if (kind === 'fastify') {
  const app = Fastify({ logger: false });
  app.get('/*', async () => ({ hello: 'world' }));
  address = await app.listen({ host: '127.0.0.1', port: 0 });
  close = () => app.close();
} else {
  const server = createServer((_request, response) => {
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(BODY),
    });
    response.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('no port');
  address = `http://127.0.0.1:${bound.port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
}
process.stdout.write(`${JSON.stringify({ msg: 'bench server is ready', address })}\n`);
process.on('SIGTERM', () => {
  void close().then(() => process.exit(0));
});
