import pg from 'pg';
import type { Database, Queryable, Row, TransactionOptions } from './database.js';
import { DatabaseUnavailableError, isUnavailable } from './errors.js';
import { withConflictRetry } from './retry.js';

export interface PostgresSettings {
  url: string;
  poolSize: number;
  /** How long to wait for a connection (new or from the pool) before answering 503. */
  connectTimeoutMs: number;
  /**
   * The time budget of one database operation: a `query`, or one attempt of a `transaction`,
   * from asking for a connection to the end of its last statement (COMMIT included). It is also
   * the server-side statement_timeout. See "Deadlines" below.
   */
  statementTimeoutMs: number;
}

/*
 * Deadlines. A request must get its answer, a 503 if need be, within a few seconds whatever the
 * database and the network between us do (issue 4: "within 5 s" with the default settings). Two
 * ways of failing are easy: a stopped server, or a network that refuses, makes connects and
 * queries fail at once. The hard one is a network that silently drops traffic (or a frozen
 * server): connections already in the pool look perfectly alive, a query is written without error
 * and then nothing ever comes back, and new connections hang in their handshake. Nothing short of
 * a client-side deadline ends that wait:
 *
 * - TCP keepalive does not help: its first probe comes after the kernel's idle time (two hours by
 *   default), and Node cannot set TCP_USER_TIMEOUT. The server-side statement_timeout cannot help
 *   either: the server may never have received the statement, and its answer cannot get through.
 * - A per-statement client timeout (node-postgres's query_timeout, which this module used to set
 *   to statement_timeout + 1 s = 5 s) is not enough: it alone exceeds 5 s, and a transaction is
 *   several statements plus the wait for a connection, each of which would get the full timeout
 *   (a connection won after 2.9 s followed by a statement that hangs, a COMMIT that hangs after
 *   three quick statements).
 *
 * So every operation gets one deadline, `statementTimeoutMs` (4 s by default) from the moment it
 * asks for a connection: the wait for a connection gets at most connectTimeoutMs of it (3 s by
 * default), and every statement, BEGIN, COMMIT and ROLLBACK included, gets only what is left as
 * its client-side timeout. An operation therefore ends within statementTimeoutMs, answering 503,
 * which leaves about a second of the 5 s for HTTP and the event loop. The server-side
 * statement_timeout stays at the same value: the client gives up first (or at the same time), and
 * the server's timeout is what stops a statement that keeps running after its client went away.
 *
 * A transaction retried after a serialization failure or deadlock gets a fresh deadline for each
 * attempt: such a retry only happens after the server answered, so in an outage no attempt is
 * ever retried and a request waits for at most one deadline.
 *
 * A connection whose statement timed out or failed at the connection level is discarded, never
 * handed out again: it may still have a statement in flight, and it is most likely dead anyway.
 * node-postgres destroys the socket of a client that is ended with a query still active.
 *
 * What a deadline cannot tell: whether a COMMIT that timed out was applied. The request answers
 * 503 either way; a transaction is still all or nothing (an allocation's EIPs and their events
 * are committed together or not at all), but a client may have to look for an EIP it was told
 * could not be allocated.
 */

function translate(error: unknown): unknown {
  return isUnavailable(error) ? new DatabaseUnavailableError(error) : error;
}

function asError(error: unknown, fallback: string): Error {
  return error instanceof Error ? error : new Error(fallback);
}

/** One checked-out connection and the deadline of the operation that holds it. */
interface Operation {
  client: pg.PoolClient;
  /** performance.now() value after which no statement may be sent or awaited. */
  deadline: number;
  /** Set once the connection must not be used again (nor returned to the pool). */
  broken: Error | undefined;
  onConnectionError: (error: Error) => void;
}

