/**
 * Quotas (contract rule 3, field case C8): a default and per-organization overrides per IDC, from
 * the catalog and from the operator endpoints; only non-released EIPs count; quota before
 * capacity. The races (C10) are in test/pg/c10-quota-race.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { applyCatalog } from '../../src/catalog/apply.js';
import { CatalogError, checkCatalog, parseCatalog } from '../../src/catalog/catalog-file.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

const LIMITED = '0b6c2a1e-6a53-4c0e-9d7e-1f2a3b4c5d6e';

const CATALOG = `
idcs: [{ name: q-east }, { name: q-west }]
products:
  - { name: eip.q, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.tiny, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: q-east-v4, idc: q-east, cidr: 203.0.113.0/24, products: [eip.q] }
  - { name: q-west-v4, idc: q-west, cidr: 198.51.100.0/24, products: [eip.q] }
  - { name: q-tiny, idc: q-east, cidr: 192.0.2.8/31, products: [eip.tiny] }
quotas:
  default: 10
  organizations:
    - { orgId: ${LIMITED.toUpperCase()}, idc: q-east, limit: 5 }
`;

const QUOTA_EXCEEDED = 4009;

for (const backend of BACKENDS) {
  describe(`quotas (${backend})`, () => {
    let t: TestApp;
    let operator: string;
    before(async () => {
      t = await startTestApp({ backend, catalog: CATALOG });
      operator = await t.operatorToken();
    });
    after(() => t.close());

    const allocate = async (orgId: string, body: Record<string, unknown>) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${await t.token(orgId)}` },
        payload: { idc: 'q-east', product: 'eip.q', name: 'web', count: 1, ...body },
      });
    const take = async (orgId: string, body: Record<string, unknown>) => {
      const res = await allocate(orgId, body);
      assert.equal(res.statusCode, 200, res.body);
      return (res.json() as { id: string }[]).map((e) => e.id);
    };
    const release = async (orgId: string, id: string) => {
      const res = await t.app.inject({
        method: 'DELETE',
        url: `/v1/elastic-ips/${id}`,
        headers: { authorization: `Bearer ${await t.token(orgId)}` },
      });
      assert.equal(res.statusCode, 200, res.body);
    };
    const admin = (method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
      t.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${operator}` },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
    const poolFree = async (pool: string) => {
      const res = await admin('GET', '/v1/admin/pools');
      const row = (res.json() as { name: string; free: string; used: string }[]).find(
        (p) => p.name === pool,
      );
      assert.ok(row, pool);
      return { free: row.free, used: row.used };
    };
    const live = async (orgId: string, idc = 'q-east') => {
      const [row] = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM elastic_ips
          WHERE org_id = $1 AND idc = $2 AND status <> 'released'`,
        [orgId, idc],
      );
      return row?.n;
    };

    test('C8: quota 5 holding 3: count 3 is refused with nothing taken, count 2 succeeds', async () => {
      await take(LIMITED, { count: 3 });
      const before = await poolFree('q-east-v4');
      const refused = await allocate(LIMITED, { count: 3 });
      assert.equal(refused.statusCode, 400);
      assert.deepEqual(refused.json(), {
        code: QUOTA_EXCEEDED,
        reason:
          'quota exceeded: the organization may hold 5 elastic IPs in IDC q-east; it holds 3 and requested 3',
      });
      assert.equal(await live(LIMITED), 3);
      assert.deepEqual(await poolFree('q-east-v4'), before);
      const ids = await take(LIMITED, { count: 2 });
      assert.equal(ids.length, 2);
      assert.equal(await live(LIMITED), 5);
      const full = await allocate(LIMITED, { count: 1 });
      assert.equal(full.json().code, QUOTA_EXCEEDED);
    });

    test('quotas are per IDC: the override in q-east leaves q-west on the default', async () => {
      const ids = await take(LIMITED, { idc: 'q-west', count: 10 });
      assert.equal(ids.length, 10);
      const over = await allocate(LIMITED, { idc: 'q-west', count: 1 });
      assert.equal(over.statusCode, 400);
      assert.match(over.json().reason, /may hold 10 elastic IPs in IDC q-west; it holds 10/);
    });

    test('released EIPs do not count', async () => {
      const org = randomUUID();
      const ids = await take(org, { count: 10 });
      assert.equal((await allocate(org, {})).json().code, QUOTA_EXCEEDED);
      await release(org, ids[0] as string);
      await take(org, {});
      assert.equal(await live(org), 10);
    });

    test('the quota error wins over "no free address"', async () => {
      const org = randomUUID();
      // q-tiny has 2 addresses; 3 is over both the pool and, after an override of 1, the quota.
      const set = await admin('PUT', `/v1/admin/organizations/${org}/quotas/q-east`, { limit: 1 });
      assert.equal(set.statusCode, 200, set.body);
      const both = await allocate(org, { product: 'eip.tiny', count: 3 });
      assert.equal(both.statusCode, 400, both.body);
      assert.equal(both.json().code, QUOTA_EXCEEDED);
      // Within the quota, capacity is what refuses.
      await admin('PUT', `/v1/admin/organizations/${org}/quotas/q-east`, { limit: 5 });
      const capacity = await allocate(org, { product: 'eip.tiny', count: 3 });
      assert.equal(capacity.statusCode, 503, capacity.body);
      assert.equal(capacity.json().code, 5031);
    });

    test('an explicit address outside the pools is a 404 even over quota (existence first)', async () => {
      const org = randomUUID();
      await admin('PUT', `/v1/admin/organizations/${org}/quotas/q-east`, { limit: 0 });
      const res = await allocate(org, { ipAddress: '10.0.0.1' });
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().code, 4045);
    });

    test('an explicit address counts against the quota too', async () => {
      const org = randomUUID();
      await admin('PUT', `/v1/admin/organizations/${org}/quotas/q-east`, { limit: 0 });
      const res = await allocate(org, { ipAddress: '203.0.113.200' });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, QUOTA_EXCEEDED);
      const [row] = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM elastic_ips WHERE ip_address = '203.0.113.200'`,
      );
      assert.equal(row?.n, 0);
    });

    test('operators list, set and remove quotas; every IDC is listed', async () => {
      const org = randomUUID();
      await take(org, { count: 2 });
      const listed = await admin('GET', `/v1/admin/organizations/${org.toUpperCase()}/quotas`);
      assert.equal(listed.statusCode, 200, listed.body);
      assert.deepEqual(listed.json(), [
        { idc: 'q-east', limit: 10, source: 'default', used: 2 },
        { idc: 'q-west', limit: 10, source: 'default', used: 0 },
      ]);
      const path = `/v1/admin/organizations/${org}/quotas/q-east`;
      const set = await admin('PUT', path, { limit: 1 });
      assert.deepEqual(set.json(), { idc: 'q-east', limit: 1, source: 'override', used: 2 });
      // Idempotent, and a limit below what is held takes nothing away.
      assert.deepEqual((await admin('PUT', path, { limit: 1 })).json(), set.json());
      assert.equal(await live(org), 2);
      assert.equal((await allocate(org, {})).json().code, QUOTA_EXCEEDED);
      const [who] = await t.db.query<{ updated_by: string }>(
        'SELECT updated_by FROM quota_overrides WHERE org_id = $1',
        [org],
      );
      assert.equal(who?.updated_by, 'ops');
      const removed = await admin('DELETE', path);
      assert.deepEqual(removed.json(), { idc: 'q-east', limit: 10, source: 'default', used: 2 });
      assert.deepEqual((await admin('DELETE', path)).json(), removed.json());
      await take(org, {});
    });

    test('operator quota endpoints refuse bad input clearly', async () => {
      const org = randomUUID();
      const unknownIdc = await admin('PUT', `/v1/admin/organizations/${org}/quotas/nowhere`, {
        limit: 1,
      });
      assert.equal(unknownIdc.statusCode, 404);
      assert.deepEqual(unknownIdc.json(), { code: 4041, reason: 'IDC nowhere was not found' });
      const removeUnknown = await admin('DELETE', `/v1/admin/organizations/${org}/quotas/nowhere`);
      assert.equal(removeUnknown.statusCode, 404);

      const badOrg = await admin('GET', '/v1/admin/organizations/not-a-uuid/quotas');
      assert.equal(badOrg.statusCode, 400);
      assert.deepEqual(badOrg.json(), {
        group: 'request',
        code: 0,
        message: 'The path parameters are invalid; see validationDetail.',
        validationDetail: [
          {
            field: 'orgId',
            expression: 'format',
            argument: 'uuid',
            originalValue: '"not-a-uuid"',
            reason: 'This field is not in the required format.',
          },
        ],
      });
      // Path parameters are checked against the document: no NUL byte reaches the database.
      for (const idc of ['x%00', 'a%20b', 'x'.repeat(51)]) {
        const res = await admin('PUT', `/v1/admin/organizations/${org}/quotas/${idc}`, {
          limit: 1,
        });
        assert.equal(res.statusCode, 400, `${idc}: ${res.body}`);
        assert.equal(res.json().validationDetail[0].field, 'idc', res.body);
      }
      const path = `/v1/admin/organizations/${org}/quotas/q-east`;
      for (const body of [{ limit: -1 }, { limit: '5' }, { limit: 1.5 }, { limit: 1, x: 1 }, {}]) {
        const res = await admin('PUT', path, body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
        assert.equal(res.json().group, 'request', res.body);
      }
      const [row] = await t.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM quota_overrides WHERE org_id = $1',
        [org],
      );
      assert.equal(row?.n, 0);
    });
  });
}

/** The operator's quota calls for LIMITED in q-east, and its q-east row of listQuotas. */
async function limitedQuotaOf(t: TestApp) {
  const operator = await t.operatorToken();
  const admin = (method: 'GET' | 'PUT' | 'DELETE', payload?: Record<string, unknown>) =>
    t.app.inject({
      method,
      url: `/v1/admin/organizations/${LIMITED}/quotas${method === 'GET' ? '' : '/q-east'}`,
      headers: { authorization: `Bearer ${operator}` },
      ...(payload === undefined ? {} : { payload }),
    });
  const east = async () => ((await admin('GET')).json() as { idc: string }[])[0];
  return { admin, east };
}

