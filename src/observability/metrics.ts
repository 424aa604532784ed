/**
 * Prometheus metrics at GET /metrics: requests and latency per operation, allocation outcomes,
 * pool utilization, the database connection pool, and Node's default process metrics.
 *
 * Labels are bounded on purpose: the operation is the OpenAPI operationId (or the route pattern
 * for the few routes outside the document), never the raw URL, so that probing random paths
 * cannot grow the series without limit.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/database.js';
import { ApiError, type ErrorKind } from '../errors.js';
import { type PoolUsageRow, poolUsage } from '../operators/repository.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The OpenAPI operationId of the route: the `operation` label of its metrics. */
    operationId?: string;
  }
}

export interface MetricsOptions {
  db: Database;
  quarantineSeconds: number;
  /** How long one reading of pool utilization is reused by later scrapes; default 10 s. */
  poolReadingTtlMs?: number;
  /** The deadline of that reading; a slower or unreachable database reports eipd_database_up 0. */
  poolReadingTimeoutMs?: number;
}

/** Requests that matched no route share one label value instead of one per URL. */
export const UNMATCHED_OPERATION = 'unmatched';

const OUTCOME_BY_ERROR: Partial<Record<ErrorKind, string>> = {
  QUOTA_EXCEEDED: 'quota_exceeded',
  NO_FREE_ADDRESS: 'exhausted',
  ADDRESSES_BUSY: 'busy',
  IDEMPOTENCY_KEY_REUSED: 'idempotency_conflict',
  ADDRESS_UNAVAILABLE: 'address_unavailable',
};

/** What became of one allocateElasticIP request: the `outcome` label of eipd_allocations_total. */
export function allocationOutcome(status: number, error: unknown, replayed: boolean): string {
  if (status === 200) return replayed ? 'replayed' : 'ok';
  if (error instanceof ApiError) {
    return OUTCOME_BY_ERROR[error.kind] ?? (error.status === 404 ? 'not_found' : 'refused');
  }
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 503) return 'database_unavailable';
  if (status >= 400 && status < 500) return 'invalid_request';
  return 'error';
}

function operationOf(request: FastifyRequest): string {
  // routeOptions is a getter that builds a new object on every read: read it once.
  const route = request.routeOptions;
  return route.config?.operationId ?? route.url ?? UNMATCHED_OPERATION;
}

/**
 * Utilization read from the database at most once per ttl, shared by concurrent scrapes. A
 * failure is cached too, so that scrapes during an outage answer at once instead of each waiting
 * out the deadline.
 */
function cachedPoolReading(options: MetricsOptions): () => Promise<PoolUsageRow[] | undefined> {
  const ttlMs = options.poolReadingTtlMs ?? 10_000;
  const timeoutMs = options.poolReadingTimeoutMs ?? 2_000;
  let last: { at: number; value: Promise<PoolUsageRow[] | undefined> } | undefined;
  const read = async (): Promise<PoolUsageRow[] | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      return await Promise.race([
        options.db.transaction((tx) => poolUsage(tx, {}, options.quarantineSeconds), {
          timeoutMs,
        }),
        deadline,
      ]);
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };
  return () => {
    const now = performance.now();
    if (last === undefined || now - last.at >= ttlMs) last = { at: now, value: read() };
    return last.value;
  };
}

export interface Metrics {
  registry: Registry;
  /**
   * Counts an answer given outside any route (the router's refusals, see answerRouterRefusal),
   * which no hook sees.
   */
  observeOutsideRoutes(request: FastifyRequest, reply: FastifyReply): void;
}

