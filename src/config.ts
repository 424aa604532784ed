/**
 * Every setting eipd reads, in one schema. Configuration comes from the environment only, is
 * parsed once at start-up and passed down; nothing reads process.env anywhere else. A bad value
 * stops start-up with a list of every bad key, never with the first one only.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { MIN_SECRET_BYTES } from './auth/tokens.js';

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== ''),
);

const optionalText = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s.trim() === '' ? undefined : s));

const schema = z.object({
  EIPD_HOST: z.string().min(1).default('127.0.0.1'),
  EIPD_PORT: integer(0, 65535).default(8080),
  DATABASE_URL: optionalText,
  EIPD_DATA_DIR: z.string().min(1).default('.eipd-data'),
  EIPD_CATALOG: optionalText,
  EIPD_JWT_SECRET: optionalText,
  EIPD_JWT_PUBLIC_KEYS: list.default([]),
  EIPD_JWKS_URL: optionalText,
  EIPD_JWKS_FILE: optionalText,
  EIPD_JWT_ALGORITHMS: list.optional(),
  EIPD_JWT_ORG_CLAIM: z.string().min(1).default('orgId'),
  EIPD_JWT_ISSUER: optionalText,
  EIPD_JWT_AUDIENCE: optionalText,
  EIPD_ADMIN_SCOPE: z.string().min(1).default('eip:admin'),
  EIPD_JWT_CLOCK_SKEW_SECONDS: integer(0, 300).default(30),
  EIPD_MAX_ALLOCATE_COUNT: integer(1, 10_000).default(100),
  EIPD_QUARANTINE_SECONDS: integer(0, 30 * 24 * 3600).default(3600),
  EIPD_BODY_LIMIT_BYTES: integer(1024, 16 * 1024 * 1024).default(1024 * 1024),
  EIPD_REQUEST_TIMEOUT_MS: integer(1000, 600_000).default(30_000),
  EIPD_SHUTDOWN_GRACE_MS: integer(0, 600_000).default(10_000),
  EIPD_DRAIN_DELAY_MS: integer(0, 600_000).default(0),
  EIPD_DB_POOL_SIZE: integer(1, 1000).default(10),
  EIPD_DB_CONNECT_TIMEOUT_MS: integer(100, 600_000).default(3000),
  EIPD_DB_STATEMENT_TIMEOUT_MS: integer(100, 600_000).default(4000),
  EIPD_EVENT_RETENTION_DAYS: integer(1, 36_500).default(30),
  // Never below 24: the contract replays an Idempotency-Key's answer for 24 hours.
  EIPD_IDEMPOTENCY_RETENTION_HOURS: integer(24, 24 * 3650).default(24),
  EIPD_PRUNE_INTERVAL_SECONDS: integer(0, 86_400).default(300),
  // Per organization per minute; 0 turns the limit off.
  EIPD_RATE_LIMIT_PER_MINUTE: integer(0, 10_000_000).default(1200),
  // Failed authentications per client address (IPv6: per /64) per minute; 0 turns it off.
  EIPD_AUTH_FAILURE_LIMIT_PER_MINUTE: integer(0, 10_000_000).default(60),
  // Proxies whose X-Forwarded-For is believed: addresses or CIDRs, comma-separated.
  EIPD_TRUST_PROXY: list.default([]),
  EIPD_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
  EIPD_METRICS: z.enum(['on', 'off']).default('on'),
});

export interface Config {
  host: string;
  port: number;
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };
  dataDir: string;
  catalogPath: string | undefined;
  auth: {
    secret: string | undefined;
    publicKeyFiles: string[];
    jwksUrl: string | undefined;
    jwksFile: string | undefined;
    /** Undefined: HS256 when only a secret is configured; otherwise they must be listed. */
    algorithms: string[] | undefined;
    orgClaim: string;
    issuer: string | undefined;
    audience: string | undefined;
    adminScope: string;
    /** How far the issuer's clock may be from ours, for exp, nbf and iat. */
    clockSkewSeconds: number;
  };
  maxAllocateCount: number;
  /** How long a released address waits before another organization can get it (rule 7). */
  quarantineSeconds: number;
  bodyLimitBytes: number;
  /** A request (headers and body) must arrive within this time. */
  requestTimeoutMs: number;
  /** How long SIGTERM waits for in-flight requests before closing their connections. */
  shutdownGraceMs: number;
  /**
   * After SIGTERM, how long to keep serving (with /readyz answering 503) before the listener
   * closes, so that a load balancer notices and stops routing here first.
   */
  drainDelayMs: number;
  db: { poolSize: number; connectTimeoutMs: number; statementTimeoutMs: number };
  /** Events and idempotency keys older than these are pruned every intervalSeconds (0: never). */
  retention: {
    eventRetentionDays: number;
    idempotencyRetentionHours: number;
    intervalSeconds: number;
  };
  /** Requests per minute: per organization, and failed authentications per client address. */
  limits: { perOrganizationPerMinute: number; authFailuresPerMinute: number };
  /** Proxies (addresses, CIDRs) trusted to say the client address in X-Forwarded-For. */
  trustProxy: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Whether GET /metrics is served (anonymous; keep it off the public network or turn it off). */
  metrics: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Checks beyond one value's type, made on the raw environment so that they are listed together
 * with every type error of the same start, not only once those are fixed.
 */
