/**
 * The logger: one JSON object per line (pino, through Fastify), every line of a request carrying
 * its `reqId`, the same id as the X-Request-Id header and the one quoted in 500 bodies.
 *
 * Secrets never reach the logs. Requests are logged as method, URL and peer only (no headers),
 * and on top of that: the credential headers are censored wherever an object that carries them is
 * logged, and a URL that carries a token (a JWT pasted in a path, `?access_token=`) is logged with
 * the token masked.
 */
import type { FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const REDACTED = '[redacted]';

/** Paths (pino redact syntax) censored in any log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
  '*.headers.authorization',
  '*.headers.cookie',
  'authorization',
  'cookie',
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
];

/** A compact JWS (header.payload.signature, base64url; every JWT header starts with `eyJ`). */
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;
/** Query parameters whose values are credentials by their name. */
const SECRET_PARAMETER = /token|secret|password|passwd|auth|api[-_]?key|signature|jwt/i;

/** The URL as logged: tokens in the path or in credential-named query parameters masked. */
export function loggableUrl(url: string): string {
  const masked = url.replace(JWT, REDACTED);
  const start = masked.indexOf('?');
  if (start < 0) return masked;
  const query = masked
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      if (equals < 0) return pair;
      let name = pair.slice(0, equals);
      try {
        name = decodeURIComponent(name);
      } catch {
        // A malformed name is matched as sent.
      }
      return SECRET_PARAMETER.test(name) ? `${pair.slice(0, equals)}=${REDACTED}` : pair;
    })
    .join('&');
  return `${masked.slice(0, start)}?${query}`;
}

/** Fastify's request fields, with the URL masked; headers are deliberately left out. */
function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: loggableUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

type LoggerOptions = Exclude<FastifyServerOptions['logger'], boolean | undefined>;

/** eipd's logger options; `stream` lets a test capture the lines. */
export function loggerOptions(
  level: LogLevel,
  stream?: { write(line: string): void },
): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: REDACTED },
    serializers: { req: serializeRequest },
    ...(stream === undefined ? {} : { stream }),
  };
}

/**
 * The one `request completed` line (see http/request-log.ts) for an answer given outside any
 * route (the router's refusals), where Fastify's log controller is not told of the completion.
 */
export function logCompletionOutsideRoutes(reply: FastifyReply): void {
  const startedAt = performance.now();
  reply.raw.once('finish', () =>
    reply.log.info(
      { req: reply.request, res: reply, responseTime: performance.now() - startedAt },
      'request completed',
    ),
  );
}
