/**
 * One interface over the two databases eipd runs on: PostgreSQL (production, several replicas) and
 * embedded PGlite (zero-setup demo and single-node installs). Everything above this layer speaks
 * SQL through `Queryable` and owns its transactions through `Database.transaction`; nothing above
 * it knows which engine is underneath.
 */
export type Row = Record<string, unknown>;

export interface Queryable {
  /** One statement with `$n` parameters. Rows come back as plain objects. */
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Runs `work` in one READ COMMITTED transaction and commits it. Serialization failures and
   * deadlocks (40001, 40P01) restart the whole callback a bounded number of times, so `work` must
   * be safe to run again: all its effects must go through `tx`.
   */
  transaction<T>(work: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
  /** The connection pool's state, for /metrics; absent on the embedded database (no pool). */
  poolStats?(): ConnectionPoolStats;
}

export interface ConnectionPoolStats {
  /** Open connections, busy or idle. */
  total: number;
  idle: number;
  /** Operations waiting for a connection. */
  waiting: number;
  /** The configured maximum (EIPD_DB_POOL_SIZE). */
  max: number;
}

export interface TransactionOptions {
  /**
   * The attempt's time budget instead of the request budget (EIPD_DB_STATEMENT_TIMEOUT_MS), also
   * applied as its server-side statement_timeout. For start-up work (migrations, the catalog),
   * which may rightly take minutes and which no client is waiting on.
   */
  timeoutMs?: number;
}

/** The budget of start-up work: a migration building an index on a large table takes a while. */
export const STARTUP_WORK_TIMEOUT_MS = 10 * 60_000;

/** Bounded, because a transaction that keeps losing is a symptom to report, not to hide. */
export const MAX_TRANSACTION_ATTEMPTS = 8;
