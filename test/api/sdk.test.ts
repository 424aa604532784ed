/**
 * eipd/sdk against a real listening eipd: typed results and errors, paging, and the retry rules.
 * Retries are proven with a small HTTP front of our own between the SDK and eipd, which drops
 * connections, answers the database-unavailable 503, or swallows eipd's answer after it committed,
 * and records every request it sees.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ERRORS } from '../../src/errors.js';
import {
  createEipdClient,
  DEFAULT_RETRY,
  EipdApiError,
  EipdNetworkError,
  ERROR_CODES,
  type RetryEvent,
} from '../../src/sdk/index.js';
import { backoffDelay } from '../../src/sdk/retry.js';
import { startTestApp, type TestApp } from '../support/app.js';

const CATALOG = `
idcs: [{ name: s-east }]
products:
  - { name: eip.s, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.tiny, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: s-v4, idc: s-east, cidr: 203.0.113.0/24, products: [eip.s] }
  - { name: s-tiny, idc: s-east, cidr: 192.0.2.8/31, products: [eip.tiny] }
`;

/** Fast retries, so that the tests spend their time on requests, not on waiting. */
const QUICK = { attempts: 4, baseDelayMs: 10, maxDelayMs: 40 };

type Behaviour =
  /** Close the connection without answering; eipd never sees the request. */
  | 'drop'
  /** Answer eipd's database-unavailable 503 without asking eipd. */
  | 'unavailable'
  /** Forward to eipd, then close the connection instead of passing its answer on. */
  | 'lose-answer'
  /** Never answer. */
  | 'hang'
  | 'forward';

interface SeenRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
}

/** An HTTP front that treats each request by the next behaviour in `script`, then forwards. */
class Front {
  readonly seen: SeenRequest[] = [];
  script: Behaviour[] = [];
  #server: Server;
  #upstream: string;

