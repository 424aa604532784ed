/**
 * eipctl's usage errors, in process: what a mistyped command line gets is exit 2 at once, with a
 * message that says what is allowed, before any request is sent.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/cli/eipctl/exit-codes.js';
import { eipctl } from '../../src/cli/eipctl/main.js';
import { attachNegativeValues } from '../../src/cli/negative-values.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/open.js';
import { captureIo } from '../support/cli-io.js';

const SECRET = 'eipctl-usage-test-secret-0123456789abcdef';
const ORG = '3f2b8c1e-5d4a-4b6f-9e7d-1a2b3c4d5e6f';

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const io = captureIo(env);
  const code = await eipctl(argv, io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

describe('numeric options', () => {
  test('a negative number gets the option’s range, not "argument is ambiguous"', async () => {
    const allocate = ['elastic-ips', 'allocate', '--idc', 'i', '--product', 'p', '--name', 'n'];
    const cases: [string[], string][] = [
      [[...allocate, '--count', '-3'], '--count must be a whole number from 1 to 1000000'],
      [[...allocate, '--batch-size', '-1'], '--batch-size must be a whole number from 1 to 10000'],
      [['elastic-ips', 'list', '--limit', '-2'], '--limit must be a whole number from 1 to'],
      [['events', '--limit', '-2'], '--limit must be a whole number from 1 to'],
      [['events', '--interval', '-1'], '--interval must be a whole number from 1 to 3600'],
      [['products', '--timeout', '-1'], '--timeout must be a number of seconds from 0.001 to 3600'],
      [['--timeout', '-.5', 'pools'], '--timeout must be a number of seconds from 0.001 to 3600'],
      [['token', '--org', ORG, '--ttl', '-5'], '--ttl must be a whole number of seconds from 1 to'],
    ];
    for (const [argv, message] of cases) {
      const result = await run(argv, { EIPD_JWT_SECRET: SECRET });
      assert.equal(result.code, EXIT.usage, argv.join(' '));
      assert.ok(result.stderr.includes(message), `${argv.join(' ')}: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, /ambiguous/);
      assert.equal(result.stdout, '');
    }
  });

  test('--timeout: the message states the range that is accepted', async () => {
    for (const timeout of ['0', '0.0004', '3600.5', 'soon']) {
      const result = await run(['products', '--timeout', timeout]);
      assert.equal(result.code, EXIT.usage, timeout);
      assert.match(result.stderr, /--timeout must be a number of seconds from 0\.001 to 3600\n/);
    }
    // The ends of the range pass the check (and the command stops later, for want of a token).
    for (const timeout of ['0.001', '3600']) {
      const result = await run(['products', '--timeout', timeout]);
      assert.equal(result.code, EXIT.usage, timeout);
      assert.match(result.stderr, /^eipctl: no token/, timeout);
    }
  });
});

describe('the eipd URL', () => {
  const NOT_HTTP: [url: string, message: RegExp][] = [
    ['ftp://x', /must start with http:\/\/ or https:\/\/, not ftp:/],
    ['localhost:8080', /must start with http:\/\/ or https:\/\/, not localhost:/],
    ['file:///etc/passwd', /must start with http:\/\/ or https:\/\/, not file:/],
    ['127.0.0.1:8080', /is not a URL/],
  ];

  /** Exit 2 at once, naming the URL and where it came from; no request, so no retry note. */
  async function refused(env: NodeJS.ProcessEnv, argv: string[], url: string, source: string) {
    const result = await run([...argv, 'products', '--token', 'x'], env);
    assert.equal(result.code, EXIT.usage, `${url} from ${source}: ${result.stderr}`);
    assert.ok(result.stderr.includes(`"${url}" (${source})`), result.stderr);
    assert.doesNotMatch(result.stderr, /retrying|cannot reach/);
    return result.stderr;
  }

  test('one that is not http(s), or not a URL, is a usage error: from --url', async () => {
    for (const [url, message] of NOT_HTTP) {
      assert.match(await refused({}, ['--url', url], url, '--url'), message);
    }
  });

  test('... from EIPCTL_URL', async () => {
    for (const [url, message] of NOT_HTTP) {
      assert.match(await refused({ EIPCTL_URL: url }, [], url, 'EIPCTL_URL'), message);
    }
  });

  test('... from the profile file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipctl-usage-'));
    try {
      const profiles = join(dir, 'profiles.json');
      await writeFile(profiles, JSON.stringify({ ops: { url: 'ftp://x' } }));
      const stderr = await refused(
        { EIPCTL_PROFILES: profiles, EIPCTL_PROFILE: 'ops' },
        [],
        'ftp://x',
        `profile "ops" in ${profiles}`,
      );
      assert.match(stderr, /not ftp:/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a base URL with credentials, a query string or a fragment', () => {
  const PASSWORD = 'hunter2-do-not-print';
  const NOT_A_BASE: [url: string, shown: string, message: RegExp][] = [
    [
      `http://user:${PASSWORD}@127.0.0.1:8080`,
      'http://***@127.0.0.1:8080',
      /must not contain a user name or password/,
    ],
    [`https://${PASSWORD}@eipd.internal`, 'https://***@eipd.internal', /user name or password/],
    ['http://127.0.0.1:8080/?org=x', 'http://127.0.0.1:8080/?org=x', /must not have a query/],
    ['http://127.0.0.1:8080?', 'http://127.0.0.1:8080?', /must not have a query/],
    ['http://127.0.0.1:8080/#top', 'http://127.0.0.1:8080/#top', /or fragment/],
    // Not http(s), or not a URL at all: refused as before, but without the password.
    [`ftp://u:${PASSWORD}@x`, 'ftp://***@x', /not ftp:/],
    [`u:${PASSWORD}@127.0.0.1:8080`, '***@127.0.0.1:8080', /not u:/],
    [`http://u:${PASSWORD}/x@127.0.0.1`, 'http://***@127.0.0.1', /is not a URL/],
  ];

  /** Exit 2 at once (no request, so no retry note), and the password is nowhere in the output. */
  async function refusedEach(
    setUp: (url: string) => Promise<{ env: NodeJS.ProcessEnv; argv: string[]; source: string }>,
    cases = NOT_A_BASE,
  ) {
    for (const [url, shown, message] of cases) {
      const { env, argv, source } = await setUp(url);
      const result = await run([...argv, 'products', '--token', 'x'], env);
      assert.equal(result.code, EXIT.usage, `${url} from ${source}: ${result.stderr}`);
      assert.ok(result.stderr.includes(`"${shown}" (${source})`), result.stderr);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /retrying|cannot reach/);
      assert.ok(!result.stderr.includes(PASSWORD), result.stderr);
      assert.equal(result.stdout, '');
    }
  }

  test('is a usage error that does not print the password: from --url', async () => {
    await refusedEach(async (url) => ({ env: {}, argv: ['--url', url], source: '--url' }));
  });

  test('... from EIPCTL_URL', async () => {
    await refusedEach(async (url) => ({
      env: { EIPCTL_URL: url },
      argv: [],
      source: 'EIPCTL_URL',
    }));
  });

  test('... from the profile file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipctl-usage-'));
    try {
      const profiles = join(dir, 'profiles.json');
      const inProfile = async (url: string) => {
        await writeFile(profiles, JSON.stringify({ default: { url } }));
        return {
          env: { EIPCTL_PROFILES: profiles },
          argv: [],
          source: `profile "default" in ${profiles}`,
        };
      };
      // What is not a URL at all, the profile file's own check refuses first ("Invalid URL").
      const parsable = NOT_A_BASE.filter(([, , message]) => !message.test('is not a URL'));
      await refusedEach(inProfile, parsable);
      const unparsable = NOT_A_BASE.find(([, , message]) => message.test('is not a URL'));
      const { env } = await inProfile(unparsable?.[0] ?? '');
      const result = await run(['products', '--token', 'x'], env);
      assert.equal(result.code, EXIT.usage);
      assert.match(result.stderr, /default\.url: Invalid URL/);
      assert.ok(!result.stderr.includes(PASSWORD), result.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a path prefix is still a base URL', async () => {
    // Refused later, for want of a token: the URL itself passed.
    const result = await run(['products', '--url', 'https://gw.internal/eipd/']);
    assert.equal(result.code, EXIT.usage);
    assert.match(result.stderr, /^eipctl: no token/);
  });
});

