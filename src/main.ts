/**
 * eipd's entry point: read config → open database → migrate → apply catalog → build app → listen.
 * SIGTERM/SIGINT stop accepting, let in-flight requests finish, then close the database.
 */
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.js';
import { demoOrgId, resolveAuth } from './auth/settings.js';
import { createTokenVerifier, mintToken } from './auth/tokens.js';
import { applyCatalog } from './catalog/apply.js';
import { CatalogError, readCatalogFile } from './catalog/catalog-file.js';
import { ConfigError, loadConfig } from './config.js';
import { DataDirInUseError } from './db/data-dir-lock.js';
import { DatabaseUnavailableError } from './db/errors.js';
import { migrate } from './db/migrate.js';
import { openDatabase } from './db/open.js';
import { batchedStdout } from './log-destination.js';
import { schedulePruning } from './maintenance/retention.js';
import { loggerOptions } from './observability/logging.js';

export const DEMO_CATALOG = fileURLToPath(new URL('../config/demo-catalog.yaml', import.meta.url));
const DEMO_TOKEN_TTL_SECONDS = 24 * 3600;

async function main(): Promise<void> {
  const startedAt = performance.now();
  const config = loadConfig(process.env);
  const auth = await resolveAuth(config);
  const verifier = await createTokenVerifier(auth.settings);
  // The demo catalog is for the embedded database only: applying it to a production PostgreSQL
  // would leave documentation ranges there for good (applying never deletes).
  const catalogPath =
    config.catalogPath ?? (config.database.kind === 'pglite' ? DEMO_CATALOG : undefined);
  const catalog = catalogPath === undefined ? undefined : await readCatalogFile(catalogPath);

  const db = await openDatabase(config);
  let stopping = false;
  const { app } = buildApp({
    db,
    verifier,
    maxAllocateCount: config.maxAllocateCount,
    quarantineSeconds: config.quarantineSeconds,
    adminScope: config.auth.adminScope,
    bodyLimitBytes: config.bodyLimitBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    limits: config.limits,
    trustProxy: config.trustProxy,
    isDraining: () => stopping,
    metrics: config.metrics,
    logger: loggerOptions(config.logLevel, batchedStdout()),
  });
  // Fastify compiles every route's validators and serializers when it gets ready: done while the
  // migrations and the catalog wait on the database, a replica is ready sooner after a restart.
  const appReady = Promise.resolve(app.ready());
  try {
    const migrations = await migrate(db);
    if (migrations.applied.length > 0)
      app.log.info({ applied: migrations.applied }, 'migrations applied');
    if (migrations.newer.length > 0) {
      app.log.warn({ newer: migrations.newer }, 'the database has migrations from a newer eipd');
    }
    if (catalog !== undefined && catalogPath !== undefined) {
      const summary = await applyCatalog(db, catalog, catalogPath);
      app.log.info({ catalog: catalogPath, ...summary }, 'catalog applied');
      if (summary.reservedStillHeld.length > 0) {
        app.log.warn(
          { reservedStillHeld: summary.reservedStillHeld },
          'newly reserved addresses are still held by EIPs, which keep them until released',
        );
      }
    } else {
      app.log.warn('EIPD_CATALOG is not set: serving the catalog already in the database');
    }
    await appReady;
  } catch (error) {
    await appReady.catch(() => undefined);
    await db.close();
    throw error;
  }

  let pruning: { stop(): Promise<void> } | undefined;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (config.drainDelayMs > 0) {
      app.log.info(
        { signal, drainDelayMs: config.drainDelayMs },
        'shutting down: /readyz answers 503; still serving until the drain delay is over',
      );
      await new Promise((resolve) => setTimeout(resolve, config.drainDelayMs));
    }
    app.log.info({ signal }, 'shutting down: draining in-flight requests');
    // A client that never finishes its request must not hold the shutdown hostage.
    const deadline = setTimeout(() => {
      app.log.warn('shutdown grace period over: closing the remaining connections');
      app.server.closeAllConnections();
    }, config.shutdownGraceMs);
    let code = 0;
    try {
      await pruning?.stop();
      await app.close();
    } catch (error) {
      app.log.error({ err: error }, 'error while closing the server');
      code = 1;
    } finally {
      clearTimeout(deadline);
    }
    try {
      await db.close();
    } catch (error) {
      app.log.error({ err: error }, 'error while closing the database');
      code = 1;
    }
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  let address: string;
  try {
    address = await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await db.close();
    throw error;
  }
  pruning = schedulePruning(db, config.retention, app.log);
  app.log.info(
    {
      address,
      database: config.database.kind,
      startupMs: Math.round(performance.now() - startedAt),
    },
    'eipd is ready',
  );
  if (auth.generated && !isLoopback(config.host)) {
    app.log.warn(
      { host: config.host },
      'demo mode (a signing secret generated in the data directory) is listening beyond this machine: configure EIPD_JWT_SECRET or EIPD_JWKS_URL before exposing eipd',
    );
  }
  if (auth.generated && auth.signingSecret !== undefined) {
    const orgId = await demoOrgId(config.dataDir);
    const token = await mintToken({
      secret: auth.signingSecret,
      orgId,
      subject: 'demo',
      ttlSeconds: DEMO_TOKEN_TTL_SECONDS,
      orgClaim: config.auth.orgClaim,
    });
    const example = catalog?.pools[0];
    process.stdout.write(
      demoBanner({
        address,
        orgId,
        token,
        catalog:
          catalogPath === DEMO_CATALOG ? 'config/demo-catalog.yaml' : (catalogPath ?? 'none'),
        example:
          example === undefined
            ? undefined
            : { idc: example.idc, product: example.products[0] ?? '' },
      }),
    );
  }
}

/** Names and addresses that only this machine can reach. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function demoBanner(b: {
  address: string;
  orgId: string;
  token: string;
  catalog: string;
  /** A pool's IDC and product to show the allocation with; none when the catalog has no pool. */
  example: { idc: string; product: string } | undefined;
}): string {
  const { address, orgId, token, example } = b;
  const head = `
eipd demo is ready at ${address} (embedded database; catalog: ${b.catalog})

A token for demo organization ${orgId}, valid 24 hours:

  export TOKEN=${token}
`;
  if (example === undefined) {
    return `${head}
The catalog declares no pool yet, so there is nothing to allocate: add pools to ${b.catalog}
(see config/demo-catalog.yaml) and restart.

`;
  }
  return `${head}
Allocate two addresses of product ${example.product} in IDC ${example.idc}:

  curl -sS -X POST ${address}/v1/elastic-ips \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    -d '{"idc":"${example.idc}","product":"${example.product}","name":"web-1","count":2}'

Then read one back (use an id from the answer):

  curl -sS ${address}/v1/elastic-ips/<id> -H "Authorization: Bearer $TOKEN"

`;
}

main().catch((error: unknown) => {
  if (
    error instanceof ConfigError ||
    error instanceof CatalogError ||
    error instanceof DataDirInUseError
  ) {
    process.stderr.write(`eipd: ${error.message}\n`);
  } else if (error instanceof DatabaseUnavailableError) {
    const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
    process.stderr.write(`eipd: cannot reach the database: ${cause}\n`);
  } else if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') {
    // A system or database error with a code (EADDRINUSE, ENOTFOUND, EACCES, 42501, ...): its
    // message says what to fix, and a stack trace would only bury it.
    process.stderr.write(`eipd: failed to start: ${error.message}\n`);
  } else {
    process.stderr.write(
      `eipd: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exit(1);
});
