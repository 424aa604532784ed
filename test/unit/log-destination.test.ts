import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { batchedStdout } from '../../src/log-destination.js';

const run = promisify(execFile);
const MODULE = new URL('../../src/log-destination.ts', import.meta.url).href;

describe('the batched log destination', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eipd-log-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hands the lines of one turn over together, after the turn, in order', async () => {
    const file = join(dir, 'turns.log');
    const fd = openSync(file, 'w');
    try {
      const log = batchedStdout(fd);
      log.write('a\n');
      log.write('b\n');
      assert.equal(readFileSync(file, 'utf8'), '', 'nothing is written during the turn');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(readFileSync(file, 'utf8'), 'a\nb\n', 'written at the end of the turn');
      log.write('c\n');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(readFileSync(file, 'utf8'), 'a\nb\nc\n');
    } finally {
      closeSync(fd);
    }
  });

  it('writes every line out when the process exits in the same turn', async () => {
    const script = [
      `const { batchedStdout } = await import(${JSON.stringify(MODULE)});`,
      'const log = batchedStdout();',
      'for (let i = 0; i < 1000; i++) log.write(String(i).concat("\\n"));',
      'await new Promise((resolve) => setImmediate(resolve));',
      'for (let i = 1000; i < 2000; i++) log.write(String(i).concat("\\n"));',
      'process.exit(0);',
    ].join('\n');
    const { stdout } = await run(process.execPath, [
      '--import',
      'tsx',
      '--input-type=module',
      '--eval',
      script,
    ]);
    const expected = Array.from({ length: 2000 }, (_, i) => `${i}\n`).join('');
    assert.equal(stdout, expected);
  });
});
