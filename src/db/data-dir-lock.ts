/**
 * One eipd process per embedded data directory. PGlite does no locking of its own, and two
 * processes on one directory would each run their own database over the same files: each would
 * hand out the same addresses, and the files would end up corrupt.
 *
 * The lock is a listening Unix socket whose name is derived from the directory's real path. The
 * kernel lets only one process bind a name, and frees it the moment that process dies (even on
 * SIGKILL), so there is no stale lock to clean up and no race in taking one over. On Linux the
 * socket lives in the abstract namespace; elsewhere it is a socket file in the directory, and a
 * file nobody answers on is left over from a dead process and replaced.
 * The holder's pid is written next to it, for the error message only.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';

export class DataDirInUseError extends Error {
  constructor(dir: string, pid: string) {
    super(
      `data directory ${dir} is in use by eipd process ${pid}; stop it or choose another EIPD_DATA_DIR`,
    );
    this.name = 'DataDirInUseError';
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Takes the directory's lock; the returned function releases it. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const real = await realpath(dir);
  const pidFile = join(real, 'eipd.pid');
  const abstract = process.platform === 'linux';
  const path = abstract
    ? `\0eipd-data-dir-${createHash('sha256').update(real).digest('hex').slice(0, 32)}`
    : join(real, 'eipd.lock.sock');
  const server = createServer((socket) => socket.destroy());
  try {
    await listen(server, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    if (abstract || (await answers(path))) {
      const pid = (await readFile(pidFile, 'utf8').catch(() => 'unknown')).trim();
      throw new DataDirInUseError(dir, pid);
    }
    await rm(path, { force: true });
    await listen(server, path);
  }
  server.unref();
  await writeFile(pidFile, `${process.pid}\n`);
  return async () => {
    await rm(pidFile, { force: true });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
