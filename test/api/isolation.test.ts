/**
 * One walk over every operation of openapi/eipd.yaml: another organization's EIP is a 404 on
 * every tenant endpoint that names one, a tenant token on an operator endpoint is a 403, and no
 * token is a 401 everywhere. A new operation that is not in the table below fails the walk.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { mintToken } from '../../src/auth/tokens.js';
import { listOperations, loadOpenApi } from '../../src/http/openapi.js';
import {
  allocateBody,
  BASIC_CATALOG,
  startTestApp,
  TEST_SECRET,
  type TestApp,
} from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

interface Call {
  /** Path with `{id}` standing for the target EIP. */
  path: string;
  body?: Record<string, unknown>;
  /** Whether the operation names an EIP (another organization then gets 404). */
  namesEip: boolean;
  /** Health checks: answered to anyone, and they reveal nothing about tenants. */
  anonymous?: true;
}

/** A valid request for each operation, keyed by operationId. */
const CALLS: Readonly<Record<string, Call>> = {
  allocateElasticIP: { path: '/v1/elastic-ips', body: allocateBody(), namesEip: false },
  listElasticIPs: { path: '/v1/elastic-ips', namesEip: false },
  listElasticIPProducts: { path: '/v1/elastic-ips/products', namesEip: false },
  getElasticIP: { path: '/v1/elastic-ips/{id}', namesEip: true },
  updateElasticIP: { path: '/v1/elastic-ips/{id}', body: { name: 'renamed' }, namesEip: true },
  releaseElasticIP: { path: '/v1/elastic-ips/{id}', namesEip: true },
  associateElasticIP: {
    path: '/v1/elastic-ips/{id}/associate',
    body: { instanceID: randomUUID(), instanceType: 'baremetal' },
    namesEip: true,
  },
  disassociateElasticIP: { path: '/v1/elastic-ips/{id}/disassociate', namesEip: true },
  registerInstance: {
    path: `/v1/admin/instances/${randomUUID()}`,
    body: { orgId: randomUUID(), idc: 'test-east1', instanceType: 'baremetal' },
    namesEip: false,
  },
  removeInstance: { path: `/v1/admin/instances/${randomUUID()}`, namesEip: false },
  listEvents: { path: '/v1/admin/events', namesEip: false },
  listOperatorActions: { path: '/v1/admin/operator-actions', namesEip: false },
  listAssociations: { path: '/v1/admin/associations', namesEip: false },
  getAddressHistory: { path: '/v1/admin/address-history?ipAddress=192.0.2.2', namesEip: false },
  listPools: { path: '/v1/admin/pools', namesEip: false },
  updatePool: { path: '/v1/admin/pools/east-v4', body: { enabled: true }, namesEip: false },
  listQuotas: { path: `/v1/admin/organizations/${randomUUID()}/quotas`, namesEip: false },
  setQuota: {
    path: `/v1/admin/organizations/${randomUUID()}/quotas/test-east1`,
    body: { limit: 5 },
    namesEip: false,
  },
  removeQuotaOverride: {
    path: `/v1/admin/organizations/${randomUUID()}/quotas/test-east1`,
    namesEip: false,
  },
  getHealth: { path: '/healthz', namesEip: false, anonymous: true },
  getReadiness: { path: '/readyz', namesEip: false, anonymous: true },
};

const operations = listOperations(loadOpenApi({ maxAllocateCount: 100 }));

describe('isolation walk: the table covers the document', () => {
  test('every operation of openapi/eipd.yaml has a call in the walk, and nothing else', () => {
    assert.deepEqual(Object.keys(CALLS).sort(), operations.map((o) => o.operationId).sort());
  });
});

for (const backend of BACKENDS) {
  describe(`isolation walk (${backend})`, () => {
    let t: TestApp;
    let ownerEip: string;
    before(async () => {
      t = await startTestApp({ backend, catalog: BASIC_CATALOG });
      const owner = await t.token();
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${owner}` },
        payload: allocateBody(),
      });
      const [created] = res.json() as { id: string }[];
      assert.ok(created);
      ownerEip = created.id;
    });
    after(() => t.close());

    const send = (operationId: string, token: string | undefined) => {
      const op = operations.find((o) => o.operationId === operationId);
      const call = CALLS[operationId];
      assert.ok(op && call, operationId);
      return t.app.inject({
        method: op.method,
        url: call.path.replace('{id}', ownerEip),
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        ...(call.body === undefined ? {} : { payload: call.body }),
      });
    };

    test('another organization gets 404 on every endpoint that names an EIP, and nothing changes', async () => {
      const stranger = await t.token();
      for (const [operationId, call] of Object.entries(CALLS)) {
        if (!call.namesEip) continue;
        const res = await send(operationId, stranger);
        assert.equal(res.statusCode, 404, `${operationId}: ${res.body}`);
        assert.deepEqual(res.json(), {
          code: 4044,
          reason: `elastic IP ${ownerEip} was not found`,
        });
      }
      const [row] = await t.db.query<{ name: string; status: string }>(
        'SELECT name, status FROM elastic_ips WHERE id = $1',
        [ownerEip],
      );
      assert.deepEqual(row, { name: 'web-1', status: 'disassociated' });
      const list = await send('listElasticIPs', stranger);
      assert.deepEqual(list.json(), []);
    });

    test('a tenant token on every operator endpoint gets 403', async () => {
      const tenant = await t.token();
      for (const operationId of Object.keys(CALLS)) {
        if (!CALLS[operationId]?.path.startsWith('/v1/admin/')) continue;
        const res = await send(operationId, tenant);
        assert.equal(res.statusCode, 403, `${operationId}: ${res.body}`);
        assert.deepEqual(res.json(), {
          code: 4031,
          reason: 'this operation needs the eip:admin scope',
        });
      }
    });

    test('an operator token without an organization cannot act as a tenant', async () => {
      const operator = await mintToken({
        secret: TEST_SECRET,
        scope: 'eip:admin',
        subject: 'ops',
        ttlSeconds: 600,
      });
      for (const [operationId, call] of Object.entries(CALLS)) {
        if (call.path.startsWith('/v1/admin/') || call.anonymous) continue;
        const res = await send(operationId, operator);
        assert.equal(res.statusCode, 401, `${operationId}: ${res.body}`);
      }
    });

    test('no token gets 401 on every endpoint but the health checks', async () => {
      for (const [operationId, call] of Object.entries(CALLS)) {
        if (call.anonymous) {
          const res = await send(operationId, undefined);
          assert.equal(res.statusCode, 200, `${operationId}: ${res.body}`);
          assert.deepEqual(res.json(), { status: 'ok' });
          continue;
        }
        const res = await send(operationId, undefined);
        assert.equal(res.statusCode, 401, `${operationId}: ${res.body}`);
        assert.ok(String(res.headers['www-authenticate']).startsWith('Bearer'), operationId);
      }
    });
  });
}
