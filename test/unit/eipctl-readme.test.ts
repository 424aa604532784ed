/**
 * The README's eipctl table against the commands themselves: a syntax line that shows a required
 * flag as optional sends readers to a usage error.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { EXIT } from '../../src/cli/eipctl/exit-codes.js';
import { eipctl } from '../../src/cli/eipctl/main.js';
import { captureIo } from '../support/cli-io.js';

const README = new URL('../../README.md', import.meta.url);
const SECRET = 'eipctl-readme-test-secret-0123456789abcdef';
const ORG = '3f2b8c1e-5d4a-4b6f-9e7d-1a2b3c4d5e6f';

/** The syntax forms (each in backquotes) in the first cell of the table row of `command`. */
async function syntaxForms(command: string): Promise<string[]> {
  const text = await readFile(README, 'utf8');
  const row = text.split('\n').find((line) => line.startsWith(`| \`${command}`));
  assert.ok(row !== undefined, `no README row for ${command}`);
  const cell = row.split(' | ')[0] ?? '';
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
}

test('token: each form in the README works with only the flags it shows as required', async () => {
  const forms = await syntaxForms('token');
  assert.ok(forms.length > 0);
  for (const form of forms) {
    // Drop the optional parts ([...]) and fill in the placeholders.
    const argv = form
      .replace(/\[[^\]]*\]/g, '')
      .replaceAll('<uuid>', ORG)
      .split(/\s+/)
      .filter((word) => word !== '');
    const io = captureIo({ EIPD_JWT_SECRET: SECRET });
    const code = await eipctl(argv, io);
    assert.equal(code, EXIT.ok, `README form "${form}" run as "${argv.join(' ')}": ${io.stderr()}`);
    assert.match(io.stdout(), /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  }
});
