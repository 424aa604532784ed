/**
 * Liveness and readiness. Liveness never touches the database: a process that answers HTTP is
 * alive, and restarting it would not bring a lost database back. Readiness is what a load balancer
 * routes on: the database answers within the usual timeouts and holds every migration this
 * version needs, and the process is not draining.
 */
import type { Database } from './db/database.js';
import { readMigrations } from './db/migrate.js';

export interface Readiness {
  /** Throws an answer for the load balancer when this process should get no traffic. */
  check(): Promise<{ status: 'ok' }>;
}

export class NotReadyError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'NotReadyError';
  }
}

export function createReadiness(db: Database, isDraining: () => boolean): Readiness {
  // The versions this code needs, read once: readiness is polled every few seconds.
  const expected = readMigrations().then((files) => files.map((f) => f.version));
  return {
    async check() {
      if (isDraining()) throw new NotReadyError('shutting down');
      const rows = await appliedMigrations(db);
      const applied = new Set(rows.map((r) => r.version));
      const missing = (await expected).filter((v) => !applied.has(v));
      if (missing.length > 0) throw new NotReadyError(`migrations pending: ${missing.join(', ')}`);
      return { status: 'ok' };
    },
  };
}

/** A database nobody has migrated yet has no schema_migrations: "not ready", not an error. */
async function appliedMigrations(db: Database): Promise<{ version: string }[]> {
  try {
    return await db.query<{ version: string }>('SELECT version FROM schema_migrations');
  } catch (error) {
    if ((error as { code?: unknown }).code === UNDEFINED_TABLE) return [];
    throw error;
  }
}

const UNDEFINED_TABLE = '42P01';
