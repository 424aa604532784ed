/**
 * Where eipctl sends requests and with which token. Each setting comes from the first of: a flag
 * (--url, --token), the environment (EIPCTL_URL, EIPCTL_TOKEN), the profile file, then the
 * default (http://127.0.0.1:8080, the demo's address; no token).
 *
 * The profile file is JSON, by default $XDG_CONFIG_HOME/eipd/profiles.json (~/.config/eipd/...),
 * or the file EIPCTL_PROFILES names; the profile is --profile, else EIPCTL_PROFILE, else "default":
 *
 *   { "default": { "url": "http://127.0.0.1:8080", "token": "eyJ..." },
 *     "prod-ops": { "url": "https://eipd.internal", "tokenFile": "/etc/eipd/ops.jwt" } }
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from './exit-codes.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

const profileSchema = z
  .object({
    url: z.string().url().optional(),
    token: z.string().min(1).optional(),
    /** A file holding the token, so that the profile file itself holds no secret. */
    tokenFile: z.string().min(1).optional(),
  })
  .strict()
  .refine((p) => p.token === undefined || p.tokenFile === undefined, {
    message: 'set token or tokenFile, not both',
  });
const profilesSchema = z.record(z.string(), profileSchema);

export interface ConnectionFlags {
  url?: string | undefined;
  token?: string | undefined;
  profile?: string | undefined;
}

export interface Connection {
  url: string;
  token: string | undefined;
  /** Where the token came from, for the message when it is missing or refused. */
  tokenSource: string | undefined;
}

export function profilesPath(env: NodeJS.ProcessEnv): string {
  if (env.EIPCTL_PROFILES !== undefined && env.EIPCTL_PROFILES !== '') return env.EIPCTL_PROFILES;
  const config =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ''
      ? env.XDG_CONFIG_HOME
      : join(env.HOME ?? homedir(), '.config');
  return join(config, 'eipd', 'profiles.json');
}

export async function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
): Promise<Connection> {
  const named = flags.profile ?? nonEmpty(env.EIPCTL_PROFILE);
  const path = profilesPath(env);
  const profiles = await readProfiles(path, named !== undefined);
  const name = named ?? 'default';
  const profile = profiles?.[name];
  if (named !== undefined && profile === undefined) {
    throw new UsageError(`profile "${name}" is not in ${path}`);
  }

  const url = flags.url ?? nonEmpty(env.EIPCTL_URL) ?? profile?.url ?? DEFAULT_URL;
  const urlSource =
    flags.url !== undefined
      ? '--url'
      : nonEmpty(env.EIPCTL_URL) !== undefined
        ? 'EIPCTL_URL'
        : `profile "${name}" in ${path}`;
  checkUrl(url, urlSource);
  if (flags.token !== undefined) return { url, token: flags.token, tokenSource: '--token' };
  const envToken = nonEmpty(env.EIPCTL_TOKEN);
  if (envToken !== undefined) return { url, token: envToken, tokenSource: 'EIPCTL_TOKEN' };
  if (profile?.token !== undefined) {
    return { url, token: profile.token, tokenSource: `profile "${name}"` };
  }
  if (profile?.tokenFile !== undefined) {
    let text: string;
    try {
      text = await readFile(profile.tokenFile, 'utf8');
    } catch (error) {
      throw new UsageError(
        `profile "${name}": cannot read tokenFile ${profile.tokenFile}: ${(error as Error).message}`,
      );
    }
    return { url, token: text.trim(), tokenSource: `${profile.tokenFile} (profile "${name}")` };
  }
  return { url, token: undefined, tokenSource: undefined };
}

/**
 * Refuses a URL that fetch cannot send to. Without this, `--url ftp://x` (or `localhost:8080`,
 * which parses as the scheme "localhost:") failed like an unreachable server: five tries with
 * backoff, then exit 6, "try again later", for what is a mistyped command.
 *
 * A base URL is only a scheme, host, port and path prefix: the client appends /v1/... to it, so a
 * query string or fragment would swallow every request's path, and fetch refuses credentials in a
 * URL outright (a TypeError that, retried as a network failure, ended in exit 6 and quoted the
 * password). The token is the credential; eipd reads no other.
 */
function checkUrl(url: string, source: string): void {
  const shown = withoutUserInfo(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`the eipd URL "${shown}" (${source}) is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(
      `the eipd URL "${shown}" (${source}) must start with http:// or https://, not ${parsed.protocol}`,
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new UsageError(
      `the eipd URL "${shown}" (${source}) must not contain a user name or password: give the token with --token, EIPCTL_TOKEN or the profile`,
    );
  }
  // href keeps a "?" or "#" even when what follows is empty; both would still swallow the path.
  const [beforeFragment = '', ...fragment] = parsed.href.split('#');
  if (beforeFragment.includes('?') || fragment.length > 0) {
    throw new UsageError(
      `the eipd URL "${shown}" (${source}) must not have a query string (?...) or fragment (#...): only scheme, host, port and path`,
    );
  }
}

/**
 * The URL as typed, with everything up to its last "@" after the scheme hidden: whatever a URL
 * holds before an "@" may be a password, even in one that does not parse (such as
 * `user:pass@host:8080`, which parses as the scheme "user:").
 */
function withoutUserInfo(url: string): string {
  const at = url.lastIndexOf('@');
  if (at === -1) return url;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? '';
  return `${scheme}***${url.slice(at)}`;
}

async function readProfiles(
  path: string,
  required: boolean,
): Promise<z.infer<typeof profilesSchema> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read the profile file ${path}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`the profile file ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = profilesSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new UsageError(`the profile file ${path} is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return parsed.data;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
