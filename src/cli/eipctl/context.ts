/**
 * What every eipctl command gets: its parsed flags, where to print, and the client, built from
 * the global flags (see settings.ts) only when the command talks to eipd.
 */
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createEipdClient, type EipdClient } from '../../sdk/index.js';
import { attachNegativeValues } from '../negative-values.js';
import { UsageError } from './exit-codes.js';
import type { OutputFormat } from './output.js';
import { Progress } from './progress.js';
import { RateLimitWaiter } from './rate-limit.js';
import { resolveConnection } from './settings.js';

/** Flags every command takes, before or after the command's name. */
export const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  profile: { type: 'string' },
  output: { type: 'string', short: 'o' },
  timeout: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  progress: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const GLOBAL_USAGE = `global options:
  --url <url>          eipd's base URL (EIPCTL_URL, profile "url"; default http://127.0.0.1:8080)
  --token <jwt>        bearer token (EIPCTL_TOKEN, profile "token" or "tokenFile")
  --profile <name>     profile in the profile file (EIPCTL_PROFILE; default "default")
  -o, --output <fmt>   table (default) or json
  --timeout <seconds>  time limit of each try of a request (default 30)
  -q, --quiet          no progress, retry or rate-limit notes on stderr
  --progress           show progress even when stderr is not a terminal
  -h, --help           this help
`;

export interface Io {
  out: Writable;
  err: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /**
   * For commands that run until stopped: a signal aborted on SIGINT/SIGTERM, which then no longer
   * end the process (other commands keep the default: the signal ends them at once).
   */
  untilStopped(): AbortSignal;
}

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };

export interface Context extends Io {
  format: OutputFormat;
  progress: Progress;
  quiet: boolean;
  /** Waits out 429s (Retry-After) for commands that send many requests (see rate-limit.ts). */
  rateLimits: RateLimitWaiter;
  /** The client for eipd; a usage error when no token is configured. */
  client(): Promise<EipdClient>;
}

/**
 * Parses a command's arguments with the global flags added, and builds its context. `positionals`
 * is [fewest, most] (most undefined: any number).
 */
export function parseCommand(
  io: Io,
  args: string[],
  options: Record<string, OptionSpec>,
  positionals: [number, number | undefined],
  usage: string,
) {
  let parsed: { values: Flags; positionals: string[] };
  const allOptions = { ...GLOBAL_OPTIONS, ...options };
  try {
    parsed = parseArgs({
      args: attachNegativeValues(args, allOptions),
      options: allOptions,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
  const flags = new FlagReader(parsed.values);
  const help = flags.boolean('help');
  const [fewest, most] = positionals;
  if (!help) {
    if (parsed.positionals.length < fewest) throw new UsageError('missing arguments', usage);
    if (most !== undefined && parsed.positionals.length > most) {
      throw new UsageError(`unexpected argument ${parsed.positionals[most]}`, usage);
    }
  }
  const values = {
    output: flags.string('output'),
    timeout: flags.string('timeout'),
    quiet: flags.boolean('quiet'),
    progress: flags.boolean('progress'),
    url: flags.string('url'),
    token: flags.string('token'),
    profile: flags.string('profile'),
  };
  const format = values.output ?? 'table';
  if (format !== 'table' && format !== 'json') {
    throw new UsageError(`--output must be table or json, not ${format}`, usage);
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    // From 1 ms: below it the limit would round to 0 ms, and every request would time out.
    if (!Number.isFinite(seconds) || seconds < 0.001 || seconds > 3600) {
      throw new UsageError('--timeout must be a number of seconds from 0.001 to 3600', usage);
    }
    timeoutMs = Math.round(seconds * 1000);
  }
  const quiet = values.quiet;
  const progress = new Progress(io.err, !quiet && (values.progress || io.err.isTTY === true));
  const context: Context = {
    ...io,
    format,
    quiet,
    progress,
    rateLimits: new RateLimitWaiter({ err: io.err, quiet, progress }),
    async client() {
      const connection = await resolveConnection(
        { url: values.url, token: values.token, profile: values.profile },
        io.env,
      );
      if (connection.token === undefined) {
        throw new UsageError(
          'no token: pass --token, set EIPCTL_TOKEN, or put one in a profile (see eipctl help)',
        );
      }
      return createEipdClient({
        baseUrl: connection.url,
        token: connection.token,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        onRetry: ({ operation, attempt, error, delayMs }) => {
          if (quiet) return;
          const what = error instanceof Error ? error.message : String(error);
          io.err.write(
            `${operation}: try ${attempt} failed (${what}); retrying in ${delayMs} ms\n`,
          );
        },
      });
    },
  };
  return { flags, positionals: parsed.positionals, context, help };
}

type Flags = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Typed reads of parsed flags (parseArgs already refused unknown ones and wrong kinds). */
export class FlagReader {
  constructor(private readonly values: Flags) {}

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === 'string' ? value : undefined;
  }

  boolean(name: string): boolean {
    return this.values[name] === true;
  }
}

export function required(flags: FlagReader, name: string, usage: string): string {
  const value = flags.string(name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`, usage);
  return value;
}

export function optionalCount(
  flags: FlagReader,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const text = flags.string(name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

export function helpText(io: Io, usage: string): number {
  io.out.write(usage);
  return 0;
}