export function openPostgres(settings: PostgresSettings): Database {
  const pool = new pg.Pool({
    connectionString: settings.url,
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'eipd',
    statement_timeout: settings.statementTimeoutMs,
    // No pool-wide query_timeout: every statement gets its own, from its operation's deadline.
    idle_in_transaction_session_timeout: settings.statementTimeoutMs * 2,
    // Only for half-open connections the kernel would otherwise keep forever; see "Deadlines".
    keepAlive: true,
  });
  // An idle client whose server went away emits 'error'; without a listener that would crash the
  // process. The pool discards that client, and the next checkout gets a fresh connection.
  pool.on('error', () => {});

  /**
   * A connection for an operation that must end by `deadline`. pool.connect() cannot be
   * cancelled: a client it hands over after we gave up goes straight back to the pool.
   */
  const checkout = async (deadline: number): Promise<pg.PoolClient> => {
    const waitMs = Math.max(0, Math.min(settings.connectTimeoutMs, deadline - performance.now()));
    if (waitMs >= settings.connectTimeoutMs) {
      // The usual case: the pool's own connectionTimeoutMillis is exactly this bound, and
      // it cancels the wait itself, without a timer and a race of our own per operation.
      try {
        return await pool.connect();
      } catch (error) {
        throw new DatabaseUnavailableError(error);
      }
    }
    const pending = pool.connect();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no database connection within ${Math.round(waitMs)} ms`)),
        waitMs,
      );
    });
    try {
      return await Promise.race([pending, expired]);
    } catch (error) {
      pending.then(
        (client) => client.release(),
        () => {},
      );
      throw new DatabaseUnavailableError(error);
    } finally {
      clearTimeout(timer);
    }
  };

  const open = async (budgetMs = settings.statementTimeoutMs): Promise<Operation> => {
    const deadline = performance.now() + budgetMs;
    const client = await checkout(deadline);
    const op: Operation = {
      client,
      deadline,
      broken: undefined,
      // While checked out, a client's connection errors are ours to handle: without a listener a
      // backend killed mid-operation (failover, restart) is an unhandled 'error' event that takes
      // the whole process down. The statement in flight, if any, rejects on its own.
      onConnectionError: (error: Error) => {
        op.broken ??= error;
      },
    };
    client.on('error', op.onConnectionError);
    return op;
  };

  const close = (op: Operation): void => {
    op.client.off('error', op.onConnectionError);
    // A truthy argument makes the pool end the client instead of keeping it.
    op.client.release(op.broken);
  };

  /** One statement, given whatever is left of the operation's deadline. */
  const run = async <R extends Row>(
    op: Operation,
    sql: string,
    params?: readonly unknown[],
  ): Promise<R[]> => {
    if (op.broken !== undefined) throw new DatabaseUnavailableError(op.broken);
    const left = Math.floor(op.deadline - performance.now());
    if (left < 1) {
      op.broken = new Error(`database operation deadline passed`);
      throw new DatabaseUnavailableError(op.broken);
    }
    // node-postgres honours a per-query query_timeout (lib/client.js); its types omit it.
    const statement: pg.QueryConfig & { query_timeout: number } = {
      text: sql,
      values: params as unknown[] | undefined,
      query_timeout: left,
    };
    try {
      const result = await op.client.query<R>(statement);
      return result.rows;
    } catch (error) {
      // "Query read timeout" included: the connection may still have the statement in flight.
      if (isUnavailable(error)) op.broken ??= asError(error, 'connection unusable');
      throw error;
    }
  };

  const query = async <R extends Row>(sql: string, params?: readonly unknown[]): Promise<R[]> => {
    const op = await open();
    try {
      return await run<R>(op, sql, params);
    } catch (error) {
      throw translate(error);
    } finally {
      close(op);
    }
  };

  return {
    kind: 'postgres',
    poolStats: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      max: settings.poolSize,
    }),
    query,
    async exec(sql) {
      await query(sql);
    },
    transaction<T>(
      work: (tx: Queryable) => Promise<T>,
      options: TransactionOptions = {},
    ): Promise<T> {
      return withConflictRetry(async () => {
        const op = await open(options.timeoutMs);
        try {
          // Explicit, because the allocator's and the migrations' reasoning assumes READ
          // COMMITTED whatever default_transaction_isolation the server has.
          await run(op, 'BEGIN ISOLATION LEVEL READ COMMITTED');
          if (options.timeoutMs !== undefined) {
            await run(op, `SET LOCAL statement_timeout = ${Math.floor(options.timeoutMs)}`);
          }
          const tx: Queryable = {
            query: <R extends Row>(sql: string, params?: readonly unknown[]) =>
              run<R>(op, sql, params),
            async exec(sql: string) {
              await run(op, sql);
            },
          };
          const value = await work(tx);
          await run(op, 'COMMIT');
          return value;
        } catch (error) {
          if (isUnavailable(error)) {
            // A connection that just timed out or failed would only make ROLLBACK wait out the
            // deadline; discarding it rolls the transaction back on the server.
            op.broken ??= asError(error, 'connection unusable');
          }
          if (op.broken === undefined) {
            try {
              await run(op, 'ROLLBACK');
            } catch (rollbackError) {
              // The connection is unusable; make the pool discard it, not hand it out again.
              op.broken ??= asError(rollbackError, 'rollback failed');
            }
          }
          throw translate(error);
        } finally {
          close(op);
        }
      });
    },
    async close() {
      await pool.end();
    },
  };
}
