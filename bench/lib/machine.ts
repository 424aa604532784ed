/** What the figures were measured on, in `env` style (KEY=value lines). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { adminQuery } from './database.js';

export const PGBENCH = process.env.EIPD_BENCH_PGBENCH ?? '/usr/lib/postgresql/15/bin/pgbench';

function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

function pgbenchVersion(): string {
  try {
    return execFileSync(PGBENCH, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'not found';
  }
}

export interface Machine {
  lines: [string, string][];
  dataDirectory: string;
}

export async function describeMachine(): Promise<Machine> {
  const settings = await adminQuery<{ name: string; setting: string; unit: string | null }>(
    `SELECT name, setting, unit FROM pg_settings
     WHERE name IN ('shared_buffers', 'max_connections', 'synchronous_commit', 'fsync',
                    'wal_sync_method', 'data_directory', 'server_version')`,
  );
  const s = (name: string) => settings.find((r) => r.name === name);
  const sharedBuffers = s('shared_buffers');
  const version = await adminQuery<{ version: string }>('SELECT version()');
  const lines: [string, string][] = [
    ['CPU_MODEL', cpuModel()],
    ['CPU_CORES', String(os.availableParallelism?.() ?? os.cpus().length)],
    ['RAM', `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ['KERNEL', `${os.type()} ${os.release()} ${os.arch()}`],
    ['NODE', process.version],
    ['POSTGRESQL', version[0]?.version.split(' on ')[0] ?? 'unknown'],
    ['PGBENCH', pgbenchVersion()],
    [
      'POSTGRESQL_SETTINGS',
      [
        `shared_buffers=${sharedBuffers === undefined ? '?' : `${(Number(sharedBuffers.setting) * 8) / 1024}MB`}`,
        `max_connections=${s('max_connections')?.setting}`,
        `synchronous_commit=${s('synchronous_commit')?.setting}`,
        `fsync=${s('fsync')?.setting}`,
        `wal_sync_method=${s('wal_sync_method')?.setting}`,
      ].join(' '),
    ],
    ['POSTGRESQL_HOST', 'same machine, loopback TCP'],
  ];
  return { lines, dataDirectory: s('data_directory')?.setting ?? '' };
}
