/**
 * Turns configuration into verifier settings. With no key configured and the embedded database,
 * eipd is in demo mode: it signs and verifies with a secret generated once per data directory, so
 * a demo is one command and its tokens survive restarts of the same data directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Config, ConfigError } from '../config.js';
import { type AuthSettings, validateAuthSettings } from './tokens.js';

export interface ResolvedAuth {
  settings: AuthSettings;
  /** The secret tokens can be minted with locally, when eipd knows one. */
  signingSecret: string | undefined;
  /** True when the secret was generated for this data directory (demo mode). */
  generated: boolean;
}

export interface ResolveAuthOptions {
  /**
   * Demo mode only: create the data directory's secret when it has none (default; what eipd does
   * at start). False (the token command): throw NoDemoSecretError instead, because a token signed
   * with a secret that no running eipd knows is useless.
   */
  createSecret?: boolean;
}

/** Demo mode without a secret in the data directory, when asked not to create one. */
export class NoDemoSecretError extends Error {
  override name = 'NoDemoSecretError';
  constructor(
    /** The absolute path of the secret file that was looked for. */
    readonly file: string,
    /** False: the data directory itself does not exist. */
    readonly dataDirExists: boolean,
  ) {
    super(`no generated secret at ${file}`);
  }
}

export async function resolveAuth(
  config: Config,
  options: ResolveAuthOptions = {},
): Promise<ResolvedAuth> {
  const a = config.auth;
  const keyed =
    a.secret !== undefined ||
    a.publicKeyFiles.length > 0 ||
    a.jwksUrl !== undefined ||
    a.jwksFile !== undefined;
  let secret = a.secret;
  let generated = false;
  if (!keyed) {
    if (config.database.kind !== 'pglite') {
      throw new ConfigError([
        'EIPD_JWT_SECRET, EIPD_JWT_PUBLIC_KEYS, EIPD_JWKS_URL or EIPD_JWKS_FILE: one is required with DATABASE_URL',
      ]);
    }
    secret =
      options.createSecret === false
        ? await existingDataDirSecret(config.dataDir)
        : await dataDirSecret(config.dataDir);
    generated = true;
  }
  let algorithms = a.algorithms;
  if (algorithms === undefined) {
    if (a.publicKeyFiles.length > 0 || a.jwksUrl !== undefined || a.jwksFile !== undefined) {
      throw new ConfigError([
        'EIPD_JWT_ALGORITHMS: list the accepted algorithms when public keys are configured',
      ]);
    }
    algorithms = ['HS256'];
  }
  const publicKeyPems = await Promise.all(
    a.publicKeyFiles.map(async (file) => {
      try {
        return await readFile(file, 'utf8');
      } catch {
        throw new ConfigError([`EIPD_JWT_PUBLIC_KEYS: cannot read ${file}`]);
      }
    }),
  );
  const settings: AuthSettings = {
    publicKeyPems,
    algorithms,
    orgClaim: a.orgClaim,
    adminScope: a.adminScope,
    clockToleranceSeconds: a.clockSkewSeconds,
    ...(secret === undefined ? {} : { hs256Secret: secret }),
    ...(a.jwksUrl !== undefined ? { jwks: { url: a.jwksUrl } } : {}),
    ...(a.jwksFile !== undefined ? { jwks: { file: a.jwksFile } } : {}),
    ...(a.issuer === undefined ? {} : { issuer: a.issuer }),
    ...(a.audience === undefined ? {} : { audience: a.audience }),
  };
  const problems = validateAuthSettings(settings);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `authentication: ${p}`));
  return { settings, signingSecret: secret, generated };
}

/** Reads the data directory's secret, creating it (owner-only) on first use. */
async function dataDirSecret(dataDir: string): Promise<string> {
  const file = join(dataDir, 'jwt-secret');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(dataDir, { recursive: true });
    const secret = randomBytes(32).toString('base64url');
    // 'wx' fails if another process created it meanwhile; then read theirs.
    try {
      await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
      return secret;
    } catch {
      return (await readFile(file, 'utf8')).trim();
    }
  }
}

/** Reads the data directory's secret; NoDemoSecretError when there is none. */
async function existingDataDirSecret(dataDir: string): Promise<string> {
  const file = resolve(dataDir, 'jwt-secret');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new NoDemoSecretError(file, await exists(resolve(dataDir)));
  }
  const secret = text.trim();
  if (secret === '') throw new NoDemoSecretError(file, true);
  return secret;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The demo organization of a data directory, created on first use like the secret. */
export async function demoOrgId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'demo-org-id');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(dataDir, { recursive: true });
    const id = crypto.randomUUID();
    await writeFile(file, `${id}\n`, { flag: 'w' });
    return id;
  }
}
