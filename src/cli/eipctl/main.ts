/**
 * eipctl's command dispatch and the one place where failures become messages and exit codes
 * (exit-codes.ts).
 */
import { CatalogError } from '../../catalog/catalog-file.js';
import { ConfigError } from '../../config.js';
import { DataDirInUseError } from '../../db/data-dir-lock.js';
import { DatabaseUnavailableError } from '../../db/errors.js';
import { EipdApiError, EipdNetworkError } from '../../sdk/index.js';
import { valueFlags } from '../negative-values.js';
import { runTokenCommand } from '../token-command.js';
import { runApply } from './apply.js';
import { GLOBAL_OPTIONS, GLOBAL_USAGE, type Io } from './context.js';
import { ELASTIC_IPS_USAGE, runElasticIps } from './elastic-ips.js';
import { EXIT, exitCodeOf, UsageError } from './exit-codes.js';
import { runEvents, runHistory, runPools, runProducts } from './operators.js';

export const USAGE = `usage: eipctl <command> [options]

commands:
  elastic-ips allocate|get|list|rename|associate|disassociate|release
                       the organization's elastic IPs (eipctl elastic-ips help)
  products             products that can be allocated, per IDC
  pools                pool utilization (operator)
  history <address>    who held an address (operator)
  events [--follow]    the event stream (operator)
  token                mint a token with the configured HS256 secret (as eipd token)
  apply <catalog.yaml> apply a catalog file to the database (as eipd does at start)

${GLOBAL_USAGE}
exit codes: 0 ok, 1 failure, 2 usage, 3 refused (4xx), 4 not found, 5 unauthorized,
            6 unavailable (network, 503), 7 no free address
`;

/** Global flags that take a value, so that `--url X elastic-ips list` finds the command. */
const VALUE_FLAGS = valueFlags(GLOBAL_OPTIONS);

/** Splits `argv` into the command word and everything else, global flags kept in place. */
function splitCommand(argv: string[]): { command: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (VALUE_FLAGS.has(arg)) i++;
      continue;
    }
    return { command: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { command: undefined, rest: argv };
}

export async function eipctl(argv: string[], io: Io): Promise<number> {
  const { command, rest } = splitCommand(argv);
  const json = jsonRequested(argv);
  try {
    return await dispatch(command, rest, io);
  } catch (error) {
    return report(error, io, json);
  }
}

async function dispatch(command: string | undefined, rest: string[], io: Io): Promise<number> {
  switch (command) {
    case 'elastic-ips':
    case 'eips':
      return runElasticIps(io, moveSubcommandFirst(rest));
    case 'products':
      return runProducts(io, rest);
    case 'pools':
      return runPools(io, rest);
    case 'history':
      return runHistory(io, rest);
    case 'events':
      return runEvents(io, rest);
    case 'token':
      return runTokenCommand(rest, 'eipctl', io);
    case 'apply':
      return runApply(io, rest);
    case 'help':
      io.out.write(rest[0] === 'elastic-ips' ? ELASTIC_IPS_USAGE : USAGE);
      return EXIT.ok;
    case undefined:
      if (rest.includes('--help') || rest.includes('-h')) {
        io.out.write(USAGE);
        return EXIT.ok;
      }
      io.err.write(USAGE);
      return EXIT.usage;
    default:
      throw new UsageError(`unknown command ${command}`, USAGE);
  }
}

/** `elastic-ips -o json list`: the subcommand is the first word after the global flags. */
function moveSubcommandFirst(rest: string[]): string[] {
  const { command, rest: others } = splitCommand(rest);
  return command === undefined ? others : [command, ...others];
}

function jsonRequested(argv: string[]): boolean {
  return argv.some(
    (arg, i) =>
      arg === '--output=json' ||
      arg === '-ojson' ||
      ((arg === '--output' || arg === '-o') && argv[i + 1] === 'json'),
  );
}

function report(error: unknown, io: Io, json: boolean): number {
  const code = exitCodeFor(error);
  if (error instanceof EipdApiError) {
    if (json) {
      io.err.write(
        `${JSON.stringify({
          status: error.status,
          code: error.code,
          reason: error.reason,
          ...(error.group === undefined ? {} : { group: error.group }),
          ...(error.validationDetail.length === 0
            ? {}
            : { validationDetail: error.validationDetail }),
          requestId: error.requestId,
        })}\n`,
      );
      return code;
    }
    const lines = [`eipctl: ${error.message}`];
    for (const d of error.validationDetail) {
      lines.push(
        `  ${d.field ?? '?'}: ${d.reason ?? d.expression ?? ''} (got ${d.originalValue || 'nothing'})`,
      );
    }
    if (error.status === 401) lines.push('  (check --token, EIPCTL_TOKEN or the profile)');
    if (error.retryAfterSeconds !== undefined) {
      lines.push(`  (retry after ${error.retryAfterSeconds} s)`);
    }
    if (error.requestId !== undefined) lines.push(`  request id: ${error.requestId}`);
    io.err.write(`${lines.join('\n')}\n`);
    return code;
  }
  let message: string;
  if (error instanceof UsageError) {
    message = error.usage === undefined ? error.message : `${error.message}\n\n${error.usage}`;
  } else if (error instanceof DatabaseUnavailableError) {
    const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
    message = `cannot reach the database: ${cause}`;
  } else if (
    error instanceof EipdNetworkError ||
    error instanceof ConfigError ||
    error instanceof CatalogError ||
    error instanceof DataDirInUseError
  ) {
    message = error.message;
  } else {
    message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  if (json) io.err.write(`${JSON.stringify({ error: message })}\n`);
  else io.err.write(`eipctl: ${message}\n`);
  return code;
}

function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError || error instanceof ConfigError) return EXIT.usage;
  if (error instanceof CatalogError) return EXIT.refused;
  if (error instanceof DatabaseUnavailableError || error instanceof DataDirInUseError) {
    return EXIT.unavailable;
  }
  return exitCodeOf(error);
}
