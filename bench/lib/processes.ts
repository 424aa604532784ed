/**
 * Server processes under test: eipd itself (`node dist/main.js`, built) and the baseline servers
 * in bench/servers. Each writes its log to a file rather than a pipe, so that reading a busy
 * server's log never costs the load generator (this process) any CPU; the listening address comes
 * from the ready line in that file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EIPD_MAIN = join(ROOT, 'dist', 'main.js');

const READY_TIMEOUT_MS = 120_000;

export interface ServerProcess {
  readonly pid: number;
  readonly url: string;
  /** Milliseconds from spawn to the ready line. */
  readonly readyAfterMs: number;
  /** Date.now() when it was spawned, to place its log lines' `time` on the same clock. */
  readonly spawnedAtEpochMs: number;
  /** The ready line, parsed. */
  readonly readyLine: Record<string, unknown>;
  /** Resident set size now, and its peak, in bytes (from /proc). */
  memory(): { rss: number; peak: number };
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startServer(options: {
  args: string[];
  env: NodeJS.ProcessEnv;
  logFile: string;
  /** The `msg` of the JSON line that carries `address`. */
  readyMessage: string;
  cwd?: string;
}): Promise<ServerProcess> {
  const fd = openSync(options.logFile, 'w');
  const spawnedAt = performance.now();
  const spawnedAtEpochMs = Date.now();
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd ?? ROOT,
    env: options.env,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  live.add(child);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      exited = { code, signal };
      resolve();
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${options.args.join(' ')}`);

  const deadline = spawnedAt + READY_TIMEOUT_MS;
  let ready: Record<string, unknown> | undefined;
  while (ready === undefined) {
    if (exited !== undefined) {
      throw new Error(
        `${options.args.join(' ')} exited (code ${exited.code}, signal ${exited.signal}) before it was ready:\n${readFileSync(options.logFile, 'utf8').slice(-4000)}`,
      );
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.args.join(' ')} was not ready within ${READY_TIMEOUT_MS} ms`);
    }
    ready = findReadyLine(readFileSync(options.logFile, 'utf8'), options.readyMessage);
    if (ready === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  const readyAfterMs = performance.now() - spawnedAt;
  const address = ready.address;
  if (typeof address !== 'string') throw new Error('ready line without an address');

  return {
    pid,
    url: address,
    readyAfterMs,
    spawnedAtEpochMs,
    readyLine: ready,
    memory: () => memoryOf(pid),
    async stop() {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

function findReadyLine(log: string, message: string): Record<string, unknown> | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes(message)) continue;
    try {
      const entry: unknown = JSON.parse(line);
      if (typeof entry === 'object' && entry !== null && 'msg' in entry && entry.msg === message) {
        return entry as Record<string, unknown>;
      }
    } catch {
      // Not a JSON line.
    }
  }
  return undefined;
}

function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
}

/** eipd as operators run it: the built process, its settings in the environment. */
export function startEipd(options: {
  env: Record<string, string>;
  logFile: string;
  /** Options for node itself, such as --cpu-prof. */
  nodeArgs?: string[];
}): Promise<ServerProcess> {
  return startServer({
    args: [...(options.nodeArgs ?? []), EIPD_MAIN],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      EIPD_HOST: '127.0.0.1',
      EIPD_PORT: '0',
      // The benchmarks send one organization far more than the default limit (1200 a minute).
      // The highest limit keeps the limiter's work in what is measured (one claim per share of
      // the window) without ever refusing a request.
      EIPD_RATE_LIMIT_PER_MINUTE: '10000000',
      ...options.env,
    },
    logFile: options.logFile,
    readyMessage: 'eipd is ready',
  });
}

/** A baseline server of bench/servers, run with tsx like the benchmark itself. */
export function startBenchServer(options: {
  script: string;
  args?: string[];
  env: Record<string, string>;
  logFile: string;
}): Promise<ServerProcess> {
  return startServer({
    args: [
      '--import',
      'tsx',
      join(ROOT, 'bench', 'servers', options.script),
      ...(options.args ?? []),
    ],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env },
    logFile: options.logFile,
    readyMessage: 'bench server is ready',
  });
}
