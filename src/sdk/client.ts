/**
 * The typed eipd client: openapi-fetch over the `paths` generated from openapi/eipd.yaml, so a
 * path, parameter or body that the document does not have is a compile error. On top of it:
 * errors as typed values (errors.ts), a per-try timeout, and bounded retries of failures that a
 * second try can fix (retry.ts).
 *
 * Every operation is safe to send twice: reads change nothing, rename/associate/disassociate/
 * release move the elastic IP to a target state (a second try finds it there and changes nothing),
 * and allocate carries an Idempotency-Key, the same on every try, so a try whose answer was lost
 * is answered again with the ids it committed instead of allocating a second set. That is why
 * every operation retries network failures and the database-unavailable 503, and nothing else:
 * a 4xx is the same on every try, and "no free address" (503 code 5031) is not a blip.
 */
import createClient from 'openapi-fetch';
import type { paths } from '../generated/openapi.js';
import { EipdApiError, EipdNetworkError } from './errors.js';
import { DEFAULT_RETRY, type RetryEvent, type RetryPolicy, sleep, withRetry } from './retry.js';
import type {
  AddressHolding,
  AllocateRequest,
  AssociateRequest,
  AssociationSnapshot,
  EipdEvent,
  ElasticIP,
  ElasticIPProduct,
  ErrorBody,
  EventPage,
  Instance,
  InstanceRequest,
  ListFilters,
  PoolUtilization,
  Quota,
} from './types.js';

export interface EipdClientOptions {
  /** Where eipd listens, e.g. `https://eipd.internal` (a path prefix is kept). */
  baseUrl: string;
  /** The bearer token, or a function that returns the current one (called before every try). */
  token?: string | (() => string | Promise<string>);
  /** Each try's time limit; past it the try counts as a network failure. Default 30 s. */
  timeoutMs?: number;
  /** Default: 5 tries, waits from 200 ms doubling up to 5 s, with jitter. */
  retry?: Partial<RetryPolicy>;
  /** Called before every retry (for logs and progress). */
  onRetry?: (event: RetryEvent & { operation: string }) => void;
  /** Extra headers on every request (a User-Agent, a tracing header). */
  headers?: Record<string, string>;
  /** Another fetch implementation (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

export interface CallOptions {
  /** Aborts the call, including the waits between retries. */
  signal?: AbortSignal;
}

export interface AllocateOptions extends CallOptions {
  /** Default: a fresh random uuid per call. Pass your own to make the call safe across restarts. */
  idempotencyKey?: string;
}

export interface AllocateResult {
  ids: string[];
  /** The key sent on every try; send it again to get these same ids back within 24 hours. */
  idempotencyKey: string;
  /** eipd answered from its record of an earlier request with this key (allocated nothing). */
  replayed: boolean;
}

export interface ListPage {
  items: ElasticIP[];
  /** Pass to the next `listPage` call; undefined on the last page. */
  nextCursor: string | undefined;
}

export interface FollowOptions extends CallOptions {
  /** Start after this cursor (from an event page or the associations snapshot); default: the oldest retained event. */
  cursor?: string;
  /** Events per request, 1 to 1000. */
  limit?: number;
  /** How long to wait after an empty page before asking again. Default 1 s. */
  pollIntervalMs?: number;
}

type Answer<T> = { data?: T; error?: unknown; response: Response };
type Headers = Record<string, string>;

const DEFAULT_TIMEOUT_MS = 30_000;

