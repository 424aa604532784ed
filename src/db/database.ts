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
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Bounded, because a transaction that keeps losing is a symptom to report, not to hide. */
export const MAX_TRANSACTION_ATTEMPTS = 8;
