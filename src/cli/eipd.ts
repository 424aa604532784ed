/**
 * eipd's operator command line. `token` mints a bearer token for an organization with the
 * configured HS256 secret (EIPD_JWT_SECRET, or the data directory's generated demo secret).
 *
 *   npm run eipd -- token --org <uuid> [--sub <name>] [--ttl <seconds>] [--admin]
 */
import { ConfigError } from '../config.js';
import { runTokenCommand, tokenUsage } from './token-command.js';

const USAGE = tokenUsage('eipd');

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'token':
      return runTokenCommand(rest);
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
