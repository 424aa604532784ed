/**
 * Field cases C8 and C10 and contract rule 3 on PostgreSQL with two eipd processes: a refused
 * allocation takes nothing, and quotas hold when allocations for one organization race. Each
 * round uses a fresh organization, so the rounds are independent tries.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { mintToken } from '../../src/auth/tokens.js';
import { TEST_SECRET } from '../support/app.js';
import type { TestDatabase } from '../support/databases.js';
import { assertNoUnexpectedErrors, nth, withFleet } from '../support/fleet-database.js';
import { type JsonResponse, postJson, releaseTogether } from '../support/http.js';

const CATALOG = `
idcs: [{ name: c10-idc }]
products:
  - { name: eip.c10, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: c10-pool, idc: c10-idc, cidr: 100.64.0.0/20, products: [eip.c10] }
quotas:
  default: 5
`;
const QUOTA_EXCEEDED = 4009;
const ROUNDS = 5;

async function held(database: TestDatabase, orgId: string): Promise<number> {
  const [row] = await database.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM elastic_ips WHERE org_id = $1 AND status <> 'released'`,
    [orgId],
  );
  return row?.n ?? -1;
}

/** `n` parallel allocations of `count` for one new organization, alternating processes. */
async function race(
  fleet: Parameters<Parameters<typeof withFleet>[1]>[0],
  n: number,
  count: number,
  orgId: string,
): Promise<JsonResponse[]> {
  const token = await fleet.token(orgId);
  return releaseTogether(n, (i) => {
    const url = nth(fleet, i).url;
    return () =>
      postJson(url, '/v1/elastic-ips', token, {
        idc: 'c10-idc',
        product: 'eip.c10',
        name: 'q',
        count,
      });
  });
}

function tally(answers: JsonResponse[]): { ok: number; quota: number; other: string[] } {
  const out = { ok: 0, quota: 0, other: [] as string[] };
  for (const a of answers) {
    if (a.status === 200) out.ok++;
    else if (a.status === 400 && (a.body as { code?: number }).code === QUOTA_EXCEEDED) out.quota++;
    else out.other.push(`${a.status} ${JSON.stringify(a.body)}`);
  }
  return out;
}

async function adminToken(): Promise<string> {
  return mintToken({ secret: TEST_SECRET, scope: 'eip:admin', subject: 'ops', ttlSeconds: 600 });
}

async function poolCounts(url: string): Promise<{ free: string; used: string }> {
  const res = await fetch(new URL('/v1/admin/pools', url), {
    headers: { authorization: `Bearer ${await adminToken()}` },
  });
  assert.equal(res.status, 200);
  const row = ((await res.json()) as { name: string; free: string; used: string }[]).find(
    (p) => p.name === 'c10-pool',
  );
  assert.ok(row, 'c10-pool is listed');
  return { free: row.free, used: row.used };
}

test('C8: quota 5 holding 3 (taken on one process): count 3 on the other is refused with nothing taken, count 2 succeeds', {
  timeout: 120_000,
}, async () => {
  await withFleet({ processes: 2, catalogYaml: CATALOG }, async (fleet, database) => {
    const orgId = randomUUID();
    const token = await fleet.token(orgId);
    const body = (count: number) => ({ idc: 'c10-idc', product: 'eip.c10', name: 'c8', count });
    const first = await postJson(nth(fleet, 0).url, '/v1/elastic-ips', token, body(3));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const before = await poolCounts(nth(fleet, 1).url);

    const refused = await postJson(nth(fleet, 1).url, '/v1/elastic-ips', token, body(3));
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, {
      code: QUOTA_EXCEEDED,
      reason:
        'quota exceeded: the organization may hold 5 elastic IPs in IDC c10-idc; it holds 3 and requested 3',
    });
    assert.equal(await held(database, orgId), 3);
    assert.deepEqual(await poolCounts(nth(fleet, 0).url), before);

    const second = await postJson(nth(fleet, 1).url, '/v1/elastic-ips', token, body(2));
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal((second.body as { id: string }[]).length, 2);
    assert.equal(await held(database, orgId), 5);
    assertNoUnexpectedErrors(fleet);
  });
});

test('C10: quota 5, two processes: 10 parallel count 1 give exactly 5; 2 parallel count 3 give one', {
  timeout: 120_000,
}, async () => {
  await withFleet({ processes: 2, catalogYaml: CATALOG }, async (fleet, database) => {
    for (let round = 0; round < ROUNDS; round++) {
      const ones = randomUUID();
      const singles = tally(await race(fleet, 10, 1, ones));
      assert.deepEqual(singles, { ok: 5, quota: 5, other: [] }, `round ${round}`);
      assert.equal(await held(database, ones), 5);

      const threes = randomUUID();
      const triples = tally(await race(fleet, 2, 3, threes));
      assert.deepEqual(triples, { ok: 1, quota: 1, other: [] }, `round ${round}`);
      assert.equal(await held(database, threes), 3);
    }
    assertNoUnexpectedErrors(fleet);
  });
});

test('rule 3: 50 parallel requests at the boundary never overshoot a raised quota', {
  timeout: 120_000,
}, async () => {
  await withFleet({ processes: 2, catalogYaml: CATALOG }, async (fleet, database) => {
    const orgId = randomUUID();
    // An operator override for this organization: 25, half of what is asked for at once.
    const set = await fetch(
      new URL(`/v1/admin/organizations/${orgId}/quotas/c10-idc`, nth(fleet, 0).url),
      {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${await adminToken()}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ limit: 25 }),
      },
    );
    assert.equal(set.status, 200, await set.text());
    const answers = tally(await race(fleet, 50, 1, orgId));
    assert.deepEqual(answers, { ok: 25, quota: 25, other: [] });
    assert.equal(await held(database, orgId), 25);
    assertNoUnexpectedErrors(fleet);
  });
});
