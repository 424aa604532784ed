/**
 * One eipd process per embedded data directory: a live holder refuses a second process; a lock
 * left by a process that died is taken over.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DataDirInUseError, lockDataDir } from '../../src/db/data-dir-lock.js';

describe('data directory lock', () => {
  test('a directory held by a live process is refused, naming the process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipd-lock-'));
    const unlock = await lockDataDir(dir);
    try {
      await assert.rejects(
        lockDataDir(dir),
        (e: unknown) =>
          e instanceof DataDirInUseError && e.message.includes(`process ${process.pid}`),
      );
    } finally {
      await unlock();
    }
    const again = await lockDataDir(dir);
    await again();
    await assert.rejects(readFile(join(dir, 'eipd.pid')), { code: 'ENOENT' });
  });

  test('a process killed with SIGKILL leaves no lock behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipd-lock-'));
    const outcome = await lockInChild(dir);
    assert.equal(outcome.result, 'locked');
    outcome.child.kill('SIGKILL');
    await new Promise((resolve) => outcome.child.once('exit', resolve));
    const unlock = await lockDataDir(dir);
    await unlock();
  });

  test('two lockers at once: exactly one wins while the other sees a live holder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipd-lock-'));
    // Both stay alive until both have answered: the loser must lose to a live winner.
    const outcomes = await Promise.all([lockInChild(dir), lockInChild(dir)]);
    for (const o of outcomes) o.child.kill('SIGKILL');
    assert.deepEqual(outcomes.map((o) => o.result).sort(), ['DataDirInUseError', 'locked']);
  });
});

/** Locks `dir` in a child process and reports 'locked' or the error's name; the child stays alive. */
function lockInChild(dir: string): Promise<{ result: string; child: ChildProcess }> {
  const script = `import(${JSON.stringify(new URL('../../src/db/data-dir-lock.ts', import.meta.url).href)})
    .then((m) => m.lockDataDir(${JSON.stringify(dir)}))
    .then(() => { process.stdout.write('locked'); setInterval(() => {}, 1000); },
          (e) => { process.stdout.write(e.name); setInterval(() => {}, 1000); });`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script]);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out === 'locked' || out === 'DataDirInUseError') resolve({ result: out, child });
    });
  });
}