export function createEipdClient(options: EipdClientOptions) {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const api = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });

  async function headers(): Promise<Headers> {
    const token = typeof options.token === 'function' ? await options.token() : options.token;
    return {
      ...options.headers,
      ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
    };
  }

  /** One operation, tried under the retry policy; resolves with the 2xx answer's body. */
  async function call<T>(
    operation: string,
    send: (init: { signal: AbortSignal; headers: Headers }) => Promise<Answer<T>>,
    callOptions: CallOptions = {},
  ): Promise<{ data: T; response: Response }> {
    const userSignal = callOptions.signal;
    return withRetry(
      policy,
      async () => {
        const timeout = AbortSignal.timeout(timeoutMs);
        const signal = userSignal === undefined ? timeout : AbortSignal.any([userSignal, timeout]);
        const requestHeaders = await headers();
        let answer: Answer<T>;
        try {
          answer = await send({ signal, headers: requestHeaders });
        } catch (error) {
          if (userSignal?.aborted) throw userSignal.reason;
          throw networkError(options.baseUrl, error, timeout.aborted);
        }
        const { response } = answer;
        if (!response.ok) throw apiError(response, answer.error);
        return { data: answer.data as T, response };
      },
      {
        signal: userSignal,
        onRetry: options.onRetry && ((event) => options.onRetry?.({ ...event, operation })),
      },
    );
  }

  const client = {
    /**
     * Allocates `count` addresses, all or none. Network failures and the database-unavailable
     * 503 are retried with the same Idempotency-Key, so at most one set is ever allocated.
     */
    async allocate(body: AllocateRequest, opts: AllocateOptions = {}): Promise<AllocateResult> {
      const idempotencyKey = opts.idempotencyKey ?? globalThis.crypto.randomUUID();
      const { data, response } = await call(
        'allocateElasticIP',
        (init) =>
          api.POST('/v1/elastic-ips', {
            body,
            params: { header: { 'Idempotency-Key': idempotencyKey } },
            ...init,
          }),
        opts,
      );
      return {
        ids: data.map((entry) => entry.id),
        idempotencyKey,
        replayed: response.headers.get('idempotent-replayed') === 'true',
      };
    },

    async get(id: string, opts?: CallOptions): Promise<ElasticIP> {
      const { data } = await call(
        'getElasticIP',
        (init) => api.GET('/v1/elastic-ips/{id}', { params: { path: { id } }, ...init }),
        opts,
      );
      return data;
    },

    /** One page of the organization's elastic IPs, sorted by (createdAt, id). */
    async listPage(
      filters: ListFilters & { limit?: number; cursor?: string } = {},
      opts?: CallOptions,
    ): Promise<ListPage> {
      const { data, response } = await call(
        'listElasticIPs',
        (init) => api.GET('/v1/elastic-ips', { params: { query: filters }, ...init }),
        opts,
      );
      return { items: data, nextCursor: nextCursor(response.headers.get('link')) };
    },

    /** Every elastic IP matching `filters`, page after page (`pageSize` each, default 100). */
    async *list(
      filters: ListFilters = {},
      opts: CallOptions & { pageSize?: number } = {},
    ): AsyncGenerator<ElasticIP, void, undefined> {
      let cursor: string | undefined;
      do {
        const page = await client.listPage(
          {
            ...filters,
            ...(opts.pageSize === undefined ? {} : { limit: opts.pageSize }),
            ...(cursor === undefined ? {} : { cursor }),
          },
          opts,
        );
        yield* page.items;
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    },

    async rename(id: string, name: string, opts?: CallOptions): Promise<ElasticIP> {
      const { data } = await call(
        'updateElasticIP',
        (init) =>
          api.PATCH('/v1/elastic-ips/{id}', { params: { path: { id } }, body: { name }, ...init }),
        opts,
      );
      return data;
    },

    async associate(id: string, body: AssociateRequest, opts?: CallOptions): Promise<ElasticIP> {
      const { data } = await call(
        'associateElasticIP',
        (init) =>
          api.POST('/v1/elastic-ips/{id}/associate', { params: { path: { id } }, body, ...init }),
        opts,
      );
      return data;
    },

    async disassociate(id: string, opts?: CallOptions): Promise<ElasticIP> {
      const { data } = await call(
        'disassociateElasticIP',
        (init) =>
          api.POST('/v1/elastic-ips/{id}/disassociate', { params: { path: { id } }, ...init }),
        opts,
      );
      return data;
    },

    async release(id: string, opts?: CallOptions): Promise<ElasticIP> {
      const { data } = await call(
        'releaseElasticIP',
        (init) => api.DELETE('/v1/elastic-ips/{id}', { params: { path: { id } }, ...init }),
        opts,
      );
      return data;
    },

    async products(idc?: string, opts?: CallOptions): Promise<ElasticIPProduct[]> {
      const { data } = await call(
        'listElasticIPProducts',
        (init) =>
          api.GET('/v1/elastic-ips/products', {
            params: { query: idc === undefined ? {} : { idc } },
            ...init,
          }),
        opts,
      );
      return data;
    },

    // Operator endpoints: the token needs the admin scope.

    async pools(idc?: string, opts?: CallOptions): Promise<PoolUtilization[]> {
      const { data } = await call(
        'listPools',
        (init) =>
          api.GET('/v1/admin/pools', {
            params: { query: idc === undefined ? {} : { idc } },
            ...init,
          }),
        opts,
      );
      return data;
    },

    async setPoolEnabled(
      pool: string,
      enabled: boolean,
      opts?: CallOptions,
    ): Promise<PoolUtilization> {
      const { data } = await call(
        'updatePool',
        (init) =>
          api.PATCH('/v1/admin/pools/{pool}', {
            params: { path: { pool } },
            body: { enabled },
            ...init,
          }),
        opts,
      );
      return data;
    },

    /** Every elastic IP that held `ipAddress`, oldest first; with `at`, the holder at that instant. */
    async addressHistory(
      ipAddress: string,
      at?: string,
      opts?: CallOptions,
    ): Promise<AddressHolding[]> {
      const { data } = await call(
        'getAddressHistory',
        (init) =>
          api.GET('/v1/admin/address-history', {
            params: { query: { ipAddress, ...(at === undefined ? {} : { at }) } },
            ...init,
          }),
        opts,
      );
      return data;
    },

    async events(
      page: { cursor?: string; limit?: number } = {},
      opts?: CallOptions,
    ): Promise<EventPage> {
      const { data } = await call(
        'listEvents',
        (init) => api.GET('/v1/admin/events', { params: { query: page }, ...init }),
        opts,
      );
      return data;
    },

    /**
     * Every event from `cursor` on, in commit order, waiting for new ones when caught up; ends
     * only when `signal` aborts (the generator then throws its reason, as every call here does) or
     * a call fails. Each event comes with its own cursor, the position right after it: saved once
     * the event is handled, it resumes with the next event wherever the reader stopped. An abort
     * takes effect at the next request or wait, after the rest of a page already fetched.
     */
    async *followEvents(
      opts: FollowOptions = {},
    ): AsyncGenerator<{ event: EipdEvent; cursor: string }, never, undefined> {
      let cursor = opts.cursor;
      const pollIntervalMs = opts.pollIntervalMs ?? 1000;
      for (;;) {
        const page = await client.events(
          {
            ...(cursor === undefined ? {} : { cursor }),
            ...(opts.limit === undefined ? {} : { limit: opts.limit }),
          },
          opts,
        );
        // Each event's own cursor: a caller that saves it and stops part-way through a page
        // resumes with the next event, neither skipping the rest of the page nor repeating.
        for (const event of page.events) yield { event, cursor: event.cursor };
        cursor = page.cursor;
        if (page.events.length === 0) await sleep(pollIntervalMs, opts.signal);
      }
    },

    async associations(opts?: CallOptions): Promise<AssociationSnapshot> {
      const { data } = await call(
        'listAssociations',
        (init) => api.GET('/v1/admin/associations', init),
        opts,
      );
      return data;
    },

    async registerInstance(
      instanceID: string,
      body: InstanceRequest,
      opts?: CallOptions,
    ): Promise<Instance> {
      const { data } = await call(
        'registerInstance',
        (init) =>
          api.PUT('/v1/admin/instances/{instanceID}', {
            params: { path: { instanceID } },
            body,
            ...init,
          }),
        opts,
      );
      return data;
    },

    async removeInstance(instanceID: string, opts?: CallOptions): Promise<Instance> {
      const { data } = await call(
        'removeInstance',
        (init) =>
          api.DELETE('/v1/admin/instances/{instanceID}', {
            params: { path: { instanceID } },
            ...init,
          }),
        opts,
      );
      return data;
    },

    async quotas(orgId: string, opts?: CallOptions): Promise<Quota[]> {
      const { data } = await call(
        'listQuotas',
        (init) =>
          api.GET('/v1/admin/organizations/{orgId}/quotas', {
            params: { path: { orgId } },
            ...init,
          }),
        opts,
      );
      return data;
    },

    async setQuota(orgId: string, idc: string, limit: number, opts?: CallOptions): Promise<Quota> {
      const { data } = await call(
        'setQuota',
        (init) =>
          api.PUT('/v1/admin/organizations/{orgId}/quotas/{idc}', {
            params: { path: { orgId, idc } },
            body: { limit },
            ...init,
          }),
        opts,
      );
      return data;
    },

    async removeQuotaOverride(orgId: string, idc: string, opts?: CallOptions): Promise<Quota> {
      const { data } = await call(
        'removeQuotaOverride',
        (init) =>
          api.DELETE('/v1/admin/organizations/{orgId}/quotas/{idc}', {
            params: { path: { orgId, idc } },
            ...init,
          }),
        opts,
      );
      return data;
    },
  };
  return client;
}

export type EipdClient = ReturnType<typeof createEipdClient>;

function apiError(response: Response, body: unknown): EipdApiError {
  const retryAfter = response.headers.get('retry-after');
  return new EipdApiError(
    response.status,
    body as ErrorBody | string | undefined,
    response.headers.get('x-request-id') ?? undefined,
    retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined,
  );
}

function networkError(baseUrl: string, error: unknown, timedOut: boolean): EipdNetworkError {
  // fetch reports "fetch failed" and hides the socket error (ECONNREFUSED, ...) in `cause`.
  const detail =
    error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
  const message = timedOut
    ? `no answer from ${baseUrl} in time`
    : `cannot reach ${baseUrl}: ${detail}`;
  return new EipdNetworkError(message, { cause: error }, timedOut);
}

/** The `cursor` of a `Link: <...>; rel="next"` header's URL (relative, as eipd sends it). */
export function nextCursor(link: string | null): string | undefined {
  if (link === null) return undefined;
  for (const part of link.split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match?.[1] === undefined || !/\brel="?next"?/.test(match[2] ?? '')) continue;
    return new URL(match[1], 'http://relative.invalid').searchParams.get('cursor') ?? undefined;
  }
  return undefined;
}