describe('events', () => {
  test('--cursor and --from-now together are a usage error, before any request', async () => {
    // A token and a URL where nothing listens: were a request sent, this would retry, then exit 6.
    const connection = ['--token', 'x', '--url', 'http://127.0.0.1:9'];
    for (const argv of [
      ['events', '--cursor', 'abc', '--from-now'],
      ['events', '--from-now', '--follow', '--cursor=abc'],
    ]) {
      const result = await run([...argv, ...connection]);
      assert.equal(result.code, EXIT.usage, `${argv.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^eipctl: --cursor and --from-now are alternatives: give one\n/);
      assert.match(result.stderr, /\[--cursor <cursor> \| --from-now\]/);
      assert.equal(result.stdout, '');
    }
  });
});

describe('apply on the embedded database', () => {
  const CATALOG = fileURLToPath(new URL('../../config/demo-catalog.yaml', import.meta.url));

  test('a data directory without a database is refused, and none is created there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipctl-apply-'));
    try {
      // Missing, empty, and holding only what is not a database (the demo secret, say).
      await mkdir(join(dir, 'empty'));
      await mkdir(join(dir, 'secret-only', 'pgdata'), { recursive: true });
      await writeFile(join(dir, 'secret-only', 'jwt-secret'), 'x');
      for (const name of ['missing', 'empty', 'secret-only']) {
        const dataDir = join(dir, name);
        const result = await run(['apply', CATALOG], { EIPD_DATA_DIR: dataDir });
        assert.equal(result.code, EXIT.usage, `${name}: ${result.stderr}`);
        assert.equal(
          result.stderr,
          `eipctl: no embedded database in ${dataDir} (EIPD_DATA_DIR): apply does not create one. ` +
            `Start eipd once with EIPD_DATA_DIR=${dataDir} to create it, or set DATABASE_URL\n`,
        );
        assert.equal(result.stdout, '');
      }
      assert.deepEqual((await readdir(dir)).sort(), ['empty', 'secret-only']);
      assert.deepEqual(await readdir(join(dir, 'empty')), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('one that eipd created is applied to', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipctl-apply-'));
    try {
      const env = { EIPD_DATA_DIR: dir };
      await (await openDatabase(loadConfig(env))).close();
      const result = await run(['apply', CATALOG, '-o', 'json'], env);
      assert.equal(result.code, EXIT.ok, result.stderr);
      assert.ok((JSON.parse(result.stdout) as { poolsAdded: string[] }).poolsAdded.length > 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('attachNegativeValues', () => {
  const options = {
    count: { type: 'string' },
    output: { type: 'string', short: 'o' },
    quiet: { type: 'boolean', short: 'q' },
  } as const;

  test('attaches a negative number to the option before it, and nothing else', () => {
    assert.deepEqual(attachNegativeValues(['--count', '-3', '-o', '-1'], options), [
      '--count=-3',
      '-o-1',
    ]);
    // Not a value-taking option, not a number, or after `--`: left for parseArgs to judge.
    for (const args of [
      ['--quiet', '-3'],
      ['--count', '-q'],
      ['--count', '--', '-3'],
      ['--', '--count', '-3'],
      ['--count', '3'],
    ]) {
      assert.deepEqual(attachNegativeValues(args, options), args);
    }
  });
});
