/**
 * Database outages (issue 4). Two eipd processes run on a private PostgreSQL cluster (never the
 * shared server: these tests stop and crash theirs) reached through a TCP proxy, with eipd's
 * default database settings. Two kinds of outage:
 *
 * - the database is stopped, or the network refuses connections: clients learn at once;
 * - traffic is silently dropped, pooled connections included: clients learn nothing, and only
 *   eipd's own deadlines can end the wait.
 *
 * In both, every request that needs the database (allocate, read, /readyz) answers 503
 * `{"reason":"database is unavailable"}` in under 5 s, the processes stay up, and once the
 * database is back they serve again without a restart. An allocation caught in flight by an
 * outage (silence, or a server crash) is all or nothing: every EIP in the database has exactly one
 * `allocated` event, and every EIP a client was told about exists.
 *
 * The cluster, the proxy and the fleet are shared by the tests, which run one after another; each
 * test starts by undoing whatever outage the previous one may have left (`healthy()`).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { DatabaseUnavailableError } from '../../src/db/errors.js';
import { openPostgres } from '../../src/db/postgres.js';
import { type Fleet, type FleetProcess, startFleet } from '../support/fleet.js';
import { type PrivateCluster, startPrivateCluster } from '../support/pg-cluster.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const CATALOG = `
idcs: [{ name: out-1 }]
products: [{ name: eip.out, internetConnectionType: BGP, maxBandwidth: 1 Gbps }]
pools: [{ name: out-a, idc: out-1, cidr: 198.18.0.0/16, products: [eip.out] }]
`;
const ALLOCATE = { idc: 'out-1', product: 'eip.out', name: 'outage', count: 1 };

/** The acceptance: an answer, and this one, within 5 s. */
const ANSWER_WITHIN_MS = 5_000;
const UNAVAILABLE_BODY = '{"reason":"database is unavailable"}';
/** EIPD_DB_POOL_SIZE's default (src/config.ts): connections each process may hold. */
const DEFAULT_POOL_SIZE = 10;
/** After the database is back, how long the fleet may take to serve again. */
const RECOVERY_WITHIN_MS = 20_000;
/** A request that gets no answer at all is cut here, so that a hang fails with a message. */
const CLIENT_GIVES_UP_MS = 15_000;

interface Answer {
  status: number;
  text: string;
  ms: number;
  label: string;
}

