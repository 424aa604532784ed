/**
 * CPU time of the parties of a run, read from /proc: the load generator (this process), the server
 * process under test, every PostgreSQL process, and the whole machine. On a 2-core machine the
 * generator, the server and PostgreSQL share the same cores, so a run's figures only make sense
 * next to who used the CPU.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ; /proc reports process times in these ticks. */
const TICKS_PER_SECOND = 100;

export interface CpuSnapshot {
  at: number;
  generatorUs: number;
  serverTicks: number;
  postgresTicks: number;
  machineBusyTicks: number;
}

export interface CpuSplit {
  /** Percent of one core over the window (200 % is both cores of a 2-core machine). */
  generator: number;
  server: number;
  postgres: number;
  machine: number;
  /** What the machine did besides the three: other people's work on the shared machine. */
  others: number;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; the fields after it are fixed (state is the first).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function processTicks(pid: number): number {
  const fields = statFields(pid);
  return fields === undefined ? 0 : Number(fields[11]) + Number(fields[12]);
}

/**
 * PostgreSQL's CPU on behalf of the benchmark: the backends of its own database (their process
 * title names it) and the server's shared processes (WAL writer, checkpointer, ...), but not the
 * backends of other databases on the same server, which are someone else's load.
 */
function postgresTicks(database: string | undefined): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let title: string;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const pid = Number(entry);
    if (postmaster !== undefined && pid !== postmaster) {
      // Another PostgreSQL server on the machine (tests start private clusters) is not ours.
      if (Number(statFields(pid)?.[1]) !== postmaster) continue;
    }
    const isBackend = /\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]/.test(title);
    if (isBackend && (database === undefined || !title.includes(` ${database} `))) continue;
    total += processTicks(pid);
  }
  return total;
}

function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
}

/** The database whose backends count as the benchmark's PostgreSQL load. */
let benchDatabase: string | undefined;
/** The pid of the server's postmaster, when known: its children are the server's processes. */
let postmaster: number | undefined;

export function setBenchDatabase(name: string, postmasterPid: number | undefined): void {
  benchDatabase = name;
  postmaster = postmasterPid;
}

/** The postmaster's pid from its data directory's postmaster.pid, when this user may read it. */
export function postmasterPid(dataDirectory: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${dataDirectory}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function cpuSnapshot(serverPids: readonly number[]): CpuSnapshot {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    generatorUs: usage.user + usage.system,
    serverTicks: serverPids.reduce((sum, pid) => sum + processTicks(pid), 0),
    postgresTicks: postgresTicks(benchDatabase),
    machineBusyTicks: machineBusyTicks(),
  };
}

export function cpuSplit(from: CpuSnapshot, to: CpuSnapshot): CpuSplit {
  const seconds = (to.at - from.at) / 1000;
  const pct = (ticks: number) => (seconds > 0 ? (ticks / TICKS_PER_SECOND / seconds) * 100 : 0);
  const generator = seconds > 0 ? ((to.generatorUs - from.generatorUs) / 1e6 / seconds) * 100 : 0;
  const server = pct(to.serverTicks - from.serverTicks);
  const postgres = pct(to.postgresTicks - from.postgresTicks);
  const machine = pct(to.machineBusyTicks - from.machineBusyTicks);
  return {
    generator,
    server,
    postgres,
    machine,
    others: Math.max(0, machine - generator - server - postgres),
  };
}
