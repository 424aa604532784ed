/**
 * Start-up refusals of the built server: a bad catalog or bad configuration stops eipd with a
 * message that says what to fix, and exit code 1, before it listens.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', EIPD_PORT: '0', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`eipd did not stop by itself; stderr: ${stderr}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('start-up refusals', () => {
  test('an invalid catalog stops start-up with every problem, each naming its pool', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipd-startup-'));
    const catalog = join(dir, 'catalog.yaml');
    await writeFile(
      catalog,
      `idcs: [{ name: dc-1 }]
products: [{ name: v4, internetConnectionType: BGP, maxBandwidth: 1 Gbps }]
pools:
  - { name: edge-a, idc: dc-1, cidr: 010.0.0.0/24, products: [v4] }
  - { name: edge-b, idc: dc-1, cidr: 203.0.113.0/24, products: [v9] }
  - { name: edge-c, idc: dc-1, cidr: 203.0.113.128/25, products: [v4] }
`,
    );
    const { code, stderr } = await run({ EIPD_CATALOG: catalog, EIPD_DATA_DIR: join(dir, 'data') });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /pool "edge-a": "010\.0\.0\.0\/24" is not a valid CIDR/);
    assert.match(stderr, /pool "edge-b": unknown product "v9"/);
    assert.match(stderr, /pool "edge-b" \(203\.0\.113\.0\/24 in IDC dc-1\) overlaps pool "edge-c"/);
  });

  test('bad settings stop start-up listing every bad key', async () => {
    const { code, stderr } = await run({
      EIPD_PORT: 'abc',
      EIPD_MAX_ALLOCATE_COUNT: '0',
      // Below the 24 hours an Idempotency-Key's answer must be replayed for.
      EIPD_IDEMPOTENCY_RETENTION_HOURS: '23',
      EIPD_EVENT_RETENTION_DAYS: '0',
      EIPD_JWT_SECRET: 'hunter2-but-short',
      EIPD_PROT: '8080',
    });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /EIPD_JWT_SECRET: shorter than 32 bytes/);
    assert.doesNotMatch(stderr, /hunter2/);
    assert.match(stderr, /EIPD_PROT: not a setting/);
    assert.match(stderr, /EIPD_PORT/);
    assert.match(stderr, /EIPD_MAX_ALLOCATE_COUNT/);
    assert.match(stderr, /EIPD_IDEMPOTENCY_RETENTION_HOURS/);
    assert.match(stderr, /EIPD_EVENT_RETENTION_DAYS/);
  });

  test('a short HS256 secret is refused without echoing it', async () => {
    const { code, stderr } = await run({ EIPD_JWT_SECRET: 'hunter2-but-short' });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /32 bytes/);
    assert.doesNotMatch(stderr, /hunter2/);
  });
});

/** Starts eipd, waits for its ready line, stops it; returns its stdout up to then. */
function startAndStop(env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', EIPD_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`eipd was not ready in time; stdout: ${stdout}; stderr: ${stderr}`));
    }, 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('"eipd is ready"')) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(stdout);
    });
  });
}

describe('start-up warnings', () => {
  test('demo mode warns when it listens beyond this machine, and only then', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipd-startup-'));
    const env = { EIPD_DATA_DIR: join(dir, 'data'), EIPD_LOG_LEVEL: 'info' };
    const exposed = await startAndStop({ ...env, EIPD_HOST: '0.0.0.0' });
    assert.match(exposed, /"level":40[^\n]*demo mode [^\n]*listening beyond this machine/);
    const local = await startAndStop({ ...env, EIPD_HOST: '127.0.0.1' });
    assert.match(local, /"eipd is ready"/);
    assert.doesNotMatch(local, /listening beyond this machine/);
  });
});
