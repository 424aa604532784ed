/**
 * eipctl end to end: the built command (dist/cli/eipctl.js) run as a child process against a live
 * eipd server process on PostgreSQL, the way an operator or a script uses it. Covers the tenant
 * flow (allocate, associate, list as a table and as JSON, history, release), the profile file,
 * exit codes, bulk allocation with progress, the event stream, token minting and catalog apply.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jwtVerify } from 'jose';
import { createEipdClient, type ElasticIP } from '../../src/sdk/index.js';
import { TEST_SECRET } from '../support/app.js';
import { createPostgres, type TestDatabase } from '../support/databases.js';
import { type Fleet, startFleet } from '../support/fleet.js';

const EIPCTL = fileURLToPath(new URL('../../dist/cli/eipctl.js', import.meta.url));
const EIPD_CLI = fileURLToPath(new URL('../../dist/cli/eipd.js', import.meta.url));

const CATALOG = `
idcs: [{ name: e2e-east }]
products:
  - { name: eip.e2e, internetConnectionType: BGP, maxBandwidth: 10 Gbps }
  - { name: eip.tiny, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: east-v4, idc: e2e-east, cidr: 203.0.113.0/24, products: [eip.e2e] }
  - { name: east-tiny, idc: e2e-east, cidr: 192.0.2.8/31, products: [eip.tiny] }
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * An HTTP proxy in front of eipd. Each `refuse` entry ("GET /v1/elastic-ips") refuses the next
 * request of that method and path (query aside) once, as eipd does over its rate limit (429 code
 * 4291, Retry-After: 1); everything else is forwarded.
 */
