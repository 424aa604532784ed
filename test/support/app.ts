/**
 * An eipd app on a throwaway database with a catalog of the test's choosing, driven with inject().
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { buildApp } from '../../src/app.js';
import { createTokenVerifier, mintToken } from '../../src/auth/tokens.js';
import { applyCatalog } from '../../src/catalog/apply.js';
import { parseCatalog } from '../../src/catalog/catalog-file.js';
import type { Database } from '../../src/db/database.js';
import { type BackendName, createDatabase } from './databases.js';

export const TEST_SECRET = 'test-secret-of-at-least-32-bytes-0123456789';

export interface TestApp {
  app: FastifyInstance;
  db: Database;
  url: string | undefined;
  /** A valid tenant token for `orgId` (a fresh organization when omitted). */
  token(orgId?: string, extra?: { subject?: string; ttlSeconds?: number }): Promise<string>;
  /** A valid operator token (scope eip:admin, subject `ops`, no organization). */
  operatorToken(): Promise<string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  maxAllocateCount?: number;
  quarantineSeconds?: number;
  limits?: { perOrganizationPerMinute: number; authFailuresPerMinute: number };
  trustProxy?: string[];
  requestTimeoutMs?: number;
  /** Logger options (to capture the log lines); no logging when omitted. */
  logger?: FastifyServerOptions['logger'];
  /** Serve /metrics (default true, as EIPD_METRICS). */
  metrics?: boolean;
}

/** A ready app on `db` (a real database, or a fake one that fails or hangs), test tokens valid. */
export async function buildTestApp(
  db: Database,
  options: TestAppOptions = {},
): Promise<FastifyInstance> {
  const verifier = await createTokenVerifier({
    hs256Secret: TEST_SECRET,
    publicKeyPems: [],
    algorithms: ['HS256'],
    orgClaim: 'orgId',
    adminScope: 'eip:admin',
  });
  const { app } = buildApp({
    db,
    verifier,
    maxAllocateCount: options.maxAllocateCount ?? 100,
    ...(options.quarantineSeconds === undefined
      ? {}
      : { quarantineSeconds: options.quarantineSeconds }),
    bodyLimitBytes: 1024 * 1024,
    logger: options.logger ?? false,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(options.requestTimeoutMs === undefined
      ? {}
      : { requestTimeoutMs: options.requestTimeoutMs }),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  });
  await app.ready();
  return app;
}

/** A database whose every operation does `operation` (throw, hang): for failures no engine has. */
export function fakeDatabase(operation: () => Promise<never>): Database {
  return {
    kind: 'postgres',
    query: operation,
    exec: operation,
    transaction: operation,
    close: async () => {},
  };
}

export async function startTestApp(
  options: TestAppOptions & { backend: BackendName; catalog?: string },
): Promise<TestApp> {
  const database = await createDatabase(options.backend);
  try {
    if (options.catalog !== undefined) {
      await applyCatalog(
        database.db,
        parseCatalog(options.catalog, 'test catalog'),
        'test catalog',
      );
    }
    const app = await buildTestApp(database.db, options);
    return {
      app,
      db: database.db,
      url: database.url,
      token: (orgId = randomUUID(), extra = {}) =>
        mintToken({
          secret: TEST_SECRET,
          orgId,
          subject: extra.subject ?? 'test-user',
          ttlSeconds: extra.ttlSeconds ?? 3600,
        }),
      operatorToken: () =>
        mintToken({ secret: TEST_SECRET, scope: 'eip:admin', subject: 'ops', ttlSeconds: 3600 }),
      async close() {
        await app.close();
        await database.dispose();
      },
    };
  } catch (error) {
    await database.dispose();
    throw error;
  }
}

/** The catalog most API tests use: one IDC, an IPv4 and an IPv6 product, small pools. */
export const BASIC_CATALOG = `
idcs:
  - name: test-east1
  - name: test-west1
products:
  - name: eip.ipv4.test
    internetConnectionType: BGP
    maxBandwidth: 100 Gbps
  - name: eip.ipv6.test
    internetConnectionType: Dual-Homed
    maxBandwidth: 25 Gbps
  - name: eip.unoffered
    internetConnectionType: BGP
    maxBandwidth: 1 Gbps
pools:
  - name: east-v4
    idc: test-east1
    cidr: 192.0.2.0/24
    products: [eip.ipv4.test]
    reserved: [192.0.2.1]
  - name: east-v6
    idc: test-east1
    cidr: 2001:db8::/48
    products: [eip.ipv6.test]
  - name: west-v4
    idc: test-west1
    cidr: 198.51.100.0/24
    products: [eip.ipv4.test]
`;

export function allocateBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { idc: 'test-east1', product: 'eip.ipv4.test', name: 'web-1', count: 1, ...overrides };
}