describe('quotas in the catalog file', () => {
  test('applying is idempotent, sets the default (null: no limit) and leaves unlisted overrides', async () => {
    const t = await startTestApp({ backend: 'pglite', catalog: CATALOG });
    try {
      const again = await applyCatalog(t.db, parseCatalog(CATALOG, 'c'), 'c');
      assert.equal(again.quotasSet, 0);
      const unlimited = CATALOG.replace('default: 10', 'default: null').replace(
        /organizations:[\s\S]*$/,
        '',
      );
      const applied = await applyCatalog(t.db, parseCatalog(unlimited, 'c'), 'c');
      assert.equal(applied.quotasSet, 1);
      const rows = await t.db.query<{ max_eips: number | null }>(
        'SELECT max_eips FROM quota_default',
      );
      assert.deepEqual(rows, [{ max_eips: null }]);
      const overrides = await t.db.query<{ org_id: string; catalog_max_eips: number }>(
        'SELECT org_id, catalog_max_eips FROM quota_overrides',
      );
      assert.deepEqual(overrides, [{ org_id: LIMITED, catalog_max_eips: 5 }]);
      // Without a default in the file, the database's stays.
      const silent = CATALOG.replace('default: 10\n', '');
      await applyCatalog(t.db, parseCatalog(silent, 'c'), 'c');
      assert.deepEqual(await t.db.query('SELECT max_eips FROM quota_default'), [
        { max_eips: null },
      ]);
    } finally {
      await t.close();
    }
  });

  test("an operator's override outlives re-applying the file; removing it falls back to the file", async () => {
    const t = await startTestApp({ backend: 'pglite', catalog: CATALOG });
    try {
      const { admin, east } = await limitedQuotaOf(t);
      assert.deepEqual(await east(), { idc: 'q-east', limit: 5, source: 'catalog', used: 0 });
      await admin('PUT', { limit: 77 });
      // A restart applies the file again: the operator's 77 stays.
      await applyCatalog(t.db, parseCatalog(CATALOG.replace('limit: 5', 'limit: 6'), 'c'), 'c');
      assert.deepEqual(await east(), { idc: 'q-east', limit: 77, source: 'override', used: 0 });
      const removed = await admin('DELETE');
      assert.deepEqual(removed.json(), { idc: 'q-east', limit: 6, source: 'catalog', used: 0 });
    } finally {
      await t.close();
    }
  });

  test("limit 'default' takes the file's limit away again; an operator's override stays", async () => {
    const t = await startTestApp({ backend: 'pglite', catalog: CATALOG });
    try {
      const { admin, east } = await limitedQuotaOf(t);
      const toDefault = CATALOG.replace('limit: 5', 'limit: default');
      // Leaving the entry out changes nothing (the file never deletes): the 5 stays.
      const without = CATALOG.replace(/organizations:[\s\S]*$/, '');
      assert.equal((await applyCatalog(t.db, parseCatalog(without, 'c'), 'c')).quotasSet, 0);
      assert.deepEqual(await east(), { idc: 'q-east', limit: 5, source: 'catalog', used: 0 });
      assert.equal((await applyCatalog(t.db, parseCatalog(toDefault, 'c'), 'c')).quotasSet, 1);
      assert.deepEqual(await east(), { idc: 'q-east', limit: 10, source: 'default', used: 0 });
      assert.equal((await applyCatalog(t.db, parseCatalog(toDefault, 'c'), 'c')).quotasSet, 0);
      // With an operator's override in place, only the file's part goes.
      await applyCatalog(t.db, parseCatalog(CATALOG, 'c'), 'c');
      await admin('PUT', { limit: 77 });
      assert.equal((await applyCatalog(t.db, parseCatalog(toDefault, 'c'), 'c')).quotasSet, 1);
      assert.deepEqual(await east(), { idc: 'q-east', limit: 77, source: 'override', used: 0 });
      const removed = await admin('DELETE');
      assert.deepEqual(removed.json(), { idc: 'q-east', limit: 10, source: 'default', used: 0 });
      const other = `    - { orgId: ${LIMITED}, idc: q-east, limit: unlimited }`;
      assert.throws(
        () => checkCatalog(parseCatalog(CATALOG.replace(/ {4}- \{ orgId.*$/m, other), 'f'), 'f'),
        CatalogError,
      );
    } finally {
      await t.close();
    }
  });

  test('every problem of the quotas section is reported, each naming where it is', () => {
    const broken = `
idcs: [{ name: a }]
quotas:
  default: -1
  organizations:
    - { orgId: not-a-uuid, idc: a, limit: 1 }
    - { orgId: ${LIMITED}, idc: b, limit: 1 }
    - { orgId: ${LIMITED}, idc: a, limit: 2 }
    - { orgId: ${LIMITED.toUpperCase()}, idc: a, limit: 3 }
`;
    const doc = parseCatalog(broken, 'f');
    assert.throws(
      () => checkCatalog(doc, 'f'),
      (error: unknown) => {
        assert.ok(error instanceof CatalogError);
        assert.deepEqual(error.problems, [
          'quotas.default: Too small: expected number to be >=0',
          'quotas.organizations[0].orgId: must be a uuid',
        ]);
        return true;
      },
    );
    const semantic = broken.replace('default: -1', 'default: 1').replace('not-a-uuid', LIMITED);
    assert.throws(
      () => checkCatalog(parseCatalog(semantic, 'f'), 'f'),
      (error: unknown) => {
        assert.ok(error instanceof CatalogError);
        assert.deepEqual(error.problems, [
          'quotas.organizations[1]: unknown IDC "b" (declare it under idcs)',
          `quotas.organizations[2]: organization ${LIMITED} has more than one quota in IDC a`,
          `quotas.organizations[3]: organization ${LIMITED} has more than one quota in IDC a`,
        ]);
        return true;
      },
    );
  });
});