async function startRefusingProxy(target: string) {
  const state = { refuse: [] as string[], refused: [] as string[] };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const key = `${request.method} ${(request.url ?? '').split('?')[0]}`;
      const entry = state.refuse.indexOf(key);
      if (entry !== -1) {
        state.refuse.splice(entry, 1);
        state.refused.push(key);
        response.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '1' });
        response.end(JSON.stringify({ code: 4291, reason: 'rate limited (proxy)' }));
        return;
      }
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string' && name !== 'host' && name !== 'connection') {
          headers.set(name, value);
        }
      }
      const body = chunks.length === 0 ? undefined : Buffer.concat(chunks);
      fetch(`${target}${request.url ?? '/'}`, {
        method: request.method ?? 'GET',
        headers,
        ...(body === undefined ? {} : { body }),
      }).then(
        async (answer) => {
          const out: Record<string, string> = {};
          answer.headers.forEach((value, name) => {
            if (
              !['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(
                name,
              )
            ) {
              out[name] = value;
            }
          });
          response.writeHead(answer.status, out);
          response.end(Buffer.from(await answer.arrayBuffer()));
        },
        () => {
          response.writeHead(502);
          response.end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('eipctl against a live eipd', () => {
  let database: TestDatabase;
  let fleet: Fleet;
  let dir: string;
  let url: string;
  let profiles: string;
  let orgId: string;
  /** The environment eipctl runs in: no EIPCTL_* or EIPD_* of the test runner's. */
  let baseEnv: NodeJS.ProcessEnv;

  /** Starts eipctl; `output` fills in as it writes, `exited` resolves with its exit code. */
  function start(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string, program = EIPCTL) {
    const child = spawn(process.execPath, [program, ...args], {
      env: { ...baseEnv, ...env },
      ...(cwd === undefined ? {} : { cwd }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => {
      output.stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output.stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    return { child, output, exited };
  }

  async function eipctl(
    args: string[],
    env: NodeJS.ProcessEnv = {},
    cwd?: string,
    program = EIPCTL,
  ): Promise<Run> {
    const { output, exited } = start(args, env, cwd, program);
    const code = await exited;
    return { code, ...output };
  }

  /** Runs eipctl, asserts exit code 0, and returns its stdout. */
  async function ok(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<string> {
    const run = await eipctl(args, env, cwd);
    assert.equal(run.code, 0, `eipctl ${args.join(' ')}: exit ${run.code}\n${run.stderr}`);
    return run.stdout;
  }

  async function okJson<T>(args: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
    return JSON.parse(await ok([...args, '-o', 'json'], env)) as T;
  }

  before(async () => {
    database = await createPostgres();
    assert.ok(database.url !== undefined);
    fleet = await startFleet({ databaseUrl: database.url, catalogYaml: CATALOG, processes: 1 });
    url = fleet.processes[0]?.url ?? '';
    dir = await mkdtemp(join(tmpdir(), 'eipctl-e2e-'));
    profiles = join(dir, 'profiles.json');
    baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, EIPCTL_PROFILES: profiles };
    orgId = randomUUID();

    // Tokens come from eipctl token, with the server's secret, and go into the profile file: the
    // tenant's inline, the operator's in a file of its own.
    const secretEnv = { EIPD_JWT_SECRET: TEST_SECRET };
    const tenant = (await ok(['token', '--org', orgId, '--sub', 'alice'], secretEnv)).trim();
    const operator = (await ok(['token', '--admin', '--sub', 'ops'], secretEnv)).trim();
    await writeFile(join(dir, 'ops.jwt'), `${operator}\n`);
    await writeFile(
      profiles,
      JSON.stringify({
        default: { url, token: tenant },
        ops: { url, tokenFile: join(dir, 'ops.jwt') },
      }),
    );
  });

  after(async () => {
    try {
      await fleet?.stop();
    } finally {
      await database?.dispose();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    }
  });

  test('allocate, associate, list (table and JSON), history, release', async () => {
    const allocated = await okJson<ElasticIP[]>([
      'elastic-ips',
      'allocate',
      '--idc',
      'e2e-east',
      '--product',
      'eip.e2e',
      '--name',
      'web-1',
      '--count',
      '2',
    ]);
    assert.equal(allocated.length, 2);
    for (const eip of allocated) {
      assert.equal(eip.status, 'disassociated');
      assert.equal(eip.orgId, orgId);
      assert.match(eip.ipAddress, /^203\.0\.113\.\d+$/);
    }
    const [eip, other] = allocated;
    assert.ok(eip !== undefined && other !== undefined);

    const instanceID = randomUUID();
    const operator = (await ok(['token', '--admin'], { EIPD_JWT_SECRET: TEST_SECRET })).trim();
    await createEipdClient({ baseUrl: url, token: operator }).registerInstance(instanceID, {
      orgId,
      idc: 'e2e-east',
      instanceType: 'baremetal',
    });
    const associated = await ok([
      'elastic-ips',
      'associate',
      eip.id,
      '--instance',
      instanceID,
      '--type',
      'baremetal',
    ]);
    const [header, row, ...restRows] = associated.trimEnd().split('\n');
    assert.match(header ?? '', /^ID +NAME +ADDRESS +STATUS +IDC +PRODUCT +INSTANCE +CREATED$/);
    assert.deepEqual(restRows, []);
    assert.deepEqual((row ?? '').split(/ +/).slice(0, 7), [
      eip.id,
      'web-1',
      eip.ipAddress,
      'associated',
      'e2e-east',
      'eip.e2e',
      instanceID,
    ]);

    // The table: one header and one aligned row per elastic IP, in (createdAt, id) order.
    const table = (await ok(['elastic-ips', 'list', '--name', 'web-1'])).trimEnd().split('\n');
    assert.equal(table.length, 3, table.join('\n'));
    const addressColumn = (table[0] ?? '').indexOf('ADDRESS');
    const byId = new Map(table.slice(1).map((line) => [line.split(' ')[0], line]));
    assert.deepEqual([...byId.keys()].sort(), [eip.id, other.id].sort());
    for (const e of allocated) {
      const line = byId.get(e.id) ?? '';
      assert.equal(line.slice(addressColumn).split(' ')[0], e.ipAddress, line);
    }
    assert.match(byId.get(eip.id) ?? '', / associated +e2e-east +eip\.e2e +[0-9a-f-]{36} /);
    assert.match(byId.get(other.id) ?? '', / disassociated +e2e-east +eip\.e2e +- /);

    const listed = await okJson<ElasticIP[]>(['elastic-ips', 'list', '--name', 'web-1']);
    assert.deepEqual(
      listed.map((e) => [e.id, e.status, e.instanceID]).sort(),
      [
        [eip.id, 'associated', instanceID],
        [other.id, 'disassociated', null],
      ].sort(),
    );

    const refused = await eipctl(['elastic-ips', 'release', eip.id]);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /400 \(code 4002\)/);

    await ok(['elastic-ips', 'disassociate', eip.id]);
    const released = await okJson<ElasticIP>(['elastic-ips', 'release', eip.id]);
    assert.equal(released.status, 'released');
    assert.ok(released.releasedAt !== null && released.releasedAt !== undefined);
    const releasedList = await okJson<ElasticIP[]>(['eips', 'list', '--status', 'released']);
    assert.deepEqual(
      releasedList.map((e) => e.id),
      [eip.id],
    );

    const history = await okJson<{ eipId: string; orgId: string; until: string | null }[]>([
      'history',
      eip.ipAddress,
      '--profile',
      'ops',
    ]);
    assert.deepEqual(
      history.map((h) => [h.eipId, h.orgId, h.until === null]),
      [[eip.id, orgId, false]],
    );
    const historyTable = await ok(['history', eip.ipAddress, '--profile', 'ops']);
    assert.match(historyTable, /^ADDRESS +EIP +ORG +FROM +UNTIL\n/);
    assert.ok(historyTable.includes(`${eip.ipAddress}  ${eip.id}  ${orgId}`), historyTable);

    const events = await okJson<{ events: { eipId: string; type: string }[]; cursor: string }>([
      'events',
      '--profile',
      'ops',
    ]);
    assert.deepEqual(
      events.events.filter((e) => e.eipId === eip.id).map((e) => e.type),
      ['allocated', 'associated', 'disassociated', 'released'],
    );
    assert.ok(events.cursor.length > 0);
  });

  test('flags win over the environment, which wins over the profile', async () => {
    // The profile's token is valid; a bad one in the environment must be the one used.
    const fromEnv = await eipctl(['elastic-ips', 'list'], { EIPCTL_TOKEN: 'not-a-token' });
    assert.equal(fromEnv.code, 5, fromEnv.stderr);
    assert.match(fromEnv.stderr, /401.*Invalid access token/);
    // ...and a flag wins over the environment.
    const tenant = (await ok(['token', '--org', orgId], { EIPD_JWT_SECRET: TEST_SECRET })).trim();
    await ok(['elastic-ips', 'list', '--token', tenant], { EIPCTL_TOKEN: 'not-a-token' });
    const wrongUrl = await eipctl(['elastic-ips', 'list', '--timeout', '2'], {
      EIPCTL_URL: 'http://127.0.0.1:9',
    });
    assert.equal(wrongUrl.code, 6, wrongUrl.stderr);
    await ok(['elastic-ips', 'list', '--url', url], { EIPCTL_URL: 'http://127.0.0.1:9' });
    const missing = await eipctl(['pools', '--profile', 'nobody']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /profile "nobody" is not in/);
  });

  test('exit codes tell usage, refusal, not found, unauthorized, unavailable and capacity apart', async () => {
    const cases: [args: string[], env: NodeJS.ProcessEnv, code: number, stderr: RegExp][] = [
      [['elastic-ips', 'frobnicate'], {}, 2, /unknown command elastic-ips frobnicate/],
      [['elastic-ips', 'allocate', '--idc', 'e2e-east'], {}, 2, /--product is required/],
      [['elastic-ips', 'list'], { EIPCTL_PROFILES: join(dir, 'none.json') }, 2, /no token/],
      [['elastic-ips', 'get', randomUUID()], {}, 4, /404 \(code 4044\)/],
      [
        ['elastic-ips', 'allocate', '--idc', 'e2e-east', '--product', 'eip.e2e', '--name', '-x'],
        {},
        2,
        /--name/,
      ],
      [
        ['elastic-ips', 'allocate', '--idc=e2e east', '--product=eip.e2e', '--name=-x'],
        {},
        3,
        /idc: This field does not match the required pattern[\s\S]*name: /,
      ],
      [['pools'], {}, 5, /403 \(code 4031\)/],
      [
        [
          'elastic-ips',
          'allocate',
          '--idc=e2e-east',
          '--product=eip.tiny',
          '--name=t',
          '--count=3',
        ],
        {},
        7,
        /503 \(code 5031\)[\s\S]*retry after \d+ s/,
      ],
    ];
    for (const [args, env, code, stderr] of cases) {
      const run = await eipctl(args, env);
      assert.equal(run.code, code, `eipctl ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, stderr, `eipctl ${args.join(' ')}`);
      assert.equal(run.stdout, '', `eipctl ${args.join(' ')} printed to stdout`);
    }
    const json = await eipctl(['elastic-ips', 'get', randomUUID(), '-o', 'json']);
    assert.equal(json.code, 4);
    const body = JSON.parse(json.stderr) as { status: number; code: number; requestId: string };
    assert.equal(body.status, 404);
    assert.equal(body.code, 4044);
    assert.match(body.requestId, /\S/);
  });

  test('bulk allocation runs in batches with progress, and the same key resumes without allocating twice', async () => {
    const key = `bulk-${randomUUID()}`;
    const args = [
      'elastic-ips',
      'allocate',
      '--idc=e2e-east',
      '--product=eip.e2e',
      '--name=bulk',
      '--count=5',
      '--batch-size=2',
      `--idempotency-key=${key}`,
      '--progress',
      '-o',
      'json',
    ];
    const first = await eipctl(args);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      first.stderr.split('\n').filter((l) => l.startsWith('allocated')),
      ['allocated 2/5', 'allocated 4/5', 'allocated 5/5'],
    );
    const ids = (JSON.parse(first.stdout) as ElasticIP[]).map((e) => e.id);
    assert.equal(new Set(ids).size, 5);
    const again = JSON.parse(await ok(args)) as ElasticIP[];
    assert.deepEqual(
      again.map((e) => e.id),
      ids,
    );
    const held = await okJson<ElasticIP[]>(['elastic-ips', 'list', '--name', 'bulk']);
    assert.deepEqual(held.map((e) => e.id).sort(), [...ids].sort());

    // A bulk allocation that fails part way prints what it got and how to resume.
    const partial = await eipctl([
      'elastic-ips',
      'allocate',
      '--idc=e2e-east',
      '--product=eip.tiny',
      '--name=partial',
      '--count=3',
      '--batch-size=1',
      '--idempotency-key=partial-1',
      '-o',
      'json',
    ]);
    assert.equal(partial.code, 7, partial.stderr);
    const got = JSON.parse(partial.stdout) as ElasticIP[];
    assert.deepEqual(got.map((e) => e.ipAddress).sort(), ['192.0.2.8', '192.0.2.9']);
    assert.match(partial.stderr, /allocated 2 of 3 .* --idempotency-key partial-1 /);
  });

  test('events --follow prints events as they commit until stopped', async () => {
    const { child, output, exited } = start([
      'events',
      '--follow',
      '--from-now',
      '--profile',
      'ops',
      '-o',
      'json',
    ]);
    try {
      // --from-now: nothing before this point. Allocate until the follower shows the event (it
      // may not have read its starting cursor yet when the first allocation commits).
      const deadline = Date.now() + 20_000;
      let lines: { type: string; name?: string; eipId: string }[] = [];
      const allocatedIds: string[] = [];
      while (Date.now() < deadline) {
        const [created] = await okJson<ElasticIP[]>([
          'elastic-ips',
          'allocate',
          '--idc=e2e-east',
          '--product=eip.e2e',
          '--name=followed',
        ]);
        assert.ok(created !== undefined);
        allocatedIds.push(created.id);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        lines = output.stdout
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as { type: string; eipId: string });
        if (lines.length > 0) break;
      }
      assert.ok(lines.length > 0, `no event followed; stderr: ${output.stderr}`);
      for (const line of lines) {
        assert.equal(line.type, 'allocated');
        assert.ok(allocatedIds.includes(line.eipId), JSON.stringify(line));
      }
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output.stderr);
  });

  test('token never creates a secret: without one it exits 2 and says where it looked', async () => {
    const empty = await mkdtemp(join(dir, 'no-data-'));
    for (const program of [EIPCTL, EIPD_CLI]) {
      const run = await eipctl(['token', '--org', orgId], {}, empty, program);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.ok(
        run.stderr.includes(`no data directory at ${join(empty, '.eipd-data')}`),
        run.stderr,
      );
      assert.match(run.stderr, /Set EIPD_JWT_SECRET .* or EIPD_DATA_DIR/);
      assert.deepEqual(await readdir(empty), [], 'the token command created files');
    }
    await mkdir(join(empty, 'data'));
    const noSecret = await eipctl(['token', '--admin'], { EIPD_DATA_DIR: 'data' }, empty);
    assert.equal(noSecret.code, 2, noSecret.stderr);
    assert.ok(noSecret.stderr.includes(`${join(empty, 'data')} holds no jwt-secret`));
    assert.deepEqual(await readdir(join(empty, 'data')), []);

    // The demo eipd's data directory (it generated the secret at start): tokens signed with it.
    const secret = 'a-demo-secret-of-at-least-32-bytes-long';
    await writeFile(join(empty, 'data', 'jwt-secret'), `${secret}\n`);
    const minted = await ok(['token', '--org', orgId], { EIPD_DATA_DIR: 'data' }, empty);
    const { payload } = await jwtVerify(minted.trim(), new TextEncoder().encode(secret));
    assert.equal(payload.orgId, orgId);
  });

  test('bulk allocation reads its EIPs back in a few list pages, within a rate limit of 20 a minute', async () => {
    // A server of its own (own database, own pool) with a low limit: 250 GETs would be refused
    // after the 20th; 3 allocations and 1 list page are not.
    const limitedDb = await createPostgres();
    assert.ok(limitedDb.url !== undefined);
    const limited = await startFleet({
      databaseUrl: limitedDb.url,
      catalogYaml: CATALOG,
      processes: 1,
      env: { EIPD_RATE_LIMIT_PER_MINUTE: '20' },
    });
    try {
      const limitedOrg = randomUUID();
      const run = await eipctl([
        'elastic-ips',
        'allocate',
        '--idc=e2e-east',
        '--product=eip.e2e',
        '--name=many',
        '--count=250',
        '--batch-size=100',
        `--url=${limited.processes[0]?.url ?? ''}`,
        `--token=${await limited.token(limitedOrg)}`,
        '-o',
        'json',
      ]);
      assert.equal(run.code, 0, run.stderr);
      const eips = JSON.parse(run.stdout) as ElasticIP[];
      assert.equal(eips.length, 250);
      assert.equal(new Set(eips.map((e) => e.id)).size, 250);
      assert.equal(new Set(eips.map((e) => e.ipAddress)).size, 250);
      for (const eip of eips) {
        assert.deepEqual(
          [eip.name, eip.idc, eip.product, eip.status, eip.orgId],
          ['many', 'e2e-east', 'eip.e2e', 'disassociated', limitedOrg],
        );
      }
    } finally {
      try {
        await limited.stop();
      } finally {
        await limitedDb.dispose();
      }
    }
  });

  test('a 429 with Retry-After is waited out (with a note, none with -q) by list, events and bulk allocation', async () => {
    const proxy = await startRefusingProxy(url);
    try {
      const via = ['--url', proxy.url, '-o', 'json'];
      // Allocation, then reading back with a list page: each refused once.
      proxy.state.refuse = ['POST /v1/elastic-ips', 'GET /v1/elastic-ips'];
      const allocated = await eipctl([
        'elastic-ips',
        'allocate',
        '--idc=e2e-east',
        '--product=eip.e2e',
        '--name=patient',
        '--count=3',
        ...via,
      ]);
      assert.equal(allocated.code, 0, allocated.stderr);
      assert.deepEqual(proxy.state.refused, ['POST /v1/elastic-ips', 'GET /v1/elastic-ips']);
      assert.match(
        allocated.stderr,
        /allocateElasticIP: rate limited \(429\); waiting 1 s \(Retry-After\), then continuing\n/,
      );
      assert.match(allocated.stderr, /listElasticIPs: rate limited \(429\); waiting 1 s/);
      const eips = JSON.parse(allocated.stdout) as ElasticIP[];
      assert.deepEqual(
        eips.map((e) => e.name),
        ['patient', 'patient', 'patient'],
      );

      proxy.state.refuse = ['GET /v1/elastic-ips'];
      const listed = await eipctl(['elastic-ips', 'list', '--name=patient', '-q', ...via]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(listed.stderr, '', 'a note despite -q');
      assert.deepEqual(
        (JSON.parse(listed.stdout) as ElasticIP[]).map((e) => e.id).sort(),
        eips.map((e) => e.id).sort(),
      );

      proxy.state.refuse = ['GET /v1/admin/events'];
      const events = await eipctl(['events', '--limit=2', '--profile=ops', ...via]);
      assert.equal(events.code, 0, events.stderr);
      assert.match(events.stderr, /listEvents: rate limited \(429\)/);
      assert.equal((JSON.parse(events.stdout) as { events: unknown[] }).events.length, 2);

      // A single-request command still fails at once: exit 6, Retry-After quoted.
      proxy.state.refuse = [`GET /v1/elastic-ips/${eips[0]?.id}`];
      const get = await eipctl(['elastic-ips', 'get', eips[0]?.id ?? '', '--url', proxy.url]);
      assert.equal(get.code, 6, get.stderr);
      assert.match(get.stderr, /429 \(code 4291\)[\s\S]*retry after 1 s/);
    } finally {
      await proxy.close();
    }
  });

  test('events --limit N prints at most N events and the cursor after the last; with --follow it then stops', async () => {
    await ok([
      'elastic-ips',
      'allocate',
      '--idc=e2e-east',
      '--product=eip.e2e',
      '--name=ev',
      '--count=3',
    ]);
    type Page = { events: { seq: string }[]; cursor: string };
    const all = await okJson<Page>(['events', '--profile', 'ops']);
    assert.ok(all.events.length >= 6, `only ${all.events.length} events`);
    const seqs = all.events.map((e) => e.seq);

    const first = await okJson<Page>(['events', '--limit', '3', '--profile', 'ops']);
    assert.deepEqual(
      first.events.map((e) => e.seq),
      seqs.slice(0, 3),
    );
    const next = await okJson<Page>([
      'events',
      '--cursor',
      first.cursor,
      '--limit',
      '2',
      '--profile',
      'ops',
    ]);
    assert.deepEqual(
      next.events.map((e) => e.seq),
      seqs.slice(3, 5),
    );

    const table = await eipctl(['events', '--limit', '3', '--profile', 'ops']);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout.trimEnd().split('\n').length, 4, table.stdout);
    assert.equal(table.stderr, `cursor: ${first.cursor}\n`);

    // --follow --limit: exits by itself after N events, with the cursor on stderr.
    const followed = await eipctl([
      'events',
      '--follow',
      '--limit',
      '3',
      '--profile',
      'ops',
      '-o',
      'json',
    ]);
    assert.equal(followed.code, 0, followed.stderr);
    assert.deepEqual(
      followed.stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { seq: string }).seq),
      seqs.slice(0, 3),
    );
    assert.equal(followed.stderr, `cursor: ${first.cursor}\n`);
  });

  test('apply writes a catalog into the live database; the running server serves it at once', async () => {
    const catalog = join(dir, 'more.yaml');
    await writeFile(
      catalog,
      `${CATALOG}
  - { name: west-v4, idc: e2e-west, cidr: 198.51.100.0/24, products: [eip.e2e] }
`.replace('idcs: [{ name: e2e-east }]', 'idcs: [{ name: e2e-east }, { name: e2e-west }]'),
    );
    const dbEnv = { DATABASE_URL: database.url };
    const summary = await okJson<{ idcsAdded: number; poolsAdded: string[] }>(
      ['apply', catalog, '--progress'],
      dbEnv,
    );
    assert.equal(summary.idcsAdded, 1);
    assert.deepEqual(summary.poolsAdded, ['west-v4']);
    const twice = await okJson<{ idcsAdded: number; poolsAdded: string[] }>(
      ['apply', catalog],
      dbEnv,
    );
    assert.deepEqual([twice.idcsAdded, twice.poolsAdded], [0, []]);

    const pools = await okJson<{ name: string; free: string }[]>(['pools', '--profile', 'ops']);
    assert.deepEqual(
      pools.find((p) => p.name === 'west-v4'),
      { ...pools.find((p) => p.name === 'west-v4'), free: '254' },
    );
    const [west] = await okJson<ElasticIP[]>([
      'elastic-ips',
      'allocate',
      '--idc=e2e-west',
      '--product=eip.e2e',
      '--name=west',
    ]);
    assert.match(west?.ipAddress ?? '', /^198\.51\.100\.\d+$/);

    const broken = join(dir, 'broken.yaml');
    await writeFile(
      broken,
      `${CATALOG}  - { name: overlap, idc: e2e-east, cidr: 203.0.113.128/25, products: [eip.e2e] }\n`,
    );
    const refused = await eipctl(['apply', broken], dbEnv);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /overlap/);
  });
});
