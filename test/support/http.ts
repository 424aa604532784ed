/**
 * Plain HTTP against a listening eipd (see fleet.ts), with the global fetch. Unlike inject(), these
 * requests go through real sockets, so concurrent ones really are concurrent on the server.
 */
import assert from 'node:assert/strict';

export interface JsonResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or the raw text when the body is not JSON. */
  body: unknown;
}

async function send(
  method: 'GET' | 'POST',
  url: string,
  path: string,
  token: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...extraHeaders };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(path, url), {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: keep the text, so that an assertion message can show it.
    }
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export function postJson(
  url: string,
  path: string,
  token: string,
  body: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<JsonResponse> {
  return send('POST', url, path, token, body, extraHeaders);
}

export function getJson(url: string, path: string, token: string): Promise<JsonResponse> {
  return send('GET', url, path, token);
}

/**
 * A start gate. `prepare(i)` runs for every i in [0, n) and returns the request to fire, as a
 * function; once every preparation has finished (tokens minted, URLs chosen), all n requests are
 * fired from one synchronous loop, so none of them waits for another one's preparation or answer.
 *
 * What this does not do: make the requests arrive at the server at the same instant. They leave
 * one event loop one after another, within a millisecond or so, over separate connections; how
 * they interleave after that is up to the kernel and the servers, which is the point of a race
 * test. Resolves with every result in index order once all have settled, and rejects (listing
 * every failure) if any request failed, so no request is ever left in flight.
 */
export async function releaseTogether<T>(
  n: number,
  prepare: (i: number) => (() => Promise<T>) | Promise<() => Promise<T>>,
): Promise<T[]> {
  const fires = await Promise.all(Array.from({ length: n }, (_, i) => prepare(i)));
  const settled = await Promise.allSettled(fires.map((fire) => fire()));
  const failures = settled.flatMap((r, i) =>
    r.status === 'rejected' ? [`request ${i}: ${describe(r.reason)}`] : [],
  );
  if (failures.length > 0) {
    throw new Error(`${failures.length} of ${n} requests failed:\n${failures.join('\n')}`);
  }
  return settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch hides the socket error in `cause`.
  return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
}

/** The ids of a successful allocation: asserts a 200 with an array of {id: string}. */
export function allocatedIds(res: JsonResponse): string[] {
  assert.equal(res.status, 200, `expected 200, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.ok(Array.isArray(res.body), `expected an array, got ${JSON.stringify(res.body)}`);
  return res.body.map((entry: unknown) => {
    assert.ok(
      typeof entry === 'object' && entry !== null && 'id' in entry && typeof entry.id === 'string',
      `expected {id: string}, got ${JSON.stringify(entry)}`,
    );
    return entry.id;
  });
}

/**
 * Asserts the "pool exhausted" refusal: 503, code 5031, a reason naming the requested and available
 * counts, and a Retry-After header. Returns the available count the reason names.
 */
export function assertNoFreeAddress(res: JsonResponse, requested: number): number {
  assert.equal(res.status, 503, `expected 503, got ${res.status}: ${JSON.stringify(res.body)}`);
  const body = res.body;
  assert.ok(typeof body === 'object' && body !== null, `expected an object, got ${String(body)}`);
  assert.ok('code' in body && body.code === 5031, `expected code 5031: ${JSON.stringify(body)}`);
  assert.ok('reason' in body && typeof body.reason === 'string', JSON.stringify(body));
  const match = new RegExp(`requested ${requested}, available (\\d+)$`).exec(body.reason);
  assert.ok(match?.[1] !== undefined, `unexpected reason: ${body.reason}`);
  const retryAfter = res.headers.get('retry-after');
  assert.ok(retryAfter !== null && /^\d+$/.test(retryAfter), `bad Retry-After: ${retryAfter}`);
  return Number(match[1]);
}

/** GET /v1/elastic-ips/{id} as `token`'s organization, asserting a 200 with an object. */
export async function getElasticIp(
  url: string,
  token: string,
  id: string,
): Promise<Record<string, unknown>> {
  const res = await getJson(url, `/v1/elastic-ips/${id}`, token);
  assert.equal(res.status, 200, `GET ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  const body = res.body;
  assert.ok(typeof body === 'object' && body !== null && !Array.isArray(body));
  return { ...body };
}
