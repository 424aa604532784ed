/**
 * Database failures are classified once, here, so that the HTTP layer maps classes, not SQLSTATEs
 * or socket errors.
 */

/** The database could not be reached or did not answer in time: answered 503. */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super('database is unavailable', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/** A transaction kept losing serialization races past the retry budget: answered 503. */
export class TransactionContentionError extends Error {
  constructor(cause: unknown) {
    super('transaction retries exhausted', { cause });
    this.name = 'TransactionContentionError';
  }
}

function sqlState(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** 40001 serialization_failure, 40P01 deadlock_detected: safe to retry the whole transaction. */
export function isRetryableConflict(error: unknown): boolean {
  const code = sqlState(error);
  return code === '40001' || code === '40P01';
}

/**
 * 23505 unique_violation of `constraint`. node-postgres names the constraint in a field; PGlite
 * only in the message, so both are checked.
 */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  if (sqlState(error) !== '23505') return false;
  const { constraint: named, message } = error as { constraint?: unknown; message?: unknown };
  return named === constraint || (typeof message === 'string' && message.includes(constraint));
}

const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * True for failures that mean "the database is not there right now" rather than "this query is
 * wrong": connection errors, server shutdown, statement and lock timeouts, too many connections.
 */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  const code = sqlState(error);
  if (code !== undefined) {
    if (UNAVAILABLE_NODE_CODES.has(code)) return true;
    // 08: connection exception; 57P0x: admin/crash shutdown, cannot connect now; 53300: too many
    // connections; 57014: query_canceled (statement_timeout); 55P03: lock_not_available
    // (lock_timeout).
    if (code.startsWith('08') || code.startsWith('57P0')) return true;
    if (code === '53300' || code === '57014' || code === '55P03') return true;
  }
  if (error instanceof Error) {
    const message = error.message;
    // node-postgres reports these without a code.
    if (
      message.includes('Connection terminated') ||
      message.includes('Query read timeout') ||
      message.includes('timeout exceeded when trying to connect') ||
      message.includes('Client has encountered a connection error') ||
      message.includes('connection timeout')
    ) {
      return true;
    }
  }
  return false;
}