/** One request; `token` undefined sends none (readiness needs none). */
async function call(
  p: FleetProcess,
  method: 'GET' | 'POST',
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<Answer> {
  const label = `${method} ${path} on pid ${p.pid}`;
  const started = performance.now();
  try {
    const res = await fetch(new URL(path, p.url), {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(CLIENT_GIVES_UP_MS),
    });
    const text = await res.text();
    return { status: res.status, text, ms: Math.round(performance.now() - started), label };
  } catch (error) {
    const ms = Math.round(performance.now() - started);
    throw new Error(`${label}: no answer after ${ms} ms: ${String(error)}`);
  }
}

const allocate = (p: FleetProcess, token: string, name = 'outage') =>
  call(p, 'POST', '/v1/elastic-ips', token, { ...ALLOCATE, name });
const getEip = (p: FleetProcess, token: string, id: string) =>
  call(p, 'GET', `/v1/elastic-ips/${id}`, token);
const readyz = (p: FleetProcess) => call(p, 'GET', '/readyz', undefined);

function idsOf(answer: Answer): string[] {
  assert.equal(answer.status, 200, `${answer.label}: ${answer.status} ${answer.text}`);
  const body: unknown = JSON.parse(answer.text);
  assert.ok(Array.isArray(body), answer.text);
  return body.map((entry: unknown) => {
    assert.ok(
      typeof entry === 'object' && entry !== null && 'id' in entry && typeof entry.id === 'string',
      answer.text,
    );
    return entry.id;
  });
}

/** 503 with exactly the documented body, in under 5 s. */
function assertUnavailable(answer: Answer): void {
  assert.equal(
    answer.status,
    503,
    `${answer.label}: expected 503, got ${answer.status} ${answer.text}`,
  );
  assert.equal(answer.text, UNAVAILABLE_BODY, `${answer.label}: body`);
  assert.ok(
    answer.ms < ANSWER_WITHIN_MS,
    `${answer.label}: answered in ${answer.ms} ms, not within ${ANSWER_WITHIN_MS} ms`,
  );
}

function timings(answers: readonly Answer[]): string {
  const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
  return `n=${ms.length} min=${ms[0]} median=${ms[Math.floor(ms.length / 2)]} max=${ms.at(-1)} ms`;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('database outages (postgres, 2 eipd processes, default database settings)', () => {
  let cluster: PrivateCluster;
  let proxy: TcpProxy;
  let fleet: Fleet;
  let token: string;
  /** Set while a test has the cluster stopped, so that the next test can start it again. */
  let clusterDown = false;
  /** What each process answered before any outage: an EIP id to read back during one. */
  const known = new Map<FleetProcess, string>();

  const processes = (): FleetProcess[] => fleet.processes;

  /** The processes are the same ones (no restart, no crash) and still running. */
  function assertSameProcessesAlive(pids: readonly number[]): void {
    assert.deepEqual(
      processes().map((p) => p.pid),
      pids,
      'no eipd process was restarted',
    );
    for (const p of processes()) {
      assert.doesNotMatch(
        p.output(),
        /\[fleet\] .* exited: /,
        `pid ${p.pid} exited:\n${p.output()}`,
      );
      assert.doesNotThrow(() => process.kill(p.pid, 0), `pid ${p.pid} is gone`);
      assert.doesNotMatch(p.output(), /"msg":"unexpected error"/, p.output());
    }
  }

  /**
   * Polls until every process allocates and reads back again; returns how long that took. Each
   * poll may itself take up to one database deadline while pooled connections from the outage
   * are being discarded.
   */
  async function waitForRecovery(): Promise<number> {
    const started = performance.now();
    const pending = new Set(processes());
    let last = '';
    while (pending.size > 0) {
      for (const p of [...pending]) {
        const answer = await allocate(p, token, 'after-outage');
        if (answer.status === 200) {
          const [id] = idsOf(answer);
          assert.ok(id !== undefined);
          const read = await getEip(p, token, id);
          if (read.status === 200) {
            pending.delete(p);
            continue;
          }
          last = `${read.label}: ${read.status} ${read.text}`;
        } else {
          // While the database is coming back, the only acceptable refusal is the 503.
          assertUnavailable(answer);
          last = `${answer.label}: ${answer.status} ${answer.text}`;
        }
      }
      const elapsed = performance.now() - started;
      assert.ok(
        elapsed < RECOVERY_WITHIN_MS,
        `not recovered within ${RECOVERY_WITHIN_MS} ms; last answer ${last}`,
      );
      if (pending.size > 0) await sleep(100);
    }
    return Math.round(performance.now() - started);
  }

  /** Whatever the previous test left behind: database up, traffic passing, fleet serving. */
  async function healthy(): Promise<void> {
    proxy.setMode('pass');
    if (clusterDown) {
      await cluster.start();
      clusterDown = false;
    }
    await waitForRecovery();
  }

  /**
   * Gives each process's pool several open connections, so that an outage meets connections
   * already in the pool (for `drop`, the hard case: they look perfectly alive).
   */
  async function warmPools(): Promise<void> {
    const reads = processes().flatMap((p) =>
      Array.from({ length: 6 }, () => getEip(p, token, known.get(p) ?? randomUUID())),
    );
    for (const answer of await Promise.all(reads)) {
      assert.equal(answer.status, 200, `${answer.label}: ${answer.status} ${answer.text}`);
    }
  }

  /**
   * During an outage: from each process, `perProcess` requests in parallel, allocations and reads
   * of a known EIP in turn, so that several pooled connections are tried at once, and a readiness
   * probe. Every one is a 503 with the documented body in under 5 s.
   */
  async function assertEveryRequestUnavailable(perProcess = 4): Promise<Answer[]> {
    const answers = await Promise.all(
      processes().flatMap((p) => {
        const id = known.get(p);
        assert.ok(id !== undefined);
        return [
          ...Array.from({ length: perProcess }, (_, i) =>
            i % 2 === 0 ? allocate(p, token, 'during-outage') : getEip(p, token, id),
          ),
          readyz(p),
        ];
      }),
    );
    for (const answer of answers) assertUnavailable(answer);
    return answers;
  }

  /** Once the database is back, every process says it is ready again. */
  async function assertReady(): Promise<void> {
    for (const p of processes()) {
      const answer = await readyz(p);
      assert.equal(answer.status, 200, `${answer.label}: ${answer.status} ${answer.text}`);
      assert.deepEqual(JSON.parse(answer.text), { status: 'ok' }, answer.label);
    }
  }

  /** Every EIP has exactly one `allocated` event and every event names an existing EIP. */
  async function assertNothingHalfDone(acknowledged: readonly string[]): Promise<void> {
    const client = new pg.Client({ connectionString: cluster.url('eipd') });
    await client.connect();
    try {
      const { rows } = await client.query<{ eips: number; allocated: number; orphans: number }>(
        `SELECT (SELECT count(*)::int FROM elastic_ips) AS eips,
                (SELECT count(*)::int FROM eip_events WHERE type = 'allocated') AS allocated,
                (SELECT count(*)::int FROM elastic_ips e
                  WHERE (SELECT count(*) FROM eip_events v
                          WHERE v.eip_id = e.id AND v.type = 'allocated') <> 1) AS orphans`,
      );
      const [row] = rows;
      assert.ok(row !== undefined);
      assert.equal(row.orphans, 0, 'EIPs without exactly one allocated event');
      assert.equal(row.allocated, row.eips, 'allocated events vs EIPs');
      if (acknowledged.length > 0) {
        const found = await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM elastic_ips WHERE id = ANY($1::uuid[])',
          [acknowledged],
        );
        assert.equal(found.rows[0]?.n, acknowledged.length, 'every acknowledged EIP exists');
      }
    } finally {
      await client.end();
    }
  }

  /**
   * Allocations in a loop from both processes, 4 at a time each, until `stopLoad` is called.
   * Returns every answer; the ids of the 200s are the allocations clients were told about.
   */
  function allocationLoad(): { stop: () => Promise<Answer[]> } {
    let running = true;
    const answers: Answer[] = [];
    const workers = processes().flatMap((p) =>
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; running; i++) {
          const answer = await allocate(p, token, `load-${w}-${i}`);
          answers.push(answer);
          // Refusals come fast once the database is gone: no need to hammer it.
          if (answer.status !== 200) await sleep(50);
        }
      }),
    );
    return {
      stop: async () => {
        running = false;
        await Promise.all(workers);
        return answers;
      },
    };
  }

  before(async () => {
    cluster = await startPrivateCluster();
    const admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE eipd');
    } finally {
      await admin.end();
    }
    proxy = await startTcpProxy({ host: '127.0.0.1', port: cluster.port });
    fleet = await startFleet({
      databaseUrl: `postgres://postgres@127.0.0.1:${proxy.port}/eipd`,
      catalogYaml: CATALOG,
      processes: 2,
    });
    token = await fleet.token();
    for (const p of processes()) {
      const [id] = idsOf(await allocate(p, token, 'before-outage'));
      assert.ok(id !== undefined);
      known.set(p, id);
    }
  });

  after(async () => {
    try {
      await fleet?.stop();
    } finally {
      try {
        await proxy?.close();
      } finally {
        await cluster?.destroy();
      }
    }
  });

  test('database stopped: 503 within 5 s, no crash, serving again once it is back', {
    timeout: 60_000,
  }, async (t) => {
    await healthy();
    const pids = processes().map((p) => p.pid);
    await warmPools();

    await cluster.stop('fast');
    clusterDown = true;
    const first = await assertEveryRequestUnavailable();
    // And again, now that the pools hold nothing usable.
    const second = await assertEveryRequestUnavailable();
    assertSameProcessesAlive(pids);

    await cluster.start();
    clusterDown = false;
    const recoveryMs = await waitForRecovery();
    await assertReady();
    for (const p of processes()) {
      const id = known.get(p);
      assert.ok(id !== undefined);
      const read = await getEip(p, token, id);
      assert.equal(read.status, 200, `${read.label}: ${read.status} ${read.text}`);
    }
    assertSameProcessesAlive(pids);
    await assertNothingHalfDone([]);
    t.diagnostic(`first 503s: ${timings(first)}; second: ${timings(second)}`);
    t.diagnostic(`recovered ${recoveryMs} ms after the database was back`);
  });

  test('connections refused by the network: 503 within 5 s, no crash, then serving again', {
    timeout: 60_000,
  }, async (t) => {
    await healthy();
    const pids = processes().map((p) => p.pid);
    await warmPools();

    // Existing connections are reset, new ones refused; the server itself stays up.
    proxy.setMode('refuse');
    const answers = await assertEveryRequestUnavailable();
    assertSameProcessesAlive(pids);

    proxy.setMode('pass');
    const recoveryMs = await waitForRecovery();
    await assertReady();
    assertSameProcessesAlive(pids);
    t.diagnostic(`503s: ${timings(answers)}; recovered in ${recoveryMs} ms`);
  });

  test('traffic silently dropped, pooled connections included: 503 within 5 s, then serving again', {
    timeout: 60_000,
  }, async (t) => {
    await healthy();
    const pids = processes().map((p) => p.pid);
    await warmPools();

    proxy.setMode('drop');
    // As many requests as a pool has connections (EIPD_DB_POOL_SIZE's default): every
    // connection in the pool, which looks alive and never answers, is tried.
    const first = await assertEveryRequestUnavailable(DEFAULT_POOL_SIZE);
    // Those are discarded: the next requests open new connections, which the network accepts
    // and then never answers.
    const second = await assertEveryRequestUnavailable();
    assertSameProcessesAlive(pids);

    proxy.setMode('pass');
    const recoveryMs = await waitForRecovery();
    await assertReady();
    assertSameProcessesAlive(pids);
    await assertNothingHalfDone([]);
    t.diagnostic(`pooled connections: ${timings(first)}; new connections: ${timings(second)}`);
    t.diagnostic(`recovered ${recoveryMs} ms after traffic passed again`);
  });

  test('a transaction that goes silent before COMMIT ends within one deadline, not one per statement', {
    timeout: 30_000,
  }, async () => {
    await healthy();
    const url = `postgres://postgres@127.0.0.1:${proxy.port}/eipd`;
    const settings = loadConfig({ DATABASE_URL: url }).db;
    const db = openPostgres({ url, ...settings });
    try {
      await db.query('SELECT 1');
      // Spends part of the budget on statements that are answered, then COMMIT never is.
      const started = performance.now();
      const outcome = db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        await sleep(1_500);
        await tx.query('SELECT 2');
        proxy.setMode('drop');
      });
      await assert.rejects(outcome, DatabaseUnavailableError);
      const ms = performance.now() - started;
      assert.ok(
        ms < settings.statementTimeoutMs + 500,
        `the transaction ended after ${Math.round(ms)} ms, budget ${settings.statementTimeoutMs} ms`,
      );
      // Outside a transaction, a pooled connection that looks alive: the same bound.
      const queried = performance.now();
      await assert.rejects(db.query('SELECT 3'), DatabaseUnavailableError);
      const queryMs = performance.now() - queried;
      assert.ok(queryMs < settings.statementTimeoutMs + 500, `query: ${Math.round(queryMs)} ms`);
    } finally {
      proxy.setMode('pass');
      await db.close();
    }
  });

  for (const outage of ['drop', 'crash'] as const) {
    test(`allocations in flight when the database ${outage === 'drop' ? 'goes silent' : 'crashes'} are all or nothing`, {
      timeout: 60_000,
    }, async (t) => {
      await healthy();
      const pids = processes().map((p) => p.pid);

      const load = allocationLoad();
      await sleep(500);
      if (outage === 'drop') {
        proxy.setMode('drop');
      } else {
        await cluster.stop('immediate');
        clusterDown = true;
      }
      await sleep(1_500);
      const answers = await load.stop();

      for (const answer of answers) {
        assert.ok(
          answer.status === 200 || answer.status === 503,
          `${answer.label}: ${answer.status} ${answer.text}`,
        );
        if (answer.status === 503) assertUnavailable(answer);
        assert.ok(answer.ms < ANSWER_WITHIN_MS, `${answer.label}: ${answer.ms} ms`);
      }
      const refused = answers.filter((a) => a.status === 503);
      assert.ok(refused.length > 0, 'the outage caught some allocations');
      const acknowledged = answers.filter((a) => a.status === 200).flatMap(idsOf);
      assertSameProcessesAlive(pids);

      if (outage === 'drop') {
        proxy.setMode('pass');
      } else {
        await cluster.start();
        clusterDown = false;
      }
      await waitForRecovery();
      assertSameProcessesAlive(pids);
      await assertNothingHalfDone(acknowledged);
      t.diagnostic(
        `${answers.length} allocations: ${acknowledged.length} succeeded, ${refused.length} answered 503 (${timings(refused)})`,
      );
    });
  }
});
