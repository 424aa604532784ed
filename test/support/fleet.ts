/**
 * A fleet of real eipd server processes (`node dist/main.js`) on one database, for tests that need
 * what inject() cannot give: several replicas racing on migrations, the catalog and allocations,
 * and restarts. Every process listens on a port of its own choosing (EIPD_PORT=0) and is known by
 * the address it logs in its ready line, so `url` changes when a process is restarted.
 *
 * The processes of a fleet are spawned at the same moment on purpose: they race on migrations and
 * on applying the catalog, which eipd must survive. Everything a process writes to stdout and
 * stderr is kept and put into the error when it dies or does not become ready in time.
 *
 * A process can also be crashed (`kill()`: SIGKILL, no grace) and started again (`start()`), and
 * `exits()` tells how every run ended, so that a chaos test can tell the crashes it caused from
 * the ones it did not.
 *
 * Tests must call `stop()` in a finally block or an `after` hook. As a last resort, any process
 * still alive when the test process exits is killed with SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../../src/auth/tokens.js';
import { TEST_SECRET } from './app.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'dist', 'main.js');
const SRC = join(ROOT, 'src');

/** How long a process may take from spawn to its ready line. */
const READY_TIMEOUT_MS = 20_000;
/** How long a stopped process may take to drain and exit before it is killed. */
const STOP_GRACE_MS = 5_000;
/** Captured output beyond this is dropped from the front. */
const MAX_OUTPUT_CHARS = 1_000_000;
const READY_MESSAGE = 'eipd is ready';

export interface FleetProcess {
  /** The base URL from the current run's ready line; changes on restart. */
  readonly url: string;
  /** The current run's pid; changes on restart. */
  readonly pid: number;
  /**
   * True from the current run's ready line until it exits or the harness signals it (`stop`,
   * `kill`): while true, `url` answers (it may still refuse connections a moment later).
   */
  readonly ready: boolean;
  /**
   * Spawns the process again (same environment, a new port) after it exited, was stopped or was
   * killed, and resolves once it has logged its ready line. Rejects when it is already running,
   * or when the new run exits or does not become ready in time (it is then killed).
   */
  start(): Promise<void>;
  /** SIGKILL, no grace: a crash. Resolves once the process has exited. No-op when exited. */
  kill(): Promise<void>;
  /** Sends `signal` (SIGTERM by default), then SIGKILL after a grace period. No-op when exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the process (SIGTERM) and starts it again with the same environment. */
  restart(): Promise<void>;
  /** Everything the process wrote to stdout and stderr, across restarts, with harness markers. */
  output(): string;
  /** How each finished run ended, oldest first. */
  exits(): readonly FleetExit[];
}

export interface FleetExit {
  /** 1 for the first run, counting every start(). */
  run: number;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The run had logged its ready line. */
  wasReady: boolean;
  /** The harness had sent it a signal (stop, kill, restart, or a start() that timed out). */
  signalled: boolean;
}

export interface Fleet {
  processes: FleetProcess[];
  /** Stops every process (SIGTERM, then SIGKILL) and removes the temporary directory. */
  stop(): Promise<void>;
  /** A tenant token the fleet accepts, for `orgId` (a fresh organization when omitted). */
  token(orgId?: string): Promise<string>;
}

export interface FleetOptions {
  databaseUrl: string;
  /** The catalog YAML, written to a temporary file and passed as EIPD_CATALOG. */
  catalogYaml: string;
  processes: number;
  /** Extra environment for every process; it overrides the harness's own settings. */
  env?: Record<string, string>;
}

