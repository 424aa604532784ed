/**
 * `npm run bench:profile -- [--op=allocate|get] [--clients=32] [--seconds=8] [--keep]
 * [--env=KEY=VALUE ...]`: where eipd's own CPU goes under load. Starts eipd (the built
 * dist/main.js) with --cpu-prof on a throwaway database, drives `POST /v1/elastic-ips`
 * (`count: 1`) or `GET /v1/elastic-ips/{id}` with the benchmark's load generator, then prints
 * the throughput, the CPU each party spent per request, and eipd's profile: the share of its
 * samples per category (the first category found walking each sample's stack from the leaf
 * up) and the functions with the most self time. `--keep` leaves the .cpuprofile (for Chrome
 * DevTools) in place and prints its path.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchContext, httpSide, IDC, SECRET, token } from './lib/context.js';
import { postmasterPid, setBenchDatabase } from './lib/cpu.js';
import {
  BenchSetupError,
  checkReachable,
  connectClient,
  createBenchDatabase,
} from './lib/database.js';
import { expectStatus, HttpConnection, rawRequest } from './lib/http-client.js';
import { interleave } from './lib/load.js';
import { describeMachine } from './lib/machine.js';
import { startEipd } from './lib/processes.js';

const PRODUCT = 'eip.profile';
const ORG = '5a0d3c2b-1e4f-4a6b-8c7d-9e0f1a2b3c04';

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

const op = option('op', 'allocate');
const clients = Number(option('clients', '32'));
const seconds = Number(option('seconds', '8'));
const keep = process.argv.includes('--keep');
const extraEnv = Object.fromEntries(
  process.argv
    .filter((a) => a.startsWith('--env='))
    .map((a) => {
      const [key, ...value] = a.slice('--env='.length).split('=');
      return [key ?? '', value.join('=')];
    }),
);
if (op !== 'allocate' && op !== 'get') throw new Error('--op must be allocate or get');

/**
 * Categories of eipd's work. A sample belongs to the first frame, from the leaf up, that is not
 * Node.js itself (node:* modules, native code): the library or module that asked for the work.
 * Samples inside write system calls are split by what they write, since on loopback a write
 * carries the kernel's TCP work for both ends and is often the largest single item.
 */
