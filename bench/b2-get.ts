/**
 * B2: `GET /v1/elastic-ips/{id}` against a minimal Fastify handler doing the same token check and
 * the same SELECT (bench/servers/minimal-get.ts), with bare hello-worlds as the ceiling.
 */
import { join } from 'node:path';
import { B1_PRODUCT } from './b1-allocate.js';
import { type BenchContext, httpSide, IDC, SECRET, token } from './lib/context.js';
import { expectStatus, HttpConnection, rawRequest } from './lib/http-client.js';
import { interleave } from './lib/load.js';
import { allocateMany, resetAll } from './lib/pools.js';
import { startBenchServer } from './lib/processes.js';
import { perSecond, type Row, throughput } from './lib/report.js';

const ORG = '2b7d4f7e-5c1a-4e8b-8f3d-9a6c0e1b2d03';
const EIPS = 1000;
const CONCURRENCY = 32;

export async function benchGet(ctx: BenchContext, pools: readonly string[]): Promise<Row[]> {
  await resetAll(ctx.admin, pools);
  const ids = await allocateMany(
    ctx.admin,
    { orgId: ORG, subject: 'bench', idc: IDC, product: B1_PRODUCT, name: 'b2' },
    EIPS,
  );
  await ctx.admin.query('VACUUM ANALYZE elastic_ips');
  const bearer = `Bearer ${await token(ORG)}`;
  const requests = ids.map((id) =>
    rawRequest('GET', `/v1/elastic-ips/${id}`, { Authorization: bearer }),
  );
  const env = { DATABASE_URL: ctx.database.url, EIPD_JWT_SECRET: SECRET };
  const minimal = await startBenchServer({
    script: 'minimal-get.ts',
    env,
    logFile: join(ctx.tmp, 'minimal-get.log'),
  });
  const helloNode = await startBenchServer({
    script: 'hello.ts',
    args: ['node'],
    env: {},
    logFile: join(ctx.tmp, 'hello-node.log'),
  });
  const helloFastify = await startBenchServer({
    script: 'hello.ts',
    args: ['fastify'],
    env: {},
    logFile: join(ctx.tmp, 'hello-fastify.log'),
  });
  try {
    // Both answer the same document for the same id.
    const probe = requests[0];
    if (probe === undefined) throw new Error('no EIP');
    const answers = [];
    for (const url of [ctx.eipd.url, minimal.url]) {
      const connection = HttpConnection.forUrl(url);
      answers.push(JSON.parse((await expectStatus(connection, probe)).body.toString()));
      connection.close();
    }
    if (JSON.stringify(answers[0]) !== JSON.stringify(answers[1])) {
      throw new Error(`B2: the baseline answers differently:\n${JSON.stringify(answers)}`);
    }

    const counters = [0, 0];
    const pick = (side: number) => () => {
      const i = counters[side] ?? 0;
      counters[side] = i + 1;
      return requests[(i * 7919) % requests.length] ?? probe;
    };
    const [eipd, base] = await interleave(
      [
        httpSide(ctx, {
          name: 'eipd',
          url: ctx.eipd.url,
          concurrency: CONCURRENCY,
          request: pick(0),
          serverPid: ctx.eipd.pid,
        }),
        httpSide(ctx, {
          name: 'minimal',
          url: minimal.url,
          concurrency: CONCURRENCY,
          request: pick(1),
          serverPid: minimal.pid,
        }),
      ],
      { slices: ctx.mode.slices, sliceMs: ctx.mode.sliceMs },
    );
    const hello = rawRequest('GET', '/hello', {});
    const [node, fastify] = await interleave(
      [
        httpSide(ctx, {
          name: 'hello node:http',
          url: helloNode.url,
          concurrency: CONCURRENCY,
          request: () => hello,
          serverPid: helloNode.pid,
        }),
        httpSide(ctx, {
          name: 'hello fastify',
          url: helloFastify.url,
          concurrency: CONCURRENCY,
          request: () => hello,
          serverPid: helloFastify.pid,
        }),
      ],
      { slices: 1, sliceMs: ctx.mode.sliceMs },
    );
    if (eipd === undefined || base === undefined || node === undefined || fastify === undefined) {
      throw new Error('B2');
    }
    ctx.runs.push(
      { benchmark: 'B2', label: 'eipd GET /v1/elastic-ips/{id}', result: eipd },
      { benchmark: 'B2', label: 'minimal Fastify, same token check and SELECT', result: base },
      { benchmark: 'B2', label: 'hello-world, node:http', result: node },
      { benchmark: 'B2', label: 'hello-world, Fastify', result: fastify },
    );
    ctx.log(
      `B2: eipd ${perSecond(eipd.perSecond)}, minimal ${perSecond(base.perSecond)}, hello ${perSecond(node.perSecond)} / ${perSecond(fastify.perSecond)}`,
    );
    return [
      {
        benchmark: `B2 GET /v1/elastic-ips/{id} (${CONCURRENCY} clients)`,
        measured: throughput(eipd),
        baseline: `${throughput(base)}, minimal Fastify`,
        ratio: eipd.perSecond / base.perSecond,
        goal: { op: '>=', value: 0.8 },
      },
      {
        benchmark: 'B2 ceiling: hello-world',
        measured: `${perSecond(eipd.perSecond)} (eipd)`,
        baseline: `${perSecond(node.perSecond)} node:http, ${perSecond(fastify.perSecond)} Fastify`,
        ratio: eipd.perSecond / node.perSecond,
      },
    ];
  } finally {
    await minimal.stop();
    await helloNode.stop();
    await helloFastify.stop();
  }
}