/** Children not yet known to have exited: killed when the test process exits. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

type ExitInfo = { code: number | null; signal: NodeJS.Signals | null };

class EipdProcess implements FleetProcess {
  #child: ChildProcess | undefined;
  #exited: Promise<ExitInfo> | undefined;
  #exitInfo: ExitInfo | undefined;
  #url = '';
  #output = '';
  #runs = 0;
  /** This run logged its ready line / was sent a signal by the harness. */
  #runReady = false;
  #runSignalled = false;
  readonly #exits: FleetExit[] = [];

  constructor(
    private readonly index: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly cwd: string,
  ) {}

  get url(): string {
    if (this.#url === '') throw new Error(`${this.label()} is not running`);
    return this.#url;
  }

  get pid(): number {
    const pid = this.#child?.pid;
    if (pid === undefined) throw new Error(`${this.label()} is not running`);
    return pid;
  }

  get ready(): boolean {
    return this.#url !== '' && this.#exitInfo === undefined;
  }

  output(): string {
    return this.#output;
  }

  exits(): readonly FleetExit[] {
    return this.#exits;
  }

  private label(): string {
    const pid = this.#child?.pid;
    return `eipd process #${this.index}${pid === undefined ? '' : ` (pid ${pid})`}`;
  }

  private append(text: string): void {
    this.#output += text;
    // Cut to half the limit, not to the limit: a busy process writes many small chunks, and
    // copying a whole megabyte for each of them would cost the test process more than the load.
    if (this.#output.length > MAX_OUTPUT_CHARS) {
      this.#output = `[fleet] (earlier output dropped)\n${this.#output.slice(-MAX_OUTPUT_CHARS / 2)}`;
    }
  }

  /** Spawns the process and resolves once it has logged its ready line. */
  async start(): Promise<void> {
    if (this.#child !== undefined && this.#exitInfo === undefined) {
      throw new Error(`${this.label()} is already running`);
    }
    this.#runs++;
    this.#url = '';
    this.#exitInfo = undefined;
    this.#runReady = false;
    this.#runSignalled = false;
    const run = this.#runs;
    const child = spawn(process.execPath, [MAIN], {
      cwd: this.cwd,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    live.add(child);
    this.append(`[fleet] run ${this.#runs}: spawned ${this.label()}\n`);

    this.#exited = new Promise<ExitInfo>((resolve) => {
      // 'close' rather than 'exit': it fires once stdout and stderr are drained, so the output
      // is complete by the time anyone reports it.
      child.once('close', (code, signal) => {
        live.delete(child);
        const info = { code, signal };
        this.#exitInfo = info;
        this.#exits.push({
          run,
          pid: child.pid,
          code,
          signal,
          wasReady: this.#runReady,
          signalled: this.#runSignalled,
        });
        this.append(`[fleet] ${this.label()} exited: code ${code}, signal ${signal}\n`);
        resolve(info);
      });
    });
    const exited = this.#exited;

    let ready: (address: string) => void = () => {};
    const readyLine = new Promise<string>((resolve) => {
      ready = resolve;
    });
    let pending = '';
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      this.append(chunk);
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const address = readyAddress(line);
        if (address !== undefined) ready(address);
      }
    });
    child.stderr?.on('data', (chunk: string) => this.append(chunk));

    // Spawn failures (and failed kills) arrive here; 'close' may or may not follow.
    const failed = new Promise<{ error: Error }>((resolve) => {
      child.once('error', (error) => {
        this.append(`[fleet] ${this.label()}: ${error.message}\n`);
        resolve({ error });
      });
    });

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS);
    });
    const outcome = await Promise.race([
      readyLine.then((address) => ({ address })),
      exited.then((info) => ({ info })),
      failed,
      timeout,
    ]);
    clearTimeout(timer);

    if (outcome === 'timeout') {
      await this.stop('SIGKILL');
      throw new Error(
        `${this.label()} did not log "${READY_MESSAGE}" within ${READY_TIMEOUT_MS} ms; output:\n${this.#output}`,
      );
    }
    if ('error' in outcome) {
      live.delete(child);
      this.#exitInfo ??= { code: null, signal: null };
      throw new Error(`${this.label()} could not be started: ${outcome.error.message}`);
    }
    if ('info' in outcome) {
      const why = `code ${outcome.info.code}, signal ${outcome.info.signal}`;
      throw new Error(
        `${this.label()} exited before it was ready (${why}); output:\n${this.#output}`,
      );
    }
    this.#url = outcome.address;
    this.#runReady = true;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (child === undefined || exited === undefined || this.#exitInfo !== undefined) return;
    this.#url = '';
    this.#runSignalled = true;
    this.append(`[fleet] sending ${signal} to ${this.label()}\n`);
    child.kill(signal);
    if (await settlesWithin(exited, STOP_GRACE_MS)) return;
    this.append(`[fleet] ${this.label()} still alive after ${STOP_GRACE_MS} ms: SIGKILL\n`);
    child.kill('SIGKILL');
    if (await settlesWithin(exited, STOP_GRACE_MS)) return;
    throw new Error(`${this.label()} did not exit even after SIGKILL; output:\n${this.#output}`);
  }

  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop('SIGTERM');
    await this.start();
  }
}

