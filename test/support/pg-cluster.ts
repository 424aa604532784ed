/**
 * A private PostgreSQL 15 cluster for one test: its own data directory in a temporary directory,
 * its own port on 127.0.0.1, trust authentication, tuned for speed over durability (fsync off).
 * Tests that stop, kill or restart "the database" use one of these, never the shared server at
 * 127.0.0.1:5432 that the other suites create their databases on.
 *
 * The tests run as root and PostgreSQL refuses to, so every server binary runs as the `postgres`
 * user (runuser), in a directory that user owns.
 *
 * Tests must call `destroy()` in a finally block or an `after` hook. As a last resort, a cluster
 * still running when the test process exits is stopped (immediate mode) and its directory
 * removed: synchronously on a normal exit, and by a small watchdog process when the test process
 * dies without running its exit handlers (SIGKILL, a test runner timeout).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.EIPD_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const OS_USER = 'postgres';
/** The shared server's port: a private cluster never uses it. */
const SHARED_PORT = 5432;
/** pg_ctl's own wait for start and stop, in seconds. */
const PG_CTL_WAIT_SECONDS = 30;

export type StopMode = 'smart' | 'fast' | 'immediate';

export interface PrivateCluster {
  /** The port the cluster listens on (127.0.0.1 only); kept across stop/start. */
  readonly port: number;
  /** The data and socket directory's parent, removed by destroy(). */
  readonly dir: string;
  /** A connection URL as the superuser `postgres` (trust), to `dbName` (default `postgres`). */
  url(dbName?: string): string;
  /** `pg_ctl stop -m mode` (default `fast`: backends are terminated, clients see 57P01). */
  stop(mode?: StopMode): Promise<void>;
  /** Starts the stopped cluster again on the same port. */
  start(): Promise<void>;
  /** stop('fast') then start(). */
  restart(): Promise<void>;
  /** Stops the cluster if running (immediate) and removes its directory. Idempotent. */
  destroy(): Promise<void>;
  /** The server log so far (for assertion messages). */
  log(): Promise<string>;
}

interface Live {
  dataDir: string;
  dir: string;
}

/** Clusters not yet destroyed: stopped and removed when the test process exits. */
const live = new Set<Live>();
process.on('exit', () => {
  for (const cluster of live) {
    try {
      execFileSync(
        'runuser',
        [
          '-u',
          OS_USER,
          '--',
          join(BIN, 'pg_ctl'),
          '-D',
          cluster.dataDir,
          '-m',
          'immediate',
          'stop',
        ],
        { stdio: 'ignore', timeout: 10_000 },
      );
    } catch {
      // Not running, or already gone.
    }
    rmSync(cluster.dir, { recursive: true, force: true });
  }
});

function run(
  command: string,
  args: readonly string[],
  timeoutMs = (PG_CTL_WAIT_SECONDS + 10) * 1000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error !== null) {
        reject(
          new Error(`${[command, ...args].join(' ')} failed: ${error.message}\n${stdout}${stderr}`),
        );
      } else {
        resolve(`${stdout}${stderr}`);
      }
    });
  });
}

/** Runs a PostgreSQL binary as the postgres user. */
function asPostgres(binary: string, args: readonly string[]): Promise<string> {
  return run('runuser', ['-u', OS_USER, '--', join(BIN, binary), ...args]);
}

/** A port that was free a moment ago (the kernel's choice, so never 5432 in practice). */
function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function osUserIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', OS_USER])).trim());
  const gid = Number((await run('id', ['-g', OS_USER])).trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(`cannot find the ids of OS user ${OS_USER}`);
  }
  return { uid, gid };
}

/**
 * Kills the cluster and removes `dir` once the process `pid` is gone, whatever way it went: the
 * exit handler above does not run when the test process is killed.
 */
function startWatchdog(pid: number, dataDir: string, dir: string): number | undefined {
  const script = `
    while kill -0 "$1" 2>/dev/null; do sleep 1; done
    runuser -u ${OS_USER} -- "$2/pg_ctl" -D "$3" -m immediate stop >/dev/null 2>&1
    rm -rf "$4"
  `;
  const child = spawn('sh', ['-c', script, 'eipd-pg-watchdog', String(pid), BIN, dataDir, dir], {
    detached: true,
    stdio: 'ignore',
  });
  child.on('error', () => {});
  child.unref();
  return child.pid;
}

/** The watchdog runs detached, in a process group of its own: its shell and its sleep. */
function killWatchdog(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const { uid, gid } = await osUserIds();
  const dir = await mkdtemp(join(tmpdir(), 'eipd-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const entry: Live = { dataDir, dir };
  live.add(entry);
  const watchdog = startWatchdog(process.pid, dataDir, dir);
  let port = 0;
  let running = false;

  const pgCtlStart = async (): Promise<void> => {
    if (port === SHARED_PORT) throw new Error('a private cluster must never use port 5432');
    await asPostgres('pg_ctl', [
      '-D',
      dataDir,
      '-l',
      logFile,
      '-w',
      '-t',
      String(PG_CTL_WAIT_SECONDS),
      '-o',
      `-p ${port}`,
      'start',
    ]);
    running = true;
  };

  try {
    await chown(dir, uid, gid);
    await chmod(dir, 0o700);
    await asPostgres('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    // Appended settings win over initdb's. Only 127.0.0.1, and a socket directory of our own so
    // nothing lands in (or clashes with) the shared server's /var/run/postgresql.
    const settings = [
      '',
      '# eipd test cluster',
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      // fsync off loses nothing when only the server crashes (the kernel still has the data),
      // so `stop('immediate')` is a faithful crash. synchronous_commit stays on: off, a crash
      // would lose transactions whose COMMIT was already acknowledged to eipd.
      'fsync = off',
      'full_page_writes = off',
      'shared_buffers = 16MB',
      'max_connections = 60',
      'max_wal_size = 256MB',
      "log_min_messages = 'warning'",
      '',
    ].join('\n');
    const confPath = join(dataDir, 'postgresql.conf');
    await writeFile(confPath, (await readFile(confPath, 'utf8')) + settings);

    // The port is chosen free, but another process may take it before the server binds it.
    let lastError: unknown;
    for (let attempt = 1; attempt <= 3 && !running; attempt++) {
      port = await sparePort();
      try {
        await pgCtlStart();
      } catch (error) {
        lastError = error;
      }
    }
    if (!running) throw lastError;
  } catch (error) {
    live.delete(entry);
    await asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    killWatchdog(watchdog);
    throw error;
  }

  const stop = async (mode: StopMode = 'fast'): Promise<void> => {
    await asPostgres('pg_ctl', [
      '-D',
      dataDir,
      '-m',
      mode,
      '-w',
      '-t',
      String(PG_CTL_WAIT_SECONDS),
      'stop',
    ]);
    running = false;
  };

  let destroyed: Promise<void> | undefined;
  return {
    port,
    dir,
    url: (dbName = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${dbName}`,
    stop,
    start: pgCtlStart,
    async restart() {
      await stop('fast');
      await pgCtlStart();
    },
    destroy() {
      destroyed ??= (async () => {
        if (running) await stop('immediate').catch(() => {});
        await rm(dir, { recursive: true, force: true });
        live.delete(entry);
        killWatchdog(watchdog);
      })();
      return destroyed;
    },
    async log() {
      return readFile(logFile, 'utf8').catch(() => '');
    },
  };
}
