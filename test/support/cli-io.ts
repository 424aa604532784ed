/**
 * An in-process stand-in for eipctl's process I/O: what a command prints is kept as text, and the
 * environment is only what the test passes, so that the runner's EIPCTL_* or EIPD_* cannot leak in.
 */
import { Writable } from 'node:stream';
import type { Io } from '../../src/cli/eipctl/context.js';

export interface CapturedIo extends Io {
  stdout(): string;
  stderr(): string;
}

export function captureIo(env: NodeJS.ProcessEnv = {}): CapturedIo {
  const text = { out: '', err: '' };
  const sink = (into: 'out' | 'err') =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        text[into] += chunk.toString();
        done();
      },
    });
  return {
    out: sink('out'),
    err: sink('err'),
    env,
    // Commands that run until stopped are not run in process; a signal that never aborts will do.
    untilStopped: () => new AbortController().signal,
    stdout: () => text.out,
    stderr: () => text.err,
  };
}
