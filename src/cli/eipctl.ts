#!/usr/bin/env node
/**
 * eipctl: eipd from the command line, for people (tables) and scripts (--output json, exit
 * codes). A thin shell over eipd/sdk; `apply` and `token` work locally like `eipd` does.
 *
 *   npm run -s eipctl -- elastic-ips list
 */
import { eipctl } from './eipctl/main.js';

function untilStopped(): AbortSignal {
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => controller.abort(new Error(`stopped by ${signal}`)));
  }
  return controller.signal;
}

eipctl(process.argv.slice(2), {
  out: process.stdout,
  err: process.stderr,
  env: process.env,
  untilStopped,
}).then(
  // Exit at once: idle keep-alive sockets must not hold the command open. Writes to pipes and
  // files are synchronous on Linux and macOS, so nothing printed is lost.
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`eipctl: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