const CATEGORIES: [string, RegExp][] = [
  ['token verification (jose, WebCrypto)', /jose\/|dist\/auth\/tokens/],
  ['logging (pino)', /pino|sonic-boom|log-controller/],
  ['request body (parse, validate)', /json-body|json-scan|secure-json-parse|ajv|validation/],
  ['PostgreSQL client (pg, pool, deadlines)', /node_modules\/pg|pg-protocol|pg-pool|dist\/db\//],
  ['Fastify (routing, hooks, replies)', /fastify|find-my-way|avvio|light-my-request/],
  ['eipd route and use case', /dist\//],
];
const INTERNAL_CATEGORIES: [string, RegExp][] = [
  ['garbage collection', /^\(garbage collector\)/],
  ['idle', /^\(idle\)/],
  ['token verification (jose, WebCrypto)', /internal\/crypto/],
  ['HTTP (node:http parser, sockets)', /node:_http|node:net|stream_base_commons/],
  ['module loading (start-up)', /node:internal\/modules|^\(program\)/],
];
const WRITES = /^(writev|writeBuffer|writeString|writeUtf8String|writeLatin1String) /;

function categorize(stack: readonly string[]): string {
  const leaf = stack[0] ?? '';
  if (WRITES.test(leaf)) {
    if (stack.some((f) => /node_modules\/pg/.test(f))) return 'write system calls: to PostgreSQL';
    if (stack.some((f) => /sonic-boom|pino/.test(f))) return 'write system calls: log lines';
    return 'write system calls: HTTP responses';
  }
  const owner = stack.find((f) => !/ (node:|:0$)/.test(f) && !/^\(/.test(f));
  if (owner !== undefined) {
    const hit = CATEGORIES.find(([, pattern]) => pattern.test(owner));
    if (hit !== undefined) return hit[0];
  }
  for (const frame of stack) {
    const hit = INTERNAL_CATEGORIES.find(([, pattern]) => pattern.test(frame));
    if (hit !== undefined) return hit[0];
  }
  return 'other (V8, Node.js internals)';
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function frameName(node: ProfileNode): string {
  const url = node.callFrame.url
    .replace(/^.*node_modules\//, 'node_modules/')
    .replace(/^file:\/\/.*\/dist\//, 'dist/');
  return `${node.callFrame.functionName || '(anonymous)'} ${url}:${node.callFrame.lineNumber + 1}`;
}

function summarize(profile: CpuProfile): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const leaf = byId.get(id);
    if (leaf === undefined) continue;
    total += us;
    functions.set(frameName(leaf), (functions.get(frameName(leaf)) ?? 0) + us);
    const stack: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node === undefined) break;
      stack.push(frameName(node));
    }
    const category = categorize(stack);
    categories.set(category, (categories.get(category) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return [
    `eipd profile: ${(total / 1e6).toFixed(1)} s sampled (start-up included)`,
    '',
    'by category:',
    ...sorted(categories).map(([name, us]) => `  ${pct(us)}  ${name}`),
    '',
    'functions with the most self time:',
    ...sorted(functions)
      .slice(0, 30)
      .map(([name, us]) => `  ${pct(us)}  ${name}`),
  ].join('\n');
}

async function main(): Promise<void> {
  await checkReachable();
  const machine = await describeMachine();
  const database = await createBenchDatabase();
  setBenchDatabase(database.name, postmasterPid(machine.dataDirectory));
  const tmp = await mkdtemp(join(tmpdir(), 'eipd-profile-'));
  try {
    const catalog = join(tmp, 'catalog.yaml');
    await writeFile(
      catalog,
      [
        `idcs: [{ name: ${IDC} }]`,
        `products: [{ name: ${PRODUCT}, internetConnectionType: BGP, maxBandwidth: 100 Gbps }]`,
        `pools: [{ name: profile, idc: ${IDC}, cidr: "10.0.0.0/8", products: [${PRODUCT}] }]`,
        '',
      ].join('\n'),
    );
    const eipdEnv = {
      DATABASE_URL: database.url,
      EIPD_JWT_SECRET: SECRET,
      EIPD_CATALOG: catalog,
      ...extraEnv,
    };
    const eipd = await startEipd({
      env: eipdEnv,
      logFile: join(tmp, 'eipd.log'),
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${tmp}`],
    });
    const admin = await connectClient(database.url);
    const bearer = `Bearer ${await token(ORG)}`;
    const allocate = rawRequest(
      'POST',
      '/v1/elastic-ips',
      { Authorization: bearer, 'Content-Type': 'application/json' },
      JSON.stringify({ idc: IDC, product: PRODUCT, name: 'profile', count: 1 }),
    );
    let request = allocate;
    if (op === 'get') {
      const connection = HttpConnection.forUrl(eipd.url);
      const answer = await expectStatus(connection, allocate);
      connection.close();
      const [created] = JSON.parse(answer.body.toString()) as { id: string }[];
      request = rawRequest('GET', `/v1/elastic-ips/${created?.id}`, { Authorization: bearer });
    }
    const ctx: BenchContext = {
      mode: {
        name: 'quick',
        warmupMs: 1000,
        durationMs: seconds * 1000,
        slices: 1,
        sliceMs: seconds * 1000,
        pgbenchSlices: 0,
        pgbenchSliceMs: 0,
      },
      database,
      admin,
      eipd,
      eipdEnv,
      tmp,
      runs: [],
      log: () => {},
    };
    const [result] = await interleave(
      [
        httpSide(ctx, {
          name: op,
          url: eipd.url,
          concurrency: clients,
          request: () => request,
          serverPid: eipd.pid,
        }),
      ],
      { slices: 1, sliceMs: seconds * 1000 },
    );
    await eipd.stop();
    await admin.end();
    if (result === undefined) throw new Error('no result');
    const perRequest = (percent: number) =>
      `${((percent * 10_000) / result.perSecond).toFixed(0)} µs`;
    process.stdout.write(
      [
        `${op}, ${clients} clients, ${seconds} s: ${result.perSecond.toFixed(0)}/s, p50 ${(result.latency.quantileUs(0.5) / 1000).toFixed(1)} ms, ${result.errors} errors${result.firstError === undefined ? '' : ` (${result.firstError})`}`,
        `CPU per request: eipd ${perRequest(result.cpu.server)}, PostgreSQL ${perRequest(result.cpu.postgres)}, load generator ${perRequest(result.cpu.generator)}; others on the machine used ${result.cpu.others.toFixed(0)} % of a core`,
        '',
        '',
      ].join('\n'),
    );
    const file = (await readdir(tmp)).find((name) => name.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('eipd wrote no .cpuprofile');
    const path = join(tmp, file);
    process.stdout.write(`${summarize(JSON.parse(await readFile(path, 'utf8')) as CpuProfile)}\n`);
    if (keep) process.stdout.write(`\nprofile kept: ${path}\n`);
  } finally {
    await database.drop();
    if (!keep) await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `profile failed: ${error instanceof BenchSetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
