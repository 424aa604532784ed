/**
 * eipd's operator command line. `token` mints a bearer token for an organization with the
 * configured HS256 secret (EIPD_JWT_SECRET, or the data directory's generated demo secret).
 *
 *   npm run eipd -- token --org <uuid> [--sub <name>] [--ttl <seconds>] [--admin]
 */
import { parseArgs } from 'node:util';
import { resolveAuth } from '../auth/settings.js';
import { mintToken } from '../auth/tokens.js';
import { ConfigError, loadConfig } from '../config.js';
import { isUuid } from '../uuid.js';

const USAGE = `usage: eipd token --org <uuid> [--sub <name>] [--ttl <seconds>] [--admin]

Mints a bearer token signed with EIPD_JWT_SECRET (or, without it and without DATABASE_URL, the
secret generated in EIPD_DATA_DIR). --admin adds the operator scope (EIPD_ADMIN_SCOPE); --org may
then be omitted.
`;

/** Longer-lived tokens are a standing risk; a year is already generous for a script. */
const MAX_TTL_SECONDS = 366 * 24 * 3600;

async function token(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseTokenArgs>;
  try {
    parsed = parseTokenArgs(args);
  } catch (error) {
    process.stderr.write(
      `eipd token: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`,
    );
    return 2;
  }
  return mint(parsed.values);
}

function parseTokenArgs(args: string[]) {
  return parseArgs({
    args,
    options: {
      org: { type: 'string' },
      sub: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      admin: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
}

async function mint(values: ReturnType<typeof parseTokenArgs>['values']): Promise<number> {
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.org === undefined && !values.admin) {
    process.stderr.write(`eipd token: --org is required\n${USAGE}`);
    return 2;
  }
  if (values.org !== undefined && !isUuid(values.org)) {
    process.stderr.write('eipd token: --org must be an organization uuid\n');
    return 2;
  }
  if (!/^\d+$/.test(values.ttl) || Number(values.ttl) < 1 || Number(values.ttl) > MAX_TTL_SECONDS) {
    process.stderr.write(
      `eipd token: --ttl must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}\n`,
    );
    return 2;
  }
  const config = loadConfig(process.env);
  const auth = await resolveAuth(config);
  if (auth.signingSecret === undefined) {
    process.stderr.write(
      'eipd token: no HS256 secret is configured (EIPD_JWT_SECRET); tokens for public-key setups come from your identity provider\n',
    );
    return 2;
  }
  const jwt = await mintToken({
    secret: auth.signingSecret,
    ttlSeconds: Number(values.ttl),
    orgClaim: config.auth.orgClaim,
    ...(values.org === undefined ? {} : { orgId: values.org }),
    ...(values.sub === undefined ? {} : { subject: values.sub }),
    ...(values.admin ? { scope: config.auth.adminScope } : {}),
    ...(config.auth.issuer === undefined ? {} : { issuer: config.auth.issuer }),
    ...(config.auth.audience === undefined ? {} : { audience: config.auth.audience }),
  });
  process.stdout.write(`${jwt}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'token':
      return token(rest);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`eipd: unknown command ${command}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message =
      error instanceof ConfigError || error instanceof RangeError || error instanceof TypeError
        ? error.message
        : String(error);
    process.stderr.write(`eipd: ${message}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);
