/**
 * `token`: mints a bearer token with the configured HS256 secret (EIPD_JWT_SECRET, or the data
 * directory's generated demo secret). Shared by `eipd token` and `eipctl token`.
 *
 * It never creates the demo secret: only eipd does, when it starts on a data directory. A secret
 * made up here would sign tokens that the running eipd (which has its own, elsewhere) refuses.
 */

import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { NoDemoSecretError, type ResolvedAuth, resolveAuth } from '../auth/settings.js';
import { hmacAlgorithmFor, MAX_SUBJECT_LENGTH, mintToken, subjectProblem } from '../auth/tokens.js';
import { loadConfig } from '../config.js';
import { isUuid } from '../uuid.js';
import { attachNegativeValues } from './negative-values.js';

/** Longer-lived tokens are a standing risk; a year is already generous for a script. */
const MAX_TTL_SECONDS = 366 * 24 * 3600;

export const tokenUsage = (
  prog: string,
): string => `usage: ${prog} token --org <uuid> [--sub <name>] [--ttl <seconds>] [--admin]

Mints a bearer token signed with EIPD_JWT_SECRET (or, without it and without DATABASE_URL, the
secret that the demo eipd generated in its data directory: EIPD_DATA_DIR, default .eipd-data in
the current directory; run it where eipd runs, or point EIPD_DATA_DIR there). It never creates a
secret: without one it exits 2. --admin adds the operator scope (EIPD_ADMIN_SCOPE); --org may
then be omitted. --sub (recorded as the actor of every change) is at most ${MAX_SUBJECT_LENGTH}
characters, without control, line-separator or bidirectional-formatting characters; --ttl is at
most ${MAX_TTL_SECONDS} (366 days).
`;

/** Where the command prints and which environment configures it (the process's by default). */
export interface TokenIo {
  out: Writable;
  err: Writable;
  env: NodeJS.ProcessEnv;
}

const PROCESS_IO: TokenIo = { out: process.stdout, err: process.stderr, env: process.env };

/** Runs the command; resolves with the exit code (2: bad usage or no secret). */
export async function runTokenCommand(
  args: string[],
  prog = 'eipd',
  io: TokenIo = PROCESS_IO,
): Promise<number> {
  let parsed: ReturnType<typeof parseTokenArgs>;
  try {
    parsed = parseTokenArgs(args);
  } catch (error) {
    io.err.write(
      `${prog} token: ${error instanceof Error ? error.message : String(error)}\n${tokenUsage(prog)}`,
    );
    return 2;
  }
  return mint(parsed.values, prog, io);
}

const TOKEN_OPTIONS = {
  org: { type: 'string' },
  sub: { type: 'string' },
  ttl: { type: 'string', default: '3600' },
  admin: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

function parseTokenArgs(args: string[]) {
  return parseArgs({
    args: attachNegativeValues(args, TOKEN_OPTIONS),
    options: TOKEN_OPTIONS,
    strict: true,
  });
}

/**
 * Refuses, with exit 2, whatever eipd's verifier would refuse: a token eipd answers with 401
 * "Invalid access token." is worse than no token, since that says nothing about why.
 */
async function mint(
  values: ReturnType<typeof parseTokenArgs>['values'],
  prog: string,
  io: TokenIo,
): Promise<number> {
  if (values.help) {
    io.out.write(tokenUsage(prog));
    return 0;
  }
  if (values.org === undefined && !values.admin) {
    io.err.write(`${prog} token: --org is required\n${tokenUsage(prog)}`);
    return 2;
  }
  if (values.org !== undefined && !isUuid(values.org)) {
    io.err.write(`${prog} token: --org must be an organization uuid\n`);
    return 2;
  }
  if (!/^\d+$/.test(values.ttl) || Number(values.ttl) < 1 || Number(values.ttl) > MAX_TTL_SECONDS) {
    io.err.write(
      `${prog} token: --ttl must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}\n`,
    );
    return 2;
  }
  const badSubject = values.sub === undefined ? undefined : subjectProblem(values.sub);
  if (badSubject !== undefined) {
    io.err.write(`${prog} token: --sub ${badSubject}; eipd refuses tokens with such a subject\n`);
    return 2;
  }
  const config = loadConfig(io.env);
  let auth: ResolvedAuth;
  try {
    auth = await resolveAuth(config, { createSecret: false });
  } catch (error) {
    if (!(error instanceof NoDemoSecretError)) throw error;
    const where = error.dataDirExists
      ? `the data directory ${dirname(error.file)} holds no jwt-secret`
      : `there is no data directory at ${dirname(error.file)}`;
    io.err.write(
      `${prog} token: EIPD_JWT_SECRET is not set and ${where} (looked for ${error.file}).\n` +
        'Set EIPD_JWT_SECRET to the secret eipd runs with, or EIPD_DATA_DIR to the data directory of the\n' +
        'demo eipd (it generates its secret there when it starts; default .eipd-data in the directory\n' +
        'it was started from). This command never creates a secret.\n',
    );
    return 2;
  }
  if (auth.signingSecret === undefined) {
    io.err.write(
      `${prog} token: no HS256 secret is configured (EIPD_JWT_SECRET); tokens for public-key setups come from your identity provider\n`,
    );
    return 2;
  }
  const algorithm = hmacAlgorithmFor(auth.settings.algorithms);
  if (algorithm === undefined) {
    io.err.write(
      `${prog} token: EIPD_JWT_ALGORITHMS (${auth.settings.algorithms.join(', ')}) lists no HS256, HS384 or HS512, so eipd refuses every token signed with EIPD_JWT_SECRET\n`,
    );
    return 2;
  }
  let jwt: string;
  try {
    jwt = await mintToken({
      secret: auth.signingSecret,
      algorithm,
      ttlSeconds: Number(values.ttl),
      orgClaim: config.auth.orgClaim,
      ...(values.org === undefined ? {} : { orgId: values.org }),
      ...(values.sub === undefined ? {} : { subject: values.sub }),
      ...(values.admin ? { scope: config.auth.adminScope } : {}),
      ...(config.auth.issuer === undefined ? {} : { issuer: config.auth.issuer }),
      ...(config.auth.audience === undefined ? {} : { audience: config.auth.audience }),
    });
  } catch (error) {
    // mintToken refuses (RangeError) what the verifier would refuse; the checks above catch the
    // flags first, so what is left here comes from the configuration (say, a huge issuer).
    if (!(error instanceof RangeError)) throw error;
    io.err.write(`${prog} token: ${error.message}\n`);
    return 2;
  }
  io.out.write(`${jwt}\n`);
  return 0;
}