function readyAddress(line: string): string | undefined {
  if (!line.includes(READY_MESSAGE)) return undefined;
  try {
    const entry: unknown = JSON.parse(line);
    if (typeof entry !== 'object' || entry === null) return undefined;
    if (!('msg' in entry) || entry.msg !== READY_MESSAGE) return undefined;
    if (!('address' in entry) || typeof entry.address !== 'string') return undefined;
    return entry.address;
  } catch {
    return undefined;
  }
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return settled;
}

function mtimeMs(path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    stat(path, (error, stats) => resolve(error === null ? stats.mtimeMs : undefined));
  });
}

async function newestSourceMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestSourceMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, (await mtimeMs(path)) ?? 0);
  }
  return newest;
}

/** Refuses to test a missing or stale build: the servers run dist/, not src/. */
async function checkBuild(): Promise<void> {
  const built = await mtimeMs(MAIN);
  if (built === undefined) {
    throw new Error(
      `${MAIN} is missing: run \`npm run build\` first (\`npm test\` builds for you)`,
    );
  }
  if ((await newestSourceMtime(SRC)) > built) {
    throw new Error(
      `${MAIN} is older than src/: run \`npm run build\` first (\`npm test\` builds for you)`,
    );
  }
}

const QUIET_LOG_LEVELS = new Set(['warn', 'error', 'fatal', 'silent']);

export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  if (!Number.isInteger(opts.processes) || opts.processes < 1) {
    throw new RangeError('startFleet: processes must be a positive integer');
  }
  await checkBuild();
  const dir = await mkdtemp(join(tmpdir(), 'eipd-fleet-'));
  const catalogPath = join(dir, 'catalog.yaml');
  const secret = opts.env?.EIPD_JWT_SECRET ?? TEST_SECRET;
  // A clean environment, not the test runner's: nothing of the caller's EIPD_* or NODE_* settings
  // (NODE_OPTIONS, NODE_TEST_CONTEXT) leaks into the servers.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    DATABASE_URL: opts.databaseUrl,
    EIPD_HOST: '127.0.0.1',
    EIPD_PORT: '0',
    EIPD_CATALOG: catalogPath,
    EIPD_DATA_DIR: join(dir, 'data'),
    EIPD_JWT_SECRET: secret,
    EIPD_LOG_LEVEL: 'info',
    // Fleets are load tests: their clients would exhaust the per-organization request limit and
    // get 429s. Tests of the limits set them here.
    EIPD_RATE_LIMIT_PER_MINUTE: '0',
    EIPD_AUTH_FAILURE_LIMIT_PER_MINUTE: '0',
    ...opts.env,
  };
  if (QUIET_LOG_LEVELS.has(env.EIPD_LOG_LEVEL ?? '')) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`startFleet: EIPD_LOG_LEVEL must log info lines (the ready line is one)`);
  }

  const processes: EipdProcess[] = [];
  const stopAll = async (): Promise<void> => {
    const results = await Promise.allSettled(processes.map((p) => p.stop('SIGTERM')));
    await rm(dir, { recursive: true, force: true });
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    if (failures.length > 0) throw new Error(`stopping the fleet failed:\n${failures.join('\n')}`);
  };

  try {
    await writeFile(catalogPath, opts.catalogYaml);
    for (let i = 1; i <= opts.processes; i++) processes.push(new EipdProcess(i, env, dir));
    // All at once, on purpose (see the top of this file).
    const started = await Promise.allSettled(processes.map((p) => p.start()));
    const failures = started.flatMap((r) =>
      r.status === 'rejected'
        ? [r.reason instanceof Error ? r.reason.message : String(r.reason)]
        : [],
    );
    if (failures.length > 0) {
      throw new Error(
        `${failures.length} of ${opts.processes} eipd processes failed to start:\n\n${failures.join('\n\n')}`,
      );
    }
  } catch (error) {
    await stopAll().catch(() => {});
    throw error;
  }

  let stopped: Promise<void> | undefined;
  return {
    processes,
    stop: () => {
      stopped ??= stopAll();
      return stopped;
    },
    token: (orgId = randomUUID()) =>
      mintToken({ secret, orgId, subject: 'fleet-test', ttlSeconds: 3600 }),
  };
}
