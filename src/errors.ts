/**
 * The error catalogue: every refusal eipd can answer, with its HTTP status and stable code. Codes
 * are part of the API (clients switch on them) and are listed in the README; never renumber one.
 *
 * Bodies come in the published API's two shapes: `errorStatusMessage` ({group, code, message,
 * validationDetail}) for validation and authentication, and `error` ({code, reason}) for the rest.
 * A body never has both `group` and `reason`, so it matches exactly one branch of the published
 * BadRequest `oneOf`.
 */

import type { ValidationDetail } from './validation-detail.js';

export const ERRORS = {
  MALFORMED_HTTP: { status: 400, code: 4000 },
  HEADERS_TOO_LARGE: { status: 431, code: 4311 },
  REQUEST_TIMEOUT: { status: 408, code: 4081 },
  RELEASE_WHILE_ASSOCIATED: { status: 400, code: 4002 },
  ADDRESS_UNAVAILABLE: { status: 400, code: 4005 },
  ELASTIC_IP_RELEASED: { status: 400, code: 4006 },
  INVALID_CURSOR: { status: 400, code: 4007 },
  FORBIDDEN: { status: 403, code: 4031 },
  IDC_NOT_FOUND: { status: 404, code: 4041 },
  PRODUCT_NOT_FOUND: { status: 404, code: 4042 },
  PRODUCT_NOT_OFFERED: { status: 404, code: 4043 },
  ELASTIC_IP_NOT_FOUND: { status: 404, code: 4044 },
  ADDRESS_NOT_IN_POOLS: { status: 404, code: 4045 },
  ROUTE_NOT_FOUND: { status: 404, code: 4040 },
  PAYLOAD_TOO_LARGE: { status: 413, code: 4131 },
  BODY_TOO_DEEP: { status: 413, code: 4132 },
  BODY_TOO_WIDE: { status: 413, code: 4133 },
  NO_FREE_ADDRESS: { status: 503, code: 5031 },
  ADDRESSES_BUSY: { status: 503, code: 5032 },
  INTERNAL: { status: 500, code: 5001 },
  REASSOCIATION_REFUSED: { status: 400, code: 4003 },
  INSTANCE_CONFLICT: { status: 400, code: 4008 },
  INSTANCE_NOT_FOUND: { status: 404, code: 4046 },
  POOL_NOT_FOUND: { status: 404, code: 4047 },
  QUOTA_EXCEEDED: { status: 400, code: 4009 },
  IDEMPOTENCY_KEY_REUSED: { status: 400, code: 4010 },
  EVENTS_PRUNED: { status: 400, code: 4011 },
  RATE_LIMITED: { status: 429, code: 4291 },
  TOO_MANY_AUTH_FAILURES: { status: 429, code: 4292 },
} as const;

export type ErrorKind = keyof typeof ERRORS;

/** A refusal in the `error` shape. Thrown by use cases, mapped to a response in one place. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: number;

  constructor(
    readonly kind: ErrorKind,
    readonly reason: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(reason);
    this.name = 'ApiError';
    this.status = ERRORS[kind].status;
    this.code = ERRORS[kind].code;
  }

  body(): { code: number; reason: string } {
    return { code: this.code, reason: this.reason };
  }
}

/** The `errorStatusMessage` groups and codes eipd sends. */
export const REQUEST_INVALID = { group: 'request', code: 0 } as const;
export const REQUEST_BODY_UNREADABLE = { group: 'request', code: 1 } as const;
export const AUTH_INVALID = {
  group: 'auth_verify',
  code: 0,
  message: 'Invalid access token.',
} as const;
export const AUTH_EXPIRED = {
  group: 'auth_verify',
  code: 1,
  message: 'Expired access token.',
} as const;

/** The exact published 503 body for an unreachable database: no code, no detail. */
export const DATABASE_UNAVAILABLE_BODY = { reason: 'database is unavailable' } as const;

/**
 * A validation failure found by a use case rather than by the schema (an address that does not
 * parse, `count` above 1 with an explicit address): answered exactly like a schema violation,
 * 400 `{group: "request", code: 0, message, validationDetail}`.
 */
export class ValidationError extends Error {
  constructor(
    readonly details: ValidationDetail[],
    /** Where the offending values came from; the message says so, as for schema violations. */
    readonly location: 'body' | 'query' | 'header' | 'path' = 'body',
  ) {
    super('request validation failed');
    this.name = 'ValidationError';
  }
}
