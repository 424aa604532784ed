/**
 * Retention: events and idempotency keys older than their configured age are deleted, a batch per
 * short transaction so that pruning never holds locks for long, and by one replica at a time (a
 * try-lock: a replica that finds another pruning skips its turn).
 *
 * Events go as a prefix of the stream, in (tx_id, seq) order, stopping at the first event still
 * within retention; the last position pruned is recorded so that listEvents can tell a reader
 * whose cursor is behind it that it missed events (see src/operators/events.ts).
 */
import type { Database, Queryable } from '../db/database.js';
import type { StreamPosition } from '../operators/repository.js';

export interface RetentionSettings {
  eventRetentionDays: number;
  idempotencyRetentionHours: number;
}

export interface PruneOutcome {
  events: number;
  idempotencyKeys: number;
  /** False when another replica held the pruning lock. */
  ran: boolean;
}

const PRUNE_LOCK_KEY = 7_311_202_603;
const BATCH = 5000;

export async function pruneOnce(
  db: Database,
  settings: RetentionSettings,
  batchSize = BATCH,
): Promise<PruneOutcome> {
  const outcome: PruneOutcome = { events: 0, idempotencyKeys: 0, ran: true };
  for (;;) {
    const batch = await db.transaction(async (tx) => {
      if (!(await tryLock(tx))) return undefined;
      return {
        events: await pruneEvents(tx, settings.eventRetentionDays, batchSize),
        keys: await pruneIdempotencyKeys(tx, settings.idempotencyRetentionHours, batchSize),
      };
    });
    if (batch === undefined) return { ...outcome, ran: false };
    outcome.events += batch.events;
    outcome.idempotencyKeys += batch.keys;
    if (batch.events < batchSize && batch.keys < batchSize) return outcome;
  }
}

async function tryLock(tx: Queryable): Promise<boolean> {
  const [row] = await tx.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_xact_lock($1) AS locked',
    [PRUNE_LOCK_KEY],
  );
  return row?.locked === true;
}

async function pruneEvents(tx: Queryable, days: number, batchSize: number): Promise<number> {
  const deleted = await tx.query<{ tx_text: string; seq: string }>(
    `WITH batch AS (
       SELECT tx_id, seq, occurred_at FROM eip_events ORDER BY tx_id, seq LIMIT $2
     ), stop AS (
       SELECT tx_id, seq FROM batch
        WHERE occurred_at >= statement_timestamp() - make_interval(days => $1)
        ORDER BY tx_id, seq LIMIT 1
     )
     DELETE FROM eip_events e USING batch b
      WHERE e.seq = b.seq
        AND NOT EXISTS (SELECT 1 FROM stop s WHERE (b.tx_id, b.seq) >= (s.tx_id, s.seq))
     RETURNING e.tx_id::text AS tx_text, e.seq::text AS seq`,
    [days, batchSize],
  );
  let last: StreamPosition | undefined;
  for (const row of deleted) {
    const p = { txId: BigInt(row.tx_text), seq: BigInt(row.seq) };
    if (last === undefined || p.txId > last.txId || (p.txId === last.txId && p.seq > last.seq)) {
      last = p;
    }
  }
  if (last !== undefined) {
    await tx.query(
      `INSERT INTO event_prune_state (pruned_through_tx, pruned_through_seq)
       VALUES ($1::text::xid8, $2::bigint)
       ON CONFLICT (singleton) DO UPDATE
         SET pruned_through_tx = EXCLUDED.pruned_through_tx,
             pruned_through_seq = EXCLUDED.pruned_through_seq,
             pruned_at = statement_timestamp()`,
      [last.txId.toString(), last.seq.toString()],
    );
  }
  return deleted.length;
}

async function pruneIdempotencyKeys(
  tx: Queryable,
  hours: number,
  batchSize: number,
): Promise<number> {
  const deleted = await tx.query(
    `DELETE FROM idempotency_keys k
      USING (SELECT org_id, key FROM idempotency_keys
              WHERE created_at < statement_timestamp() - make_interval(hours => $1)
              ORDER BY created_at LIMIT $2) old
      WHERE k.org_id = old.org_id AND k.key = old.key
      RETURNING 1`,
    [hours, batchSize],
  );
  return deleted.length;
}

/** Where the pruned prefix of the event stream ends; undefined when nothing was ever pruned. */
export async function prunedThrough(db: Queryable): Promise<StreamPosition | undefined> {
  const [row] = await db.query<{ tx_text: string; seq: string }>(
    `SELECT pruned_through_tx::text AS tx_text, pruned_through_seq::text AS seq
       FROM event_prune_state`,
  );
  return row === undefined ? undefined : { txId: BigInt(row.tx_text), seq: BigInt(row.seq) };
}

/**
 * Prunes every `intervalSeconds` (0: never), first shortly after start. A failed run (database
 * unreachable) is logged and tried again at the next tick; it never stops the process.
 */
export function schedulePruning(
  db: Database,
  settings: RetentionSettings & { intervalSeconds: number },
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
  },
): { stop(): Promise<void> } {
  if (settings.intervalSeconds === 0) return { stop: async () => {} };
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running !== undefined || stopped) return;
    running = pruneOnce(db, settings)
      .then((outcome) => {
        if (outcome.events > 0 || outcome.idempotencyKeys > 0) {
          log.info(
            { events: outcome.events, idempotencyKeys: outcome.idempotencyKeys },
            'pruned past retention',
          );
        }
      })
      .catch((error: unknown) => log.warn({ err: error }, 'pruning failed; will retry'))
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(tick, 10_000);
  const timer = setInterval(tick, settings.intervalSeconds * 1000);
  first.unref();
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
