/**
 * What a failed call throws: `EipdApiError` when eipd (or something in front of it) answered with
 * an error status, `EipdNetworkError` when no answer arrived at all. Both extend `EipdError`, so a
 * caller can catch every SDK failure with one `instanceof`.
 */
import type { ErrorBody, ValidationDetail } from './types.js';

/**
 * Codes of the `{code, reason}` body that clients commonly act on. The full list is in the README
 * ("Errors"); a test checks these against the server's catalogue.
 */
export const ERROR_CODES = {
  releaseWhileAssociated: 4002,
  reassociationRefused: 4003,
  addressUnavailable: 4005,
  elasticIpReleased: 4006,
  quotaExceeded: 4009,
  idempotencyKeyReused: 4010,
  eventsPruned: 4011,
  forbidden: 4031,
  elasticIpNotFound: 4044,
  noFreeAddress: 5031,
  addressesBusy: 5032,
} as const;

export class EipdError extends Error {
  override name = 'EipdError';
}

export class EipdApiError extends EipdError {
  override name = 'EipdApiError';
  /** The body's `code` (both shapes carry one), undefined when the body has none. */
  readonly code: number | undefined;
  /** The `{code, reason}` body's reason, else the `errorStatusMessage` body's message. */
  readonly reason: string;
  /** `errorStatusMessage` bodies only: `request` (validation) or `auth_verify`. */
  readonly group: string | undefined;
  /** One entry per violation of a request that broke the schema; empty otherwise. */
  readonly validationDetail: ValidationDetail[];

  constructor(
    readonly status: number,
    /** The parsed JSON body, or its text when it was not JSON. */
    readonly body: ErrorBody | string | undefined,
    /** The X-Request-Id the server answered with, to quote when reporting a problem. */
    readonly requestId: string | undefined,
    /** Retry-After in seconds, when the server sent one. */
    readonly retryAfterSeconds: number | undefined,
  ) {
    const fields = typeof body === 'object' && body !== null ? body : undefined;
    const reason =
      (fields !== undefined && 'reason' in fields ? fields.reason : undefined) ??
      (fields !== undefined && 'message' in fields ? fields.message : undefined) ??
      (typeof body === 'string' && body.trim() !== '' ? body.trim().slice(0, 500) : undefined) ??
      `HTTP ${status}`;
    super(`${status}${fields?.code === undefined ? '' : ` (code ${fields.code})`}: ${reason}`);
    this.code = fields?.code;
    this.reason = reason;
    this.group = fields !== undefined && 'group' in fields ? fields.group : undefined;
    this.validationDetail =
      fields !== undefined && 'validationDetail' in fields ? (fields.validationDetail ?? []) : [];
  }

  /**
   * eipd's database could not be reached (503 with no code): the request did nothing or its
   * outcome is unknown, and the same request may succeed a moment later. A 503 with a code is a
   * refusal that a retry within the second will not change (no free address).
   */
  get databaseUnavailable(): boolean {
    return this.status === 503 && this.code === undefined;
  }
}

export class EipdNetworkError extends EipdError {
  override name = 'EipdNetworkError';

  constructor(
    message: string,
    options: { cause: unknown },
    /** No answer within the client's `timeoutMs`. */
    readonly timedOut: boolean,
  ) {
    super(message, options);
  }
}

/** Failures after which the same request may be sent again. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof EipdNetworkError) return true;
  return error instanceof EipdApiError && error.databaseUnavailable;
}
