/**
 * Contract test: every status and body that eipd's operations (the elastic IP lifecycle,
 * association, the operator surface under /v1/admin/ with quotas, and the anonymous health
 * probes) send, success and error, is checked against openapi/eipd.yaml by Stoplight Prism, an
 * OpenAPI validator that shares nothing with eipd's own Ajv setup (its own document parser, $ref
 * resolution and schema translation).
 *
 * Prism runs as the stock CLI validating proxy (`prism proxy <doc> <upstream> --errors false`) in
 * front of real, listening eipd servers: it forwards every request unchanged, and lists what does
 * not match the document in the `sl-violations` response header. Several requests here are
 * deliberately invalid, so only violations located in the response fail a test.
 *
 * One case cannot go through the CLI: the CLI's HTTP front parses JSON bodies itself and answers
 * a malformed one with its own 400, without forwarding it. The invalid-JSON case therefore goes
 * through the same proxy engine in-process (@stoplight/prism-http with the configuration the CLI
 * builds), which forwards a raw string body as-is.
 *
 * Both paths are first shown to report response violations, against a deliberately wrong copy of
 * the document, so that a silent validator cannot make this suite pass.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { createLogger } from '@stoplight/prism-core';
import {
  createInstance,
  getHttpOperationsFromSpec,
  type IHttpProxyConfig,
  type IHttpRequest,
} from '@stoplight/prism-http';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { buildApp } from '../../src/app.js';
import { createTokenVerifier, mintToken, type TokenVerifier } from '../../src/auth/tokens.js';
import { applyCatalog } from '../../src/catalog/apply.js';
import { parseCatalog } from '../../src/catalog/catalog-file.js';
import type { Database } from '../../src/db/database.js';
import { readMigrations } from '../../src/db/migrate.js';
import { wrapPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';
import {
  allocateBody,
  BASIC_CATALOG,
  startTestApp,
  TEST_SECRET,
  type TestApp,
} from '../support/app.js';
import { awayFromWindowEnd } from '../support/rate-window.js';

const OPENAPI_FILE = fileURLToPath(new URL('../../openapi/eipd.yaml', import.meta.url));
const PRISM_CLI = createRequire(import.meta.url).resolve('@stoplight/prism-cli');
/**
 * Preloaded into each Prism process: exit when stdin closes, which happens however this test
 * process ends (even killed), so that no proxy outlives the run.
 */
const EXIT_WITH_PARENT =
  'data:text/javascript,process.stdin.on("end",()=>process.exit(0)).resume()';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An IDC whose only pool is one address: the second allocation finds nothing free. */
const TINY_CATALOG = `
idcs:
  - name: test-tiny1
products:
  - name: eip.tiny.test
    internetConnectionType: BGP
    maxBandwidth: 1 Gbps
pools:
  - name: tiny-v4
    idc: test-tiny1
    cidr: 203.0.113.7/32
    products: [eip.tiny.test]
`;

/** What the stub database of the 500 case throws: SQL that must never reach a response. */
const LEAKY_ERROR = 'relation "elastic_ips" does not exist: SELECT e.id FROM elastic_ips e';

type OperationId =
  | 'allocateElasticIP'
  | 'getElasticIP'
  | 'listElasticIPs'
  | 'listElasticIPProducts'
  | 'updateElasticIP'
  | 'releaseElasticIP'
  | 'associateElasticIP'
  | 'disassociateElasticIP'
  | 'registerInstance'
  | 'removeInstance'
  | 'listEvents'
  | 'listAssociations'
  | 'getAddressHistory'
  | 'listPools'
  | 'updatePool'
  | 'listQuotas'
  | 'setQuota'
  | 'removeQuotaOverride'
  | 'listOperatorActions'
  | 'getHealth'
  | 'getReadiness';

interface Violation {
  location: string[];
  severity: string;
  code?: string | number;
  message: string;
}

interface Exchange {
  status: number;
  headers: Headers;
  /** The response body, parsed when it is JSON. */
  body: unknown;
  /** The response body as received (re-serialized on the in-process path). */
  text: string;
  /** Everything Prism reported, request and response. */
  violations: Violation[];
}

interface HttpCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

interface Transport {
  send(call: HttpCall): Promise<Exchange>;
}

// ---------------------------------------------------------------------------------------------
// Prism, as a CLI proxy (child process) and in-process

interface PrismProcess extends Transport {
  stop(): Promise<void>;
}