function crossChecks(env: Readonly<Record<string, string | undefined>>): string[] {
  const problems: string[] = [];
  // As optionalText reads it: blank is unset, anything else is taken as it is.
  const text = (key: string) => {
    const value = env[key];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const databaseUrl = text('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL: must start with postgres:// or postgresql://');
  }
  if (text('EIPD_JWKS_URL') !== undefined && text('EIPD_JWKS_FILE') !== undefined) {
    problems.push('EIPD_JWKS_URL and EIPD_JWKS_FILE: set one, not both');
  }
  const proxies = list.safeParse(env.EIPD_TRUST_PROXY ?? '');
  for (const entry of proxies.success ? proxies.data : []) {
    if (!isAddressOrCidr(entry)) {
      problems.push(`EIPD_TRUST_PROXY: ${entry} is not an IP address or CIDR`);
    }
  }
  return problems;
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  // A misspelt setting (EIPD_PROT) would otherwise be silently ignored. EIPD_TEST_* belong to the
  // test suites, EIPD_BENCH_* to the benchmarks.
  const known = new Set(Object.keys(schema.shape));
  const unknown = Object.keys(env)
    .filter((k) => k.startsWith('EIPD_') && !/^EIPD_(TEST|BENCH)_/.test(k) && !known.has(k))
    .map((k) => `${k}: not a setting of eipd (misspelt?)`);
  const parsed = schema.safeParse(env);
  const issues = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // Checked here too, not only with the other key settings later, so that one start-up lists it
  // with every other bad setting.
  const secret = env.EIPD_JWT_SECRET;
  const shortSecret =
    secret !== undefined && secret !== '' && Buffer.byteLength(secret) < MIN_SECRET_BYTES
      ? [`EIPD_JWT_SECRET: shorter than ${MIN_SECRET_BYTES} bytes (the value is not shown)`]
      : [];
  const problems = [...issues, ...shortSecret, ...crossChecks(env), ...unknown];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    host: e.EIPD_HOST,
    port: e.EIPD_PORT,
    database:
      e.DATABASE_URL === undefined
        ? { kind: 'pglite', dataDir: `${e.EIPD_DATA_DIR}/pgdata` }
        : { kind: 'postgres', url: e.DATABASE_URL },
    dataDir: e.EIPD_DATA_DIR,
    catalogPath: e.EIPD_CATALOG,
    auth: {
      secret: e.EIPD_JWT_SECRET,
      publicKeyFiles: e.EIPD_JWT_PUBLIC_KEYS,
      jwksUrl: e.EIPD_JWKS_URL,
      jwksFile: e.EIPD_JWKS_FILE,
      algorithms: e.EIPD_JWT_ALGORITHMS,
      orgClaim: e.EIPD_JWT_ORG_CLAIM,
      issuer: e.EIPD_JWT_ISSUER,
      audience: e.EIPD_JWT_AUDIENCE,
      adminScope: e.EIPD_ADMIN_SCOPE,
      clockSkewSeconds: e.EIPD_JWT_CLOCK_SKEW_SECONDS,
    },
    maxAllocateCount: e.EIPD_MAX_ALLOCATE_COUNT,
    quarantineSeconds: e.EIPD_QUARANTINE_SECONDS,
    bodyLimitBytes: e.EIPD_BODY_LIMIT_BYTES,
    requestTimeoutMs: e.EIPD_REQUEST_TIMEOUT_MS,
    shutdownGraceMs: e.EIPD_SHUTDOWN_GRACE_MS,
    drainDelayMs: e.EIPD_DRAIN_DELAY_MS,
    db: {
      poolSize: e.EIPD_DB_POOL_SIZE,
      connectTimeoutMs: e.EIPD_DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.EIPD_DB_STATEMENT_TIMEOUT_MS,
    },
    retention: {
      eventRetentionDays: e.EIPD_EVENT_RETENTION_DAYS,
      idempotencyRetentionHours: e.EIPD_IDEMPOTENCY_RETENTION_HOURS,
      intervalSeconds: e.EIPD_PRUNE_INTERVAL_SECONDS,
    },
    limits: {
      perOrganizationPerMinute: e.EIPD_RATE_LIMIT_PER_MINUTE,
      authFailuresPerMinute: e.EIPD_AUTH_FAILURE_LIMIT_PER_MINUTE,
    },
    trustProxy: e.EIPD_TRUST_PROXY,
    logLevel: e.EIPD_LOG_LEVEL,
    metrics: e.EIPD_METRICS === 'on',
  };
}

function isAddressOrCidr(text: string): boolean {
  const [address = '', prefix, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
