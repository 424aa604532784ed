/**
 * Where eipd's log lines go: stdout, with all the lines of one event-loop turn written together in
 * one synchronous write at the end of the turn. Under load many requests complete in the same
 * turn; pino's default destination made one asynchronous write per line (a system call and a trip
 * through libuv's thread pool each), which was most of what the request log cost: a quarter of
 * eipd's CPU per `GET /v1/elastic-ips/{id}` (see BENCHMARKS.md). Lines reach stdout at most one
 * turn later, in order, and since no write is ever left in flight, none is lost when the process
 * exits, whatever the way: the last turn's lines are written out on 'exit'. Like console.log, a
 * write waits when stdout's reader does not keep up, rather than piling lines up in memory.
 */
import { destination } from 'pino';

export interface LogDestination {
  write(line: string): void;
}

export function batchedStdout(fd = 1): LogDestination {
  let pending: string[] = [];
  let scheduled = false;
  const handOver = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const batch = pending.join('');
    pending = [];
    out.write(batch);
  };
  process.on('exit', handOver);
  // sonic-boom (pino's destination) for the writing itself: it retries EAGAIN on a non-blocking
  // pipe and partial writes.
  const out = destination({ dest: fd, sync: true, minLength: 0 });
  return {
    write(line) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(handOver);
      }
    },
  };
}