/** Registers the recording hooks and GET /metrics on `app`. One registry per app. */
export function installMetrics(app: FastifyInstance, options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'eipd_http_requests_total',
    help: 'HTTP requests answered, by operation (OpenAPI operationId or route), method and status.',
    labelNames: ['operation', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'eipd_http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its answer, by operation and method.',
    labelNames: ['operation', 'method'] as const,
    registers: [registry],
  });
  const allocations = new Counter({
    name: 'eipd_allocations_total',
    help: 'allocateElasticIP requests by outcome (ok, replayed, quota_exceeded, exhausted, ...).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const allocatedAddresses = new Counter({
    name: 'eipd_allocated_addresses_total',
    help: 'Addresses handed out by successful allocations (replays not counted), by IDC and product.',
    labelNames: ['idc', 'product'] as const,
    registers: [registry],
  });

  const reading = cachedPoolReading(options);
  new Gauge({
    name: 'eipd_database_up',
    help: '1 when the last pool utilization reading succeeded, 0 when the database did not answer.',
    registers: [registry],
    async collect() {
      this.set((await reading()) === undefined ? 0 : 1);
    },
  });
  /** A gauge with series per pool, rebuilt from the reading at every scrape. */
  const perPool = (
    name: string,
    help: string,
    samples: (row: PoolUsageRow) => [Record<string, string>, number][],
    extraLabels: string[] = [],
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['pool', 'idc', ...extraLabels],
      registers: [registry],
      async collect() {
        // Pools removed from the catalog (or an unreachable database) leave no stale series.
        this.reset();
        for (const row of (await reading()) ?? []) {
          for (const [labels, value] of samples(row)) {
            this.set({ pool: row.name, idc: row.idc, ...labels }, value);
          }
        }
      },
    });
  perPool(
    'eipd_pool_addresses',
    'Addresses of each pool by state: usable, used, quarantined, free.',
    (row) =>
      (['usable', 'used', 'quarantined', 'free'] as const).map((state) => [
        { state },
        Number(row[state]),
      ]),
    ['state'],
  );
  perPool(
    'eipd_pool_utilization_ratio',
    'Used addresses of each pool divided by its usable addresses (0 when it has none).',
    (row) => {
      const usable = Number(row.usable);
      return [[{}, usable > 0 ? Number(row.used) / usable : 0]];
    },
  );
  perPool(
    'eipd_pool_enabled',
    '1 when the pool hands out addresses, 0 when an operator disabled it.',
    (row) => [[{}, row.enabled ? 1 : 0]],
  );

  const connectionPool = options.db.poolStats?.bind(options.db);
  // Read after this scrape's utilization reading is over, so that the scrape does not count the
  // connection it borrowed itself.
  const poolStats =
    connectionPool === undefined
      ? undefined
      : async () => {
          await reading();
          return connectionPool();
        };
  if (poolStats !== undefined) {
    new Gauge({
      name: 'eipd_db_pool_connections',
      help: 'PostgreSQL connections of this process by state: total (open), idle, busy.',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        const s = await poolStats();
        this.set({ state: 'total' }, s.total);
        this.set({ state: 'idle' }, s.idle);
        this.set({ state: 'busy' }, s.total - s.idle);
      },
    });
    new Gauge({
      name: 'eipd_db_pool_waiting',
      help: 'Operations waiting for a PostgreSQL connection.',
      registers: [registry],
      async collect() {
        this.set((await poolStats()).waiting);
      },
    });
    new Gauge({
      name: 'eipd_db_pool_max',
      help: 'The most PostgreSQL connections this process opens (EIPD_DB_POOL_SIZE).',
      registers: [registry],
      async collect() {
        this.set((await poolStats()).max);
      },
    });
  }

  // The error a request failed with, for the allocation outcome (onResponse does not see it).
  const failures = new WeakMap<FastifyRequest, FastifyError>();
  app.addHook('onError', async (request, _reply, error) => {
    failures.set(request, error);
  });
  // The series of one operation, method and status, looked up once: prom-client checks and
  // hashes a label object on every call, which was a visible part of a request's CPU.
  const series = new Map<
    string,
    { counter: ReturnType<typeof requests.labels>; histogram: ReturnType<typeof duration.labels> }
  >();
  const seriesOf = (operation: string, method: string, status: number) => {
    const key = `${operation} ${method} ${status}`;
    let found = series.get(key);
    if (found === undefined) {
      found = {
        counter: requests.labels(operation, method, String(status)),
        histogram: duration.labels(operation, method),
      };
      series.set(key, found);
    }
    return found;
  };
  const record = (request: FastifyRequest, reply: FastifyReply, seconds: number) => {
    const operation = operationOf(request);
    const status = reply.statusCode;
    const { counter, histogram } = seriesOf(operation, request.method, status);
    counter.inc();
    histogram.observe(seconds);
    if (operation !== 'allocateElasticIP') return;
    const outcome = allocationOutcome(
      status,
      failures.get(request),
      reply.getHeader('idempotent-replayed') === 'true',
    );
    allocations.inc({ outcome });
    if (outcome === 'ok') {
      const body = request.body as { idc: string; product: string; count: number };
      allocatedAddresses.inc({ idc: body.idc, product: body.product }, body.count);
    }
  };
  app.addHook('onResponse', (request, reply, done) => {
    record(request, reply, reply.elapsedTime / 1000);
    done();
  });

  app.get('/metrics', { config: { operationId: 'metrics' } }, async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  return {
    registry,
    observeOutsideRoutes(request, reply) {
      const startedAt = performance.now();
      reply.raw.once('finish', () =>
        record(request, reply, (performance.now() - startedAt) / 1000),
      );
    },
  };
}