/** Prism's `sl-violations` header: a JSON array, or a truncated non-JSON text when too long. */
function parseViolations(header: string | null): Violation[] {
  if (header === null) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(header);
  } catch {
    throw new Error(
      `unreadable sl-violations header (truncated by Prism?): ${header.slice(0, 500)}`,
    );
  }
  assert.ok(Array.isArray(parsed), `sl-violations is not an array: ${header}`);
  return parsed as Violation[];
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function startPrismCli(documentFile: string, upstream: string): Promise<PrismProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      EXIT_WITH_PARENT,
      PRISM_CLI,
      'proxy',
      documentFile,
      upstream,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--errors',
      'false',
      '--multiprocess',
      'false',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  // Prism logs every request; the pipes must keep draining or it blocks. The tail explains failures.
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  let baseUrl: string;
  try {
    baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Prism did not start within 30 s:\n${log}`)),
        30_000,
      );
      const onData = () => {
        const match = /Prism is listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          resolve(match[1]);
        }
      };
      child.stdout.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Prism exited (${code ?? signal}) before listening:\n${log}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    stop,
    async send(call) {
      let response: Response;
      try {
        response = await fetch(`${baseUrl}${call.path}`, {
          method: call.method,
          headers: call.headers,
          body: call.body,
        });
      } catch (error) {
        throw new Error(`request through Prism failed (${String(error)}); Prism log:\n${log}`);
      }
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        body: parseBody(text),
        text,
        violations: parseViolations(response.headers.get('sl-violations')),
      };
    },
  };
}

const SEVERITIES = ['Error', 'Warning', 'Information', 'Hint'];
const IN_PROCESS_METHOD: Record<HttpCall['method'], IHttpRequest['method']> = {
  GET: 'get',
  POST: 'post',
  PUT: 'put',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** Prism's proxy engine in-process, configured as `prism proxy --errors false` configures it. */
async function prismInProcess(document: string | object, upstream: string): Promise<Transport> {
  const operations = await getHttpOperationsFromSpec(document);
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const logger = createLogger('contract', { level: 'silent' }, silent);
  const config: IHttpProxyConfig = {
    isProxy: true,
    upstream: new URL(upstream),
    upstreamProxy: undefined,
    validateRequest: true,
    validateResponse: true,
    checkSecurity: true,
    errors: false,
    mock: { dynamic: false },
  };
  const prism = createInstance(config, { logger });
  return {
    async send(call) {
      // Prism takes the query apart from the path; left in the path, `?` would be sent encoded.
      const [path = '', search] = call.path.split('?', 2);
      const query: Record<string, string> = {};
      for (const [key, value] of new URLSearchParams(search ?? '')) query[key] = value;
      const input: IHttpRequest = {
        method: IN_PROCESS_METHOD[call.method],
        url: search === undefined ? { path } : { path, query },
        headers: call.headers ?? {},
        body: call.body,
      };
      const result = await prism.request(input, operations, config)();
      if (result._tag === 'Left') throw result.left;
      const { output, validations } = result.right;
      const toViolation =
        (prefix: string) =>
        (d: (typeof validations.output)[number]): Violation => ({
          location: [prefix, ...(d.path ?? [])],
          severity: SEVERITIES[d.severity] ?? String(d.severity),
          code: d.code,
          message: d.message,
        });
      return {
        status: output.statusCode,
        headers: new Headers(output.headers ?? {}),
        body: output.body,
        text: typeof output.body === 'string' ? output.body : JSON.stringify(output.body),
        violations: [
          ...validations.input.map(toViolation('request')),
          ...validations.output.map(toViolation('response')),
        ],
      };
    },
  };
}

function responseViolations(exchange: Exchange): Violation[] {
  return exchange.violations.filter((v) => v.location[0] === 'response');
}

// ---------------------------------------------------------------------------------------------
// The checks every case makes

const documentRaw = await readFile(OPENAPI_FILE, 'utf8');
const documented = parseYaml(documentRaw) as {
  paths: Record<
    string,
    Record<string, { operationId: string; responses: Record<string, unknown> }>
  >;
};
const documentedStatuses = new Map<string, string[]>();
for (const item of Object.values(documented.paths)) {
  for (const operation of Object.values(item)) {
    documentedStatuses.set(operation.operationId, Object.keys(operation.responses).sort());
  }
}
const seenStatuses = new Map<OperationId, Set<string>>([
  ['allocateElasticIP', new Set()],
  ['getElasticIP', new Set()],
  ['listElasticIPs', new Set()],
  ['listElasticIPProducts', new Set()],
  ['updateElasticIP', new Set()],
  ['releaseElasticIP', new Set()],
  ['associateElasticIP', new Set()],
  ['disassociateElasticIP', new Set()],
  ['registerInstance', new Set()],
  ['removeInstance', new Set()],
  ['listEvents', new Set()],
  ['listAssociations', new Set()],
  ['getAddressHistory', new Set()],
  ['listPools', new Set()],
  ['updatePool', new Set()],
  ['listQuotas', new Set()],
  ['setQuota', new Set()],
  ['removeQuotaOverride', new Set()],
  ['listOperatorActions', new Set()],
  ['getHealth', new Set()],
  ['getReadiness', new Set()],
]);

/** Status as expected, no response violation, and an X-Request-Id on every response. */
function conforms(operation: OperationId, exchange: Exchange, status: number): void {
  const context = `${operation} ${exchange.status}: ${exchange.text.slice(0, 500)}`;
  assert.equal(exchange.status, status, context);
  assert.deepEqual(responseViolations(exchange), [], context);
  const requestId = exchange.headers.get('x-request-id');
  assert.ok(requestId !== null && requestId !== '', `no X-Request-Id: ${context}`);
  seenStatuses.get(operation)?.add(String(exchange.status));
}

function asRecord(body: unknown): Record<string, unknown> {
  assert.ok(typeof body === 'object' && body !== null && !Array.isArray(body), String(body));
  return body as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// The servers

const JSON_TYPE = { 'content-type': 'application/json' };

let main: TestApp;
let mainUrl: string;
let cli: PrismProcess;
let inProcess: Transport;
let dbDown: PrismProcess;
let broken: PrismProcess;
/** In front of an eipd on a database nobody has migrated, which can be told it is draining. */
let notReady: PrismProcess;
let draining = false;
let wrongCli: PrismProcess;
let wrongInProcess: Transport;
const cleanups: (() => Promise<void>)[] = [];

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

function verifier(): Promise<TokenVerifier> {
  return createTokenVerifier({
    hs256Secret: TEST_SECRET,
    publicKeyPems: [],
    algorithms: ['HS256'],
    orgClaim: 'orgId',
    adminScope: 'eip:admin',
  });
}

/** An eipd in front of a Database of the test's choosing. */
async function startApp(db: Database, isDraining?: () => boolean): Promise<string> {
  const { app } = buildApp({
    db,
    verifier: await verifier(),
    maxAllocateCount: 100,
    bodyLimitBytes: 1024 * 1024,
    ...(isDraining === undefined ? {} : { isDraining }),
    logger: false,
  });
  cleanups.push(async () => {
    await app.close();
    await db.close();
  });
  return listen(app);
}

/** Fails every statement with a plain Error, as a bug (not an outage) would. */
function brokenDatabase(): Database {
  const fail = async (): Promise<never> => {
    throw new Error(LEAKY_ERROR);
  };
  return { kind: 'postgres', query: fail, exec: fail, transaction: fail, close: async () => {} };
}

/**
 * The document with deliberate mistakes, each of which eipd's real responses violate: a 200 body
 * type, a required property in both error shapes, a response header and an undocumented status.
 */
function wrongDocument(): object {
  const doc = parseYaml(documentRaw) as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    components: {
      schemas: Record<string, { properties: Record<string, unknown>; required: string[] }>;
      responses: Record<string, { headers: Record<string, unknown> }>;
    };
  };
  const { schemas, responses } = doc.components;
  assert.ok(schemas.UuidObject && schemas.error && schemas.errorStatusMessage);
  assert.ok(responses.Unauthorized);
  schemas.UuidObject.properties.id = { type: 'integer' };
  schemas.error.required.push('traceId');
  schemas.errorStatusMessage.required.push('traceId');
  responses.Unauthorized.headers['WWW-Authenticate'] = {
    required: true,
    schema: { type: 'string', pattern: '^Basic ' },
  };
  const post = doc.paths['/v1/elastic-ips']?.post;
  assert.ok(post);
  delete post.responses['413'];
  // The lifecycle operations: a product field, an elastic IP field, and an undocumented 404.
  assert.ok(schemas.elasticIPProduct && schemas.elasticIPResp);
  schemas.elasticIPProduct.properties.ipVersion = { type: 'integer' };
  schemas.elasticIPResp.properties.name = { type: 'integer' };
  // The operator surface: a pool count.
  assert.ok(schemas.poolUtilization);
  schemas.poolUtilization.properties.size = { type: 'integer' };
  // Quotas and the probes: a quota count and the health status; allocate's replay header.
  assert.ok(schemas.quota && schemas.healthStatus);
  schemas.quota.properties.used = { type: 'string' };
  schemas.healthStatus.properties.status = { type: 'string', enum: ['fine'] };
  const allocated = post.responses['200'] as { headers: Record<string, { schema: unknown }> };
  const replayed = allocated.headers['Idempotent-Replayed'];
  assert.ok(replayed);
  replayed.schema = { type: 'string', enum: ['yes'] };
  const list = doc.paths['/v1/elastic-ips']?.get;
  assert.ok(list);
  list.responses['400'] = {
    description: 'wrong',
    content: { 'application/json': { schema: { type: 'array' } } },
  };
  return doc;
}

before(async () => {
  main = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG });
  cleanups.push(() => main.close());
  await applyCatalog(main.db, parseCatalog(TINY_CATALOG, 'tiny catalog'), 'tiny catalog');
  mainUrl = await listen(main.app);

  const dbDownUrl = await startApp(
    openPostgres({
      url: 'postgres://postgres@127.0.0.1:1/eipd',
      poolSize: 2,
      connectTimeoutMs: 500,
      statementTimeoutMs: 1_000,
    }),
  );
  const brokenUrl = await startApp(brokenDatabase());
  // A fresh PGlite: no schema_migrations table at all, as before the first start's migration.
  const notReadyUrl = await startApp(wrapPglite(await PGlite.create()), () => draining);

  const temp = await mkdtemp(join(tmpdir(), 'eipd-contract-'));
  cleanups.push(() => rm(temp, { recursive: true, force: true }));
  const wrongFile = join(temp, 'wrong.yaml');
  const wrong = wrongDocument();
  await writeFile(wrongFile, stringifyYaml(wrong));

  // Started together: each Prism takes a couple of seconds to come up.
  const started = await Promise.allSettled([
    startPrismCli(OPENAPI_FILE, mainUrl),
    startPrismCli(OPENAPI_FILE, dbDownUrl),
    startPrismCli(OPENAPI_FILE, brokenUrl),
    startPrismCli(OPENAPI_FILE, notReadyUrl),
    startPrismCli(wrongFile, mainUrl),
  ]);
  for (const s of started) if (s.status === 'fulfilled') cleanups.push(() => s.value.stop());
  const [a, b, c, d, e] = started.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
  assert.ok(a && b && c && d && e);
  [cli, dbDown, broken, notReady, wrongCli] = [a, b, c, d, e];
  inProcess = await prismInProcess(OPENAPI_FILE, mainUrl);
  wrongInProcess = await prismInProcess(wrong, mainUrl);
});

after(async () => {
  const results = await Promise.allSettled(cleanups.reverse().map((cleanup) => cleanup()));
  const failures = results.filter((r) => r.status === 'rejected');
  assert.deepEqual(failures, []);
});

// ---------------------------------------------------------------------------------------------
// Requests

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

function allocate(
  via: Transport,
  token: string | undefined,
  body: string | undefined,
  headers: Record<string, string> = JSON_TYPE,
): Promise<Exchange> {
  return via.send({
    method: 'POST',
    path: '/v1/elastic-ips',
    headers: { ...headers, ...(token === undefined ? {} : bearer(token)) },
    body,
  });
}

function getEip(
  via: Transport,
  token: string | undefined,
  id: string,
  headers: Record<string, string> = {},
): Promise<Exchange> {
  return via.send({
    method: 'GET',
    path: `/v1/elastic-ips/${encodeURIComponent(id)}`,
    headers: { ...headers, ...(token === undefined ? {} : bearer(token)) },
  });
}

function listEips(via: Transport, token: string | undefined, query = ''): Promise<Exchange> {
  return via.send({
    method: 'GET',
    path: `/v1/elastic-ips${query === '' ? '' : `?${query}`}`,
    headers: token === undefined ? {} : bearer(token),
  });
}

function listProducts(via: Transport, token: string | undefined, query = ''): Promise<Exchange> {
  return via.send({
    method: 'GET',
    path: `/v1/elastic-ips/products${query === '' ? '' : `?${query}`}`,
    headers: token === undefined ? {} : bearer(token),
  });
}

function renameEip(
  via: Transport,
  token: string | undefined,
  id: string,
  body: string | undefined,
): Promise<Exchange> {
  return via.send({
    method: 'PATCH',
    path: `/v1/elastic-ips/${encodeURIComponent(id)}`,
    headers: { ...JSON_TYPE, ...(token === undefined ? {} : bearer(token)) },
    body,
  });
}

function releaseEip(via: Transport, token: string | undefined, id: string): Promise<Exchange> {
  return via.send({
    method: 'DELETE',
    path: `/v1/elastic-ips/${encodeURIComponent(id)}`,
    headers: token === undefined ? {} : bearer(token),
  });
}

const json = (value: unknown): string => JSON.stringify(value);

/** Any call, with a bearer token when given and a JSON Content-Type when there is a body. */
function call(
  via: Transport,
  token: string | undefined,
  method: HttpCall['method'],
  path: string,
  body?: string,
): Promise<Exchange> {
  return via.send({
    method,
    path,
    headers: {
      ...(body === undefined ? {} : JSON_TYPE),
      ...(token === undefined ? {} : bearer(token)),
    },
    body,
  });
}

function associateEip(
  via: Transport,
  token: string | undefined,
  id: string,
  body: string | undefined,
): Promise<Exchange> {
  return call(via, token, 'POST', `/v1/elastic-ips/${encodeURIComponent(id)}/associate`, body);
}

function disassociateEip(
  via: Transport,
  token: string | undefined,
  id: string,
  body?: string,
): Promise<Exchange> {
  return call(via, token, 'POST', `/v1/elastic-ips/${encodeURIComponent(id)}/disassociate`, body);
}

function registerInstance(
  via: Transport,
  token: string | undefined,
  id: string,
  body: string | undefined,
): Promise<Exchange> {
  return call(via, token, 'PUT', `/v1/admin/instances/${encodeURIComponent(id)}`, body);
}

function removeInstance(
  via: Transport,
  token: string | undefined,
  id: string,
  body?: string,
): Promise<Exchange> {
  return call(via, token, 'DELETE', `/v1/admin/instances/${encodeURIComponent(id)}`, body);
}

const withQuery = (path: string, query: string) => (query === '' ? path : `${path}?${query}`);

function listEvents(via: Transport, token: string | undefined, query = ''): Promise<Exchange> {
  return call(via, token, 'GET', withQuery('/v1/admin/events', query));
}

function listAssociations(
  via: Transport,
  token: string | undefined,
  query = '',
): Promise<Exchange> {
  return call(via, token, 'GET', withQuery('/v1/admin/associations', query));
}

function addressHistory(
  via: Transport,
  token: string | undefined,
  query: string,
): Promise<Exchange> {
  return call(via, token, 'GET', withQuery('/v1/admin/address-history', query));
}

function listPools(via: Transport, token: string | undefined, query = ''): Promise<Exchange> {
  return call(via, token, 'GET', withQuery('/v1/admin/pools', query));
}

function updatePool(
  via: Transport,
  token: string | undefined,
  pool: string,
  body: string | undefined,
): Promise<Exchange> {
  return call(via, token, 'PATCH', `/v1/admin/pools/${encodeURIComponent(pool)}`, body);
}

function listQuotas(
  via: Transport,
  token: string | undefined,
  orgId: string,
  query = '',
): Promise<Exchange> {
  const path = `/v1/admin/organizations/${encodeURIComponent(orgId)}/quotas`;
  return call(via, token, 'GET', withQuery(path, query));
}

const quotaPath = (orgId: string, idc: string) =>
  `/v1/admin/organizations/${encodeURIComponent(orgId)}/quotas/${encodeURIComponent(idc)}`;

function setQuota(
  via: Transport,
  token: string | undefined,
  orgId: string,
  idc: string,
  body: string | undefined,
): Promise<Exchange> {
  return call(via, token, 'PUT', quotaPath(orgId, idc), body);
}

function removeQuotaOverride(
  via: Transport,
  token: string | undefined,
  orgId: string,
  idc: string,
  body?: string,
): Promise<Exchange> {
  return call(via, token, 'DELETE', quotaPath(orgId, idc), body);
}

/** The probes are anonymous: a token is sent only when given (and then not looked at). */
function health(via: Transport, token?: string): Promise<Exchange> {
  return call(via, token, 'GET', '/healthz');
}

function readiness(via: Transport, token?: string): Promise<Exchange> {
  return call(via, token, 'GET', '/readyz');
}

/** Registers an instance of `orgId` through the proxy, asserting a 200. */
async function registeredInstance(
  orgId: string,
  instanceType: 'baremetal' | 'container' = 'baremetal',
  idc = 'test-east1',
): Promise<string> {
  const id = randomUUID();
  const exchange = await registerInstance(
    cli,
    await main.operatorToken(),
    id,
    json({ orgId, idc, instanceType }),
  );
  conforms('registerInstance', exchange, 200);
  return id;
}

async function allocateOne(
  token: string,
  overrides: Record<string, unknown> = {},
): Promise<string> {
  const exchange = await allocate(cli, token, json(allocateBody(overrides)));
  conforms('allocateElasticIP', exchange, 200);
  const [first] = exchange.body as { id: string }[];
  assert.ok(first);
  return first.id;
}

async function expiredToken(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ orgId: randomUUID() })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('test-user')
    .setIssuedAt(now - 7_200)
    .setExpirationTime(now - 3_600)
    .sign(new TextEncoder().encode(TEST_SECRET));
}

// ---------------------------------------------------------------------------------------------
// The validator can fail

describe('Prism reports response violations (against a deliberately wrong document)', () => {
  it('CLI proxy: wrong 200 body, 404 and 401 bodies, 401 header, undocumented 413', async () => {
    const token = await main.token();
    const locations = (exchange: Exchange) =>
      responseViolations(exchange).map((v) => v.location.join('.'));

    const ok = await allocate(wrongCli, token, json(allocateBody()));
    assert.equal(ok.status, 200);
    assert.ok(
      locations(ok).includes('response.body.0.id'),
      ok.violations.map((v) => v.message).join(),
    );

    const missing = await getEip(wrongCli, token, randomUUID());
    assert.equal(missing.status, 404);
    assert.ok(locations(missing).includes('response.body'), JSON.stringify(missing.violations));

    const anonymous = await getEip(wrongCli, undefined, randomUUID());
    assert.equal(anonymous.status, 401);
    assert.ok(locations(anonymous).includes('response.body'), JSON.stringify(anonymous.violations));
    assert.ok(
      locations(anonymous).includes('response.header.www-authenticate'),
      JSON.stringify(anonymous.violations),
    );

    const tooLarge = await allocate(wrongCli, token, json({ pad: 'x'.repeat(1_100_000) }));
    assert.equal(tooLarge.status, 413);
    assert.ok(
      responseViolations(tooLarge).some((v) => /status code/i.test(v.message)),
      JSON.stringify(tooLarge.violations),
    );
  });

  it('CLI proxy: wrong products, rename, release and list bodies', async () => {
    const token = await main.token();
    const locations = (exchange: Exchange) =>
      responseViolations(exchange).map((v) => v.location.join('.'));
    const products = await listProducts(wrongCli, token);
    assert.equal(products.status, 200);
    assert.ok(
      locations(products).includes('response.body.0.ipVersion'),
      JSON.stringify(products.violations),
    );
    const id = await allocateOne(token);
    const renamed = await renameEip(wrongCli, token, id, json({ name: 'renamed' }));
    assert.equal(renamed.status, 200);
    assert.ok(
      locations(renamed).includes('response.body.name'),
      JSON.stringify(renamed.violations),
    );
    const released = await releaseEip(wrongCli, token, id);
    assert.equal(released.status, 200);
    assert.ok(
      locations(released).includes('response.body.name'),
      JSON.stringify(released.violations),
    );
    const badLimit = await listEips(wrongCli, token, 'limit=0');
    assert.equal(badLimit.status, 400);
    assert.ok(responseViolations(badLimit).length > 0, JSON.stringify(badLimit.violations));
  });

  it('CLI proxy: wrong pool body and 403 body on the operator surface', async () => {
    const locations = (exchange: Exchange) =>
      responseViolations(exchange).map((v) => v.location.join('.'));
    const pools = await listPools(wrongCli, await main.operatorToken());
    assert.equal(pools.status, 200);
    assert.ok(locations(pools).includes('response.body.0.size'), JSON.stringify(pools.violations));
    const forbidden = await listPools(wrongCli, await main.token());
    assert.equal(forbidden.status, 403);
    assert.ok(locations(forbidden).includes('response.body'), JSON.stringify(forbidden.violations));
  });

  it('CLI proxy: wrong quota and health bodies, wrong Idempotent-Replayed header', async () => {
    const locations = (exchange: Exchange) =>
      responseViolations(exchange).map((v) => v.location.join('.'));
    const quotas = await listQuotas(wrongCli, await main.operatorToken(), randomUUID());
    assert.equal(quotas.status, 200);
    assert.ok(
      locations(quotas).includes('response.body.0.used'),
      JSON.stringify(quotas.violations),
    );
    for (const probe of [await health(wrongCli), await readiness(wrongCli)]) {
      assert.equal(probe.status, 200);
      assert.ok(
        locations(probe).includes('response.body.status'),
        JSON.stringify(probe.violations),
      );
    }
    const token = await main.token();
    const headers = { ...JSON_TYPE, 'idempotency-key': randomUUID() };
    assert.equal((await allocate(wrongCli, token, json(allocateBody()), headers)).status, 200);
    const replay = await allocate(wrongCli, token, json(allocateBody()), headers);
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.ok(
      locations(replay).includes('response.header.idempotent-replayed'),
      JSON.stringify(replay.violations),
    );
  });

  it('in-process engine: wrong 400 body for invalid JSON', async () => {
    const exchange = await allocate(wrongInProcess, await main.token(), '{"idc": "test-east1",');
    assert.equal(exchange.status, 400);
    assert.ok(responseViolations(exchange).length > 0, JSON.stringify(exchange.violations));
  });
});

// ---------------------------------------------------------------------------------------------
// The contract

describe('allocateElasticIP and getElasticIP responses conform to openapi/eipd.yaml', () => {
  it('200: allocate IPv4 (count 2) and IPv6 (count 1)', async () => {
    const token = await main.token();
    const v4 = await allocate(cli, token, json(allocateBody({ count: 2 })));
    conforms('allocateElasticIP', v4, 200);
    assert.ok(Array.isArray(v4.body) && v4.body.length === 2, v4.text);

    const v6 = await allocate(cli, token, json(allocateBody({ product: 'eip.ipv6.test' })));
    conforms('allocateElasticIP', v6, 200);
    assert.ok(Array.isArray(v6.body) && v6.body.length === 1, v6.text);
    for (const { id } of [...v4.body, ...v6.body] as { id: string }[]) assert.match(id, UUID_RE);
  });

  it('200: get a fresh EIP (IPv4 and IPv6, and by an upper-case id)', async () => {
    const orgId = randomUUID();
    const token = await main.token(orgId);
    for (const product of ['eip.ipv4.test', 'eip.ipv6.test']) {
      const id = await allocateOne(token, { product, name: 'fresh one' });
      const exchange = await getEip(cli, token, id);
      conforms('getElasticIP', exchange, 200);
      const body = asRecord(exchange.body);
      assert.equal(body.id, id);
      assert.equal(body.orgId, orgId);
      assert.equal(body.product, product);

      const upper = await getEip(cli, token, id.toUpperCase());
      conforms('getElasticIP', upper, 200);
      assert.equal(asRecord(upper.body).id, id);
    }
  });

  it('400 validation: several fields wrong at once, and an unknown field', async () => {
    const token = await main.token();
    const body = { idc: 'no such idc!', product: '', name: '-bad-', count: 0, colour: 'red' };
    const exchange = await allocate(cli, token, json(body));
    conforms('allocateElasticIP', exchange, 400);
    const answer = asRecord(exchange.body);
    assert.equal(answer.group, 'request');
    assert.equal(answer.code, 0);
    const details = answer.validationDetail as { field: string }[];
    const fields = new Set(details.map((d) => d.field));
    for (const field of ['idc', 'product', 'name', 'count', 'colour']) assert.ok(fields.has(field));

    const empty = await allocate(cli, token, json({}));
    conforms('allocateElasticIP', empty, 400);
    assert.equal(asRecord(empty.body).code, 0);

    const wrongTypes = await allocate(cli, token, json(allocateBody({ count: '2', name: 7 })));
    conforms('allocateElasticIP', wrongTypes, 400);
    assert.equal(asRecord(wrongTypes.body).code, 0);

    const tooMany = await allocate(cli, token, json(allocateBody({ count: 101 })));
    conforms('allocateElasticIP', tooMany, 400);
    assert.equal(asRecord(tooMany.body).code, 0);
  });

  it('400 code 1: missing, empty, invalid, non-object and wrongly typed bodies', async () => {
    const token = await main.token();
    const cases: [string, Exchange][] = [
      ['missing body', await allocate(cli, token, undefined, {})],
      ['empty JSON body', await allocate(cli, token, '', JSON_TYPE)],
      ['invalid JSON', await allocate(inProcess, token, '{"idc": "test-east1",')],
      [
        'text/plain',
        await allocate(cli, token, 'idc=test-east1', { 'content-type': 'text/plain' }),
      ],
      ['JSON array', await allocate(cli, token, json([allocateBody()]))],
      ['JSON string', await allocate(cli, token, json('idc=test-east1'))],
      // Prism's CLI front cannot forward a bare `null` body; its engine forwards the raw text.
      ['JSON null', await allocate(inProcess, token, 'null')],
      ['prototype poisoning', await allocate(cli, token, '{"__proto__":{"count":2}}')],
    ];
    for (const [name, exchange] of cases) {
      conforms('allocateElasticIP', exchange, 400);
      const body = asRecord(exchange.body);
      assert.equal(body.group, 'request', name);
      assert.equal(body.code, 1, name);
    }
  });

  it('401: missing, garbage, wrongly signed, expired, and organization-less tokens', async () => {
    const wrongSecret = await mintToken({
      secret: 'not-the-test-secret-but-long-enough-0123456789',
      orgId: randomUUID(),
      ttlSeconds: 600,
    });
    const noOrg = await mintToken({ secret: TEST_SECRET, subject: 'operator', ttlSeconds: 600 });
    const tokens: [string, string | undefined, number][] = [
      ['missing', undefined, 0],
      ['garbage', 'garbage', 0],
      ['three garbage segments', 'a.b.c', 0],
      ['wrong signature', wrongSecret, 0],
      ['expired', await expiredToken(), 1],
      ['no organization claim', noOrg, 0],
    ];
    for (const [name, token, code] of tokens) {
      const exchanges: [OperationId, Exchange][] = [
        ['allocateElasticIP', await allocate(cli, token, json(allocateBody()))],
        ['getElasticIP', await getEip(cli, token, randomUUID())],
      ];
      for (const [operation, exchange] of exchanges) {
        conforms(operation, exchange, 401);
        const body = asRecord(exchange.body);
        assert.equal(body.group, 'auth_verify', name);
        assert.equal(body.code, code, name);
        const challenge = exchange.headers.get('www-authenticate');
        assert.ok(challenge?.startsWith('Bearer'), `${name}: WWW-Authenticate ${challenge}`);
      }
    }
  });

  it('404: unknown IDC, unknown product, product not offered in the IDC', async () => {
    const token = await main.token();
    const cases: [Record<string, unknown>, number][] = [
      [{ idc: 'no-such-idc' }, 4041],
      [{ product: 'eip.no-such-product' }, 4042],
      [{ product: 'eip.unoffered' }, 4043],
    ];
    for (const [overrides, code] of cases) {
      const exchange = await allocate(cli, token, json(allocateBody(overrides)));
      conforms('allocateElasticIP', exchange, 404);
      assert.equal(asRecord(exchange.body).code, code);
    }
  });

  it("404: unknown EIP id, another organization's EIP, a non-uuid id", async () => {
    const token = await main.token();
    const theirs = await allocateOne(await main.token());
    for (const id of [randomUUID(), theirs, 'not-a-uuid', 'x'.repeat(100)]) {
      const exchange = await getEip(cli, token, id);
      conforms('getElasticIP', exchange, 404);
      assert.equal(asRecord(exchange.body).code, 4044);
    }
  });

  it('413: a body over the 1 MiB limit', async () => {
    const body = json(allocateBody({ name: 'web', pad: 'x'.repeat(1_100_000) }));
    const exchange = await allocate(cli, await main.token(), body);
    conforms('allocateElasticIP', exchange, 413);
    assert.equal(asRecord(exchange.body).code, 4131);
  });

  it('503: no free address, with Retry-After', async () => {
    const token = await main.token();
    const tiny = { idc: 'test-tiny1', product: 'eip.tiny.test' };
    await allocateOne(token, tiny);
    const exchange = await allocate(cli, token, json(allocateBody(tiny)));
    conforms('allocateElasticIP', exchange, 503);
    assert.equal(asRecord(exchange.body).code, 5031);
    assert.match(exchange.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  });

  it('503: database unavailable, body exactly {"reason":"database is unavailable"}', async () => {
    const token = await main.token();
    const exchanges: [OperationId, Exchange][] = [
      ['allocateElasticIP', await allocate(dbDown, token, json(allocateBody()))],
      ['getElasticIP', await getEip(dbDown, token, randomUUID())],
    ];
    for (const [operation, exchange] of exchanges) {
      conforms(operation, exchange, 503);
      assert.deepEqual(exchange.body, { reason: 'database is unavailable' });
    }
  });

  it('500: code 5001, the request id in the reason, no stack trace or SQL', async () => {
    const token = await main.token();
    const exchanges: [OperationId, Exchange][] = [
      [
        'allocateElasticIP',
        await allocate(broken, token, json(allocateBody()), {
          ...JSON_TYPE,
          'x-request-id': 'contract-500-allocate',
        }),
      ],
      ['getElasticIP', await getEip(broken, token, randomUUID())],
    ];
    for (const [operation, exchange] of exchanges) {
      conforms(operation, exchange, 500);
      const body = asRecord(exchange.body);
      assert.deepEqual(Object.keys(body).sort(), ['code', 'reason']);
      assert.equal(body.code, 5001);
      const requestId = exchange.headers.get('x-request-id') ?? '';
      assert.ok(String(body.reason).includes(requestId), exchange.text);
      for (const leak of ['elastic_ips', 'SELECT', 'relation', ' at ', 'stack']) {
        assert.ok(!exchange.text.includes(leak), `500 body leaks "${leak}": ${exchange.text}`);
      }
    }
    assert.equal(exchanges[0]?.[1].headers.get('x-request-id'), 'contract-500-allocate');
  });
});

// ---------------------------------------------------------------------------------------------
// Ids the router refuses before any route runs (a malformed percent-encoding) and ids far too long
// to be one are answered like any other id that is not a uuid: 404 in the error shape, after
// authentication, with an X-Request-Id.

describe('ids that cannot be uuids', () => {
  it('an id longer than 100 characters is answered 404', async () => {
    const exchange = await getEip(cli, await main.token(), 'x'.repeat(101));
    conforms('getElasticIP', exchange, 404);
  });

  it('an id with malformed percent-encoding is answered 404, and 401 without a token', async () => {
    // Straight to eipd and checked by hand: this path makes Prism 5.14.2 crash (an uncaught
    // URIError in its path-parameter matching kills the proxy process), in-process too.
    const response = await fetch(`${mainUrl}/v1/elastic-ips/%zz`, {
      headers: bearer(await main.token()),
    });
    const body = asRecord(await response.json());
    assert.equal(response.status, 404);
    assert.ok(response.headers.get('x-request-id'));
    assert.deepEqual(body, { code: 4044, reason: 'elastic IP %zz was not found' });
    const anonymous = await fetch(`${mainUrl}/v1/elastic-ips/%zz`);
    assert.equal(anonymous.status, 401);
    assert.deepEqual(await anonymous.json(), {
      code: 0,
      group: 'auth_verify',
      message: 'Invalid access token.',
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The lifecycle operations: list, products, rename, release (and allocate's ipAddress)

/** The Link header of a list page: the relative URL of the next page, or undefined. */
function nextLink(exchange: Exchange): string | undefined {
  const link = exchange.headers.get('link');
  if (link === null) return undefined;
  const match = /^<(\/v1\/elastic-ips\?[^>]+)>; rel="next"$/.exec(link);
  assert.ok(match?.[1] !== undefined, `unexpected Link header: ${link}`);
  return match[1];
}

async function ipAddressOf(token: string, id: string): Promise<string> {
  const exchange = await getEip(cli, token, id);
  conforms('getElasticIP', exchange, 200);
  const address = asRecord(exchange.body).ipAddress;
  assert.ok(typeof address === 'string');
  return address;
}

describe('listElasticIPs, listElasticIPProducts, updateElasticIP, releaseElasticIP responses conform', () => {
  it('200 list: without and with filters, and a page with a Link header', async () => {
    const orgId = randomUUID();
    const token = await main.token(orgId);
    const allocated = await allocate(cli, token, json(allocateBody({ count: 3 })));
    conforms('allocateElasticIP', allocated, 200);
    const ids = (allocated.body as { id: string }[]).map((e) => e.id);
    assert.equal(ids.length, 3);
    await allocateOne(token, { product: 'eip.ipv6.test', name: 'v6' });

    const all = await listEips(cli, token);
    conforms('listElasticIPs', all, 200);
    assert.ok(Array.isArray(all.body) && all.body.length === 4, all.text);
    assert.equal(nextLink(all), undefined);
    for (const item of all.body) assert.equal(asRecord(item).orgId, orgId);

    const [firstId] = ids;
    assert.ok(firstId !== undefined);
    const address = await ipAddressOf(token, firstId);
    const filtered = await listEips(
      cli,
      token,
      `idc=test-east1&product=eip.ipv4.test&status=disassociated&name=web-1&ipAddress=${encodeURIComponent(address)}`,
    );
    conforms('listElasticIPs', filtered, 200);
    assert.ok(Array.isArray(filtered.body) && filtered.body.length === 1, filtered.text);
    assert.equal(asRecord(filtered.body[0]).id, firstId);

    const byInstance = await listEips(cli, token, `instanceID=${randomUUID()}`);
    conforms('listElasticIPs', byInstance, 200);
    assert.deepEqual(byInstance.body, []);

    const v6 = await listEips(cli, token, 'product=eip.ipv6.test&ipAddress=2001%3ADB8%3A%3A1');
    conforms('listElasticIPs', v6, 200);

    // Pages of two: the first carries a Link, the second (followed as given) does not.
    const first = await listEips(cli, token, 'limit=2');
    conforms('listElasticIPs', first, 200);
    assert.ok(Array.isArray(first.body) && first.body.length === 2, first.text);
    const next = nextLink(first);
    assert.ok(next !== undefined, 'no Link header on a non-final page');
    const second = await cli.send({ method: 'GET', path: next, headers: bearer(token) });
    conforms('listElasticIPs', second, 200);
    assert.ok(Array.isArray(second.body) && second.body.length === 2, second.text);
    assert.equal(nextLink(second), undefined);

    const released = await releaseEip(cli, token, firstId);
    conforms('releaseElasticIP', released, 200);
    const releasedList = await listEips(cli, token, 'status=released');
    conforms('listElasticIPs', releasedList, 200);
    assert.ok(Array.isArray(releasedList.body) && releasedList.body.length === 1);
    const releasedItem = asRecord(releasedList.body[0]);
    assert.equal(releasedItem.status, 'released');
    assert.equal(typeof releasedItem.releasedAt, 'string');
  });

  it('200 products: without and with an IDC', async () => {
    const token = await main.token();
    const all = await listProducts(cli, token);
    conforms('listElasticIPProducts', all, 200);
    assert.ok(Array.isArray(all.body) && all.body.length > 0, all.text);
    const east = await listProducts(cli, token, 'idc=test-east1');
    conforms('listElasticIPProducts', east, 200);
    assert.ok(Array.isArray(east.body) && east.body.length === 2, east.text);
    for (const item of east.body) assert.equal(asRecord(item).idc, 'test-east1');
  });

  it('200 rename; 200 release, and release again', async () => {
    const token = await main.token();
    const id = await allocateOne(token);
    const renamed = await renameEip(cli, token, id, json({ name: 'renamed one' }));
    conforms('updateElasticIP', renamed, 200);
    assert.equal(asRecord(renamed.body).name, 'renamed one');

    const released = await releaseEip(cli, token, id);
    conforms('releaseElasticIP', released, 200);
    assert.equal(asRecord(released.body).status, 'released');
    const again = await releaseEip(cli, token, id.toUpperCase());
    conforms('releaseElasticIP', again, 200);
    assert.equal(asRecord(again.body).status, 'released');
  });

  it('400 list: limit=0, an unknown parameter, a leading-zero ipAddress, a bad cursor', async () => {
    const token = await main.token();
    for (const query of ['limit=0', 'limit=1001', 'colour=red', 'ipAddress=010.0.0.1']) {
      const exchange = await listEips(cli, token, query);
      conforms('listElasticIPs', exchange, 400);
      const body = asRecord(exchange.body);
      assert.equal(body.group, 'request', query);
      assert.equal(body.code, 0, query);
    }
    const cursor = await listEips(cli, token, 'cursor=not-a-cursor');
    conforms('listElasticIPs', cursor, 400);
    assert.equal(asRecord(cursor.body).code, 4007);
  });

  it('400 products: a malformed IDC and an unknown parameter', async () => {
    const token = await main.token();
    for (const query of ['idc=no%20where', 'product=x']) {
      const exchange = await listProducts(cli, token, query);
      conforms('listElasticIPProducts', exchange, 400);
      assert.equal(asRecord(exchange.body).group, 'request', query);
    }
  });

  it('400 rename: a bad name, an unknown field, a released EIP (4006)', async () => {
    const token = await main.token();
    const id = await allocateOne(token);
    for (const body of [{ name: '-bad-' }, { name: 'ok', colour: 'red' }, {}]) {
      const exchange = await renameEip(cli, token, id, json(body));
      conforms('updateElasticIP', exchange, 400);
      assert.equal(asRecord(exchange.body).group, 'request', json(body));
    }
    const invalidJson = await renameEip(inProcess, token, id, '{"name":');
    conforms('updateElasticIP', invalidJson, 400);
    assert.equal(asRecord(invalidJson.body).code, 1);

    conforms('releaseElasticIP', await releaseEip(cli, token, id), 200);
    const released = await renameEip(cli, token, id, json({ name: 'too late' }));
    conforms('updateElasticIP', released, 400);
    assert.deepEqual(released.body, { code: 4006, reason: `elastic IP ${id} is released` });
  });

  it('400 release: an associated EIP (4002)', async () => {
    const token = await main.token();
    const id = await allocateOne(token);
    await main.db.query(
      "UPDATE elastic_ips SET status='associated', instance_id=gen_random_uuid(), instance_type='baremetal' WHERE id=$1",
      [id],
    );
    const associated = await getEip(cli, token, id);
    conforms('getElasticIP', associated, 200);
    assert.equal(asRecord(associated.body).status, 'associated');
    const listed = await listEips(cli, token, 'status=associated');
    conforms('listElasticIPs', listed, 200);
    const exchange = await releaseEip(cli, token, id);
    conforms('releaseElasticIP', exchange, 400);
    assert.equal(asRecord(exchange.body).code, 4002);
  });

  it('400 allocate: ipAddress with count 2, a held ipAddress (4005)', async () => {
    const token = await main.token();
    const withCount = await allocate(
      cli,
      token,
      json(allocateBody({ count: 2, ipAddress: '192.0.2.200' })),
    );
    conforms('allocateElasticIP', withCount, 400);
    assert.equal(asRecord(withCount.body).code, 0);

    const otherToken = await main.token();
    const held = await ipAddressOf(otherToken, await allocateOne(otherToken));
    const exchange = await allocate(cli, token, json(allocateBody({ ipAddress: held })));
    conforms('allocateElasticIP', exchange, 400);
    assert.equal(asRecord(exchange.body).code, 4005);
  });

  it('200 allocate with a free ipAddress; 404 with one outside the pools (4045)', async () => {
    const token = await main.token();
    const ok = await allocate(
      cli,
      token,
      json(allocateBody({ ipAddress: '198.51.100.77', idc: 'test-west1' })),
    );
    conforms('allocateElasticIP', ok, 200);
    const outside = await allocate(cli, token, json(allocateBody({ ipAddress: '10.0.0.1' })));
    conforms('allocateElasticIP', outside, 404);
    assert.equal(asRecord(outside.body).code, 4045);
  });

  it('401: each new operation without a token and with an expired one', async () => {
    const id = randomUUID();
    for (const token of [undefined, await expiredToken()]) {
      const exchanges: [OperationId, Exchange][] = [
        ['listElasticIPs', await listEips(cli, token)],
        ['listElasticIPProducts', await listProducts(cli, token)],
        ['updateElasticIP', await renameEip(cli, token, id, json({ name: 'x' }))],
        ['releaseElasticIP', await releaseEip(cli, token, id)],
      ];
      for (const [operation, exchange] of exchanges) {
        conforms(operation, exchange, 401);
        assert.equal(asRecord(exchange.body).group, 'auth_verify', operation);
        assert.ok(exchange.headers.get('www-authenticate')?.startsWith('Bearer'), operation);
      }
    }
  });

  it('404: products of an unknown IDC; rename and release of unknown, foreign, non-uuid ids', async () => {
    const token = await main.token();
    const products = await listProducts(cli, token, 'idc=nowhere-1');
    conforms('listElasticIPProducts', products, 404);
    assert.deepEqual(products.body, { code: 4041, reason: 'IDC nowhere-1 was not found' });

    const theirs = await allocateOne(await main.token());
    for (const id of [randomUUID(), theirs, 'not-a-uuid']) {
      const renamed = await renameEip(cli, token, id, json({ name: 'mine now' }));
      conforms('updateElasticIP', renamed, 404);
      assert.equal(asRecord(renamed.body).code, 4044, id);
      const released = await releaseEip(cli, token, id);
      conforms('releaseElasticIP', released, 404);
      assert.equal(asRecord(released.body).code, 4044, id);
    }
  });

  it('413 rename: a body over the 1 MiB limit', async () => {
    const token = await main.token();
    const id = await allocateOne(token);
    const exchange = await renameEip(
      cli,
      token,
      id,
      json({ name: 'web', pad: 'x'.repeat(1_100_000) }),
    );
    conforms('updateElasticIP', exchange, 413);
    assert.equal(asRecord(exchange.body).code, 4131);
  });

  it('503 database unavailable and 500 internal error, for each new operation', async () => {
    const token = await main.token();
    for (const [via, status] of [
      [dbDown, 503],
      [broken, 500],
    ] as const) {
      const id = randomUUID();
      const exchanges: [OperationId, Exchange][] = [
        ['listElasticIPs', await listEips(via, token)],
        ['listElasticIPProducts', await listProducts(via, token)],
        ['updateElasticIP', await renameEip(via, token, id, json({ name: 'x' }))],
        ['releaseElasticIP', await releaseEip(via, token, id)],
      ];
      for (const [operation, exchange] of exchanges) {
        conforms(operation, exchange, status);
        if (status === 503) {
          assert.deepEqual(exchange.body, { reason: 'database is unavailable' }, operation);
        } else {
          assert.equal(asRecord(exchange.body).code, 5001, operation);
          assert.ok(!exchange.text.includes('elastic_ips'), exchange.text);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Association and the operator surface: associate, disassociate, the instance directory, the
// event stream, the association snapshot, address history and pools

const ADMIN_OPERATIONS = [
  'registerInstance',
  'removeInstance',
  'listEvents',
  'listAssociations',
  'getAddressHistory',
  'listPools',
  'updatePool',
  'listQuotas',
  'setQuota',
  'removeQuotaOverride',
  'listOperatorActions',
] as const;

/** One call of each operator operation that would succeed with an operator token. */
async function eachAdminOperation(
  via: Transport,
  token: string | undefined,
): Promise<[OperationId, Exchange][]> {
  const instance = json({ orgId: randomUUID(), idc: 'test-east1', instanceType: 'baremetal' });
  return [
    ['registerInstance', await registerInstance(via, token, randomUUID(), instance)],
    ['removeInstance', await removeInstance(via, token, randomUUID())],
    ['listEvents', await listEvents(via, token)],
    ['listAssociations', await listAssociations(via, token)],
    ['getAddressHistory', await addressHistory(via, token, 'ipAddress=192.0.2.9')],
    ['listPools', await listPools(via, token)],
    ['updatePool', await updatePool(via, token, 'tiny-v4', json({ enabled: true }))],
    ['listQuotas', await listQuotas(via, token, randomUUID())],
    ['setQuota', await setQuota(via, token, randomUUID(), 'test-east1', json({ limit: 5 }))],
    ['removeQuotaOverride', await removeQuotaOverride(via, token, randomUUID(), 'test-east1')],
    ['listOperatorActions', await call(via, token, 'GET', '/v1/admin/operator-actions')],
  ];
}

/** A body over the 1 MiB limit that is otherwise a plausible request. */
const TOO_LARGE = json({ pad: 'x'.repeat(1_100_000) });

describe('associateElasticIP, disassociateElasticIP and the operator operations conform', () => {
  it('200 register, associate, disassociate (twice), remove; the EIP follows', async () => {
    const orgId = randomUUID();
    const token = await main.token(orgId);
    const ops = await main.operatorToken();
    const eip = await allocateOne(token);
    const x = randomUUID();
    const attributes = { orgId, idc: 'test-east1', instanceType: 'baremetal' };
    for (const id of [x, x.toUpperCase()]) {
      const registered = await registerInstance(cli, ops, id, json(attributes));
      conforms('registerInstance', registered, 200);
      assert.deepEqual(registered.body, { instanceID: x, ...attributes });
    }

    const associated = await associateEip(
      cli,
      token,
      eip,
      json({ instanceID: x, instanceType: 'baremetal' }),
    );
    conforms('associateElasticIP', associated, 200);
    assert.equal(asRecord(associated.body).status, 'associated');
    assert.equal(asRecord(associated.body).instanceID, x);
    const again = await associateEip(
      cli,
      token,
      eip,
      json({ instanceID: x, instanceType: 'baremetal', allowReassociation: true }),
    );
    conforms('associateElasticIP', again, 200);
    assert.deepEqual(again.body, associated.body);

    const disassociated = await disassociateEip(cli, token, eip);
    conforms('disassociateElasticIP', disassociated, 200);
    assert.equal(asRecord(disassociated.body).status, 'disassociated');
    assert.equal(asRecord(disassociated.body).instanceID ?? null, null);
    const twice = await disassociateEip(cli, token, eip.toUpperCase());
    conforms('disassociateElasticIP', twice, 200);
    assert.deepEqual(twice.body, disassociated.body);

    conforms(
      'associateElasticIP',
      await associateEip(cli, token, eip, json({ instanceID: x, instanceType: 'baremetal' })),
      200,
    );
    const removed = await removeInstance(cli, ops, x);
    conforms('removeInstance', removed, 200);
    assert.deepEqual(removed.body, { instanceID: x, ...attributes });
    const after = await getEip(cli, token, eip);
    conforms('getElasticIP', after, 200);
    assert.equal(asRecord(after.body).status, 'disassociated');
  });

  it('200 listEvents (a page, and the cursor passed back) and listAssociations', async () => {
    const ops = await main.operatorToken();
    // An association, so that the snapshot may have something to show.
    const orgId = randomUUID();
    const token = await main.token(orgId);
    const eip = await allocateOne(token);
    const x = await registeredInstance(orgId, 'container');
    conforms(
      'associateElasticIP',
      await associateEip(cli, token, eip, json({ instanceID: x, instanceType: 'container' })),
      200,
    );

    // Which events are visible depends on the server-wide xmin: only status and shape are checked.
    const first = await listEvents(cli, ops);
    conforms('listEvents', first, 200);
    const page = asRecord(first.body);
    assert.ok(Array.isArray(page.events), first.text);
    assert.equal(typeof page.cursor, 'string');
    const next = await listEvents(cli, ops, `limit=1&cursor=${String(page.cursor)}`);
    conforms('listEvents', next, 200);
    const nextPage = asRecord(next.body);
    assert.ok(Array.isArray(nextPage.events) && nextPage.events.length <= 1, next.text);

    const snapshot = await listAssociations(cli, ops);
    conforms('listAssociations', snapshot, 200);
    const body = asRecord(snapshot.body);
    assert.ok(Array.isArray(body.associations), snapshot.text);
    assert.equal(typeof body.cursor, 'string');
    const resumed = await listEvents(cli, ops, `cursor=${String(body.cursor)}`);
    conforms('listEvents', resumed, 200);
  });

  it('200 getAddressHistory: a held address, at an instant, and one never held', async () => {
    const ops = await main.operatorToken();
    const orgId = randomUUID();
    const address = '198.51.100.88';
    const eip = await allocateOne(await main.token(orgId), {
      idc: 'test-west1',
      ipAddress: address,
    });
    const held = await addressHistory(cli, ops, `ipAddress=${address}`);
    conforms('getAddressHistory', held, 200);
    assert.ok(Array.isArray(held.body) && held.body.length === 1, held.text);
    const holding = asRecord(held.body[0]);
    assert.equal(holding.eipId, eip);
    assert.equal(holding.orgId, orgId);
    assert.equal(holding.until, null);
    const now = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    const at = await addressHistory(cli, ops, `ipAddress=${address}&at=${now}`);
    conforms('getAddressHistory', at, 200);
    assert.deepEqual(at.body, held.body);
    const never = await addressHistory(cli, ops, 'ipAddress=2001%3Adb8%3Aff%3A%3A9');
    conforms('getAddressHistory', never, 200);
    assert.deepEqual(never.body, []);
  });

  it('200 listPools (all, and of one IDC) and updatePool (off and on again)', async () => {
    const ops = await main.operatorToken();
    const all = await listPools(cli, ops);
    conforms('listPools', all, 200);
    assert.ok(Array.isArray(all.body) && all.body.length >= 4, all.text);
    const east = await listPools(cli, ops, 'idc=test-east1');
    conforms('listPools', east, 200);
    assert.ok(Array.isArray(east.body) && east.body.length === 2, east.text);
    for (const pool of east.body) assert.equal(asRecord(pool).idc, 'test-east1');

    const off = await updatePool(cli, ops, 'tiny-v4', json({ enabled: false }));
    conforms('updatePool', off, 200);
    assert.equal(asRecord(off.body).enabled, false);
    const on = await updatePool(cli, ops, 'tiny-v4', json({ enabled: true }));
    conforms('updatePool', on, 200);
    assert.equal(asRecord(on.body).enabled, true);
    assert.equal(asRecord(on.body).name, 'tiny-v4');
  });

  it('400 associate: validation, invalid JSON, refused reassociation (4003), released EIP (4006)', async () => {
    const orgId = randomUUID();
    const token = await main.token(orgId);
    const eip = await allocateOne(token);
    for (const body of [
      { instanceID: 'nope', instanceType: 'vm' },
      { instanceID: randomUUID(), instanceType: 'baremetal', colour: 'red' },
      {},
    ]) {
      const exchange = await associateEip(cli, token, eip, json(body));
      conforms('associateElasticIP', exchange, 400);
      assert.equal(asRecord(exchange.body).group, 'request', json(body));
      assert.equal(asRecord(exchange.body).code, 0, json(body));
    }
    const invalidJson = await associateEip(inProcess, token, eip, '{"instanceID":');
    conforms('associateElasticIP', invalidJson, 400);
    assert.equal(asRecord(invalidJson.body).code, 1);

    const x = await registeredInstance(orgId, 'baremetal');
    const y = await registeredInstance(orgId, 'container');
    conforms(
      'associateElasticIP',
      await associateEip(cli, token, eip, json({ instanceID: x, instanceType: 'baremetal' })),
      200,
    );
    for (const allow of [undefined, false]) {
      const refused = await associateEip(
        cli,
        token,
        eip,
        json({ instanceID: y, instanceType: 'container', allowReassociation: allow }),
      );
      conforms('associateElasticIP', refused, 400);
      assert.equal(asRecord(refused.body).code, 4003);
    }

    const gone = await allocateOne(token);
    conforms('releaseElasticIP', await releaseEip(cli, token, gone), 200);
    const released = await associateEip(
      cli,
      token,
      gone,
      json({ instanceID: x, instanceType: 'baremetal' }),
    );
    conforms('associateElasticIP', released, 400);
    assert.deepEqual(released.body, { code: 4006, reason: `elastic IP ${gone} is released` });
  });

  it('400 disassociate: a released EIP (4006), and a request body', async () => {
    const token = await main.token();
    const eip = await allocateOne(token);
    const withBody = await disassociateEip(cli, token, eip, json({}));
    conforms('disassociateElasticIP', withBody, 400);
    assert.equal(asRecord(withBody.body).code, 1);
    conforms('releaseElasticIP', await releaseEip(cli, token, eip), 200);
    const released = await disassociateEip(cli, token, eip);
    conforms('disassociateElasticIP', released, 400);
    assert.deepEqual(released.body, { code: 4006, reason: `elastic IP ${eip} is released` });
  });

  it('400 register: validation, invalid JSON, other attributes for a registered id (4008)', async () => {
    const ops = await main.operatorToken();
    for (const body of [
      { orgId: 'x', idc: 'test-east1' },
      { orgId: randomUUID(), idc: 'test-east1', instanceType: 'vm', colour: 'red' },
    ]) {
      const exchange = await registerInstance(cli, ops, randomUUID(), json(body));
      conforms('registerInstance', exchange, 400);
      assert.equal(asRecord(exchange.body).group, 'request', json(body));
    }
    const invalidJson = await registerInstance(inProcess, ops, randomUUID(), '{"orgId":');
    conforms('registerInstance', invalidJson, 400);
    assert.equal(asRecord(invalidJson.body).code, 1);

    const orgId = randomUUID();
    const x = await registeredInstance(orgId, 'container');
    const conflict = await registerInstance(
      cli,
      ops,
      x,
      json({ orgId, idc: 'test-east1', instanceType: 'baremetal' }),
    );
    conforms('registerInstance', conflict, 400);
    assert.equal(asRecord(conflict.body).code, 4008);
  });

  it('400 remove: a request body', async () => {
    const ops = await main.operatorToken();
    const x = await registeredInstance(randomUUID());
    const exchange = await removeInstance(cli, ops, x, json({ force: true }));
    conforms('removeInstance', exchange, 400);
    assert.equal(asRecord(exchange.body).code, 1);
  });

  it('400 listEvents, getAddressHistory, listPools, updatePool', async () => {
    const ops = await main.operatorToken();
    const badCursor = Buffer.from('{"x":"-1","s":"0"}').toString('base64url');
    for (const cursor of ['garbage!', badCursor]) {
      const exchange = await listEvents(cli, ops, `cursor=${encodeURIComponent(cursor)}`);
      conforms('listEvents', exchange, 400);
      assert.deepEqual(exchange.body, { code: 4007, reason: 'cursor is invalid' });
    }
    for (const query of ['limit=0', 'limit=1001', 'colour=red']) {
      const exchange = await listEvents(cli, ops, query);
      conforms('listEvents', exchange, 400);
      assert.equal(asRecord(exchange.body).group, 'request', query);
    }

    for (const query of [
      'ipAddress=010.0.0.1',
      'ipAddress=not-an-ip',
      'ipAddress=192.0.2.9&at=yesterday',
      '',
    ]) {
      const exchange = await addressHistory(cli, ops, query);
      conforms('getAddressHistory', exchange, 400);
      assert.equal(asRecord(exchange.body).group, 'request', query);
    }

    for (const query of ['idc=no%20where', 'colour=red']) {
      const exchange = await listPools(cli, ops, query);
      conforms('listPools', exchange, 400);
      assert.equal(asRecord(exchange.body).group, 'request', query);
    }

    for (const body of [{ enabled: 'no' }, { enabled: true, x: 1 }, {}]) {
      const exchange = await updatePool(cli, ops, 'tiny-v4', json(body));
      conforms('updatePool', exchange, 400);
      assert.equal(asRecord(exchange.body).group, 'request', json(body));
    }
  });

  it('401: each of the twelve operations without a token and with an expired one', async () => {
    const id = randomUUID();
    for (const token of [undefined, await expiredToken()]) {
      const exchanges: [OperationId, Exchange][] = [
        [
          'associateElasticIP',
          await associateEip(cli, token, id, json({ instanceID: id, instanceType: 'baremetal' })),
        ],
        ['disassociateElasticIP', await disassociateEip(cli, token, id)],
        ...(await eachAdminOperation(cli, token)),
      ];
      assert.equal(exchanges.length, 13);
      for (const [operation, exchange] of exchanges) {
        conforms(operation, exchange, 401);
        assert.equal(asRecord(exchange.body).group, 'auth_verify', operation);
        assert.ok(exchange.headers.get('www-authenticate')?.startsWith('Bearer'), operation);
      }
    }
  });

  it('403: each operator operation with a tenant token', async () => {
    const exchanges = await eachAdminOperation(cli, await main.token());
    assert.deepEqual(
      exchanges.map(([operation]) => operation),
      [...ADMIN_OPERATIONS],
    );
    for (const [operation, exchange] of exchanges) {
      conforms(operation, exchange, 403);
      assert.deepEqual(
        exchange.body,
        { code: 4031, reason: 'this operation needs the eip:admin scope' },
        operation,
      );
    }
  });

  it('404: unknown, foreign, non-uuid EIPs; unknown instances, IDCs and pools', async () => {
    const orgId = randomUUID();
    const token = await main.token(orgId);
    const ops = await main.operatorToken();
    const x = await registeredInstance(orgId);
    const theirs = await allocateOne(await main.token());
    for (const id of [randomUUID(), theirs, 'not-a-uuid']) {
      const associated = await associateEip(
        cli,
        token,
        id,
        json({ instanceID: x, instanceType: 'baremetal' }),
      );
      conforms('associateElasticIP', associated, 404);
      assert.equal(asRecord(associated.body).code, 4044, id);
      const disassociated = await disassociateEip(cli, token, id);
      conforms('disassociateElasticIP', disassociated, 404);
      assert.equal(asRecord(disassociated.body).code, 4044, id);
    }

    const eip = await allocateOne(token);
    const unknownInstance = randomUUID();
    const noInstance = await associateEip(
      cli,
      token,
      eip,
      json({ instanceID: unknownInstance, instanceType: 'baremetal' }),
    );
    conforms('associateElasticIP', noInstance, 404);
    assert.deepEqual(noInstance.body, {
      code: 4046,
      reason: `baremetal instance ${unknownInstance} was not found in IDC test-east1`,
    });

    const unknownIdc = await registerInstance(
      cli,
      ops,
      randomUUID(),
      json({ orgId, idc: 'nowhere-1', instanceType: 'baremetal' }),
    );
    conforms('registerInstance', unknownIdc, 404);
    assert.deepEqual(unknownIdc.body, { code: 4041, reason: 'IDC nowhere-1 was not found' });
    const nonUuid = await registerInstance(
      cli,
      ops,
      'not-a-uuid',
      json({ orgId, idc: 'test-east1', instanceType: 'baremetal' }),
    );
    // Instance ids are path parameters validated against the document (format uuid), like orgId:
    // only elastic IP ids answer a non-uuid with 404, because getElasticIP declares no 400.
    conforms('registerInstance', nonUuid, 400);
    assert.equal(asRecord(nonUuid.body).group, 'request');

    const removed = await removeInstance(cli, ops, unknownInstance);
    conforms('removeInstance', removed, 404);
    assert.deepEqual(removed.body, {
      code: 4046,
      reason: `instance ${unknownInstance} was not found`,
    });
    conforms('removeInstance', await removeInstance(cli, ops, 'not-a-uuid'), 400);

    const pools = await listPools(cli, ops, 'idc=nowhere-1');
    conforms('listPools', pools, 404);
    assert.deepEqual(pools.body, { code: 4041, reason: 'IDC nowhere-1 was not found' });
    const pool = await updatePool(cli, ops, 'nope', json({ enabled: false }));
    conforms('updatePool', pool, 404);
    assert.deepEqual(pool.body, { code: 4047, reason: 'pool nope was not found' });
  });

  it('413: a body over the 1 MiB limit, on each operation that takes a body', async () => {
    const token = await main.token();
    const ops = await main.operatorToken();
    const id = randomUUID();
    const exchanges: [OperationId, Exchange][] = [
      ['associateElasticIP', await associateEip(cli, token, id, TOO_LARGE)],
      ['disassociateElasticIP', await disassociateEip(cli, token, id, TOO_LARGE)],
      ['registerInstance', await registerInstance(cli, ops, id, TOO_LARGE)],
      ['removeInstance', await removeInstance(cli, ops, id, TOO_LARGE)],
      ['updatePool', await updatePool(cli, ops, 'tiny-v4', TOO_LARGE)],
      ['setQuota', await setQuota(cli, ops, id, 'test-east1', TOO_LARGE)],
      ['removeQuotaOverride', await removeQuotaOverride(cli, ops, id, 'test-east1', TOO_LARGE)],
    ];
    for (const [operation, exchange] of exchanges) {
      conforms(operation, exchange, 413);
      assert.equal(asRecord(exchange.body).code, 4131, operation);
    }
  });

  it('503 database unavailable and 500 internal error, for each of the thirteen operations', async () => {
    const token = await main.token();
    const ops = await main.operatorToken();
    for (const [via, status] of [
      [dbDown, 503],
      [broken, 500],
    ] as const) {
      const id = randomUUID();
      const exchanges: [OperationId, Exchange][] = [
        [
          'associateElasticIP',
          await associateEip(
            via,
            token,
            id,
            json({ instanceID: randomUUID(), instanceType: 'baremetal' }),
          ),
        ],
        ['disassociateElasticIP', await disassociateEip(via, token, id)],
        ...(await eachAdminOperation(via, ops)),
      ];
      assert.equal(exchanges.length, 13);
      for (const [operation, exchange] of exchanges) {
        conforms(operation, exchange, status);
        if (status === 503) {
          assert.deepEqual(exchange.body, { reason: 'database is unavailable' }, operation);
        } else {
          assert.equal(asRecord(exchange.body).code, 5001, operation);
          assert.ok(!exchange.text.includes('elastic_ips'), exchange.text);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The probes (anonymous): liveness and readiness

describe('getHealth and getReadiness conform', () => {
  it('200 getHealth: without a token, with one it does not look at, and whatever the database', async () => {
    for (const [via, token] of [
      [cli, undefined],
      [cli, 'garbage'],
      [dbDown, undefined],
      [broken, undefined],
      [notReady, undefined],
    ] as const) {
      const exchange = await health(via, token);
      conforms('getHealth', exchange, 200);
      assert.deepEqual(exchange.body, { status: 'ok' });
    }
  });

  it('200 getReadiness: a migrated database that answers, without a token and with one', async () => {
    for (const token of [undefined, 'garbage']) {
      const exchange = await readiness(cli, token);
      conforms('getReadiness', exchange, 200);
      assert.deepEqual(exchange.body, { status: 'ok' });
    }
  });

  it('503 getReadiness: database unavailable, migrations pending, draining', async () => {
    const down = await readiness(dbDown);
    conforms('getReadiness', down, 503);
    assert.deepEqual(down.body, { reason: 'database is unavailable' });

    const versions = (await readMigrations()).map((m) => m.version);
    assert.ok(versions.length > 0);
    const unmigrated = await readiness(notReady);
    conforms('getReadiness', unmigrated, 503);
    assert.deepEqual(unmigrated.body, { reason: `migrations pending: ${versions.join(', ')}` });

    draining = true;
    try {
      const shuttingDown = await readiness(notReady);
      conforms('getReadiness', shuttingDown, 503);
      assert.deepEqual(shuttingDown.body, { reason: 'shutting down' });
    } finally {
      draining = false;
    }
  });

  it('getReadiness on a database that fails every statement (a bug, not an outage)', async () => {
    // Not an outage: the generic 500 with the request id, never the SQL or its error.
    const exchange = await readiness(broken);
    assert.deepEqual(responseViolations(exchange), [], `${exchange.status}: ${exchange.text}`);
    conforms('getReadiness', exchange, 500);
    assert.ok(!exchange.text.includes('elastic_ips'), exchange.text);
  });
});

// ---------------------------------------------------------------------------------------------
// Quotas: listQuotas, setQuota, removeQuotaOverride, and allocate over quota

/** The IDCs of the main server (BASIC_CATALOG and TINY_CATALOG), in listQuotas' order. */
const MAIN_IDCS = ['test-east1', 'test-tiny1', 'test-west1'];

describe('listQuotas, setQuota, removeQuotaOverride conform; allocate over quota', () => {
  it('200: the defaults, an override set (twice, and to 0), listed, then removed (twice)', async () => {
    const ops = await main.operatorToken();
    const orgId = randomUUID();
    const token = await main.token(orgId);
    const fresh = await listQuotas(cli, ops, orgId);
    conforms('listQuotas', fresh, 200);
    assert.deepEqual(
      fresh.body,
      MAIN_IDCS.map((idc) => ({ idc, limit: null, source: 'default', used: 0 })),
    );

    conforms(
      'allocateElasticIP',
      await allocate(cli, token, json(allocateBody({ count: 2 }))),
      200,
    );
    const override = { idc: 'test-east1', limit: 5, source: 'override', used: 2 };
    for (const id of [orgId, orgId.toUpperCase()]) {
      const set = await setQuota(cli, ops, id, 'test-east1', json({ limit: 5 }));
      conforms('setQuota', set, 200);
      assert.deepEqual(set.body, override);
    }
    const listed = await listQuotas(cli, ops, orgId.toUpperCase());
    conforms('listQuotas', listed, 200);
    assert.deepEqual(listed.body, [
      override,
      { idc: 'test-tiny1', limit: null, source: 'default', used: 0 },
      { idc: 'test-west1', limit: null, source: 'default', used: 0 },
    ]);
    // Below what the organization holds: its elastic IPs stay.
    const zero = await setQuota(cli, ops, orgId, 'test-east1', json({ limit: 0 }));
    conforms('setQuota', zero, 200);
    assert.deepEqual(zero.body, { ...override, limit: 0 });

    for (const id of [orgId, orgId.toUpperCase()]) {
      const removed = await removeQuotaOverride(cli, ops, id, 'test-east1');
      conforms('removeQuotaOverride', removed, 200);
      assert.deepEqual(removed.body, {
        idc: 'test-east1',
        limit: null,
        source: 'default',
        used: 2,
      });
    }
    // The largest limit there is.
    const most = await setQuota(cli, ops, orgId, 'test-west1', json({ limit: 1_000_000_000 }));
    conforms('setQuota', most, 200);
    assert.equal(asRecord(most.body).limit, 1_000_000_000);
  });

  it("200 listQuotas and 400 allocate (4009): a limit from the catalog's quotas section", async () => {
    const orgId = randomUUID();
    const catalog = `
idcs:
  - name: test-west1
quotas:
  organizations:
    - orgId: ${orgId}
      idc: test-west1
      limit: 1
`;
    await applyCatalog(main.db, parseCatalog(catalog, 'quota catalog'), 'quota catalog');
    const listed = await listQuotas(cli, await main.operatorToken(), orgId);
    conforms('listQuotas', listed, 200);
    // The catalog's own entries are kept apart from operators' overrides (setQuota), so that a
    // restart with the catalog never undoes an operator's change.
    assert.deepEqual((listed.body as unknown[])[2], {
      idc: 'test-west1',
      limit: 1,
      source: 'catalog',
      used: 0,
    });
    const token = await main.token(orgId);
    await allocateOne(token, { idc: 'test-west1' });
    const over = await allocate(cli, token, json(allocateBody({ idc: 'test-west1' })));
    conforms('allocateElasticIP', over, 400);
    assert.deepEqual(over.body, {
      code: 4009,
      reason:
        'quota exceeded: the organization may hold 1 elastic IPs in IDC test-west1; it holds 1 and requested 1',
    });
  });

  it('400 allocate over a quota set by setQuota (4009), and 200 once it is raised', async () => {
    const ops = await main.operatorToken();
    const orgId = randomUUID();
    const token = await main.token(orgId);
    conforms('setQuota', await setQuota(cli, ops, orgId, 'test-east1', json({ limit: 1 })), 200);
    const headers = { ...JSON_TYPE, 'idempotency-key': `quota-${randomUUID()}` };
    const two = await allocate(cli, token, json(allocateBody({ count: 2 })), headers);
    conforms('allocateElasticIP', two, 400);
    assert.deepEqual(two.body, {
      code: 4009,
      reason:
        'quota exceeded: the organization may hold 1 elastic IPs in IDC test-east1; it holds 0 and requested 2',
    });
    // Another IDC has its own (default) quota.
    await allocateOne(token, { idc: 'test-west1' });
    await allocateOne(token);
    const over = await allocate(cli, token, json(allocateBody()));
    conforms('allocateElasticIP', over, 400);
    assert.equal(asRecord(over.body).code, 4009);

    // Only successful answers are kept: the refused request's key allocates once allowed.
    conforms('setQuota', await setQuota(cli, ops, orgId, 'test-east1', json({ limit: 3 })), 200);
    const allowed = await allocate(cli, token, json(allocateBody({ count: 2 })), headers);
    conforms('allocateElasticIP', allowed, 200);
    assert.equal(allowed.headers.get('idempotent-replayed'), null);
    assert.ok(Array.isArray(allowed.body) && allowed.body.length === 2, allowed.text);
  });

  it('400: a non-uuid orgId (path), bad bodies, invalid JSON, a body on remove', async () => {
    const ops = await main.operatorToken();
    const nonUuid: [OperationId, Exchange][] = [
      ['listQuotas', await listQuotas(cli, ops, 'not-a-uuid')],
      ['setQuota', await setQuota(cli, ops, 'not-a-uuid', 'test-east1', json({ limit: 1 }))],
      ['removeQuotaOverride', await removeQuotaOverride(cli, ops, 'not-a-uuid', 'test-east1')],
    ];
    for (const [operation, exchange] of nonUuid) {
      conforms(operation, exchange, 400);
      const body = asRecord(exchange.body);
      assert.equal(body.group, 'request', operation);
      assert.equal(body.code, 0, operation);
      assert.equal(body.message, 'The path parameters are invalid; see validationDetail.');
      const details = body.validationDetail as { field: string; originalValue: string }[];
      assert.deepEqual(
        details.map((d) => [d.field, d.originalValue]),
        [['orgId', json('not-a-uuid')]],
        operation,
      );
    }

    const orgId = randomUUID();
    for (const body of [
      { limit: -1 },
      { limit: 1_000_000_001 },
      { limit: 1.5 },
      { limit: '3' },
      { limit: null },
      { limit: 1, colour: 'red' },
      {},
    ]) {
      const exchange = await setQuota(cli, ops, orgId, 'test-east1', json(body));
      conforms('setQuota', exchange, 400);
      assert.equal(asRecord(exchange.body).group, 'request', json(body));
      assert.equal(asRecord(exchange.body).code, 0, json(body));
    }
    for (const [name, exchange] of [
      ['invalid JSON', await setQuota(inProcess, ops, orgId, 'test-east1', '{"limit":')],
      ['no body', await setQuota(cli, ops, orgId, 'test-east1', undefined)],
      ['JSON array', await setQuota(cli, ops, orgId, 'test-east1', json([{ limit: 1 }]))],
    ] as const) {
      conforms('setQuota', exchange, 400);
      assert.equal(asRecord(exchange.body).code, 1, name);
    }

    const withBody = await removeQuotaOverride(cli, ops, orgId, 'test-east1', json({}));
    conforms('removeQuotaOverride', withBody, 400);
    assert.equal(asRecord(withBody.body).code, 1);
  });

  it('404: setQuota and removeQuotaOverride in an unknown IDC (4041)', async () => {
    const ops = await main.operatorToken();
    const orgId = randomUUID();
    const exchanges: [OperationId, Exchange][] = [
      ['setQuota', await setQuota(cli, ops, orgId, 'nowhere-1', json({ limit: 1 }))],
      ['removeQuotaOverride', await removeQuotaOverride(cli, ops, orgId, 'nowhere-1')],
    ];
    for (const [operation, exchange] of exchanges) {
      conforms(operation, exchange, 404);
      assert.deepEqual(
        exchange.body,
        { code: 4041, reason: 'IDC nowhere-1 was not found' },
        operation,
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------
// allocateElasticIP's Idempotency-Key

describe('allocateElasticIP with an Idempotency-Key conforms', () => {
  it('200: the first answer, then its replay with Idempotent-Replayed: true', async () => {
    const orgId = randomUUID();
    const token = await main.token(orgId);
    // The longest key, of every visible ASCII character.
    const visible = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) =>
      String.fromCharCode(0x21 + i),
    );
    const longest = visible.join('').repeat(3).slice(0, 255);
    for (const key of [`contract-${randomUUID()}`, longest]) {
      const headers = { ...JSON_TYPE, 'idempotency-key': key };
      const body = allocateBody({ count: 2, name: 'replayed' });
      const first = await allocate(cli, token, json(body), headers);
      conforms('allocateElasticIP', first, 200);
      assert.equal(first.headers.get('idempotent-replayed'), null);

      // The same body, also with its fields in another order.
      const reordered = Object.fromEntries(Object.entries(body).reverse());
      for (const again of [body, reordered]) {
        const replay = await allocate(cli, token, json(again), headers);
        conforms('allocateElasticIP', replay, 200);
        assert.equal(replay.headers.get('idempotent-replayed'), 'true');
        assert.deepEqual(replay.body, first.body);
      }

      // Keys are per organization: another one's same key and body allocates.
      const other = await allocate(cli, await main.token(), json(body), headers);
      conforms('allocateElasticIP', other, 200);
      assert.equal(other.headers.get('idempotent-replayed'), null);
      assert.notDeepEqual(other.body, first.body);
    }
    const listed = await listEips(cli, token);
    conforms('listElasticIPs', listed, 200);
    assert.equal((listed.body as unknown[]).length, 4, listed.text);
  });

  it('400: an invalid Idempotency-Key (validationDetail), the same key with another body (4010)', async () => {
    const token = await main.token();
    for (const key of ['', 'two words', 'x'.repeat(256), 'na\u00efve']) {
      const exchange = await allocate(cli, token, json(allocateBody()), {
        ...JSON_TYPE,
        'idempotency-key': key,
      });
      conforms('allocateElasticIP', exchange, 400);
      const body = asRecord(exchange.body);
      assert.equal(body.group, 'request', key);
      assert.equal(body.code, 0, key);
      assert.equal(body.message, 'The request headers are invalid; see validationDetail.', key);
      // An empty key breaks two rules (minLength and pattern): one entry each.
      const fields = (body.validationDetail as { field: string }[]).map((d) => d.field);
      assert.deepEqual([...new Set(fields)], ['Idempotency-Key'], key);
    }

    const key = `contract-${randomUUID()}`;
    const headers = { ...JSON_TYPE, 'idempotency-key': key };
    conforms('allocateElasticIP', await allocate(cli, token, json(allocateBody()), headers), 200);
    const reused = await allocate(cli, token, json(allocateBody({ name: 'other' })), headers);
    conforms('allocateElasticIP', reused, 400);
    assert.deepEqual(reused.body, {
      code: 4010,
      reason: `Idempotency-Key "${key}" was already used with a different request body in the last 24 hours; use a new key for a new request`,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Input nothing reads: an undocumented query parameter is refused by every operation, those that
// take no query parameter at all included (a documented 400); no GET reads a body (Fastify does
// not parse GET bodies), so a GET's body is never refused; a body sent to a DELETE is read to be
// refused, so one over the limit is a documented 413.

/** A GET with a body, straight to eipd (fetch refuses to send one). */
function getWithBody(path: string, token: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${mainUrl}${path}`, {
      method: 'GET',
      headers: { ...JSON_TYPE, ...bearer(token), 'content-length': Buffer.byteLength(body) },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('operator GETs: undocumented query parameters are refused, bodies ignored', () => {
  it('listAssociations and listQuotas answer an unknown query parameter with 400', async () => {
    const ops = await main.operatorToken();
    for (const res of [
      await listAssociations(cli, ops, 'colour=red'),
      await listQuotas(cli, ops, randomUUID(), 'colour=red'),
    ]) {
      assert.equal(res.status, 400);
      assert.deepEqual(
        (asRecord(res.body).validationDetail as unknown[]).map((d) => asRecord(d).field),
        ['colour'],
      );
    }
    conforms('listAssociations', await listAssociations(cli, ops, 'colour=red'), 400);
    conforms('listQuotas', await listQuotas(cli, ops, randomUUID(), 'colour=red'), 400);
  });

  it('getElasticIP and the health checks, which declare no 400, ignore an unknown query parameter', async () => {
    const token = await main.token();
    const eip = await allocateOne(token);
    conforms(
      'getElasticIP',
      await call(cli, token, 'GET', `/v1/elastic-ips/${eip}?colour=red`),
      200,
    );
    conforms('getHealth', await call(cli, undefined, 'GET', '/healthz?colour=red'), 200);
    conforms('getReadiness', await call(cli, undefined, 'GET', '/readyz?colour=red'), 200);
  });

  it('a body over the limit sent to releaseElasticIP is a 413 (found by the fuzzer)', async () => {
    const token = await main.token();
    const eip = await allocateOne(token);
    const tooLarge = await call(cli, token, 'DELETE', `/v1/elastic-ips/${eip}`, TOO_LARGE);
    conforms('releaseElasticIP', tooLarge, 413);
    assert.equal(asRecord(tooLarge.body).code, 4131);
  });

  it('the operator GETs ignore a body over the limit (straight to eipd): 200, not 413', async () => {
    const ops = await main.operatorToken();
    for (const path of [
      '/v1/admin/events',
      '/v1/admin/associations',
      '/v1/admin/address-history?ipAddress=192.0.2.9',
      '/v1/admin/pools',
      `/v1/admin/organizations/${randomUUID()}/quotas`,
    ]) {
      assert.equal(await getWithBody(path, ops, TOO_LARGE), 200, path);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Limits (429) and the history of operators' changes

describe('429 rate limits and listOperatorActions conform', () => {
  let perOrg: TestApp;
  let perAddress: TestApp;
  let perOrgVia: Transport;
  let perAddressVia: Transport;
  before(async () => {
    perOrg = await startTestApp({
      backend: 'pglite',
      catalog: BASIC_CATALOG,
      limits: { perOrganizationPerMinute: 1, authFailuresPerMinute: 0 },
    });
    cleanups.push(() => perOrg.close());
    perAddress = await startTestApp({
      backend: 'pglite',
      catalog: BASIC_CATALOG,
      limits: { perOrganizationPerMinute: 0, authFailuresPerMinute: 1 },
    });
    cleanups.push(() => perAddress.close());
    perOrgVia = await prismInProcess(OPENAPI_FILE, await listen(perOrg.app));
    perAddressVia = await prismInProcess(OPENAPI_FILE, await listen(perAddress.app));
  });

  it('200 and 400 listOperatorActions', async () => {
    const ops = await main.operatorToken();
    await setQuota(cli, ops, randomUUID(), 'test-east1', json({ limit: 3 }));
    const page = await call(cli, ops, 'GET', '/v1/admin/operator-actions?limit=1');
    conforms('listOperatorActions', page, 200);
    const actions = asRecord(page.body).actions as Record<string, unknown>[];
    assert.equal(actions.length, 1);
    assert.equal(actions[0]?.actor, 'ops');
    const bad = await call(cli, ops, 'GET', '/v1/admin/operator-actions?cursor=x');
    conforms('listOperatorActions', bad, 400);
    assert.equal(asRecord(bad.body).code, 4007);
  });

  it("429 code 4291: each tenant operation past the organization's limit", async () => {
    await awayFromWindowEnd(perOrg.db);
    const fresh = async (): Promise<string> => {
      const token = await perOrg.token();
      // The organization's one request of this minute.
      await listEips(perOrgVia, token);
      return token;
    };
    const id = randomUUID();
    const exchanges: [OperationId, Exchange][] = [
      ['allocateElasticIP', await allocate(perOrgVia, await fresh(), json(allocateBody()))],
      ['getElasticIP', await getEip(perOrgVia, await fresh(), id)],
      ['listElasticIPs', await listEips(perOrgVia, await fresh())],
      ['listElasticIPProducts', await listProducts(perOrgVia, await fresh())],
      ['updateElasticIP', await renameEip(perOrgVia, await fresh(), id, json({ name: 'x' }))],
      ['releaseElasticIP', await releaseEip(perOrgVia, await fresh(), id)],
      [
        'associateElasticIP',
        await associateEip(
          perOrgVia,
          await fresh(),
          id,
          json({ instanceID: randomUUID(), instanceType: 'baremetal' }),
        ),
      ],
      ['disassociateElasticIP', await disassociateEip(perOrgVia, await fresh(), id)],
    ];
    for (const [operation, exchange] of exchanges) {
      conforms(operation, exchange, 429);
      assert.equal(asRecord(exchange.body).code, 4291, operation);
      assert.equal(exchange.headers.get('ratelimit-limit'), '1', operation);
      assert.equal(exchange.headers.get('ratelimit-remaining'), '0', operation);
      assert.ok(Number(exchange.headers.get('retry-after')) >= 1, operation);
    }
  });

  it('429 code 4292: each operator operation from an address past its failed-authentication limit', async () => {
    await awayFromWindowEnd(perAddress.db);
    const refused = await listEvents(perAddressVia, 'not.a.token');
    assert.equal(refused.status, 401);
    const exchanges = await eachAdminOperation(perAddressVia, await perAddress.operatorToken());
    assert.deepEqual(
      exchanges.map(([operation]) => operation),
      [...ADMIN_OPERATIONS],
    );
    for (const [operation, exchange] of exchanges) {
      conforms(operation, exchange, 429);
      assert.equal(asRecord(exchange.body).code, 4292, operation);
      assert.ok(Number(exchange.headers.get('retry-after')) >= 1, operation);
    }
  });
});

describe('coverage', () => {
  it('every documented status of every operation was exercised', () => {
    assert.deepEqual(
      [...seenStatuses.keys()].sort(),
      [...documentedStatuses.keys()].sort(),
      'operations',
    );
    for (const [operation, seen] of seenStatuses) {
      const documentedHere = documentedStatuses.get(operation) ?? [];
      assert.deepEqual([...seen].sort(), [...documentedHere].sort(), operation);
    }
  });
});
