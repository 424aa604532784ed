/**
 * eipctl's exit codes, so that scripts can tell "fix the command" from "try again later". Listed in
 * the README; never renumber one.
 */
import { EipdApiError, EipdNetworkError, ERROR_CODES } from '../../sdk/index.js';

export const EXIT = {
  ok: 0,
  /** Anything not below: a bug, a 500 from eipd, a local file that cannot be written. */
  failure: 1,
  /** Bad flags or arguments, no token, an unreadable profile file or configuration. */
  usage: 2,
  /** eipd refused the request (a 4xx other than 401, 403, 404 and 429), or the catalog is invalid. */
  refused: 3,
  /** 404: no such elastic IP, IDC, product, pool or instance. */
  notFound: 4,
  /** 401 or 403: the token is missing, invalid, expired, or lacks the operator scope. */
  unauthorized: 5,
  /**
   * No answer, the database is unavailable (503), or a rate limit (429): the same command may work
   * a moment later (after `Retry-After`, which the error message quotes).
   */
  unavailable: 6,
  /** 503 "no free address" (codes 5031, 5032): the pools of that product are full. */
  noCapacity: 7,
} as const;

export function exitCodeOf(error: unknown): number {
  if (error instanceof EipdNetworkError) return EXIT.unavailable;
  if (!(error instanceof EipdApiError)) return EXIT.failure;
  if (error.status === 401 || error.status === 403) return EXIT.unauthorized;
  if (error.status === 404) return EXIT.notFound;
  if (error.code === ERROR_CODES.noFreeAddress || error.code === ERROR_CODES.addressesBusy) {
    return EXIT.noCapacity;
  }
  if (error.status === 503 || error.status === 429) return EXIT.unavailable;
  if (error.status >= 400 && error.status < 500) return EXIT.refused;
  return EXIT.failure;
}

/** A problem with how eipctl was called; exits 2 with the message (and usage, when given). */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
  }
}