  constructor(upstream: string) {
    this.#upstream = upstream;
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const key = req.headers['idempotency-key'];
    this.seen.push({
      method: req.method ?? '',
      path: req.url ?? '',
      idempotencyKey: typeof key === 'string' ? key : undefined,
    });
    const behaviour = this.script.shift() ?? 'forward';
    if (behaviour === 'drop') return void req.socket.destroy();
    if (behaviour === 'hang') return;
    if (behaviour === 'unavailable') {
      res.writeHead(503, { 'content-type': 'application/json' });
      return void res.end('{"reason":"database is unavailable"}');
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)) {
        headers[name] = value;
      }
    }
    const answer = await fetch(`${this.#upstream}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers,
      ...(chunks.length === 0 ? {} : { body: Buffer.concat(chunks) }),
    });
    const body = Buffer.from(await answer.arrayBuffer());
    if (behaviour === 'lose-answer') return void req.socket.destroy();
    const out: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)) {
        out[name] = value;
      }
    });
    res.writeHead(answer.status, out);
    res.end(body);
  }
}

describe('eipd/sdk', () => {
  let t: TestApp;
  let url: string;
  let front: Front;
  let frontUrl: string;

  before(async () => {
    t = await startTestApp({ backend: 'pglite', catalog: CATALOG });
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    front = new Front(url);
    frontUrl = await front.start();
  });
  after(async () => {
    await front.close();
    await t.close();
  });

  function reset(script: Behaviour[]): void {
    front.seen.length = 0;
    front.script = script;
  }

  async function heldBy(token: string): Promise<string[]> {
    const sdk = createEipdClient({ baseUrl: url, token });
    const ids: string[] = [];
    for await (const eip of sdk.list()) ids.push(eip.id);
    return ids;
  }

  test('allocate, get, rename, associate, disassociate and release return typed elastic IPs', async () => {
    const orgId = randomUUID();
    const sdk = createEipdClient({ baseUrl: url, token: await t.token(orgId) });
    const ops = createEipdClient({ baseUrl: url, token: await t.operatorToken() });
    const allocated = await sdk.allocate({
      idc: 's-east',
      product: 'eip.s',
      name: 'web-1',
      count: 2,
    });
    assert.equal(allocated.ids.length, 2);
    assert.equal(allocated.replayed, false);
    const eip = await sdk.get(allocated.ids[0] ?? '');
    assert.equal(eip.status, 'disassociated');
    assert.match(eip.ipAddress, /^203\.0\.113\.\d+$/);
    assert.equal((await sdk.rename(eip.id, 'web-2')).name, 'web-2');

    const instanceID = randomUUID();
    await ops.registerInstance(instanceID, { orgId, idc: 's-east', instanceType: 'baremetal' });
    const associated = await sdk.associate(eip.id, { instanceID, instanceType: 'baremetal' });
    assert.equal(associated.status, 'associated');
    assert.equal(associated.instanceID, instanceID);
    const refused = await sdk.release(eip.id).catch((error: unknown) => error);
    assert.ok(refused instanceof EipdApiError, String(refused));
    assert.equal(refused.status, 400);
    assert.equal(refused.code, ERROR_CODES.releaseWhileAssociated);
    assert.equal((await sdk.disassociate(eip.id)).status, 'disassociated');
    const released = await sdk.release(eip.id);
    assert.equal(released.status, 'released');

    const history = await ops.addressHistory(eip.ipAddress);
    assert.deepEqual(
      history.map((h) => [h.eipId, h.orgId]),
      [[eip.id, orgId]],
    );
    const pools = await ops.pools('s-east');
    assert.deepEqual(pools.map((p) => p.name).sort(), ['s-tiny', 's-v4']);
    const events = await ops.events({ limit: 1000 });
    const mine = events.events.filter((e) => e.eipId === eip.id).map((e) => e.type);
    assert.deepEqual(mine, ['allocated', 'renamed', 'associated', 'disassociated', 'released']);
  });

  test('list follows the Link header through every page', async () => {
    const token = await t.token();
    const sdk = createEipdClient({ baseUrl: url, token });
    const { ids } = await sdk.allocate({
      idc: 's-east',
      product: 'eip.s',
      name: 'paged',
      count: 5,
    });
    const first = await sdk.listPage({ limit: 2 });
    assert.equal(first.items.length, 2);
    assert.ok(first.nextCursor !== undefined);
    const seen: string[] = [];
    for await (const eip of sdk.list({ name: 'paged' }, { pageSize: 2 })) seen.push(eip.id);
    assert.deepEqual(seen.sort(), [...ids].sort());
  });

  test('errors are typed values with status, code and reason or message', async () => {
    const sdk = createEipdClient({ baseUrl: url, token: await t.token() });
    const notFound = await sdk.get(randomUUID()).catch((error: unknown) => error);
    assert.ok(notFound instanceof EipdApiError);
    assert.equal(notFound.status, 404);
    assert.equal(notFound.code, ERROR_CODES.elasticIpNotFound);
    assert.match(notFound.reason, /not found/);
    assert.ok(notFound.requestId !== undefined && notFound.requestId !== '');

    const invalid = await sdk
      .allocate({ idc: 'bad idc', product: 'eip.s', name: 'x', count: 0 })
      .catch((error: unknown) => error);
    assert.ok(invalid instanceof EipdApiError);
    assert.equal(invalid.status, 400);
    assert.equal(invalid.group, 'request');
    assert.equal(invalid.code, 0);
    assert.deepEqual(invalid.validationDetail.map((d) => d.field).sort(), ['count', 'idc']);

    const anonymous = createEipdClient({ baseUrl: url });
    const unauthorized = await anonymous.listPage().catch((error: unknown) => error);
    assert.ok(unauthorized instanceof EipdApiError);
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.group, 'auth_verify');
    assert.equal(unauthorized.reason, 'Invalid access token.');
  });

  test('requests that disagree with openapi/ do not compile', () => {
    const sdk = createEipdClient({ baseUrl: url });
    // Never called: these lines are checked by the type checker (npm run typecheck), which fails
    // if any of them compiles, i.e. if the SDK's types stopped following the document.
    const calls = [
      // @ts-expect-error count is an integer, not a string
      () => sdk.allocate({ idc: 's-east', product: 'eip.s', name: 'x', count: '2' }),
      // @ts-expect-error a misspelt field (ipaddress) is not in elasticIPAllocateReq
      () => sdk.allocate({ idc: 's-east', product: 'eip.s', name: 'x', count: 1, ipaddress: '' }),
      // @ts-expect-error name is required
      () => sdk.allocate({ idc: 's-east', product: 'eip.s', count: 1 }),
      // @ts-expect-error deleted is not a status
      () => sdk.listPage({ status: 'deleted' }),
      // @ts-expect-error instanceType is baremetal or container
      () => sdk.associate('id', { instanceID: 'i', instanceType: 'vm' }),
    ];
    assert.equal(calls.length, 5);
  });

  test('the SDK error codes are the server catalogue codes', () => {
    const server = new Map(Object.values(ERRORS).map((e) => [e.code, e.status]));
    for (const [name, code] of Object.entries(ERROR_CODES)) {
      assert.ok(server.has(code), `${name}: ${code} is not a code eipd answers`);
    }
    assert.equal(ERROR_CODES.noFreeAddress, ERRORS.NO_FREE_ADDRESS.code);
    assert.equal(ERROR_CODES.addressesBusy, ERRORS.ADDRESSES_BUSY.code);
  });

  test('allocate retries dropped connections and the database-unavailable 503 with one Idempotency-Key', async () => {
    const token = await t.token();
    const retries: RetryEvent[] = [];
    const sdk = createEipdClient({
      baseUrl: frontUrl,
      token,
      retry: QUICK,
      onRetry: (event) => retries.push(event),
    });
    reset(['drop', 'unavailable', 'drop']);
    const result = await sdk.allocate({ idc: 's-east', product: 'eip.s', name: 'r', count: 3 });
    assert.equal(result.ids.length, 3);
    assert.equal(front.seen.length, 4);
    assert.deepEqual(
      front.seen.map((r) => r.idempotencyKey),
      Array(4).fill(result.idempotencyKey),
    );
    assert.equal(retries.length, 3);
    assert.ok(retries[0]?.error instanceof EipdNetworkError);
    assert.ok(retries[1]?.error instanceof EipdApiError && retries[1].error.databaseUnavailable);
    assert.deepEqual((await heldBy(token)).sort(), [...result.ids].sort());
  });

  test('an answer lost after the commit is answered again on retry: one set of addresses', async () => {
    const token = await t.token();
    const sdk = createEipdClient({ baseUrl: frontUrl, token, retry: QUICK });
    reset(['lose-answer', 'lose-answer']);
    const result = await sdk.allocate({ idc: 's-east', product: 'eip.s', name: 'lost', count: 2 });
    assert.equal(front.seen.length, 3);
    assert.equal(result.replayed, true);
    assert.deepEqual((await heldBy(token)).sort(), [...result.ids].sort());
    const keys = new Set(front.seen.map((r) => r.idempotencyKey));
    assert.deepEqual([...keys], [result.idempotencyKey]);
  });

  test('a caller-chosen Idempotency-Key is sent as is and replays across clients', async () => {
    const token = await t.token();
    const key = `job-${randomUUID()}`;
    const body = { idc: 's-east', product: 'eip.s', name: 'keyed', count: 1 } as const;
    const first = await createEipdClient({ baseUrl: url, token }).allocate(body, {
      idempotencyKey: key,
    });
    const again = await createEipdClient({ baseUrl: url, token }).allocate(body, {
      idempotencyKey: key,
    });
    assert.equal(first.idempotencyKey, key);
    assert.deepEqual(again.ids, first.ids);
    assert.equal(again.replayed, true);
  });

  test('"no free address" is never retried', async () => {
    const token = await t.token();
    const retries: RetryEvent[] = [];
    const sdk = createEipdClient({
      baseUrl: frontUrl,
      token,
      retry: QUICK,
      onRetry: (e) => retries.push(e),
    });
    reset([]);
    const error = await sdk
      .allocate({ idc: 's-east', product: 'eip.tiny', name: 'big', count: 3 })
      .catch((e: unknown) => e);
    assert.ok(error instanceof EipdApiError, String(error));
    assert.equal(error.status, 503);
    assert.equal(error.code, ERROR_CODES.noFreeAddress);
    assert.equal(error.databaseUnavailable, false);
    assert.ok(error.retryAfterSeconds !== undefined && error.retryAfterSeconds > 0);
    assert.equal(front.seen.length, 1);
    assert.equal(retries.length, 0);
  });

  test('a 4xx is never retried', async () => {
    const sdk = createEipdClient({ baseUrl: frontUrl, token: await t.token(), retry: QUICK });
    reset([]);
    const error = await sdk
      .allocate({ idc: 's-east', product: 'eip.nope', name: 'x', count: 1 })
      .catch((e: unknown) => e);
    assert.ok(error instanceof EipdApiError && error.status === 404, String(error));
    assert.equal(front.seen.length, 1);
  });

  test('retries are bounded: the last failure is thrown after `attempts` tries', async () => {
    const sdk = createEipdClient({ baseUrl: frontUrl, token: await t.token(), retry: QUICK });
    reset(['unavailable', 'unavailable', 'unavailable', 'unavailable', 'unavailable']);
    const error = await sdk.get(randomUUID()).catch((e: unknown) => e);
    assert.ok(error instanceof EipdApiError && error.databaseUnavailable, String(error));
    assert.equal(error.reason, 'database is unavailable');
    assert.equal(front.seen.length, QUICK.attempts);
  });

  test('a try that gets no answer in time counts as a network failure', async () => {
    const sdk = createEipdClient({
      baseUrl: frontUrl,
      token: await t.token(),
      timeoutMs: 300,
      retry: { ...QUICK, attempts: 2 },
    });
    reset(['hang', 'hang']);
    const error = await sdk.listPage().catch((e: unknown) => e);
    assert.ok(error instanceof EipdNetworkError, String(error));
    assert.equal(error.timedOut, true);
    assert.equal(front.seen.length, 2);
  });

  test('an aborted call stops retrying and throws the abort reason', async () => {
    const sdk = createEipdClient({
      baseUrl: frontUrl,
      token: await t.token(),
      retry: { attempts: 10, baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    reset(['unavailable']);
    const controller = new AbortController();
    const pending = sdk.listPage({}, { signal: controller.signal }).catch((e: unknown) => e);
    while (front.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const reason = new Error('stop');
    controller.abort(reason);
    assert.equal(await pending, reason);
    assert.equal(front.seen.length, 1);
  });

  test('followEvents yields {event, cursor}; aborting ends it by throwing the reason', async () => {
    const ops = createEipdClient({ baseUrl: url, token: await t.operatorToken() });
    const start = (await ops.associations()).cursor;
    const sdk = createEipdClient({ baseUrl: url, token: await t.token() });
    const { ids } = await sdk.allocate({ idc: 's-east', product: 'eip.s', name: 'feed', count: 3 });

    // Aborted while the caller handles the first event of a page of three: the page already
    // fetched comes to its end (the abort takes effect at the next request or wait).
    const stop = new AbortController();
    const reason = new Error('stop');
    const seen: { event: { eipId: string; type: string }; cursor: string }[] = [];
    const ended = await (async () => {
      for await (const item of ops.followEvents({ cursor: start, signal: stop.signal })) {
        seen.push(item);
        stop.abort(reason);
      }
    })().catch((e: unknown) => e);
    assert.equal(ended, reason);
    assert.deepEqual(
      seen.map((item) => [item.event.eipId, item.event.type]),
      ids.map((id) => [id, 'allocated']),
    );
    const last = seen.at(-1)?.cursor;
    assert.ok(typeof last === 'string');
    assert.deepEqual((await ops.events({ cursor: last })).events, []);
    // Every event's cursor resumes right after that event: a reader that saved it and stopped
    // part-way through the page neither skips nor repeats the rest of it.
    const page = await ops.events({ cursor: start });
    assert.equal(page.cursor, page.events.at(-1)?.cursor, "a page's cursor is its last event's");
    for (const [i, item] of seen.entries()) {
      const rest = (await ops.events({ cursor: item.cursor })).events.map((e) => e.eipId);
      assert.deepEqual(rest, ids.slice(i + 1), `resuming after event ${i}`);
    }

    // Aborted while caught up and waiting to poll again: the wait ends at once, with the reason
    // (an AbortError when abort() is given none).
    const idle = new AbortController();
    const caughtUp = (await ops.associations()).cursor;
    const following = (async () => {
      const options = { cursor: caughtUp, signal: idle.signal, pollIntervalMs: 60_000 };
      for await (const _ of ops.followEvents(options)) assert.fail('no event commits meanwhile');
    })().catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 200));
    idle.abort();
    const thrown = await following;
    assert.ok(thrown instanceof DOMException && thrown.name === 'AbortError', String(thrown));
  });

  test('a server that is not there is a network error, retried', async () => {
    const closed = new Front(url);
    const closedUrl = await closed.start();
    await closed.close();
    const sdk = createEipdClient({
      baseUrl: closedUrl,
      token: 'x',
      retry: { ...QUICK, attempts: 2 },
    });
    const error = await sdk.listPage().catch((e: unknown) => e);
    assert.ok(error instanceof EipdNetworkError, String(error));
    assert.equal(error.timedOut, false);
    assert.match(error.message, /cannot reach .*ECONNREFUSED/);
  });
});

describe('backoff', () => {
  test('doubles per try between half and all of the delay, capped, with jitter', () => {
    const policy = { attempts: 8, baseDelayMs: 100, maxDelayMs: 1000 };
    const cases: [attempt: number, random: number, delay: number][] = [
      [1, 0, 50],
      [1, 1, 100],
      [3, 0, 200],
      [3, 1, 400],
      [7, 1, 1000],
    ];
    for (const [attempt, random, delay] of cases) {
      assert.equal(
        backoffDelay(policy, attempt, () => random),
        delay,
        `try ${attempt}`,
      );
    }
    const samples = new Set(Array.from({ length: 50 }, () => backoffDelay(DEFAULT_RETRY, 2)));
    assert.ok(samples.size > 1, 'the delay is jittered');
    for (const s of samples) assert.ok(s >= 200 && s <= 400, String(s));
  });
});
